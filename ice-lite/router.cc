#include "ice-lite/router.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "stun/attributes.h"
#include "stun/demux.h"
#include "stun/fingerprint.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::ice {
namespace {

// The local ufrag is the part of USERNAME before the first ':' (RFC 8445
// §7.2.2: "RFRAG:LFRAG" as the sender writes it; RFRAG is ours).
std::string_view LocalPart(std::string_view username) {
  return username.substr(0, username.find(':'));
}

uint32_t Load32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool FingerprintOk(const stun::MessageView& m) {
  const std::optional<size_t> off = m.fingerprint_offset();
  if (!off) return false;
  const std::span<const uint8_t> b = m.bytes();
  return Load32(b.data() + *off + stun::kAttributeHeaderSize) ==
         stun::ComputeFingerprint(b.first(*off));
}

}  // namespace

struct Router::Impl {
  struct Entry;

  // Each session reports to its own sink, which knows the session's id and
  // keeps the router's tuple index in step with the session's tuples.
  class Sink final : public SessionOutput {
   public:
    Sink(Impl* r, SessionId id) : r_(r), id_(id) {}
    void SendStun(const Tuple& tuple, std::span<const uint8_t> bytes) override {
      r_->out->Send(tuple, bytes);
    }
    void OnEvent(const SessionEvent& event) override { r_->OnSessionEvent(id_, event); }

   private:
    Impl* r_;
    SessionId id_;
  };

  struct Entry {
    Entry(Impl* r, SessionId i, SessionConfig c, Credentials local)
        : id(i), sink(r, i), session(c, std::move(local), &sink) {}
    SessionId id;
    Sink sink;
    LiteSession session;
    std::vector<std::string> ufrags;  // as indexed in by_ufrag
    absl::Time deadline = absl::InfiniteFuture();  // as scheduled in `timers`
    bool removed = false;  // RemoveSession ran while the session was busy
  };

  RouterConfig config;
  RouterOutput* out;
  SessionId next_id = 1;
  absl::flat_hash_map<SessionId, std::unique_ptr<Entry>> sessions;
  absl::flat_hash_map<std::string, SessionId> by_ufrag;  // O(1) first-packet route
  absl::flat_hash_map<Tuple, SessionId> by_tuple;        // O(1) later packets
  // (deadline, id) ordered: the earliest timer is begin(); no scan over
  // sessions per call.
  absl::btree_set<std::pair<absl::Time, SessionId>> timers;
  RouterCounters counters;
  // Sessions removed from inside one of their own callbacks; destroyed once
  // the call into them has returned.
  std::vector<std::unique_ptr<Entry>> graveyard;
  int depth = 0;  // calls into sessions in progress
  std::vector<SessionId> due;  // reused by HandleTimeout
  std::array<uint8_t, 128> buffer{};  // stateless answers

  Impl(RouterConfig c, RouterOutput* o) : config(c), out(o) { assert(out != nullptr); }

  Entry* Find(SessionId id) {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second.get();
  }

  void OnSessionEvent(SessionId id, const SessionEvent& ev) {
    Entry* e = Find(id);
    if (e == nullptr) return;  // removed during this call: silent
    if (ev.kind == SessionEvent::Kind::kTupleAdded) {
      // A tuple joins only now, after its check authenticated. If another
      // session held it (a 5-tuple reused), the latest owner wins.
      by_tuple.insert_or_assign(ev.tuple, id);
      ++counters.tuples_added;
    } else if (ev.kind == SessionEvent::Kind::kTupleRemoved) {
      auto it = by_tuple.find(ev.tuple);
      if (it != by_tuple.end() && it->second == id) by_tuple.erase(it);
      ++counters.tuples_removed;
    }
    out->OnSessionEvent(id, ev);
  }

  // Checks only ever push a session's deadline later, so a pending entry
  // that is still in the future is left alone: the session is woken early
  // once, finds nothing to do and is rescheduled then. That keeps the
  // btree out of the per-check path.
  void Reschedule(Entry& e, absl::Time now) {
    const absl::Time next = e.session.NextTimeout();
    if (next == e.deadline) return;
    if (e.deadline != absl::InfiniteFuture() && e.deadline > now && next >= e.deadline) return;
    if (e.deadline != absl::InfiniteFuture()) timers.erase({e.deadline, e.id});
    e.deadline = next;
    if (next != absl::InfiniteFuture()) timers.insert({next, e.id});
  }

  // Brings by_ufrag in line with the session's ufrags (after a restart
  // began, or completed).
  void Reindex(Entry& e) {
    std::vector<std::string> now = e.session.local_ufrags();
    for (const std::string& u : e.ufrags) {
      if (std::find(now.begin(), now.end(), u) != now.end()) continue;
      auto it = by_ufrag.find(u);
      if (it != by_ufrag.end() && it->second == e.id) by_ufrag.erase(it);
    }
    for (const std::string& u : now) by_ufrag.try_emplace(u, e.id);
    e.ufrags = std::move(now);
  }

