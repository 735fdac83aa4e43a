// libFuzzer target for the ICE-lite library (ice-lite/). The first input byte
// picks a mode (byte % 3):
//  0. ParseSdp on the rest. A parsed offer's candidates round-trip through
//     FormatCandidate/ParseCandidate unchanged; AnswerFor (fixed params), when
//     it succeeds, writes an answer that parses back with one section per
//     offered one (same media, protocol, formats), a=ice-lite, and our
//     credentials, fingerprint and setup:passive in every accepted section.
//  1. ParseCandidate on the rest, with the same round-trip property.
//  2. A Router with sessions of known credentials, driven by operations
//     decoded from the input (encoding next to each op below, mirrored by
//     gen_ice_seeds.py): raw packets from a fixed set of tuples (IPv4/IPv6,
//     UDP/TCP), checks built with stun::MessageBuilder (right or wrong
//     ufrag/pwd, PRIORITY, USE-CANDIDATE, NOMINATION, ICE-CONTROLLING/ED,
//     FINGERPRINT right/wrong/missing, Chrome/Firefox/libnice attribute
//     order), media, time advances, Add/Remove/RestartSession and remote
//     credentials. Checked (a failed CHECK aborts, which libFuzzer reports):
//   - a Send answers the packet being handled, on its tuple, at most once; it
//     parses, its FINGERPRINT verifies, its transaction ID is the request's,
//     and the request was a Binding request with a valid FINGERPRINT;
//   - a success response carries the requester's XOR-MAPPED-ADDRESS and
//     MESSAGE-INTEGRITY with the pwd of the ufrag the request named, which
//     was live (current or previous) before the call; the request carried
//     PRIORITY, verified with that pwd and named the remote ufrag if known;
//     401s carry no MESSAGE-INTEGRITY, 420/487 do; only 400/401/420/487;
//   - a well-formed check for a live session, below the tuple cap, is answered
//     with success (RFC 8445 §7.3), and successes == counters.checks_answered;
//   - OnMedia only during the packet's own call, for a non-STUN packet
//     (RFC 7983), to a live session that holds the tuple;
//   - session events follow new → connected ⇄ disconnected → failed, refer to
//     the session's tuples, tuples are added only by an answered check on the
//     packet's tuple, and mirror LiteSession::tuples()/selected()/state();
//   - caps (per session and router) hold; tuple_count() is at most the tuples
//     the sessions hold (equal with UTURN_FUZZ_ICE_STRICT_INDEX=1);
//     AddSession/RestartSession fail exactly when they should;
//   - NextTimeout() moves past `now` once HandleTimeout(now) ran, and after a
//     long silence no session holds a tuple.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ice-lite/candidate.h"
#include "ice-lite/ice_types.h"
#include "ice-lite/lite_session.h"
#include "ice-lite/router.h"
#include "ice-lite/sdp.h"
#include "stun/address.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/demux.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace uturn;       // NOLINT: a fuzz harness, one file
using namespace uturn::ice;  // NOLINT
using stun::MessageView;
using stun::SocketAddress;

using fuzz::Input;

// UTURN_FUZZ_TRACE=1 prints each op (for reading reproducers).
const bool g_trace = getenv("UTURN_FUZZ_TRACE") != nullptr;

