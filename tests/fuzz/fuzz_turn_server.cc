// libFuzzer target for the sans-IO TURN core (turn/turn_server.h). The input
// is a configuration byte followed by a sequence of operations: raw client
// datagrams, well-formed TURN requests built with stun::MessageBuilder (with
// no auth, long-term MD5/SHA-256 credentials, USERHASH, REST secrets, wrong
// passwords, stale nonces), retransmissions, ChannelData, peer datagrams on
// the relays the core opened (in buffers with exactly the promised headroom
// and tailroom), time advances with HandleTimeout, drain and reload.
// A fake TurnHost hands out relay ids from a small pool, sometimes fails, and
// checks what the API promises (a failed check aborts, which libFuzzer reports):
//  - CloseRelay only closes open relays; allocation_count() never exceeds the
//    relays open, nor --total-quota, and equals counters().allocations_active;
//  - nothing is sent to a peer the PeerPolicy refuses, or from a closed relay;
//  - relayed data (either way) only involves a peer IP that a successful
//    CreatePermission/ChannelBind of the relay's owner named (RFC 8656 §9);
//    relays are only opened while a client packet is handled;
//  - everything sent to a client goes to a known 5-tuple and is a STUN message
//    or ChannelData that parses; bytes sent in place stay inside the buffer;
//  - no allocation is created while draining; NextTimeout() moves past `now`
//    once HandleTimeout(now) ran;
//  - after a huge time advance every relay is closed and nothing is active.
// The op encoding is documented next to each op below and mirrored by
// gen_turn_seeds.py, which writes corpus/turn_server.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "stun/address.h"
#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "tests/fuzz/fuzz_input.h"
#include "turn/peer_policy.h"
#include "turn/turn_server.h"

namespace {

using namespace uturn;        // NOLINT: a fuzz harness, one file
using namespace uturn::stun;  // NOLINT
using turn::FiveTuple;
using turn::RelayId;
using turn::TurnHost;

using fuzz::Input;

constexpr std::string_view kRealm = "uturn";
constexpr std::string_view kUser = "fuzz", kPassword = "pass";
constexpr std::string_view kUser2 = "fuzz2", kPassword2 = "pass2";
constexpr std::string_view kRestSecret = "fuzz-rest-secret";
constexpr absl::Duration kHugeAdvance = absl::Hours(10);
constexpr size_t kMaxClientPacket = 2048;
constexpr RelayId kRelayPool = 6;  // ids 1..6

volatile uint32_t g_sink = 0;
// UTURN_FUZZ_TRACE=1 prints each op and each answer (for reading reproducers).
const bool g_trace = getenv("UTURN_FUZZ_TRACE") != nullptr;
void Touch(std::span<const uint8_t> s) {
  uint32_t acc = 0;
  for (uint8_t b : s) acc += b;
  g_sink = g_sink + acc;
}

SocketAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return SocketAddress::V4({a, b, c, d}, port);
}
SocketAddress V6(std::array<uint8_t, 16> ip, uint16_t port) { return SocketAddress::V6(ip, port); }

const std::array<FiveTuple, 5> kTuples = {
    FiveTuple{V4(192, 0, 2, 1, 1000), V4(192, 0, 2, 100, 3478), turn::Transport::kUdp},
    FiveTuple{V4(192, 0, 2, 1, 1001), V4(192, 0, 2, 100, 3478), turn::Transport::kUdp},
    FiveTuple{V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 1000),
              V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 3478),
              turn::Transport::kUdp},
    FiveTuple{V4(203, 0, 113, 5, 5000), V4(192, 0, 2, 100, 3478), turn::Transport::kUdp},
    FiveTuple{V4(203, 0, 113, 5, 5001), V4(192, 0, 2, 100, 3478), turn::Transport::kTcp},
};

