// Test harness for the TURN core: a fake host that records what the core
// asks of it, and a client that builds requests with the STUN codec and
// signs them with long-term credentials (RFC 8489 §9.2, MD5 keys).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "turn/turn_server.h"

namespace uturn::turn::testing {

using Bytes = std::vector<uint8_t>;
using stun::Family;
using stun::Method;
using stun::MessageBuilder;
using stun::MessageClass;
using stun::MessageView;
using stun::SocketAddress;

inline SocketAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return SocketAddress::V4({a, b, c, d}, port);
}
inline SocketAddress V6(std::string_view ip, uint16_t port) {
  return *SocketAddress::ParseIp(ip, port);
}

class FakeHost : public TurnHost {
 public:
  struct Sent {
    FiveTuple tuple;
    Bytes bytes;
  };
  struct ToPeer {
    RelayId relay;
    SocketAddress peer;
    Bytes payload;
    bool dont_fragment;
    const uint8_t* data;  // where the payload span pointed (zero-copy checks)
  };

  std::variant<Relay, RelayError> OpenRelay(const RelayRequest& request) override {
    open_requests.push_back(request);
    Family family = request.family;
    if (request.reservation_token) {
      // The host alone judges tokens; they are single use (RFC 8656 §7.2)
      // and name the family of the reserved port.
      auto it = granted_tokens.find(*request.reservation_token);
      if (it == granted_tokens.end()) return RelayError::kBadReservation;
      family = it->second;
      granted_tokens.erase(it);
    }
    auto& fail = family == Family::kIPv4 ? fail_v4 : fail_v6;
    if (fail) return *fail;
    Relay r;
    r.id = next_id++;
    const uint16_t port = next_port;
    next_port = static_cast<uint16_t>(next_port + 2);
    r.advertised = family == Family::kIPv4 ? V4(192, 0, 2, 10, port) : V6("2001:db8::10", port);
    if (request.reserve_next) {
      r.reservation_token = next_token++;
      granted_tokens.insert({*r.reservation_token, family});
    }
    open.insert({r.id, r.advertised});
    return r;
  }
  void CloseRelay(RelayId id) override {
    closed.push_back(id);
    open.erase(id);
  }
  void SendToClient(const FiveTuple& tuple, std::span<const uint8_t> bytes) override {
    ++client_sends;
    if (!record) return;
    to_client.push_back(Sent{tuple, Bytes(bytes.begin(), bytes.end())});
    last_client_span = bytes;
  }
  // Relayed data goes to to_client like responses; data_sends counts it.
  void SendDataToClient(const FiveTuple& tuple, std::span<const uint8_t> bytes) override {
    ++data_sends;
    SendToClient(tuple, bytes);
  }
  void OnAllocationExpired(const FiveTuple& tuple) override { expired.push_back(tuple); }
  void SendToPeer(RelayId relay, const SocketAddress& peer, std::span<const uint8_t> payload,
                  bool dont_fragment) override {
    ++peer_sends;
    if (!record) return;
    to_peer.push_back(
        ToPeer{relay, peer, Bytes(payload.begin(), payload.end()), dont_fragment, payload.data()});
  }

  // false: only count sends (a host that itself allocates nothing, for the
  // no-allocation-per-packet test).
  bool record = true;
  uint64_t client_sends = 0, peer_sends = 0, data_sends = 0;
  std::vector<FiveTuple> expired;  // OnAllocationExpired calls

  std::optional<RelayError> fail_v4, fail_v6;
  std::vector<RelayRequest> open_requests;
  std::map<RelayId, SocketAddress> open;
  std::vector<RelayId> closed;
  std::map<uint64_t, Family> granted_tokens;  // token -> family of the held port
  std::vector<Sent> to_client;
  std::span<const uint8_t> last_client_span;
  std::vector<ToPeer> to_peer;
  RelayId next_id = 100;
  uint16_t next_port = 50000;
  uint64_t next_token = 0x1122334455667788ull;
};