std::string_view AsText(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// ---- modes 0 and 1: the SDP and candidate grammar ----

bool SameCandidate(const Candidate& a, const Candidate& b) {
  return a.foundation == b.foundation && a.component == b.component &&
         a.transport == b.transport && a.priority == b.priority && a.address == b.address &&
         a.ip == b.ip && a.port == b.port && a.type == b.type &&
         a.related_address == b.related_address && a.related_port == b.related_port &&
         a.tcp_type == b.tcp_type && a.extensions == b.extensions;
}

void CheckRoundTrip(const Candidate& c) {
  const std::string line = FormatCandidate(c);
  const absl::StatusOr<Candidate> again = ParseCandidate(line);
  CHECK(again.ok());
  CHECK(SameCandidate(c, *again));
  CHECK(FormatCandidate(*again) == line);
}

void FuzzCandidate(std::string_view text) {
  const absl::StatusOr<Candidate> c = ParseCandidate(text);
  if (!c.ok()) {
    CHECK(!c.status().message().empty());  // refused with a reason
    return;
  }
  CheckRoundTrip(*c);
}

AnswerParams FixedAnswerParams() {
  AnswerParams p;
  p.ice = {"LiTe", "abcdefghijklmnopqrstuvwx"};
  for (const char* line : {"candidate:1 1 udp 2130706431 198.51.100.2 3478 typ host",
                           "candidate:2 1 tcp 1518280447 198.51.100.2 3478 typ host tcptype passive"}) {
    p.candidates.push_back(*ParseCandidate(line));
  }
  p.fingerprint = "sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
                  "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF";
  p.session_id = 4242;
  return p;
}

void FuzzSdp(std::string_view text) {
  const absl::StatusOr<SessionDescription> offer = ParseSdp(text);
  if (g_trace) fprintf(stderr, "offer: %s\n", offer.status().ToString().c_str());
  if (!offer.ok()) {
    CHECK(!offer.status().message().empty());
    return;
  }
  for (size_t i = 0; i <= offer->media.size(); ++i) {
    const std::optional<Credentials> c = offer->CredentialsFor(i);
    if (c) CHECK(IsValidUfrag(c->ufrag) && IsValidPwd(c->pwd));
  }
  for (const MediaSection& m : offer->media) {
    for (const Candidate& c : m.candidates) CheckRoundTrip(c);
  }
  static const AnswerParams params = FixedAnswerParams();
  const absl::StatusOr<std::string> answer_text = AnswerFor(*offer, params);
  if (g_trace) fprintf(stderr, "answer: %s\n", answer_text.status().ToString().c_str());
  if (!answer_text.ok()) return;
  const absl::StatusOr<SessionDescription> answer = ParseSdp(*answer_text);
  if (!answer.ok()) {
    fprintf(stderr, "answer does not parse: %s\n%s\n",
            std::string(answer.status().message()).c_str(), answer_text->c_str());
  }
  CHECK(answer.ok());
  CHECK(answer->ice_lite);
  CHECK(answer->media.size() == offer->media.size());
  bool any_accepted = false;
  for (size_t i = 0; i < answer->media.size(); ++i) {
    const MediaSection& a = answer->media[i];
    const MediaSection& o = offer->media[i];
    CHECK(a.media == o.media && a.protocol == o.protocol && a.formats == o.formats);
    CHECK(a.mid == o.mid);
    for (const Candidate& c : a.candidates) CheckRoundTrip(c);
    if (a.port == 0) continue;  // rejected (RFC 3264 §6)
    any_accepted = true;
    CHECK(a.ice == params.ice);
    CHECK(a.setup == "passive");  // RFC 5763 §5
    CHECK(a.fingerprint == params.fingerprint);
  }
  CHECK(any_accepted);
  for (const std::string& mid : answer->bundle_mids) {
    CHECK(std::find(offer->bundle_mids.begin(), offer->bundle_mids.end(), mid) !=
          offer->bundle_mids.end());
  }
}

// ---- mode 2: the router ----

SocketAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return SocketAddress::V4({a, b, c, d}, port);
}
SocketAddress V6(uint8_t last, uint16_t port) {
  return SocketAddress::V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}, port);
}

const std::array<Tuple, 6> kTuples = {
    Tuple{V4(192, 0, 2, 1, 50000), V4(198, 51, 100, 2, 3478), Transport::kUdp},
    Tuple{V4(192, 0, 2, 1, 50001), V4(198, 51, 100, 2, 3478), Transport::kUdp},
    Tuple{V4(203, 0, 113, 7, 40000), V4(198, 51, 100, 2, 3478), Transport::kUdp},
    Tuple{V6(2, 50000), V6(100, 3478), Transport::kUdp},
    Tuple{V4(192, 0, 2, 1, 9), V4(198, 51, 100, 2, 3478), Transport::kTcp},  // RFC 6544 active
    Tuple{V6(2, 40001), V6(100, 3478), Transport::kTcp},
};

size_t TupleIndex(const Tuple& t) {
  for (size_t i = 0; i < kTuples.size(); ++i) {
    if (kTuples[i] == t) return i;
  }
  return kTuples.size();
}

constexpr uint16_t kGoogNetworkInfo = 0xC057;  // Chrome; comprehension-optional
constexpr uint16_t kUnknownRequired = 0x7F00;  // RFC 8489 §14: 420 if not understood
constexpr size_t kMaxPacket = 1024;

// What the harness knows about each set of local credentials it handed out.
struct CredRecord {
  std::string pwd;
  size_t session;                          // index into Harness::sessions_
  std::optional<std::string> remote_ufrag;  // USERNAME's remote part, once known
};