// Peers: public, private (explicitly allowed under config bit 7), loopback,
// encodings of private addresses, explicitly denied, port 0, and arbitrary.
SocketAddress PeerFrom(Input& in) {
  switch (in.U8() % 10) {
    case 0: return V4(8, 8, 8, 8, 5000);
    case 1: return V4(8, 8, 4, 4, 6000);
    case 2: return V6({0x20, 0x01, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88}, 7000);
    case 3: return V4(10, 0, 0, 1, 5000);
    case 4: return V4(127, 0, 0, 1, 5000);
    case 5: return V6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 2}, 5000);
    case 6: return V4(9, 9, 9, 9, 53);
    case 7: return V6({0x20, 0x02, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 5000);
    case 8: return V4(198, 51, 100, 20, 0);
    default: {
      const bool v6 = in.U8() & 1;
      std::array<uint8_t, 16> ip{};
      const auto raw = in.Bytes(v6 ? 16 : 4);
      std::copy(raw.begin(), raw.end(), ip.begin());
      const uint16_t port = in.U16();
      return v6 ? V6(ip, port) : V4(ip[0], ip[1], ip[2], ip[3], port);
    }
  }
}

uint16_t ChannelFrom(Input& in) {
  static constexpr uint16_t kChannels[] = {0x4000, 0x4001, 0x4FFF, 0x5000, 0x3FFF, 0xFFFF, 0x4002};
  const uint8_t k = in.U8() % 8;
  return k < 7 ? kChannels[k] : in.U16();
}

// What a client on one 5-tuple has learnt from the server's answers.
struct ClientState {
  std::string nonce;
  std::vector<uint8_t> password_algorithms;  // PASSWORD-ALGORITHMS value from a 401
  std::vector<uint8_t> last_request;         // for retransmission
  // Peer IPs (port 0) some successful CreatePermission/ChannelBind named.
  // Never cleared: a superset of what may be live, so any miss is a bug.
  std::set<std::pair<Family, std::array<uint8_t, 16>>> permitted;
};

std::pair<Family, std::array<uint8_t, 16>> IpOf(const SocketAddress& a) {
  return {a.family, a.bytes};
}

class FakeHost final : public TurnHost {
 public:
  FakeHost(const turn::PeerPolicyConfig& policy, bool relay_ipv6)
      : policy_(policy), relay_ipv6_(relay_ipv6) {}