// A parsed response that owns its bytes.
struct Response {
  explicit Response(Bytes b) : bytes(std::move(b)) {
    parse_error = MessageView::Parse(bytes, &view);
  }
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  bool success() const { return view.message_class() == MessageClass::kSuccessResponse; }
  int code() const {
    auto e = stun::GetErrorCode(view);
    return e.ok() ? e.value.code : 0;
  }
  Bytes bytes;
  MessageView view;
  stun::ParseError parse_error;
};

using AttrFn = std::function<void(MessageBuilder&)>;

struct Credentials {
  std::string username = "alice";
  std::string password = "wonderland";
};

class TurnHarness : public ::testing::Test {
 protected:
  static TurnConfig DefaultConfig() {
    TurnConfig c;
    c.auth.realm = "example.org";
    c.auth.users = {{"alice", "wonderland"}, {"bob", "builder"}};
    c.software = "uturn-test";
    return c;
  }

  void SetUp() override { MakeServer(DefaultConfig()); }

  void MakeServer(TurnConfig config) {
    config_ = config;
    const std::vector<uint8_t> seed(32, 7);
    auto s = TurnServer::Create(std::move(config), &host, seed);
    ASSERT_TRUE(s.ok()) << s.status();
    server = *std::move(s);
    nonces.clear();
  }

  static FiveTuple Tuple(SocketAddress client) {
    return FiveTuple{client, V4(192, 0, 2, 1, 3478), Transport::kUdp};
  }

  stun::TransactionId NewTid() {
    stun::TransactionId t{};
    ++tid_counter;
    std::memcpy(t.data(), &tid_counter, sizeof tid_counter);
    t[11] = 0xA5;
    return t;
  }

  // Builds a request. With credentials: USERNAME, REALM, NONCE and
  // MESSAGE-INTEGRITY (MD5 long-term key) after `attrs`.
  Bytes Build(Method method, const AttrFn& attrs, const std::optional<Credentials>& creds,
              const std::string& nonce, const stun::TransactionId& tid, bool fingerprint,
              MessageClass cls = MessageClass::kRequest) {
    Bytes buf(2048);
    MessageBuilder b(buf, stun::EncodeMessageType(method, cls), tid);
    if (attrs) attrs(b);
    if (creds) {
      b.AddString(stun::attr::kUsername, creds->username);
      b.AddString(stun::attr::kRealm, config_.auth.realm);
      b.AddString(stun::attr::kNonce, nonce);
      auto key = stun::LongTermKeyMd5(creds->username, config_.auth.realm, creds->password);
      EXPECT_TRUE(key.ok());
      b.AddMessageIntegrity(*key);
    }
    if (fingerprint) b.AddFingerprint();
    EXPECT_TRUE(b.ok());
    return Bytes(b.bytes().begin(), b.bytes().end());
  }

  // Feeds `packet` and returns what the server sent back to the client (if
  // anything) as a parsed response.
  std::unique_ptr<Response> Feed(const FiveTuple& tuple, Bytes packet) {
    const size_t before = host.to_client.size();
    server->OnClientPacket(tuple, packet, now);
    if (host.to_client.size() == before) return nullptr;
    EXPECT_EQ(host.to_client.size(), before + 1);
    return std::make_unique<Response>(host.to_client.back().bytes);
  }

  // A 401 challenge's NONCE for this client, fetched once.
  const std::string& NonceFor(const FiveTuple& tuple) {
    auto it = nonces.find(tuple.client.ToString());
    if (it != nonces.end()) return it->second;
    auto r = Feed(tuple, Build(Method::kAllocate, {}, std::nullopt, "", NewTid(), false));
    EXPECT_TRUE(r && r->code() == 401);
    auto n = stun::GetNonce(r->view);
    EXPECT_TRUE(n.ok());
    return nonces[tuple.client.ToString()] = std::string(n.value);
  }

