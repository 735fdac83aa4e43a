#include "ice-lite/lite_session.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <string>
#include <string_view>
#include <utility>

#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/fingerprint.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"

namespace uturn::ice {
namespace {

using stun::MessageClass;

// Every response we build fits: header 20 + XOR-MAPPED-ADDRESS (IPv6) 24 +
// ERROR-CODE with the longest default reason ~40 + UNKNOWN-ATTRIBUTES (up to
// kMaxUnknown types) + MESSAGE-INTEGRITY 24 + FINGERPRINT 8.
constexpr size_t kResponseBufferSize = 256;
constexpr size_t kMaxUnknown = 16;

uint32_t Load32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// RFC 8489 §9.1.1: the short-term key is OpaqueString(password). ice-chars
// are plain ASCII, which OpaqueString leaves alone, so the fallback to the
// raw bytes only matters for a caller that skipped IsValidPwd.
std::string KeyFor(const std::string& pwd) {
  absl::StatusOr<std::string> key = stun::ShortTermKey(pwd);
  return key.ok() ? *std::move(key) : pwd;
}

}  // namespace

struct LiteSession::Impl {
  // One set of local credentials and the remote ufrag that goes with them.
  // Two exist only during an ICE restart (RFC 8445 §9).
  struct Generation {
    Credentials local;
    std::string key;  // precomputed short-term key: no string prep per check
    std::optional<std::string> remote_ufrag;
  };
  struct TupleState {
    Tuple tuple;
    absl::Time last_check;  // last authenticated check (RFC 7675 consent)
    uint32_t priority = 0;  // PRIORITY of the last check on this tuple
    bool nominated = false; // USE-CANDIDATE seen in this generation
  };

  SessionConfig config;
  SessionOutput* out;
  Role role;
  Generation current;
  std::optional<Generation> previous;
  SessionState state = SessionState::kNew;
  std::vector<TupleState> tuples;
  int selected = -1;  // index into `tuples`
  std::optional<uint32_t> max_nomination;  // renomination: highest NOMINATION seen
  bool aggressive = false;  // the peer put USE-CANDIDATE on a tuple's first check
  std::array<uint8_t, kResponseBufferSize> buffer{};

  Impl(SessionConfig c, Credentials local, SessionOutput* o)
      : config(c), out(o), role(c.role) {
    assert(out != nullptr);
    // Eviction must always find a non-selected tuple to drop.
    config.max_tuples = std::max<uint32_t>(config.max_tuples, 2);
    current = MakeGeneration(std::move(local));
  }

  static Generation MakeGeneration(Credentials local) {
    Generation g;
    g.key = KeyFor(local.pwd);
    g.local = std::move(local);
    return g;
  }

  bool live() const { return state != SessionState::kClosed && state != SessionState::kFailed; }

  // Returns false if the application closed the session from the callback,
  // in which case the caller must stop touching `tuples`.
  bool Emit(SessionEvent::Kind kind, const Tuple& tuple) {
    if (state == SessionState::kClosed) return false;
    out->OnEvent(SessionEvent{kind, tuple});
    return state != SessionState::kClosed;
  }

  std::span<const uint8_t> key_bytes(const Generation& g) const { return stun::KeyBytes(g.key); }

  void SendError(const Tuple& tuple, const stun::MessageView& m, int code,
                 const Generation* integrity, std::span<const uint16_t> unknown = {}) {
    stun::MessageBuilder b = stun::MessageBuilder::ResponseTo(m, MessageClass::kErrorResponse,
                                                              buffer);
    b.AddErrorCode(code);
    if (!unknown.empty()) b.AddUnknownAttributes(unknown);
    // RFC 8489 §9.1.3: the 400/401 of the authentication step carry no
    // MESSAGE-INTEGRITY (there is no key the client would share); after it
    // succeeded, §9.1.4 protects every response with it.
    if (integrity != nullptr) b.AddMessageIntegrity(key_bytes(*integrity));
    b.AddFingerprint();  // RFC 8445 §7.2.2: FINGERPRINT on every ICE message
    assert(b.ok());
    out->SendStun(tuple, b.bytes());
  }

  void SendSuccess(const Tuple& tuple, const stun::MessageView& m, const Generation& g) {
    // RFC 8445 §7.3 / RFC 8489 §7.3.1: XOR-MAPPED-ADDRESS is the source of
    // the request; the response is protected with the local password.
    stun::MessageBuilder b = stun::MessageBuilder::ResponseTo(m, MessageClass::kSuccessResponse,
                                                              buffer);
    b.AddXorAddress(stun::attr::kXorMappedAddress, tuple.remote)
        .AddMessageIntegrity(key_bytes(g))
        .AddFingerprint();
    assert(b.ok());
    out->SendStun(tuple, b.bytes());
  }