struct SessionModel {
  SessionId id = 0;
  bool alive = true;
  uint32_t max_tuples = 2;  // effective (LiteSession raises it to 2)
  SessionState state = SessionState::kNew;
  std::optional<Tuple> selected;
  std::vector<Tuple> tuples;  // from the events
};

class Harness final : public RouterOutput {
 public:
  explicit Harness(uint8_t config) {
    // Config byte: bit 0 answer unknown ufrags, bit 1 small caps, bit 2 remove
    // a session from inside its kFailed event, bit 3 from its kDisconnected.
    RouterConfig rc;
    rc.answer_unknown_ufrag = config & 1;
    if (config & 2) {
      rc.max_sessions = 3;
      rc.max_tuples = 4;
    } else {
      rc.max_sessions = 6;
      rc.max_tuples = 64;
    }
    remove_on_failed_ = config & 4;
    remove_on_disconnected_ = config & 8;
    config_ = rc;
    router_.emplace(rc, this);
    // Two sessions to begin with: one knowing the peer's ufrag, one not.
    CHECK(AddSession(0x80).ok());
    CHECK(AddSession(0x00).ok());
  }

  void Run(Input& in) {
    while (!in.empty()) {
      const uint8_t op = in.U8() % 9;
      if (g_trace) fprintf(stderr, "op %d\n", op);
      switch (op) {
        case 0: RawPacket(in); break;
        case 1: Check(in); break;
        case 2: Media(in); break;
        case 3: Advance(in); break;
        case 4: Remove(in); break;
        case 5: Restart(in); break;
        case 6: Add(in); break;
        case 7: Retransmit(in); break;
        case 8: SetRemote(in); break;
      }
      Verify();
    }
    // A long silence: consent expires everywhere (RFC 7675 §5.1).
    now_ += absl::Hours(2);
    RunTimers();
    Verify();
    for (const SessionModel& s : sessions_) {
      if (s.alive) CHECK(s.tuples.empty() && !s.selected);
    }
    CHECK(router_->tuple_count() == 0);
  }

  // -- RouterOutput --

  void Send(const Tuple& tuple, std::span<const uint8_t> bytes) override {
    CHECK(current_ && kTuples[*current_] == tuple);  // answers the packet in hand
    CHECK(!sent_this_call_);                        // once
    sent_this_call_ = true;
    MessageView res;
    CHECK(MessageView::Parse(bytes, &res) == stun::ParseError::kNone);  // FINGERPRINT verified
    CHECK(res.fingerprint_offset().has_value());  // RFC 8445 §7.2.2
    MessageView req;
    CHECK(MessageView::Parse(current_packet_, &req) == stun::ParseError::kNone);
    CHECK(req.Is(stun::Method::kBinding, stun::MessageClass::kRequest));
    CHECK(req.fingerprint_offset().has_value());
    CHECK(std::equal(res.transaction_id().begin(), res.transaction_id().end(),
                     req.transaction_id().begin()));
    CHECK(res.method() == static_cast<uint16_t>(stun::Method::kBinding));
    const auto username = stun::GetUsername(req);
    const CredRecord* named = nullptr;
    std::optional<std::string> key;
    if (username.ok()) {
      const std::string_view local = username.value.substr(0, username.value.find(':'));
      if (auto it = creds_.find(std::string(local)); it != creds_.end()) {
        named = &it->second;
        key = *stun::ShortTermKey(named->pwd);
      }
    }
    if (res.message_class() == stun::MessageClass::kSuccessResponse) {
      ++successes_;
      CHECK(named != nullptr);
      const std::string_view u = username.value;
      const std::string local(u.substr(0, u.find(':')));
      CHECK(std::find(live_ufrags_.begin(), live_ufrags_.end(), local) != live_ufrags_.end());
      CHECK(u.find(':') != std::string_view::npos);
      if (named->remote_ufrag) CHECK(u.substr(u.find(':') + 1) == *named->remote_ufrag);
      CHECK(stun::VerifyMessageIntegrity(req, stun::KeyBytes(*key)) == stun::IntegrityCheck::kOk);
      CHECK(stun::VerifyMessageIntegrity(res, stun::KeyBytes(*key)) == stun::IntegrityCheck::kOk);
      CHECK(stun::GetPriority(req).ok());  // RFC 8445 §7.3
      const auto mapped = stun::GetXorMappedAddress(res);
      CHECK(mapped.ok() && mapped.value == tuple.remote);
      const SessionModel& s = sessions_[named->session];
      CHECK(s.alive && s.state != SessionState::kFailed);
      // RFC 8445 §7.3.1.1: a controlled agent answers ICE-CONTROLLED with 487.
      if (roles_before_[named->session] == Role::kControlled) {
        CHECK(!stun::GetIceControlled(req).ok());
      }
      answered_session_ = named->session;
      if (g_trace) fprintf(stderr, "  -> success (session %zu)\n", named->session);
      return;
    }
    CHECK(res.message_class() == stun::MessageClass::kErrorResponse);
    const auto code = stun::GetErrorCode(res);
    CHECK(code.ok());
    const int c = code.value.code;
    if (g_trace) fprintf(stderr, "  -> error %d\n", c);
    CHECK(c == 400 || c == 401 || c == 420 || c == 487);
    if (c == 401) CHECK(!res.message_integrity_offset());  // RFC 8489 §9.1.3
    if (c == 420 || c == 487) {                              // after authentication (§9.1.4)
      CHECK(key.has_value());
      CHECK(stun::VerifyMessageIntegrity(res, stun::KeyBytes(*key)) == stun::IntegrityCheck::kOk);
    }
    if (c == 420) CHECK(res.Has(stun::attr::kUnknownAttributes));
  }