  std::unique_ptr<Response> Request(Method method, const AttrFn& attrs,
                                    std::optional<FiveTuple> tuple = std::nullopt,
                                    Credentials creds = {}, bool fingerprint = false) {
    const FiveTuple t = tuple.value_or(client);
    auto r = Feed(t, Build(method, attrs, creds, NonceFor(t), NewTid(), fingerprint));
    if (r && r->code() == 438) {
      // RFC 8489 §9.2.5: a stale nonce is replaced by the one in the 438 and
      // the request retried, as a client would.
      auto fresh = stun::GetNonce(r->view);
      EXPECT_TRUE(fresh.ok());
      nonces[t.client.ToString()] = std::string(fresh.value);
      r = Feed(t, Build(method, attrs, creds, NonceFor(t), NewTid(), fingerprint));
    }
    return r;
  }

  static AttrFn Udp(AttrFn more = {}) {
    return [more](MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportUdp);
      if (more) more(b);
    };
  }
  static AttrFn Peers(std::vector<SocketAddress> peers) {
    return [peers](MessageBuilder& b) {
      for (const auto& p : peers) b.AddXorAddress(stun::attr::kXorPeerAddress, p);
    };
  }
  static AttrFn Bind(uint16_t channel, SocketAddress peer) {
    return [channel, peer](MessageBuilder& b) {
      b.AddChannelNumber(channel);
      b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
    };
  }

  // Allocate + CreatePermission(peer) on `client`; returns the relay id.
  RelayId AllocateWithPermission(const SocketAddress& peer) {
    auto r = Request(Method::kAllocate, Udp());
    EXPECT_TRUE(r && r->success());
    auto p = Request(Method::kCreatePermission, Peers({peer}));
    EXPECT_TRUE(p && p->success());
    return host.open.begin()->first;
  }

  // Verifies the response's MESSAGE-INTEGRITY with alice's key.
  bool SignedByAlice(const Response& r) {
    auto key = stun::LongTermKeyMd5("alice", config_.auth.realm, "wonderland");
    return key.ok() && stun::VerifyMessageIntegrity(r.view, *key) == stun::IntegrityCheck::kOk;
  }

  // Calls HandleTimeout at each NextTimeout() before `limit`, as a host
  // would (the timer wheel wakes a few times, early, for far deadlines, and
  // nothing may expire then), and returns the NextTimeout() that is left:
  // exact once the deadline is near. Fails on more than `max_wakeups`.
  absl::Time WakeUntil(absl::Time limit, int max_wakeups = 6) {
    const size_t allocations = server->allocation_count();
    int wakeups = 0;
    for (absl::Time t = server->NextTimeout(); t < limit; t = server->NextTimeout()) {
      EXPECT_LT(++wakeups, max_wakeups) << "NextTimeout() does not converge";
      if (wakeups >= max_wakeups) break;
      server->HandleTimeout(t);
      EXPECT_EQ(server->allocation_count(), allocations) << "expired before " << limit;
    }
    return server->NextTimeout();
  }

  uint64_t ErrorCount(int code) const {
    return server->counters().error_codes[static_cast<size_t>(code - 300)];
  }

  // A peer datagram with headroom and tailroom around it, as the host gives it.
  struct PeerBuffer {
    explicit PeerBuffer(const Bytes& payload)
        : storage(kPacketHeadroom + payload.size() + kPacketTailroom, 0xEE) {
      if (!payload.empty()) {
        std::memcpy(storage.data() + kPacketHeadroom, payload.data(), payload.size());
      }
    }
    std::span<uint8_t> packet() {
      return std::span<uint8_t>(storage.data() + kPacketHeadroom,
                                storage.size() - kPacketHeadroom - kPacketTailroom);
    }
    Bytes storage;
  };

  FakeHost host;
  TurnConfig config_;
  std::unique_ptr<TurnServer> server;
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  FiveTuple client = Tuple(V4(203, 0, 113, 5, 40000));
  std::map<std::string, std::string> nonces;
  uint64_t tid_counter = 0;
};

}  // namespace uturn::turn::testing
