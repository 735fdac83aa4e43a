// libFuzzer target for the full ICE agent (client/ice_agent.h). The first
// byte configures the agent (role, nomination, relay-only, an IPv6 interface,
// a lite remote, small caps); the rest is a script of operations (encoding
// next to each op below, mirrored by gen_ice_agent_seeds.py):
//   - raw datagrams from a fixed set of addresses onto the agent's bases;
//   - answers to the requests the agent sent (gathering Binding, TURN
//     Allocate/Refresh/CreatePermission/ChannelBind, connectivity checks),
//     built with stun::MessageBuilder: success or an error code, right or
//     wrong integrity, with or without FINGERPRINT, from the right or a
//     wrong address (non-symmetric, RFC 8445 §7.2.5.2.1), then optionally
//     mutated;
//   - connectivity checks from the remote (right/wrong ufrag and pwd,
//     PRIORITY, USE-CANDIDATE, ICE-CONTROLLING/ED tie-breakers, FINGERPRINT);
//   - remote signalling: a=candidate lines (built, built then mutated, or raw
//     text) through ice::ParseCandidate, credentials (two generations,
//     invalid ones, raw text), end-of-candidates, ice-lite;
//   - TURN data (ChannelData, Data indications) from the TURN server;
//   - time steps (small, to PollTimeout(), large), SendData, Restart, Close.
// Checked after every operation (a failed CHECK aborts, which libFuzzer
// reports):
//   - every transmit leaves from a base the agent was given, is non-empty
//     and at most 2048 bytes; transmits and events per operation are bounded;
//   - PollTimeout() is later than `now` once HandleTimeout(now) ran;
//   - kData's payload lies inside the datagram handed in;
//   - a selected pair's addresses are ones the agent could know (bases, the
//     harness's addresses, signalled candidates); connected/completed means
//     a pair is selected; SendData succeeds only with a selected pair;
//   - pair and candidate counts stay under the configured caps;
//   - after Close() the state stays kClosed and only TURN requests (the
//     deallocation, and requests already in flight finishing) are sent.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/ice_agent.h"
#include "ice-lite/candidate.h"
#include "stun/address.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace uturn;          // NOLINT: a fuzz harness, one file
using namespace uturn::client;  // NOLINT
using stun::MessageBuilder;
using stun::MessageClass;
using stun::MessageView;
using stun::SocketAddress;
using fuzz::Input;

const bool g_trace = getenv("UTURN_FUZZ_TRACE") != nullptr;

const SocketAddress kStun = SocketAddress::V4({203, 0, 113, 1}, 3478);
const SocketAddress kTurn = SocketAddress::V4({203, 0, 113, 2}, 3478);
const SocketAddress kBases[] = {
    SocketAddress::V4({192, 0, 2, 1}, 5000),
    *SocketAddress::ParseIp("2001:db8::1", 5000),
};
// Remote addresses: the sources of datagrams, the candidates and the mapped
// and relayed addresses of answers all come from here.
const SocketAddress kAddrs[] = {
    SocketAddress::V4({198, 51, 100, 1}, 6000),
    SocketAddress::V4({198, 51, 100, 1}, 6001),
    SocketAddress::V4({198, 51, 100, 2}, 7000),
    SocketAddress::V4({203, 0, 113, 9}, 50000),  // a relayed address
    SocketAddress::V4({192, 0, 2, 1}, 5000),     // our own base
    *SocketAddress::ParseIp("2001:db8::2", 6000),
    kStun,
    kTurn,
};
constexpr size_t kAddrCount = std::size(kAddrs);

const ice::Credentials kLocal{"lOcA", "localpasswordlocalpassword"};
const ice::Credentials kRemote[] = {{"rEmT", "remotepasswordremotepass"},
                                    {"rEm2", "secondremotepasswordxyz0"}};
constexpr char kRealm[] = "fz";
constexpr char kNonce[] = "fuzznonce0123";
constexpr char kUser[] = "u";
constexpr char kPass[] = "p";

struct Sent {
  SocketAddress source, destination;
  std::vector<uint8_t> bytes;
};