  void OnSessionEvent(SessionId id, const SessionEvent& ev) override {
    SessionModel& s = ModelFor(id);
    CHECK(s.alive);  // nothing after RemoveSession
    if (g_trace) fprintf(stderr, "  event %s %s\n", ToString(ev.kind), ev.tuple.ToString().c_str());
    CHECK(TupleIndex(ev.tuple) < kTuples.size());
    const auto has = [&](const Tuple& t) {
      return std::find(s.tuples.begin(), s.tuples.end(), t) != s.tuples.end();
    };
    using K = SessionEvent::Kind;
    if (s.state == SessionState::kFailed) CHECK(ev.kind == K::kTupleRemoved);
    switch (ev.kind) {
      case K::kTupleAdded:
        // Only a check answered with success on this very packet adds a tuple.
        CHECK(current_ && kTuples[*current_] == ev.tuple);
        CHECK(answered_session_ && sessions_[*answered_session_].id == id);
        CHECK(!has(ev.tuple));
        s.tuples.push_back(ev.tuple);
        CHECK(s.tuples.size() <= s.max_tuples);
        break;
      case K::kTupleRemoved:
        CHECK(has(ev.tuple));
        s.tuples.erase(std::find(s.tuples.begin(), s.tuples.end(), ev.tuple));
        if (s.selected == ev.tuple) {
          CHECK(s.state == SessionState::kFailed);  // the selected one stays while live
          s.selected.reset();
        }
        break;
      case K::kSelectedChanged:
        CHECK(has(ev.tuple));
        CHECK(s.selected != ev.tuple);
        s.selected = ev.tuple;
        break;
      case K::kConnected:
        CHECK(s.state == SessionState::kNew || s.state == SessionState::kDisconnected);
        CHECK(s.selected == ev.tuple);
        s.state = SessionState::kConnected;
        break;
      case K::kDisconnected:
        CHECK(s.state == SessionState::kConnected);
        CHECK(s.selected == ev.tuple);
        s.state = SessionState::kDisconnected;
        if (remove_on_disconnected_) RemoveFromCallback(s);
        break;
      case K::kFailed:
        // RFC 7675 §5.1; kDisconnected always comes first.
        CHECK(s.state == SessionState::kDisconnected);
        CHECK(s.selected == ev.tuple);
        s.state = SessionState::kFailed;
        if (remove_on_failed_) RemoveFromCallback(s);
        break;
    }
  }

  void OnMedia(SessionId id, const Tuple& tuple, std::span<const uint8_t> packet) override {
    CHECK(current_ && kTuples[*current_] == tuple);
    CHECK(packet.data() == current_packet_.data() && packet.size() == current_packet_.size());
    CHECK(stun::Classify(packet) != stun::PacketKind::kStun);  // RFC 7983
    SessionModel& s = ModelFor(id);
    CHECK(s.alive);
    CHECK(std::find(s.tuples.begin(), s.tuples.end(), tuple) != s.tuples.end());
    LiteSession* session = router_->session(id);
    CHECK(session != nullptr && session->HasTuple(tuple));
  }

 private:
  SessionModel& ModelFor(SessionId id) {
    for (SessionModel& s : sessions_) {
      if (s.id == id) return s;
    }
    CHECK(false);  // an id the router never handed out
    abort();
  }