  void Unindex(Entry& e) {
    for (const std::string& u : e.ufrags) {
      auto it = by_ufrag.find(u);
      if (it != by_ufrag.end() && it->second == e.id) by_ufrag.erase(it);
    }
    for (const Tuple& t : e.session.tuples()) {
      auto it = by_tuple.find(t);
      if (it != by_tuple.end() && it->second == e.id) by_tuple.erase(it);
    }
    if (e.deadline != absl::InfiniteFuture()) timers.erase({e.deadline, e.id});
    e.deadline = absl::InfiniteFuture();
  }

  // Runs after every call into a session.
  void AfterCall(Entry& e, absl::Time now) {
    if (e.removed) return;
    if (e.ufrags.size() > 1) Reindex(e);  // a restart may have completed
    Reschedule(e, now);
  }

  void EndCall() {
    if (--depth == 0) graveyard.clear();
  }

  void Dispatch(Entry& e, const Tuple& tuple, const stun::MessageView& m, absl::Time now) {
    ++depth;
    switch (e.session.OnBindingRequest(tuple, m, now)) {
      case LiteSession::CheckOutcome::kAnswered:
        ++counters.checks_answered;
        // A 5-tuple two sessions authenticated goes to the one that last
        // did; if that one dropped it meanwhile, this check gives it back
        // to `e`, which still holds it (found by the ICE-lite fuzzer).
        if (!e.removed && e.session.HasTuple(tuple)) by_tuple.insert_or_assign(tuple, e.id);
        break;
      case LiteSession::CheckOutcome::kRejected: ++counters.checks_rejected; break;
      case LiteSession::CheckOutcome::kDiscarded: ++counters.checks_discarded; break;
    }
    AfterCall(e, now);
    EndCall();
  }

  // RFC 8489 §9.1.3 answers without state: 400 (no USERNAME) or 401
  // (unknown ufrag), no MESSAGE-INTEGRITY, only to a well-formed request
  // whose FINGERPRINT shows it is an ICE check.
  void AnswerStateless(const Tuple& tuple, const stun::MessageView& m, int code) {
    if (!config.answer_unknown_ufrag || !FingerprintOk(m)) return;
    stun::MessageBuilder b =
        stun::MessageBuilder::ResponseTo(m, stun::MessageClass::kErrorResponse, buffer);
    b.AddErrorCode(code).AddFingerprint();
    assert(b.ok());
    out->Send(tuple, b.bytes());
  }

  void OnStun(const Tuple& tuple, std::span<const uint8_t> packet, absl::Time now) {
    ++counters.stun_in;
    stun::MessageView m;
    stun::ParseOptions opts;
    opts.allow_rfc3489 = false;      // RFC 8445 checks always carry the cookie
    opts.verify_fingerprint = false;  // the session verifies it, once
    if (stun::MessageView::Parse(packet, &m, opts) != stun::ParseError::kNone) {
      ++counters.malformed;
      return;
    }
    const stun::AttrResult<std::string_view> username = stun::GetUsername(m);
    // Later packets: by tuple, as long as the USERNAME (if any) names the
    // owner; otherwise (a new session from a reused 5-tuple) by ufrag.
    if (auto it = by_tuple.find(tuple); it != by_tuple.end()) {
      Entry* e = Find(it->second);
      assert(e != nullptr);
      if (!username.ok() || std::find(e->ufrags.begin(), e->ufrags.end(),
                                      LocalPart(username.value)) != e->ufrags.end()) {
        Dispatch(*e, tuple, m, now);
        return;
      }
    }
    if (!m.Is(stun::Method::kBinding, stun::MessageClass::kRequest)) {
      ++counters.checks_discarded;  // responses/indications from strangers
      return;
    }
    if (!username.ok()) {
      ++counters.malformed;
      AnswerStateless(tuple, m, stun::error::kBadRequest);
      return;
    }
    // First packets: by the local ufrag in USERNAME.
    const std::string_view ufrag = LocalPart(username.value);
    // (Debian's Abseil has its own string_view: convert for the lookup.)
    auto it = by_ufrag.find(absl::string_view(ufrag.data(), ufrag.size()));
    if (it == by_ufrag.end()) {
      ++counters.unknown_ufrag;
      AnswerStateless(tuple, m, stun::error::kUnauthorized);
      return;
    }
    // RouterConfig::max_tuples: a check that would add a tuple beyond the
    // global cap is dropped before any session state changes.
    if (by_tuple.size() >= config.max_tuples && !by_tuple.contains(tuple)) {
      ++counters.checks_discarded;
      return;
    }
    Entry* e = Find(it->second);
    assert(e != nullptr);
    Dispatch(*e, tuple, m, now);
  }