class Harness {
 public:
  explicit Harness(uint8_t cfg) {
    IceAgentConfig c;
    c.role = (cfg & 1) ? ice::Role::kControlling : ice::Role::kControlled;
    c.nomination = (cfg & 2) ? NominationMode::kAggressive : NominationMode::kRegular;
    c.relay_only = (cfg & 4) != 0;
    c.local_credentials = kLocal;
    c.tie_breaker = (cfg & 32) ? 1 : 0x8000000000000000ull;
    c.stun_servers = {kStun};
    c.turn_servers = {IceTurnServer{kTurn, TurnCredentials{kUser, kPass}}};
    if (cfg & 64) {
      c.max_pairs = 8;
      c.max_remote_candidates = 6;
    }
    max_pairs_ = c.max_pairs;
    agent_.emplace(c, [this](std::span<uint8_t> out) {
      for (uint8_t& b : out) b = static_cast<uint8_t>(rng_ = rng_ * 6364136223846793005ull + 1);
    });
    nbases_ = (cfg & 8) ? 2 : 1;
    for (size_t i = 0; i < nbases_; ++i) CHECK(agent_->AddLocalInterface(kBases[i]).ok());
    if (cfg & 16) agent_->SetRemoteLite(true);
    CHECK(agent_->StartGathering(now_).ok());
    // Adding interfaces after gathering started is refused or ignored; it
    // must not break the agent.
    Drain();
  }

  void Run(Input& in) {
    for (int ops = 0; ops < 200 && !in.empty(); ++ops) {
      const uint8_t op = in.U8() % 12;
      if (g_trace) {
        fprintf(stderr, "op %u at %s, state %s\n", op, absl::FormatTime(now_).c_str(),
                ToString(agent_->state()));
      }
      switch (op) {
        case 0: RawPacket(in); break;
        case 1: Answer(in); break;
        case 2: RemoteCheck(in); break;
        case 3: Candidate(in, /*mutate=*/false); break;
        case 4: RawCandidate(in); break;
        case 5: Candidate(in, /*mutate=*/true); break;
        case 6: Credentials(in); break;
        case 7:
          agent_->SetRemoteEndOfCandidates(now_);
          break;
        case 8: Time(in); break;
        case 9: SendData(in); break;
        case 10: Lifecycle(in); break;
        case 11: TurnData(in); break;
      }
      Drain();
      empty_send_ = false;
    }
    // A long silence at the end: every timer may fire, none may spin.
    for (int i = 0; i < 50; ++i) {
      const absl::Time t = agent_->PollTimeout();
      if (t == absl::InfiniteFuture() || t > now_ + absl::Hours(2)) break;
      Advance(t);
      Drain();
    }
    if (g_trace) {
      const IceAgentStats st = agent_->stats();
      fprintf(stderr, "end: state %s, pairs %zu valid %zu, checks sent %lu received %lu, "
              "responses %lu\n", ToString(agent_->state()), st.pairs, st.valid_pairs,
              static_cast<unsigned long>(st.checks_sent),
              static_cast<unsigned long>(st.checks_received),
              static_cast<unsigned long>(st.responses_received));
    }
  }

 private:
  // ---- ops ----

  // 0: base u8, from u8, len u8, bytes.
  void RawPacket(Input& in) {
    const SocketAddress& base = kBases[in.U8() % nbases_];
    const SocketAddress& from = kAddrs[in.U8() % kAddrCount];
    auto bytes = in.Bytes(in.U8());
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    Deliver(base, from, copy);
  }

  // 1: which u8 (back from the newest request), flags u8, code u8, addr u8,
  //    then (flag 0x40) mutation pos u8, xor u8.
  void Answer(Input& in) {
    const uint8_t which = in.U8(), flags = in.U8(), code_sel = in.U8(), addr = in.U8();
    if (requests_.empty()) return;
    const Sent& req = requests_[requests_.size() - 1 - which % requests_.size()];
    MessageView m;
    if (MessageView::Parse(req.bytes, &m) != stun::ParseError::kNone) return;
    static constexpr int kCodes[] = {400, 401, 403, 420, 437, 438, 440, 441, 442, 486, 487, 508};
    const bool error = flags & 1;
    const int code = kCodes[code_sel % std::size(kCodes)];
    std::vector<uint8_t> buf(1024);
    MessageBuilder b = MessageBuilder::ResponseTo(
        m, error ? MessageClass::kErrorResponse : MessageClass::kSuccessResponse, buf);
    const SocketAddress mapped = (flags & 0x20) ? kAddrs[addr % kAddrCount] : req.source;
    const bool turn = req.destination == kTurn;
    const bool check = !turn && req.destination != kStun;
    if (error) {
      b.AddErrorCode(code);
      if (turn && (code == 401 || code == 438)) {
        b.AddString(stun::attr::kRealm, kRealm);
        b.AddString(stun::attr::kNonce, kNonce);
      }
    } else if (turn && m.method() == static_cast<uint16_t>(stun::Method::kAllocate)) {
      b.AddXorAddress(stun::attr::kXorRelayedAddress, kAddrs[3 + (addr & 1)]);
      b.AddXorAddress(stun::attr::kXorMappedAddress, mapped);
      b.AddU32(stun::attr::kLifetime, (addr & 2) ? 600 : addr);
    } else if (turn && m.method() == static_cast<uint16_t>(stun::Method::kRefresh)) {
      b.AddU32(stun::attr::kLifetime, (addr & 2) ? 600 : 0);
    } else if (!turn) {
      b.AddXorAddress(stun::attr::kXorMappedAddress, mapped);
    }
    if (!(flags & 0x10) && !(error && code == 401 && turn)) {
      if (turn) {
        auto key = stun::LongTermKeyMd5(kUser, kRealm, (flags & 2) ? "wrong" : kPass);
        CHECK(key.ok());
        b.AddMessageIntegrity(*key);
      } else if (check) {
        const std::string& pwd = (flags & 2) ? kLocal.pwd : remote_.pwd;
        b.AddMessageIntegrity(stun::KeyBytes(pwd));
      }
    }
    if (!(flags & 4)) b.AddFingerprint();
    if (!b.ok()) return;
    std::vector<uint8_t> out(b.bytes().begin(), b.bytes().end());
    if ((flags & 0x40) && !out.empty()) out[in.U8() % out.size()] ^= in.U8();
    // flag 8: from a wrong address (a non-symmetric answer).
    const SocketAddress& from = (flags & 8) ? kAddrs[(addr + 1) % kAddrCount] : req.destination;
    // flag 0x80: onto the wrong base.
    const SocketAddress& to = (flags & 0x80) ? kBases[(nbases_ - 1) & 1] : req.source;
    Deliver(to, from, out);
  }