  void RemoveFromCallback(SessionModel& s) {
    router_->RemoveSession(s.id);
    s.alive = false;
  }

  // Fresh, unique credentials: ufrags are never reused, so creds_ maps each
  // ufrag to one pwd for the whole run.
  Credentials FreshCredentials() {
    ++cred_counter_;
    char ufrag[16], pwd[40];
    snprintf(ufrag, sizeof ufrag, "uF%04u", cred_counter_);
    snprintf(pwd, sizeof pwd, "pWd+/%04uabcdefghijklmnopq", cred_counter_);  // 26 ice-chars
    return {ufrag, pwd};
  }

  std::vector<std::string> LiveUfrags() {
    std::vector<std::string> out;
    for (const SessionModel& s : sessions_) {
      if (!s.alive) continue;
      for (std::string& u : router_->session(s.id)->local_ufrags()) out.push_back(std::move(u));
    }
    return out;
  }

  size_t alive_count() const {
    size_t n = 0;
    for (const SessionModel& s : sessions_) n += s.alive;
    return n;
  }

  // Session config byte: bit 0 controlling (lite–lite, we offered), bits 1-2
  // tie-breaker, bits 3-4 timers, bits 5-6 max_tuples, bit 7 remote ufrag known.
  // `mode` 0: fresh credentials, 1: a ufrag in use, 2: invalid ufrag.
  absl::StatusOr<SessionId> AddSession(uint8_t config, uint8_t mode = 0) {
    static constexpr uint64_t kTieBreakers[] = {0, 1, 0x8000000000000000ull, ~0ull};
    static constexpr uint32_t kMaxTuples[] = {8, 0, 1, 3};
    SessionConfig sc;
    sc.role = (config & 1) ? Role::kControlling : Role::kControlled;
    sc.tie_breaker = kTieBreakers[(config >> 1) & 3];
    switch ((config >> 3) & 3) {
      case 0: break;  // RFC 7675 defaults: 30 s / 5 s
      case 1: sc.consent_timeout = absl::Seconds(3); sc.disconnected_after = absl::Seconds(1); break;
      case 2: sc.consent_timeout = absl::ZeroDuration(); sc.disconnected_after = absl::ZeroDuration(); break;
      case 3: sc.consent_timeout = absl::Seconds(1); sc.disconnected_after = absl::Seconds(5); break;
    }
    sc.max_tuples = kMaxTuples[(config >> 5) & 3];
    Credentials local = FreshCredentials();
    const std::vector<std::string> live = LiveUfrags();
    if (mode % 3 == 1 && !live.empty()) local.ufrag = live[config % live.size()];
    if (mode % 3 == 2) local.ufrag = "bad:ufrag";
    std::optional<Credentials> remote;
    if (config & 0x80) remote = Credentials{"rMt" + local.ufrag, "remotepasswordremotepass"};

    const size_t before = router_->session_count();
    absl::StatusOr<SessionId> id = router_->AddSession(sc, local, remote);
    // RouterConfig::max_sessions, then ice-chars (RFC 8839 §5.4), then unique.
    const bool taken = std::find(live.begin(), live.end(), local.ufrag) != live.end();
    if (before >= config_.max_sessions) {
      CHECK(id.status().code() == absl::StatusCode::kResourceExhausted);
    } else if (mode % 3 == 2) {
      CHECK(id.status().code() == absl::StatusCode::kInvalidArgument);
    } else if (taken) {
      CHECK(id.status().code() == absl::StatusCode::kAlreadyExists);
    } else {
      CHECK(id.ok());
    }
    if (!id.ok()) {
      CHECK(router_->session_count() == before);
      return id;
    }
    SessionModel m;
    m.id = *id;
    m.max_tuples = std::max<uint32_t>(sc.max_tuples, 2);
    for (const SessionModel& s : sessions_) CHECK(s.id != m.id);
    sessions_.push_back(m);
    creds_[local.ufrag] = CredRecord{local.pwd, sessions_.size() - 1,
                                     remote ? std::optional<std::string>(remote->ufrag)
                                            : std::nullopt};
    cred_order_.push_back(local.ufrag);
    return id;
  }

  // -- operations --

  // op 0: tuple, u16 length, bytes.
  void RawPacket(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const auto bytes = in.Bytes(in.U16() % (kMaxPacket + 1));
    Deliver(t, std::vector<uint8_t>(bytes.begin(), bytes.end()), false);
  }