  // RFC 8445 §7.3 (via §7.2.2): checks carry FINGERPRINT; a message without
  // one, or with a wrong one, is not an ICE check and is discarded silently.
  static bool FingerprintOk(const stun::MessageView& m) {
    const std::optional<size_t> off = m.fingerprint_offset();
    if (!off) return false;
    const std::span<const uint8_t> bytes = m.bytes();
    assert(*off + stun::kAttributeHeaderSize + 4 <= bytes.size());
    return Load32(bytes.data() + *off + stun::kAttributeHeaderSize) ==
           stun::ComputeFingerprint(bytes.first(*off));
  }

  // RFC 8489 §9.1.3 / RFC 8445 §7.2.2: USERNAME is "local:remote" from our
  // side. Returns the generation it names, or nullptr (401).
  Generation* MatchUsername(std::string_view username) {
    const size_t colon = username.find(':');
    if (colon == std::string_view::npos) return nullptr;
    const std::string_view local = username.substr(0, colon);
    const std::string_view remote = username.substr(colon + 1);
    Generation* g = nullptr;
    if (local == current.local.ufrag) {
      g = &current;
    } else if (previous && local == previous->local.ufrag) {
      g = &*previous;
    }
    if (g == nullptr) return nullptr;
    // RFC 8445 §7.3: the remote part is checked once the offer told us the
    // peer's ufrag; before that a check may legitimately arrive first.
    if (g->remote_ufrag && remote != *g->remote_ufrag) return nullptr;
    return g;
  }

  int FindTuple(const Tuple& t) const {
    for (size_t i = 0; i < tuples.size(); ++i) {
      if (tuples[i].tuple == t) return static_cast<int>(i);
    }
    return -1;
  }

  // Removes tuples[i] (never the selected one while the session is live).
  // Returns false if the application closed the session from the event.
  bool RemoveTuple(size_t i) {
    assert(i < tuples.size());
    assert(static_cast<int>(i) != selected || !live());
    const Tuple gone = tuples[i].tuple;
    const size_t last = tuples.size() - 1;
    if (i != last) {
      tuples[i] = std::move(tuples[last]);
      if (selected == static_cast<int>(last)) selected = static_cast<int>(i);
    }
    tuples.pop_back();
    return Emit(SessionEvent::Kind::kTupleRemoved, gone);
  }

  // SessionConfig::max_tuples: the least recently checked non-selected
  // tuple makes room for a new peer-reflexive one.
  bool EvictOne() {
    int victim = -1;
    for (size_t i = 0; i < tuples.size(); ++i) {
      if (static_cast<int>(i) == selected) continue;
      if (victim < 0 || tuples[i].last_check < tuples[victim].last_check) {
        victim = static_cast<int>(i);
      }
    }
    assert(victim >= 0);  // max_tuples >= 2
    return RemoveTuple(static_cast<size_t>(victim));
  }

  bool Select(int i) {
    assert(i >= 0 && static_cast<size_t>(i) < tuples.size());
    if (selected == i) return true;
    selected = i;
    const Tuple t = tuples[i].tuple;
    if (!Emit(SessionEvent::Kind::kSelectedChanged, t)) return false;
    return MarkConnected(t);
  }

  bool MarkConnected(const Tuple& t) {
    if (state == SessionState::kNew || state == SessionState::kDisconnected) {
      state = SessionState::kConnected;
      return Emit(SessionEvent::Kind::kConnected, t);
    }
    return true;
  }

  // Nomination rules for tuples[i], the tuple of an authenticated check.
  bool Nominate(int i, bool first_check, bool use_candidate,
                std::optional<uint32_t> nomination, absl::Time now) {
    TupleState& t = tuples[i];
    if (role == Role::kControlling) {
      // Lite–lite, we offered (RFC 8445 §6.1.1): nobody nominates with
      // checks, so the highest-priority tuple that proved itself is used.
      if (selected < 0 || t.priority > tuples[selected].priority) return Select(i);
      return true;
    }
    if (nomination) {
      // draft-thatcher-ice-renomination: a higher NOMINATION value moves
      // the selection even to a lower-priority pair; stale values do not.
      if (!max_nomination || *nomination > *max_nomination) {
        max_nomination = nomination;
        return Select(i);
      }
      return true;
    }
    if (!use_candidate) return true;
    // RFC 8445 §8.1.1 regular nomination puts USE-CANDIDATE on a check of a
    // pair that already succeeded; RFC 5245 §8.1.1.2 aggressive nomination
    // puts it on every check, so on a tuple's very first one too.
    if (first_check) aggressive = true;
    t.nominated = true;
    if (selected < 0) return Select(i);
    if (selected == i) return true;
    const TupleState& s = tuples[selected];
    // Regular nominator: nominating again means moving (Chrome does so on
    // network changes). Aggressive: the highest-priority nominated pair
    // wins (RFC 5245 §8.1.1.2), unless the selected one went quiet.
    const bool stale = now - s.last_check >= config.disconnected_after;
    if (!aggressive || !s.nominated || t.priority > s.priority || stale) return Select(i);
    return true;
  }