  std::variant<Relay, RelayError> OpenRelay(const RelayRequest& request) override {
    if (request.family == Family::kIPv6 && !relay_ipv6_) return RelayError::kFamilyUnsupported;
    if (fail_next_open) {
      fail_next_open = false;
      return RelayError::kInsufficientCapacity;
    }
    if (request.reservation_token && reservations_.erase(*request.reservation_token) == 0) {
      return RelayError::kBadReservation;
    }
    for (RelayId id = 1; id <= kRelayPool; ++id) {
      if (open_[id]) continue;
      CHECK(current_tuple.has_value());  // only while a client's request is handled
      open_[id] = true;
      owner_[id] = *current_tuple;
      ++opens;
      Relay r;
      r.id = id;
      const uint16_t port = static_cast<uint16_t>(49152 + 2 * id);
      r.advertised = request.family == Family::kIPv4
                         ? V4(198, 51, 100, 1, port)
                         : V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, port);
      if (request.reserve_next) {
        r.reservation_token = next_token_++;
        reservations_.insert(*r.reservation_token);
      }
      return r;
    }
    return RelayError::kInsufficientCapacity;
  }

  void CloseRelay(RelayId id) override {
    CHECK(id >= 1 && id <= kRelayPool && open_[id]);  // only open relays, once
    open_[id] = false;
    ++closes;
  }

  void SendToClient(const FiveTuple& tuple, std::span<const uint8_t> bytes) override {
    CheckInBuffer(bytes);
    Touch(bytes);
    size_t index = kTuples.size();
    for (size_t i = 0; i < kTuples.size(); ++i) {
      if (kTuples[i] == tuple) index = i;
    }
    CHECK(index < kTuples.size());  // never to a 5-tuple no client used
    CHECK(!bytes.empty());
    if (current_peer) {  // relaying a peer's datagram: to the owner, if permitted
      CHECK(index == owner_[current_peer->first]);
      CHECK(clients[index].permitted.count(IpOf(current_peer->second)) == 1);
    }
    if ((bytes[0] & 0xC0) == 0x40) {  // RFC 7983: ChannelData
      if (g_trace) fprintf(stderr, "  -> tuple %zu: ChannelData %zu bytes\n", index, bytes.size());
      ChannelDataView cd;
      CHECK(ParseChannelData(bytes, tuple.transport != turn::Transport::kUdp, &cd) ==
            ChannelDataError::kNone);
      CHECK(IsValidChannelNumber(cd.channel));
      return;
    }
    MessageView m;
    // RFC 8489 §11: Binding answers to RFC 3489 clients carry no magic cookie.
    const ParseError err = MessageView::Parse(bytes, &m);
    CHECK(err == ParseError::kNone);
    if (g_trace) {
      const auto code = GetErrorCode(m);
      fprintf(stderr, "  -> tuple %zu: method %u class %u code %d\n", index, m.method(),
              static_cast<unsigned>(m.message_class()), code.ok() ? code.value.code : 0);
    }
    Learn(m, clients[index]);
  }

  void SendToPeer(RelayId relay, const SocketAddress& peer, std::span<const uint8_t> payload,
                  bool dont_fragment) override {
    CheckInBuffer(payload);
    Touch(payload);
    if (g_trace) fprintf(stderr, "  -> peer %s from relay %u\n", peer.ToString().c_str(), relay);
    CHECK(relay >= 1 && relay <= kRelayPool && open_[relay]);
    CHECK(turn::IsAllowed(policy_.Check(peer)));  // the peer policy holds
    CHECK(current_tuple && *current_tuple == owner_[relay]);
    CHECK(clients[owner_[relay]].permitted.count(IpOf(peer)) == 1);
    CHECK(payload.size() <= 65535);
    g_sink = g_sink + dont_fragment;
  }

  size_t open_count() const {
    size_t n = 0;
    for (bool b : open_) n += b;
    return n;
  }
  bool is_open(RelayId id) const { return id >= 1 && id <= kRelayPool && open_[id]; }

  // The packet buffer of the On* call in progress (sends may point into it),
  // and who sent it: a client's tuple index, or a relay and peer.
  std::span<const uint8_t> current_buffer;
  std::optional<size_t> current_tuple;
  std::optional<std::pair<RelayId, SocketAddress>> current_peer;
  // CreatePermission/ChannelBind requests seen: transaction ID -> peer IPs.
  std::map<TransactionId, std::vector<SocketAddress>> pending_permissions;
  bool fail_next_open = false;
  uint64_t opens = 0, closes = 0;
  std::array<ClientState, kTuples.size()> clients;
  std::optional<uint64_t> reservation_token;  // the last one a response carried

 private:
  void CheckInBuffer(std::span<const uint8_t> s) const {
    const uint8_t* b = current_buffer.data();
    const uint8_t* e = b + current_buffer.size();
    if (s.data() >= b && s.data() < e) CHECK(s.data() + s.size() <= e);
  }

  void Learn(const MessageView& m, ClientState& c) {
    if (m.message_class() == MessageClass::kErrorResponse) {
      const auto code = GetErrorCode(m);
      const auto nonce = GetNonce(m);
      if (code.ok() && (code.value.code == 401 || code.value.code == 438) && nonce.ok()) {
        c.nonce.assign(nonce.value);
        if (const auto pa = m.Find(attr::kPasswordAlgorithms)) {
          c.password_algorithms.assign(pa->value.begin(), pa->value.end());
        }
      }
    } else if (m.message_class() == MessageClass::kSuccessResponse &&
               (m.method() == static_cast<uint16_t>(Method::kCreatePermission) ||
                m.method() == static_cast<uint16_t>(Method::kChannelBind))) {
      TransactionId id;
      std::copy(m.transaction_id().begin(), m.transaction_id().end(), id.begin());
      const auto it = pending_permissions.find(id);
      CHECK(it != pending_permissions.end());  // answers only requests it got
      for (const SocketAddress& p : it->second) c.permitted.insert(IpOf(p));
    } else if (m.message_class() == MessageClass::kSuccessResponse &&
               m.method() == static_cast<uint16_t>(Method::kAllocate)) {
      if (const auto t = GetReservationToken(m); t.ok()) {
        uint64_t v = 0;
        for (uint8_t b : t.value) v = (v << 8) | b;
        reservation_token = v;  // any client may use it (RFC 8656 §7.2)
      }
    }
  }

  turn::PeerPolicy policy_;
  bool relay_ipv6_;
  std::array<bool, kRelayPool + 1> open_{};
  std::array<size_t, kRelayPool + 1> owner_{};  // tuple index that opened each relay
  uint64_t next_token_ = 0x1000;
  std::set<uint64_t> reservations_;  // tokens handed out, not yet used
};