  // op 1: tuple, credential selector, u16 flags, priority byte, [nomination
  // byte], [tie-breaker byte]. Flags: 0 no PRIORITY, 1 USE-CANDIDATE,
  // 2 NOMINATION, 3-4 role attribute (none, CONTROLLING, CONTROLLED, both),
  // 5-6 FINGERPRINT (right, missing, wrong, right), 7 wrong pwd, 8 wrong
  // remote ufrag, 9 no USERNAME, 10 no MESSAGE-INTEGRITY, 11 unknown
  // comprehension-required attribute, 12 GOOG-NETWORK-INFO + SOFTWARE,
  // 13 USERNAME without ':', 14-15 order (Chrome, Firefox, libnice, Chrome).
  // Selector: the n-th credentials ever handed out, 255: an unknown ufrag.
  void Check(Input& in) {
    static constexpr uint32_t kPriorities[] = {2130706431, 1853824767, 1686052607, 41885439};
    static constexpr uint64_t kTieBreakers[] = {0, 1, 0x8000000000000000ull, ~0ull, 0x1234};
    const size_t t = in.U8() % kTuples.size();
    const uint8_t sel = in.U8();
    const uint16_t flags = in.U16();
    const uint8_t p = in.U8();
    const uint32_t priority = kPriorities[p % 4] - (p / 4) * 256u;
    const uint8_t role_attr = (flags >> 3) & 3;
    const std::optional<uint32_t> nomination =
        (flags & 4) ? std::optional<uint32_t>(in.U8()) : std::nullopt;
    const uint64_t tie = role_attr ? kTieBreakers[in.U8() % 5] : 0;

    std::string local_ufrag = "nOsUcH", pwd = "nosuchpasswordnosuchpass";
    std::optional<std::string> remote_ufrag;
    const CredRecord* rec = nullptr;
    if (sel != 255 && !cred_order_.empty()) {
      local_ufrag = cred_order_[sel % cred_order_.size()];
      rec = &creds_.at(local_ufrag);
      pwd = rec->pwd;
      remote_ufrag = rec->remote_ufrag;
    }
    if (flags & 0x80) pwd += "x";
    std::string username = local_ufrag;
    if (!(flags & 0x2000)) {
      username += ":" + remote_ufrag.value_or("pEeR");
      if (flags & 0x100) username += "z";
    }

    std::vector<uint8_t> buf(kMaxPacket);
    stun::MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kBinding,
                                                        stun::MessageClass::kRequest),
                           NextTransactionId());
    auto add_username = [&] {
      if (!(flags & 0x200)) b.AddString(stun::attr::kUsername, username);
    };
    auto add_role = [&] {
      if (role_attr & 1) b.AddU64(stun::attr::kIceControlling, tie);
      if (role_attr & 2) b.AddU64(stun::attr::kIceControlled, tie);
    };
    auto add_priority = [&] {
      if (!(flags & 1)) b.AddU32(stun::attr::kPriority, priority);
    };
    auto add_nomination = [&] {
      if (flags & 2) b.AddFlag(stun::attr::kUseCandidate);
      if (nomination) b.AddU32(stun::attr::kNomination, *nomination);
    };
    switch ((flags >> 14) & 3) {
      case 1:  // Firefox
        add_priority(), add_nomination(), add_role(), add_username();
        break;
      case 2:  // libnice
        add_username(), add_priority(), add_role(), add_nomination();
        b.AddString(stun::attr::kSoftware, "libnice");
        break;
      default:  // Chrome
        add_username();
        if (flags & 0x1000) {
          const uint8_t info[4] = {0x00, 0x01, 0x00, 0x0a};
          b.Add(kGoogNetworkInfo, info);
        }
        add_role(), add_nomination(), add_priority();
        break;
    }
    if (flags & 0x800) b.AddU32(kUnknownRequired, 7);
    if (!(flags & 0x400)) b.AddMessageIntegrity(stun::KeyBytes(*stun::ShortTermKey(pwd)));
    const uint8_t fp = (flags >> 5) & 3;
    if (fp != 1) b.AddFingerprint();
    CHECK(b.ok());
    buf.resize(b.size());
    if (fp == 2) buf.back() ^= 0x01;

    // RFC 8445 §7.3: a check that is right in every respect is answered with
    // success, as long as the session is live and the tuple cap leaves room.
    bool must_succeed = false;
    if (rec != nullptr && (flags & 0x2F81) == 0 && fp != 1 && fp != 2) {
      const SessionModel& s = sessions_[rec->session];
      if (s.alive && s.state != SessionState::kFailed &&
          router_->tuple_count() < config_.max_tuples) {
        LiteSession* session = router_->session(s.id);
        const std::vector<std::string> ufrags = session->local_ufrags();
        const bool live =
            std::find(ufrags.begin(), ufrags.end(), local_ufrag) != ufrags.end();
        const bool compatible = role_attr == 0 ||
                                (role_attr == 1 && session->role() == Role::kControlled) ||
                                (role_attr == 2 && session->role() == Role::kControlling);
        must_succeed = live && compatible;
      }
    }
    const uint64_t answered = router_->counters().checks_answered;
    Deliver(t, std::move(buf), true);
    if (must_succeed) CHECK(router_->counters().checks_answered == answered + 1);
  }

  // op 2: tuple, kind, u8 length, payload. The first byte is set by kind
  // (RFC 7983): DTLS, RTP, RTCP, ChannelData range, ZRTP, undefined, or none.
  void Media(Input& in) {
    static constexpr uint8_t kFirst[] = {22, 0x80, 0x90, 0x40, 0x10, 0xFF};
    const size_t t = in.U8() % kTuples.size();
    const uint8_t kind = in.U8() % 7;
    const auto payload = in.Bytes(in.U8());
    std::vector<uint8_t> packet;
    if (kind < 6) packet.push_back(kFirst[kind]);
    packet.insert(packet.end(), payload.begin(), payload.end());
    Deliver(t, std::move(packet), false);
  }

  // op 3: kind, u16 amount (0: ms, 1: s % 128, 2: min % 64). Then timers.
  void Advance(Input& in) {
    const uint8_t kind = in.U8() % 3;
    const uint16_t amount = in.U16();
    if (kind == 0) now_ += absl::Milliseconds(amount);
    if (kind == 1) now_ += absl::Seconds(amount % 128);
    if (kind == 2) now_ += absl::Minutes(amount % 64);
    RunTimers();
  }

  // op 4: session selector (one past the end: an id never handed out).
  void Remove(Input& in) {
    const size_t k = in.U8() % (sessions_.size() + 1);
    const size_t before = router_->session_count();
    if (k == sessions_.size()) {
      router_->RemoveSession(0xDEADBEEF);
      CHECK(router_->session_count() == before);
      return;
    }
    SessionModel& s = sessions_[k];
    router_->RemoveSession(s.id);
    CHECK(router_->session_count() == before - (s.alive ? 1 : 0));
    s.alive = false;
    CHECK(router_->session(s.id) == nullptr);
  }

  // op 5: session selector, mode (0 fresh, 1 a ufrag in use, 2 invalid, 3 unknown id).
  void Restart(Input& in) {
    const size_t k = in.U8() % sessions_.size();
    const uint8_t mode = in.U8() % 4;
    Credentials next = FreshCredentials();
    const std::vector<std::string> live = LiveUfrags();
    if (mode == 1 && !live.empty()) next.ufrag = live[k % live.size()];
    if (mode == 2) next.pwd = "short";
    const SessionModel& s = sessions_[k];
    const SessionId id = mode == 3 ? 0xDEADBEEF : s.id;
    const absl::Status st = router_->RestartSession(id, next);
    const bool taken = std::find(live.begin(), live.end(), next.ufrag) != live.end();
    if (mode == 3 || !s.alive) {
      CHECK(st.code() == absl::StatusCode::kNotFound);
    } else if (mode == 2) {
      CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    } else if (taken) {
      CHECK(st.code() == absl::StatusCode::kAlreadyExists);
    } else {
      CHECK(st.ok());
      creds_[next.ufrag] = CredRecord{next.pwd, k, std::nullopt};
      cred_order_.push_back(next.ufrag);
      CHECK(router_->session(s.id)->local().ufrag == next.ufrag);
    }
  }

  // op 6: session config byte (see AddSession), mode.
  void Add(Input& in) {
    const uint8_t config = in.U8();
    AddSession(config, in.U8()).IgnoreError();
  }

  // op 7: tuple. Resends that tuple's last packet byte for byte.
  void Retransmit(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    if (last_packet_[t].empty()) return;
    Deliver(t, last_packet_[t], true);
  }

  // op 8: session selector. The offer arrives: the peer's ufrag becomes
  // known for the session's current credentials.
  void SetRemote(Input& in) {
    SessionModel& s = sessions_[in.U8() % sessions_.size()];
    if (!s.alive) return;
    LiteSession* session = router_->session(s.id);
    const std::string ufrag = session->local().ufrag;
    session->SetRemoteCredentials({"rMt2" + ufrag, "remotepasswordremotepass"});
    creds_.at(ufrag).remote_ufrag = "rMt2" + ufrag;
  }

  // -- plumbing and invariants --

  std::array<uint8_t, stun::kTransactionIdSize> NextTransactionId() {
    std::array<uint8_t, stun::kTransactionIdSize> id{};
    ++tid_counter_;
    for (size_t i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(tid_counter_ >> (8 * i));
    id[11] = 0x1C;
    return id;
  }

  void Deliver(size_t t, std::vector<uint8_t> packet, bool remember) {
    if (remember) last_packet_[t] = packet;
    live_ufrags_ = LiveUfrags();
    roles_before_.clear();
    for (const SessionModel& s : sessions_) {
      roles_before_.push_back(s.alive ? router_->session(s.id)->role() : Role::kControlled);
    }
    const uint64_t answered = router_->counters().checks_answered;
    current_ = t;
    current_packet_ = packet;  // exact-size heap buffer: overreads are ASan reports
    sent_this_call_ = false;
    answered_session_.reset();
    router_->OnPacket(kTuples[t], packet, now_);
    current_.reset();
    current_packet_ = {};
    CHECK(router_->counters().checks_answered == answered + (answered_session_ ? 1 : 0));
    CHECK(router_->counters().checks_answered == successes_);
  }

  void RunTimers() {
    for (int i = 0; router_->NextTimeout() <= now_; ++i) {
      CHECK(i < 2);  // one call must move NextTimeout() past now
      router_->HandleTimeout(now_);
    }
  }

  // The model (built from events) and the library agree; caps hold.
  void Verify() {
    CHECK(router_->session_count() == alive_count());
    CHECK(router_->session_count() <= config_.max_sessions);
    CHECK(router_->tuple_count() <= config_.max_tuples);
    std::vector<Tuple> all;
    for (const SessionModel& s : sessions_) {
      LiteSession* session = router_->session(s.id);
      if (!s.alive) {
        CHECK(session == nullptr);
        continue;
      }
      CHECK(session != nullptr);
      CHECK(session->state() == s.state);
      CHECK(session->selected() == s.selected);
      std::vector<Tuple> tuples = session->tuples();
      CHECK(tuples.size() == s.tuples.size() && tuples.size() <= s.max_tuples);
      for (const Tuple& t : tuples) {
        CHECK(std::find(s.tuples.begin(), s.tuples.end(), t) != s.tuples.end());
        if (std::find(all.begin(), all.end(), t) == all.end()) all.push_back(t);
      }
      if (s.state == SessionState::kConnected || s.state == SessionState::kDisconnected) {
        CHECK(s.selected.has_value());
      }
      if (s.state == SessionState::kFailed) CHECK(tuples.empty());
      CHECK(router_->NextTimeout() <= session->NextTimeout());  // never late
    }
    // Every indexed tuple is held by some session (no dangling entries).
    CHECK(router_->tuple_count() <= all.size());
    // router.h says tuple_count() is the authenticated tuples of all sessions.
    // Off by default: a tuple that authenticated with two sessions stops
    // being routed when the later one drops it (see tests/fuzz/README.md).
    if (strict_index_) CHECK(router_->tuple_count() == all.size());
  }

  RouterConfig config_;
  std::optional<Router> router_;
  bool remove_on_failed_ = false, remove_on_disconnected_ = false;
  const bool strict_index_ = getenv("UTURN_FUZZ_ICE_STRICT_INDEX") != nullptr;
  std::vector<SessionModel> sessions_;
  std::map<std::string, CredRecord> creds_;
  std::vector<std::string> cred_order_;  // ufrags in the order handed out
  unsigned cred_counter_ = 0;
  uint64_t tid_counter_ = 0;
  uint64_t successes_ = 0;
  std::array<std::vector<uint8_t>, kTuples.size()> last_packet_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  // The OnPacket call in progress.
  std::optional<size_t> current_;
  std::span<const uint8_t> current_packet_;
  bool sent_this_call_ = false;
  std::optional<size_t> answered_session_;
  std::vector<std::string> live_ufrags_;  // before the call
  std::vector<Role> roles_before_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(std::span<const uint8_t>(data, size));
  switch (in.U8() % 3) {
    case 0: FuzzSdp(AsText(in.Rest())); break;
    case 1: FuzzCandidate(AsText(in.Rest())); break;
    case 2: {
      Harness harness(in.U8());
      harness.Run(in);
      break;
    }
  }
  return 0;
}