  // RFC 8445 §7.3.1.1. Returns true if a 487 must be answered.
  bool RoleConflict(const stun::MessageView& m) {
    if (role == Role::kControlling) {
      const stun::AttrResult<uint64_t> theirs = stun::GetIceControlling(m);
      if (!theirs.ok()) return false;
      if (config.tie_breaker >= theirs.value) return true;  // keep role, 487
      role = Role::kControlled;  // theirs is larger: we yield
      return false;
    }
    // Deviation (README): we are controlled, so the peer is a full agent
    // (lite peers send no checks), and RFC 8445 §6.1.1 says the lite side
    // MUST stay controlled. The tie-breaker comparison of §7.3.1.1 could
    // make us controlling; instead we always answer 487, which makes a
    // conforming full agent switch to controlling (§7.2.5.1).
    return stun::GetIceControlled(m).ok();
  }

  // The restart is complete: the peer used the new credentials (RFC 8445 §9).
  void FinishRestart() {
    previous.reset();
    max_nomination.reset();
    aggressive = false;
    for (TupleState& t : tuples) t.nominated = false;
  }

  CheckOutcome OnCheck(const Tuple& tuple, const stun::MessageView& m, absl::Time now);
  void OnTimeout(absl::Time now);
  absl::Time Next() const;
};

LiteSession::CheckOutcome LiteSession::Impl::OnCheck(const Tuple& tuple,
                                                     const stun::MessageView& m,
                                                     absl::Time now) {
  if (!live()) return CheckOutcome::kDiscarded;
  // Only Binding requests are checks; ICE is RFC 5389+, cookie required.
  if (!m.Is(stun::Method::kBinding, MessageClass::kRequest) || !m.has_magic_cookie()) {
    return CheckOutcome::kDiscarded;
  }
  if (!FingerprintOk(m)) return CheckOutcome::kDiscarded;

  // RFC 8489 §9.1.3: USERNAME and MESSAGE-INTEGRITY both present, else 400.
  const stun::AttrResult<std::string_view> username = stun::GetUsername(m);
  if (!username.ok() || !m.message_integrity_offset()) {
    SendError(tuple, m, stun::error::kBadRequest, nullptr);
    return CheckOutcome::kRejected;
  }
  // Unknown username: 401; then the HMAC with that username's key: 401.
  Generation* g = MatchUsername(username.value);
  if (g == nullptr ||
      stun::VerifyMessageIntegrity(m, key_bytes(*g)) != stun::IntegrityCheck::kOk) {
    SendError(tuple, m, stun::error::kUnauthorized, nullptr);
    return CheckOutcome::kRejected;
  }

  // Authenticated from here; every response carries MI (RFC 8489 §9.1.4).
  // RFC 8489 §7.3.1: unknown comprehension-required attributes earn 420.
  // (GOOG-NETWORK-INFO 0xC057 is comprehension-optional: ignored.)
  std::array<uint16_t, kMaxUnknown> unknown{};
  const size_t n_unknown =
      stun::CollectUnknownComprehensionRequired(m, stun::IsKnownAttribute, unknown);
  if (n_unknown > 0) {
    SendError(tuple, m, stun::error::kUnknownAttribute, g,
              std::span<const uint16_t>(unknown.data(), std::min(n_unknown, kMaxUnknown)));
    return CheckOutcome::kRejected;
  }
  // RFC 8445 §7.3 / §16.1: a check carries PRIORITY; the ICE attributes we
  // act on must be well formed.
  const stun::AttrResult<uint32_t> priority = stun::GetPriority(m);
  const stun::AttrResult<uint32_t> nomination = stun::GetNomination(m);
  if (!priority.ok() || nomination.malformed() || stun::GetIceControlling(m).malformed() ||
      stun::GetIceControlled(m).malformed()) {
    SendError(tuple, m, stun::error::kBadRequest, g);
    return CheckOutcome::kRejected;
  }
  if (RoleConflict(m)) {
    // RFC 8445 §7.3.1.1: 487 with MI and FINGERPRINT; role kept.
    SendError(tuple, m, stun::error::kRoleConflict, g);
    return CheckOutcome::kRejected;
  }

  // Answer first (latency), then update state and report.
  SendSuccess(tuple, m, *g);
  if (g == &current && previous) FinishRestart();
  if (!live()) return CheckOutcome::kAnswered;  // closed from SendStun

  int i = FindTuple(tuple);
  const bool first_check = i < 0;
  if (first_check) {
    if (tuples.size() >= config.max_tuples && !EvictOne()) return CheckOutcome::kAnswered;
    // RFC 8445 §7.3.1.3: a check from an unknown source is a peer-reflexive
    // candidate; a lite agent keeps it as a tuple of the session.
    tuples.push_back(TupleState{tuple, now, priority.value, false});
    i = static_cast<int>(tuples.size() - 1);
    if (!Emit(SessionEvent::Kind::kTupleAdded, tuple)) return CheckOutcome::kAnswered;
  } else {
    tuples[i].last_check = now;  // RFC 7675 §5.1: consent refreshed
    tuples[i].priority = priority.value;
  }
  const std::optional<uint32_t> nom =
      nomination.ok() ? std::optional<uint32_t>(nomination.value) : std::nullopt;
  if (!Nominate(i, first_check, stun::HasUseCandidate(m), nom, now)) {
    return CheckOutcome::kAnswered;
  }
  // Consent came back on the selected tuple.
  if (i == selected) MarkConnected(tuple);
  return CheckOutcome::kAnswered;
}

void LiteSession::Impl::OnTimeout(absl::Time now) {
  if (!live()) return;
  if (selected >= 0) {
    const Tuple sel = tuples[selected].tuple;
    const absl::Time last = tuples[selected].last_check;
    const bool consent_gone = now >= last + config.consent_timeout;
    if (state == SessionState::kConnected &&
        (now >= last + config.disconnected_after || consent_gone)) {
      state = SessionState::kDisconnected;
      if (!Emit(SessionEvent::Kind::kDisconnected, sel)) return;
    }
    if (consent_gone) {
      // RFC 7675 §5.1: consent expired; the pair must not be used any more.
      state = SessionState::kFailed;
      if (!Emit(SessionEvent::Kind::kFailed, sel)) return;
      selected = -1;
      while (!tuples.empty()) {
        if (!RemoveTuple(tuples.size() - 1)) return;
      }
      return;
    }
  }
  // Peer-reflexive tuples nobody checks any more are forgotten after the
  // same consent period.
  for (size_t i = 0; i < tuples.size();) {
    if (static_cast<int>(i) != selected && now >= tuples[i].last_check + config.consent_timeout) {
      if (!RemoveTuple(i)) return;
    } else {
      ++i;
    }
  }
}

absl::Time LiteSession::Impl::Next() const {
  absl::Time next = absl::InfiniteFuture();
  if (!live()) return next;
  for (size_t i = 0; i < tuples.size(); ++i) {
    const absl::Time last = tuples[i].last_check;
    next = std::min(next, last + config.consent_timeout);
    if (static_cast<int>(i) == selected && state == SessionState::kConnected) {
      next = std::min(next, last + config.disconnected_after);
    }
  }
  return next;
}

LiteSession::LiteSession(SessionConfig config, Credentials local, SessionOutput* output)
    : impl_(std::make_unique<Impl>(config, std::move(local), output)) {}

LiteSession::~LiteSession() = default;

void LiteSession::SetRemoteCredentials(Credentials remote) {
  impl_->current.remote_ufrag = std::move(remote.ufrag);
}

void LiteSession::Restart(Credentials new_local) {
  // A second restart before the first completed drops the oldest set: the
  // peer can only be using the latest two it was given.
  impl_->previous = std::move(impl_->current);
  impl_->current = Impl::MakeGeneration(std::move(new_local));
}

LiteSession::CheckOutcome LiteSession::OnBindingRequest(const Tuple& tuple,
                                                        const stun::MessageView& message,
                                                        absl::Time now) {
  return impl_->OnCheck(tuple, message, now);
}

void LiteSession::HandleTimeout(absl::Time now) { impl_->OnTimeout(now); }

absl::Time LiteSession::NextTimeout() const { return impl_->Next(); }

void LiteSession::Close() {
  impl_->state = SessionState::kClosed;
  impl_->tuples.clear();
  impl_->selected = -1;
}

const Credentials& LiteSession::local() const { return impl_->current.local; }

std::vector<std::string> LiteSession::local_ufrags() const {
  std::vector<std::string> out{impl_->current.local.ufrag};
  if (impl_->previous) out.push_back(impl_->previous->local.ufrag);
  return out;
}

SessionState LiteSession::state() const { return impl_->state; }

Role LiteSession::role() const { return impl_->role; }

std::optional<Tuple> LiteSession::selected() const {
  if (impl_->selected < 0) return std::nullopt;
  return impl_->tuples[impl_->selected].tuple;
}

std::vector<Tuple> LiteSession::tuples() const {
  std::vector<Tuple> out;
  out.reserve(impl_->tuples.size());
  for (const auto& t : impl_->tuples) out.push_back(t.tuple);
  return out;
}

bool LiteSession::HasTuple(const Tuple& tuple) const { return impl_->FindTuple(tuple) >= 0; }

}  // namespace uturn::ice