  // 2: base u8, from u8, flags u16, priority u32.
  void RemoteCheck(Input& in) {
    const SocketAddress& base = kBases[in.U8() % nbases_];
    const SocketAddress& from = kAddrs[in.U8() % kAddrCount];
    const uint16_t flags = in.U16();
    const uint32_t priority = in.U32();
    stun::TransactionId tid{};
    for (auto& t : tid) t = static_cast<uint8_t>(rng_ = rng_ * 6364136223846793005ull + 7);
    std::vector<uint8_t> buf(512);
    MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kBinding, MessageClass::kRequest),
                     tid);
    const ice::Credentials& r = kRemote[(flags >> 12) & 1];
    if (!(flags & 1)) {
      b.AddString(stun::attr::kUsername,
                  absl::StrCat((flags & 2) ? "zzzz" : kLocal.ufrag, ":", r.ufrag));
    }
    if (!(flags & 4)) b.AddU32(stun::attr::kPriority, priority);
    if (flags & 8) b.AddFlag(stun::attr::kUseCandidate);
    const uint64_t tie = (flags & 0x100) ? 0 : (flags & 0x200) ? ~0ull : 0x8000000000000000ull;
    if (flags & 0x10) b.AddU64(stun::attr::kIceControlling, tie);
    if (flags & 0x20) b.AddU64(stun::attr::kIceControlled, tie);
    if (!(flags & 0x40)) b.AddMessageIntegrity(stun::KeyBytes((flags & 0x400) ? r.pwd : kLocal.pwd));
    if (!(flags & 0x80)) b.AddFingerprint();
    if (!b.ok()) return;
    std::vector<uint8_t> out(b.bytes().begin(), b.bytes().end());
    if ((flags & 0x800) && !out.empty()) out[in.U8() % out.size()] ^= in.U8();
    Deliver(base, from, out);
  }

  // 3/5: type u8, addr u8, priority u8, foundation u8 [5: pos u8, char u8].
  void Candidate(Input& in, bool mutate) {
    static constexpr const char* kTypes[] = {"host", "srflx", "prflx", "relay"};
    const uint8_t type = in.U8() % 4, addr = in.U8(), prio = in.U8(), foundation = in.U8();
    const SocketAddress& a = kAddrs[addr % kAddrCount];
    std::string line = absl::StrCat("candidate:", foundation, " 1 udp ",
                                    ice::CandidatePriority(126 - 10u * type, 65535u - prio, 1),
                                    " ", a.IpString(), " ", a.port, " typ ", kTypes[type]);
    if (type != 0) absl::StrAppend(&line, " raddr ", kBases[0].IpString(), " rport 5000");
    if (prio & 1) absl::StrAppend(&line, " generation 0 ufrag ", remote_.ufrag);
    if (mutate && !line.empty()) {
      const size_t pos = in.U8() % line.size();
      line[pos] = static_cast<char>(in.U8());
    }
    AddCandidateLine(line);
  }

  // 4: len u8, text.
  void RawCandidate(Input& in) {
    auto bytes = in.Bytes(in.U8());
    AddCandidateLine(std::string(bytes.begin(), bytes.end()));
  }

  void AddCandidateLine(std::string_view line) {
    auto c = ice::ParseCandidate(line);
    if (!c.ok()) return;
    const absl::Status s = agent_->AddRemoteCandidate(*c, now_);
    if (s.ok() && c->ip) {
      SocketAddress a = *c->ip;
      a.port = c->port;
      known_.insert(a);
    }
  }

  // 6: which u8 [3: ulen u8, ufrag, plen u8, pwd].
  void Credentials(Input& in) {
    const uint8_t which = in.U8() % 4;
    ice::Credentials c;
    if (which < 2) {
      c = kRemote[which];
    } else if (which == 2) {
      c = {"a", "short"};  // invalid: RFC 8839 §5.4 lengths
    } else {
      auto u = in.Bytes(in.U8());
      c.ufrag.assign(u.begin(), u.end());
      auto p = in.Bytes(in.U8());
      c.pwd.assign(p.begin(), p.end());
    }
    if (agent_->SetRemoteCredentials(c, now_).ok()) remote_ = c;
  }

  // 8: kind u8, amount u8.
  void Time(Input& in) {
    const uint8_t kind = in.U8() % 4, amount = in.U8();
    switch (kind) {
      case 0: Advance(now_ + absl::Milliseconds(amount)); break;
      case 1: {
        const absl::Time t = agent_->PollTimeout();
        Advance(t == absl::InfiniteFuture() ? now_ + absl::Seconds(1) : t);
        break;
      }
      case 2: Advance(now_ + absl::Seconds(amount)); break;
      case 3:
        for (int i = 0; i < amount % 32; ++i) {
          const absl::Time t = agent_->PollTimeout();
          if (t == absl::InfiniteFuture()) break;
          Advance(t);
          Drain();
        }
        break;
    }
  }

  // 9: len u8, bytes.
  void SendData(Input& in) {
    auto bytes = in.Bytes(in.U8());
    const bool had_pair = agent_->selected_pair().has_value();
    const absl::Status s = agent_->SendData(bytes, now_);
    if (s.ok()) CHECK(had_pair);
    empty_send_ = s.ok() && bytes.empty();
    if (closed_) CHECK(!s.ok());
  }

  // 10: which u8.
  void Lifecycle(Input& in) {
    const uint8_t which = in.U8() % 8;
    if (which < 3) {
      const absl::Status s = agent_->Restart(now_);
      if (closed_) CHECK(!s.ok());
    } else if (which < 5) {
      agent_->SetRemoteLite(which == 3);
    } else if (which == 5) {
      agent_->Close(now_);
      closed_ = true;
    } else {
      // Gathering twice is refused, never a second set of candidates.
      CHECK(!agent_->StartGathering(now_).ok());
    }
  }

  // 11: kind u8, addr u8, channel u16, len u8, payload.
  void TurnData(Input& in) {
    const uint8_t kind = in.U8(), addr = in.U8();
    const uint16_t channel = in.U16();
    auto payload = in.Bytes(in.U8());
    std::vector<uint8_t> out;
    if (kind & 1) {
      out = {static_cast<uint8_t>(0x40 | (channel >> 8 & 0x0F)), static_cast<uint8_t>(channel),
             static_cast<uint8_t>(payload.size() >> 8), static_cast<uint8_t>(payload.size())};
      out.insert(out.end(), payload.begin(), payload.end());
    } else {
      stun::TransactionId tid{};
      std::vector<uint8_t> buf(1024);
      MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kData, MessageClass::kIndication),
                       tid);
      b.AddXorAddress(stun::attr::kXorPeerAddress, kAddrs[addr % kAddrCount]);
      b.Add(stun::attr::kData, payload);
      if (kind & 2) b.AddFingerprint();
      if (!b.ok()) return;
      out.assign(b.bytes().begin(), b.bytes().end());
    }
    Deliver(kBases[(kind >> 2) % nbases_], (kind & 8) ? kStun : kTurn, out);
  }

  // ---- driving and invariants ----

  void Deliver(const SocketAddress& base, const SocketAddress& from, std::vector<uint8_t>& bytes) {
    const IceIncoming r = agent_->HandlePacket(base, from, bytes, now_);
    if (r.kind == IceIncoming::Kind::kData) {
      CHECK(!bytes.empty());
      CHECK(r.data.data() >= bytes.data());
      CHECK(r.data.data() + r.data.size() <= bytes.data() + bytes.size());
    }
  }

  void Advance(absl::Time t) {
    now_ = std::max(now_, t);
    agent_->HandleTimeout(now_);
    const absl::Time next = agent_->PollTimeout();
    if (!(next > now_)) {
      fprintf(stderr, "PollTimeout %s after HandleTimeout(%s)\n", absl::FormatTime(next).c_str(),
              absl::FormatTime(now_).c_str());
    }
    CHECK(next > now_);
  }

  bool Plausible(const SocketAddress& a) const {
    for (const auto& b : kBases) {
      if (a == b) return true;
    }
    for (const auto& b : kAddrs) {
      if (a == b) return true;
    }
    return known_.contains(a);
  }

  void Drain() {
    int n = 0;
    while (auto t = agent_->PollTransmit()) {
      CHECK(++n < 1000);
      if ((t->bytes.empty() && !empty_send_) || t->bytes.size() > 2048) {
        fprintf(stderr, "transmit of %zu bytes to %s\n", t->bytes.size(),
                t->destination.ToString().c_str());
      }
      // Empty only as the application's own empty datagram (UDP allows it).
      CHECK((!t->bytes.empty() || empty_send_) && t->bytes.size() <= 2048);
      if (closed_after_drain_) {
        // After Close() only TURN requests to the TURN server may still go
        // out: the deallocation (Refresh, LIFETIME 0, RFC 8656 §8) and the
        // requests that were in flight, retransmitted (RFC 8489 §6.2.1) or
        // retried after a 401/438 (RFC 8489 §9.2.5). Finishing those is
        // wasteful (the allocation is going) but harmless; no check, data or
        // STUN Binding may leave a closed agent.
        MessageView r;
        const bool turn_request =
            MessageView::Parse(t->bytes, &r) == stun::ParseError::kNone &&
            r.message_class() == MessageClass::kRequest &&
            r.method() != static_cast<uint16_t>(stun::Method::kBinding);
        if (!(t->destination == kTurn && turn_request)) {
          fprintf(stderr, "after Close: %zu bytes to %s, type 0x%04x\n", t->bytes.size(),
                  t->destination.ToString().c_str(), t->bytes[0] << 8 | t->bytes[1]);
          CHECK(false);
        }
      }
      bool from_base = false;
      for (size_t i = 0; i < nbases_; ++i) from_base |= t->source == kBases[i];
      CHECK(from_base);
      MessageView m;
      if (MessageView::Parse(t->bytes, &m) == stun::ParseError::kNone &&
          m.message_class() == MessageClass::kRequest) {
        requests_.push_back(Sent{t->source, t->destination, t->bytes});
        if (requests_.size() > 32) requests_.pop_front();
      }
    }
    int e = 0;
    while (auto ev = agent_->PollEvent()) {
      CHECK(++e < 1000);
      if (ev->kind == IceEvent::Kind::kSelectedPair) {
        CHECK(Plausible(ev->pair.local.address));
        CHECK(Plausible(ev->pair.remote.address));
      }
      if (ev->kind == IceEvent::Kind::kStateChanged && was_closed_) {
        CHECK(ev->state == IceState::kClosed);
      }
      if (ev->kind == IceEvent::Kind::kStateChanged && ev->state == IceState::kClosed) {
        was_closed_ = true;
      }
    }
    const IceState s = agent_->state();
    if (s == IceState::kConnected || s == IceState::kCompleted) {
      CHECK(agent_->selected_pair().has_value());
    }
    if (auto p = agent_->selected_pair()) {
      CHECK(Plausible(p->local.address));
      CHECK(Plausible(p->remote.address));
    }
    if (closed_) {
      CHECK(s == IceState::kClosed);
      // Close() may send deallocations once; nothing after that.
      closed_after_drain_ = true;
    }
    const IceAgentStats st = agent_->stats();
    // The current and one previous generation (RFC 8445 §9) at most.
    CHECK(st.pairs <= 2 * max_pairs_);
    CHECK(st.valid_pairs <= st.pairs + 2 * max_pairs_);
    CHECK(agent_->local_candidates().size() <= 64);
  }

  uint64_t rng_ = 0x0123456789ABCDEFull;
  std::optional<IceAgent> agent_;
  size_t nbases_ = 1;
  size_t max_pairs_ = 100;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  ice::Credentials remote_ = kRemote[0];
  std::deque<Sent> requests_;
  absl::flat_hash_set<SocketAddress> known_;
  bool closed_ = false, closed_after_drain_ = false, was_closed_ = false;
  bool empty_send_ = false;  // the op was SendData of an empty payload
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(std::span<const uint8_t>(data, size));
  Harness h(in.U8());
  h.Run(in);
  return 0;
}