std::string Base64(std::span<const uint8_t> in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    const uint32_t n = (uint32_t{in[i]} << 16) | (i + 1 < in.size() ? in[i + 1] << 8 : 0) |
                       (i + 2 < in.size() ? in[i + 2] : 0);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

enum AuthKind : uint8_t {
  kAuthNone, kAuthMd5, kAuthSha256, kAuthWrongPassword, kAuthBadNonce, kAuthUserhash,
  kAuthSecondUser, kAuthNoUsername, kAuthExpiredRest, kAuthCount
};

class Harness {
 public:
  Harness(uint8_t config_byte, std::span<const uint8_t> seed) {
    turn::TurnConfig config;
    // Config byte: bits 0-1 auth (0 no-auth, 1/3 static users, 2 REST secret),
    // bit 2 IPv6 relays, bit 3 small quotas, bit 4 --max-bps, bit 5 small
    // per-allocation bounds, bit 6 --allow-loopback-peers, bit 7 explicit ranges.
    const uint8_t auth = config_byte & 3;
    config.no_auth = auth == 0;
    rest_ = auth == 2;
    config.auth.realm = std::string(kRealm);
    if (rest_) {
      config.auth.rest_secrets = {std::string(kRestSecret), "other-secret"};
    } else {
      config.auth.users = {{std::string(kUser), std::string(kPassword)},
                           {std::string(kUser2), std::string(kPassword2)}};
    }
    config.relay_ipv6 = config_byte & 4;
    if (config_byte & 8) {
      config.user_quota = 1;
      config.total_quota = 2;
    }
    if (config_byte & 16) config.max_bps = 1000;
    if (config_byte & 32) {
      config.max_permissions = 2;
      config.max_channels = 2;
    }
    config.peer_policy.allow_loopback = config_byte & 64;
    if (config_byte & 128) {
      config.peer_policy.allowed = {turn::IpRange::Parse("10.0.0.1").value()};
      config.peer_policy.denied = {turn::IpRange::Parse("9.9.9.0/24").value()};
    }
    config.software = "uturn-fuzz";
    total_quota_ = config.total_quota;
    auth_config_ = config.auth;
    host_ = std::make_unique<FakeHost>(config.peer_policy, config.relay_ipv6);
    auto server = turn::TurnServer::Create(config, host_.get(), seed);
    CHECK(server.ok());
    server_ = std::move(*server);
  }

  void Run(Input& in) {
    while (!in.empty()) {
      const uint8_t op = in.U8();
      if (g_trace) fprintf(stderr, "op %d\n", op % 12);
      switch (op % 12) {
        case 0: RawClient(in); break;
        case 1: Allocate(in); break;
        case 2: Refresh(in); break;
        case 3: CreatePermission(in); break;
        case 4: ChannelBind(in); break;
        case 5: SendIndication(in); break;
        case 6: ChannelData(in); break;
        case 7: PeerPacket(in); break;
        case 8: Advance(in); break;
        case 9: Retransmit(in); break;
        case 10: Control(in); break;
        case 11: Binding(in); break;
      }
      CheckCounts();
    }
    Finish();
  }

 private:
  // -- operations --

  // op 0: tuple, u16 length, bytes.
  void RawClient(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const auto bytes = in.Bytes(in.U16() % (kMaxClientPacket + 1));
    DeliverClient(t, std::vector<uint8_t>(bytes.begin(), bytes.end()));
  }

  // op 1: tuple, auth, flags, flags2, [u16 lifetime], [family byte], [R bit byte].
  void Allocate(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const uint8_t auth = in.U8();
    const uint8_t flags = in.U8(), flags2 = in.U8();
    Request(t, Method::kAllocate, auth, flags2, [&](MessageBuilder& b) {
      // RFC 8656 §7.2: REQUESTED-TRANSPORT, UDP (17) unless bit 1 asks TCP.
      if (flags & 1) b.AddRequestedTransport((flags & 2) ? kTransportTcp : kTransportUdp);
      if (flags & 4) b.AddU32(attr::kLifetime, in.U16());
      if (flags & 8) {
        const uint8_t f = in.U8();
        b.AddRequestedAddressFamily(f % 4 == 0 ? kFamilyIPv4 : f % 4 == 1 ? kFamilyIPv6 : f);
      }
      if (flags & 16) b.AddAdditionalAddressFamily(kFamilyIPv6);
      if (flags & 32) b.AddEvenPort(flags & 64);
      if (flags & 128) {
        const auto& token = host_->reservation_token;
        b.AddU64(attr::kReservationToken, token ? *token : 0x0123456789ABCDEFull);
      }
      if (flags2 & 1) b.AddFlag(attr::kDontFragment);
    });
  }

  // op 2: tuple, auth, flags2, lifetime selector.
  void Refresh(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const uint8_t auth = in.U8(), flags2 = in.U8(), life = in.U8();
    Request(t, Method::kRefresh, auth, flags2, [&](MessageBuilder& b) {
      // RFC 8656 §8: LIFETIME 0 deletes; absent means the default.
      if (life % 4 == 1) b.AddU32(attr::kLifetime, 0);
      if (life % 4 == 2) b.AddU32(attr::kLifetime, life * 30u);
      if (life % 4 == 3) b.AddU32(attr::kLifetime, 0xFFFFFFFFu);
      if (life & 0x80) b.AddRequestedAddressFamily(life & 0x40 ? kFamilyIPv6 : kFamilyIPv4);
    });
  }

  // op 3: tuple, auth, flags2, count (0..3), peers.
  void CreatePermission(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const uint8_t auth = in.U8(), flags2 = in.U8();
    const int count = in.U8() % 4;
    std::vector<SocketAddress> peers;
    for (int i = 0; i < count; ++i) peers.push_back(PeerFrom(in));
    Request(t, Method::kCreatePermission, auth, flags2, [&](MessageBuilder& b) {
      for (const SocketAddress& p : peers) b.AddXorAddress(attr::kXorPeerAddress, p);
    });
  }

  // op 4: tuple, auth, flags2, channel, peer, presence bits.
  void ChannelBind(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const uint8_t auth = in.U8(), flags2 = in.U8();
    const uint16_t channel = ChannelFrom(in);
    const SocketAddress peer = PeerFrom(in);
    const uint8_t presence = in.U8();
    Request(t, Method::kChannelBind, auth, flags2, [&](MessageBuilder& b) {
      if (!(presence & 1)) b.AddChannelNumber(channel);
      if (!(presence & 2)) b.AddXorAddress(attr::kXorPeerAddress, peer);
    });
  }

  // op 5: tuple, peer, flags, u8 length, payload. RFC 8656 §11.1 Send indication.
  void SendIndication(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const SocketAddress peer = PeerFrom(in);
    const uint8_t flags = in.U8();
    const auto payload = in.Bytes(in.U8());
    std::vector<uint8_t> buf(kMaxClientPacket);
    MessageBuilder b(buf, EncodeMessageType(Method::kSend, MessageClass::kIndication),
                     NextTransactionId());
    if (!(flags & 1)) b.AddXorAddress(attr::kXorPeerAddress, peer);
    if (!(flags & 2)) b.Add(attr::kData, payload);
    if (flags & 4) b.AddFlag(attr::kDontFragment);
    if (flags & 8) b.AddFingerprint();
    CHECK(b.ok());
    buf.resize(b.size());
    DeliverClient(t, std::move(buf));
  }

  // op 6: tuple, channel, u8 length, payload, shape. RFC 8656 §12.4.
  void ChannelData(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const uint16_t channel = ChannelFrom(in);
    const auto payload = in.Bytes(in.U8());
    const uint8_t shape = in.U8();
    uint16_t length = static_cast<uint16_t>(payload.size());
    if (shape & 1) length = static_cast<uint16_t>(length + 1 + (shape >> 4));  // overruns
    std::vector<uint8_t> buf(kChannelDataHeaderSize + payload.size());
    WriteChannelDataHeader(buf.data(), channel, length);
    std::copy(payload.begin(), payload.end(), buf.begin() + kChannelDataHeaderSize);
    if (shape & 2) buf.resize((buf.size() + 3) & ~size_t{3}, 0);  // padded
    DeliverClient(t, std::move(buf));
  }

  // op 7: relay selector, peer, u16 length (capped), payload.
  void PeerPacket(Input& in) {
    const uint8_t sel = in.U8();
    const RelayId relay = static_cast<RelayId>(sel % (kRelayPool + 2));  // 0 and 7: never open
    const SocketAddress peer = PeerFrom(in);
    const auto payload = in.Bytes(in.U16() % 1501);
    if (!host_->is_open(relay) && !(sel & 0x80)) return;  // mostly real relays only
    // Exactly the promised room around the packet, so ASan sees any overrun.
    std::vector<uint8_t> buf(turn::kPacketHeadroom + payload.size() + turn::kPacketTailroom, 0xA5);
    std::copy(payload.begin(), payload.end(), buf.begin() + turn::kPacketHeadroom);
    host_->current_buffer = buf;
    host_->current_peer = {relay, peer};
    server_->OnPeerPacket(relay, peer,
                          std::span<uint8_t>(buf.data() + turn::kPacketHeadroom, payload.size()),
                          now_);
    host_->current_buffer = {};
    host_->current_peer.reset();
  }

  // op 8: kind, amount. Then HandleTimeout for whatever became due.
  void Advance(Input& in) {
    const uint8_t kind = in.U8();
    const uint16_t amount = in.U16();
    switch (kind % 3) {
      case 0: now_ += absl::Milliseconds(amount); break;
      case 1: now_ += absl::Seconds(amount % 1024); break;
      case 2: now_ += absl::Minutes(amount % 256); break;
    }
    RunTimers();
  }

  // op 9: tuple. Resends the last request on that tuple byte for byte.
  void Retransmit(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    if (host_->clients[t].last_request.empty()) return;
    DeliverClient(t, host_->clients[t].last_request);
  }

  // op 10: bits: 0 toggle drain, 1 reload auth, 2 make the next OpenRelay fail.
  void Control(Input& in) {
    const uint8_t c = in.U8();
    if (c & 1) {
      draining_ = !draining_;
      server_->SetDraining(draining_);
    }
    if (c & 2) {
      turn::AuthConfig a = auth_config_;
      if ((c & 8) && !a.users.empty()) a.users.pop_back();  // drops fuzz2
      CHECK(server_->ReloadAuth(a).ok());
    }
    if (c & 4) host_->fail_next_open = true;
  }

  // op 11: tuple, auth, flags2. A Binding request, answered by the TURN port too.
  void Binding(Input& in) {
    const size_t t = in.U8() % kTuples.size();
    const uint8_t auth = in.U8(), flags2 = in.U8();
    Request(t, Method::kBinding, auth, flags2, [](MessageBuilder&) {});
  }

  // -- building requests --

  std::array<uint8_t, kTransactionIdSize> NextTransactionId() {
    std::array<uint8_t, kTransactionIdSize> id{};
    ++tid_counter_;
    for (size_t i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(tid_counter_ >> (8 * i));
    id[11] = 0x77;
    return id;
  }

  // `auth` low bits pick an AuthKind; `flags2` bit 1 adds an unknown
  // comprehension-required attribute (420), bit 2 FINGERPRINT, bit 3
  // SOFTWARE, bit 4 an unknown comprehension-optional attribute.
  template <typename AddBody>
  void Request(size_t t, Method method, uint8_t auth, uint8_t flags2, AddBody add_body) {
    ClientState& c = host_->clients[t];
    std::vector<uint8_t> buf(kMaxClientPacket);
    MessageBuilder b(buf, EncodeMessageType(method, MessageClass::kRequest), NextTransactionId());
    if (flags2 & 8) b.AddString(attr::kSoftware, "fuzz client");
    add_body(b);
    if (flags2 & 2) b.Add(0x7F00, std::span<const uint8_t>());  // RFC 8489 §14: unknown
    if (flags2 & 16) b.AddU32(0xC0FF, 7);
    AddAuth(b, static_cast<AuthKind>(auth % kAuthCount), c);
    if (flags2 & 4) b.AddFingerprint();
    CHECK(b.ok());
    buf.resize(b.size());
    c.last_request = buf;
    DeliverClient(t, std::move(buf));
  }

  void AddAuth(MessageBuilder& b, AuthKind kind, const ClientState& c) {
    if (kind == kAuthNone) return;
    std::string user(kind == kAuthSecondUser ? kUser2 : kUser);
    std::string password(kind == kAuthSecondUser ? kPassword2 : kPassword);
    if (rest_) {
      // TURN REST API: "expiry:name", password base64(HMAC-SHA1(secret, username)).
      const int64_t expiry =
          absl::ToUnixSeconds(now_) + (kind == kAuthExpiredRest ? -60 : 86400);
      user = std::to_string(expiry) + ":" + user;
      std::array<uint8_t, 20> mac;
      const std::span<const uint8_t> parts[] = {KeyBytes(user)};
      HmacSha1(KeyBytes(kRestSecret), parts, mac);
      password = Base64(mac);
    }
    if (kind == kAuthWrongPassword) password += "x";
    const bool sha256 = kind == kAuthSha256 || kind == kAuthUserhash;
    if (kind == kAuthUserhash) {
      const auto hash = ComputeUserhash(user, kRealm);
      if (hash.ok()) b.Add(attr::kUserhash, *hash);
    } else if (kind != kAuthNoUsername) {
      b.AddString(attr::kUsername, user);
    }
    b.AddString(attr::kRealm, kRealm);
    b.AddString(attr::kNonce, kind == kAuthBadNonce || c.nonce.empty() ? "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA" : c.nonce);
    if (sha256) {
      // RFC 8489 §9.2.4: echo PASSWORD-ALGORITHMS and pick one from it.
      if (!c.password_algorithms.empty()) b.Add(attr::kPasswordAlgorithms, c.password_algorithms);
      b.AddPasswordAlgorithm(PasswordAlgorithm::kSha256);
      const auto key = LongTermKeySha256(user, kRealm, password);
      if (key.ok()) b.AddMessageIntegritySha256(*key);
    } else {
      const auto key = LongTermKeyMd5(user, kRealm, password);
      if (key.ok()) b.AddMessageIntegrity(*key);
    }
  }

  // -- plumbing and invariants --

  void DeliverClient(size_t t, std::vector<uint8_t> packet) {
    // Exact-size heap copy: reads past the end are ASan reports.
    const uint64_t created_before = server_->counters().allocations_created;
    RememberPermissionRequest(packet);
    host_->current_buffer = packet;
    host_->current_tuple = t;
    server_->OnClientPacket(kTuples[t], packet, now_);
    host_->current_buffer = {};
    host_->current_tuple.reset();
    if (draining_) CHECK(server_->counters().allocations_created == created_before);
  }

  // Whatever built it (harness or fuzzer), note the peers a CreatePermission
  // or ChannelBind names, so a success answer can be credited.
  void RememberPermissionRequest(std::span<const uint8_t> packet) {
    MessageView m;
    if (MessageView::Parse(packet, &m) != ParseError::kNone) return;
    if (!m.Is(Method::kCreatePermission, MessageClass::kRequest) &&
        !m.Is(Method::kChannelBind, MessageClass::kRequest)) {
      return;
    }
    TransactionId id;
    std::copy(m.transaction_id().begin(), m.transaction_id().end(), id.begin());
    auto& peers = host_->pending_permissions[id];
    ForEachXorAddress(m, attr::kXorPeerAddress, [&](const SocketAddress& p) {
      SocketAddress ip = p;
      ip.port = 0;
      peers.push_back(ip);
    });
  }

  void RunTimers() {
    for (int i = 0; server_->NextTimeout() <= now_; ++i) {
      CHECK(i < 2);  // one call must be enough to move NextTimeout() past now
      server_->HandleTimeout(now_);
    }
  }

  void CheckCounts() {
    const size_t n = server_->allocation_count();
    CHECK(host_->opens >= host_->closes);
    CHECK(n <= host_->opens - host_->closes);
    CHECK(n <= host_->open_count());
    CHECK(server_->counters().allocations_active == n);
    if (total_quota_ > 0) CHECK(n <= total_quota_);
  }

  void Finish() {
    now_ += kHugeAdvance;
    RunTimers();
    CheckCounts();
    CHECK(server_->allocation_count() == 0);
    CHECK(host_->open_count() == 0);
    CHECK(host_->opens == host_->closes);
    const turn::TurnCounters& c = server_->counters();
    CHECK(c.permissions_active == 0 && c.channels_active == 0);
  }

  std::unique_ptr<FakeHost> host_;
  std::unique_ptr<turn::TurnServer> server_;
  turn::AuthConfig auth_config_;
  bool rest_ = false;
  bool draining_ = false;
  uint32_t total_quota_ = 0;
  uint64_t tid_counter_ = 0;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(std::span<const uint8_t>(data, size));
  static constexpr uint8_t kSeed[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                                        31, 32};
  Harness harness(in.U8(), kSeed);
  harness.Run(in);
  return 0;
}