  void OnPacket(const Tuple& tuple, std::span<const uint8_t> packet, absl::Time now) {
    // RFC 7983 §7: the first byte tells STUN (0-3) from DTLS, RTP/RTCP, ...
    if (stun::Classify(packet) == stun::PacketKind::kStun) {
      OnStun(tuple, packet, now);
      return;
    }
    auto it = by_tuple.find(tuple);
    if (it == by_tuple.end()) {
      ++counters.media_unknown_tuple;  // never authenticated: dropped
      return;
    }
    ++counters.media_in;
    out->OnMedia(it->second, tuple, packet);
  }

  void OnTimeout(absl::Time now) {
    // Collect first: sessions reschedule (and may be removed) as we go.
    due.clear();
    for (auto it = timers.begin(); it != timers.end() && it->first <= now; ++it) {
      due.push_back(it->second);
    }
    for (SessionId id : due) {
      Entry* e = Find(id);
      if (e == nullptr || e->deadline > now) continue;
      ++depth;
      e->session.HandleTimeout(now);
      AfterCall(*e, now);
      EndCall();
    }
  }
};

Router::Router(RouterConfig config, RouterOutput* output)
    : impl_(std::make_unique<Impl>(config, output)) {}

Router::~Router() = default;

absl::StatusOr<SessionId> Router::AddSession(SessionConfig config, Credentials local,
                                             std::optional<Credentials> remote) {
  Impl& r = *impl_;
  if (r.sessions.size() >= r.config.max_sessions) {
    return absl::ResourceExhaustedError("too many ICE-lite sessions");
  }
  // The ufrag is the routing key: it must be well formed (no ':') and unique.
  if (!IsValidUfrag(local.ufrag) || !IsValidPwd(local.pwd)) {
    return absl::InvalidArgumentError("local ufrag/pwd are not valid ice-chars (RFC 8839 §5.4)");
  }
  if (r.by_ufrag.contains(local.ufrag)) {
    return absl::AlreadyExistsError(absl::StrCat("ufrag in use: ", local.ufrag));
  }
  const SessionId id = r.next_id++;
  auto entry = std::make_unique<Impl::Entry>(&r, id, config, std::move(local));
  if (remote) entry->session.SetRemoteCredentials(*std::move(remote));
  r.Reindex(*entry);
  r.sessions.emplace(id, std::move(entry));
  return id;
}

void Router::RemoveSession(SessionId id) {
  Impl& r = *impl_;
  auto it = r.sessions.find(id);
  if (it == r.sessions.end()) return;
  Impl::Entry& e = *it->second;
  r.Unindex(e);
  if (r.depth > 0) {
    // Called from one of the router's callbacks, maybe this session's own:
    // silence it now, destroy it when the call returns.
    e.removed = true;
    e.session.Close();
    r.graveyard.push_back(std::move(it->second));
  }
  r.sessions.erase(it);
}

LiteSession* Router::session(SessionId id) {
  Impl::Entry* e = impl_->Find(id);
  return e == nullptr ? nullptr : &e->session;
}

size_t Router::session_count() const { return impl_->sessions.size(); }

size_t Router::tuple_count() const { return impl_->by_tuple.size(); }

absl::Status Router::RestartSession(SessionId id, Credentials new_local) {
  Impl& r = *impl_;
  Impl::Entry* e = r.Find(id);
  if (e == nullptr) return absl::NotFoundError("no such session");
  if (!IsValidUfrag(new_local.ufrag) || !IsValidPwd(new_local.pwd)) {
    return absl::InvalidArgumentError("new ufrag/pwd are not valid ice-chars (RFC 8839 §5.4)");
  }
  if (r.by_ufrag.contains(new_local.ufrag)) {
    return absl::AlreadyExistsError(absl::StrCat("ufrag in use: ", new_local.ufrag));
  }
  e->session.Restart(std::move(new_local));
  r.Reindex(*e);
  return absl::OkStatus();
}

void Router::OnPacket(const Tuple& tuple, std::span<const uint8_t> packet, absl::Time now) {
  impl_->OnPacket(tuple, packet, now);
}

void Router::HandleTimeout(absl::Time now) { impl_->OnTimeout(now); }

absl::Time Router::NextTimeout() const {
  return impl_->timers.empty() ? absl::InfiniteFuture() : impl_->timers.begin()->first;
}

const RouterCounters& Router::counters() const { return impl_->counters; }

}  // namespace uturn::ice
