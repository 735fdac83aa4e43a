// The simulated network itself, tested with the existing BindingClient and
// TurnClient before any ICE agent runs in it: each NAT model's mapping and
// filtering as a STUN server sees them, latency, deterministic loss, the
// run loop's bounds, and TURN allocations in the in-process server.
#include "tests/unit/client/sim_network.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>

#include "client/binding_client.h"
#include "client/turn_client.h"

namespace uturn::client::sim {
namespace {

// A socket that records what it receives and sends on demand.
class Recorder : public Node {
 public:
  Recorder(Network* net, RealmId realm, SocketAddress address)
      : net_(net), realm_(realm), address_(address) {
    EXPECT_TRUE(net_->Bind(realm_, address_, this));
  }
  ~Recorder() override { net_->Unbind(realm_, address_); }
  struct Got {
    SocketAddress from;
    Bytes bytes;
    absl::Time at;
  };
  void OnPacket(const SocketAddress&, const SocketAddress& from, std::span<const uint8_t> bytes,
                absl::Time now) override {
    got.push_back(Got{from, Bytes(bytes.begin(), bytes.end()), now});
    if (echo) net_->Send(realm_, address_, from, bytes);
  }
  void SendTo(const SocketAddress& to, const Bytes& bytes) {
    net_->Send(realm_, address_, to, bytes);
  }
  std::vector<Got> got;
  bool echo = false;

 private:
  Network* net_;
  RealmId realm_;
  SocketAddress address_;
};

// One STUN Binding transaction from a simulated socket.
class BindingProbe : public Node {
 public:
  BindingProbe(Network* net, RealmId realm, SocketAddress address)
      : net_(net), realm_(realm), address_(address) {
    EXPECT_TRUE(net_->Bind(realm_, address_, this));
    net_->AddTimerNode(this);
  }
  ~BindingProbe() override {
    net_->RemoveTimerNode(this);
    net_->Unbind(realm_, address_);
  }
  void Start(const SocketAddress& server) {
    server_ = server;
    client_ = std::make_unique<BindingClient>(BindingClientConfig{}, net_->random().Source());
    ASSERT_TRUE(client_->Start(net_->now()).ok());
    Send();
  }
  bool done() const { return client_ && client_->done(); }
  const BindingResult& result() const { return client_->result(); }

  void OnPacket(const SocketAddress&, const SocketAddress& from, std::span<const uint8_t> bytes,
                absl::Time now) override {
    if (client_ && from == server_) client_->HandleMessage(bytes, now);
  }
  absl::Time NextTimeout() const override {
    return client_ ? client_->deadline() : absl::InfiniteFuture();
  }
  void OnTimeout(absl::Time now) override {
    if (client_->HandleTimeout(now)) Send();
  }

 private:
  void Send() { net_->Send(realm_, address_, server_, client_->request()); }
  Network* net_;
  RealmId realm_;
  SocketAddress address_;
  SocketAddress server_;
  std::unique_ptr<BindingClient> client_;
};

// A TurnClient on a simulated socket; events are kept.
class TurnProbe : public Node {
 public:
  TurnProbe(Network* net, RealmId realm, SocketAddress address, SocketAddress server,
            TurnCredentials creds)
      : net_(net), realm_(realm), address_(address), server_(server) {
    TurnClientConfig c;
    c.credentials = creds;
    client_ = std::make_unique<TurnClient>(c, net_->random().Source());
    EXPECT_TRUE(net_->Bind(realm_, address_, this));
    net_->AddTimerNode(this);
  }
  ~TurnProbe() override {
    net_->RemoveTimerNode(this);
    net_->Unbind(realm_, address_);
  }
  TurnClient& client() { return *client_; }
  void OnPacket(const SocketAddress&, const SocketAddress& from, std::span<const uint8_t> bytes,
                absl::Time now) override {
    if (from != server_) return;
    Incoming in = client_->HandleIncoming(bytes, now);
    if (in.kind == Incoming::Kind::kData) {
      data.push_back({in.peer, Bytes(in.payload.begin(), in.payload.end())});
    }
  }
  absl::Time NextTimeout() const override { return client_->deadline(); }
  void OnTimeout(absl::Time now) override { client_->HandleTimeout(now); }
  void Flush(absl::Time) override {
    while (auto t = client_->PollTransmit()) net_->Send(realm_, address_, server_, *t);
    while (auto e = client_->PollEvent()) events.push_back(*e);
  }
  void SendIndication(const SocketAddress& peer, const Bytes& payload) {
    Bytes out(2048);
    auto n = client_->WriteSendIndication(peer, payload, out);
    ASSERT_TRUE(n.ok()) << n.status();
    out.resize(*n);
    net_->Send(realm_, address_, server_, out);
  }
  bool HasEvent(TurnEvent::Kind k) const {
    for (const auto& e : events) {
      if (e.kind == k) return true;
    }
    return false;
  }
  std::vector<TurnEvent> events;
  std::vector<std::pair<SocketAddress, Bytes>> data;

 private:
  Network* net_;
  RealmId realm_;
  SocketAddress address_, server_;
  std::unique_ptr<TurnClient> client_;
};

const SocketAddress kStunA = V4(203, 0, 113, 1, 3478);
const SocketAddress kStunB = V4(203, 0, 113, 2, 3478);
const SocketAddress kNatIp = V4(198, 51, 100, 1, 0);
const SocketAddress kLanHost = V4(10, 0, 0, 2, 40000);

NatConfig Nat(NatType type, double loss = 0.0) {
  NatConfig c;
  c.type = type;
  c.public_ip = kNatIp;
  c.loss = loss;
  return c;
}

class SimNetworkTest : public ::testing::Test {
 protected:
  // Two STUN servers (the TURN core answers Binding) on two public IPs.
  void SetUp() override {
    SimTurnServer::Options a;
    a.address = kStunA;
    server_a = std::make_unique<SimTurnServer>(&net, a);
    SimTurnServer::Options b;
    b.address = kStunB;
    b.first_relay_port = 60000;
    server_b = std::make_unique<SimTurnServer>(&net, b);
  }
  BindingResult Bind(RealmId realm, SocketAddress local, SocketAddress server) {
    BindingProbe p(&net, realm, local);
    p.Start(server);
    EXPECT_TRUE(net.RunUntil([&] { return p.done(); }, absl::Seconds(60)));
    return p.result();
  }
  Network net{42};
  std::unique_ptr<SimTurnServer> server_a, server_b;
};

TEST_F(SimNetworkTest, PublicHostSeesItsOwnAddress) {
  const SocketAddress host = V4(192, 0, 2, 5, 5000);
  const BindingResult r = Bind(kPublicRealm, host, kStunA);
  ASSERT_EQ(r.status, BindingStatus::kSuccess);
  EXPECT_EQ(r.mapped, host);
  // One hop each way through the public realm.
  ASSERT_TRUE(r.rtt.has_value());
  EXPECT_EQ(*r.rtt, 2 * absl::Milliseconds(10));
}

TEST_F(SimNetworkTest, LatencyAddsUpHopByHop) {
  net.SetLatency(kPublicRealm, absl::Milliseconds(30));
  const RealmId lan = net.AddNatRealm(Nat(NatType::kPortPreserving), absl::Milliseconds(7));
  const BindingResult r = Bind(lan, kLanHost, kStunA);
  ASSERT_EQ(r.status, BindingStatus::kSuccess);
  ASSERT_TRUE(r.rtt.has_value());
  EXPECT_EQ(*r.rtt, 2 * (absl::Milliseconds(30) + absl::Milliseconds(7)));
}

TEST_F(SimNetworkTest, PortPreservingNatKeepsThePortForEveryDestination) {
  const RealmId lan = net.AddNatRealm(Nat(NatType::kPortPreserving));
  const BindingResult a = Bind(lan, kLanHost, kStunA);
  ASSERT_EQ(a.status, BindingStatus::kSuccess);
  EXPECT_EQ(a.mapped.IpString(), "198.51.100.1");
  EXPECT_EQ(a.mapped.port, kLanHost.port);
  // Endpoint-independent mapping: the second server sees the same address.
  const BindingResult b = Bind(lan, kLanHost, kStunB);
  ASSERT_EQ(b.status, BindingStatus::kSuccess);
  EXPECT_EQ(b.mapped, a.mapped);
  EXPECT_EQ(net.nat(lan)->mapping_count(), 1u);
}

TEST_F(SimNetworkTest, PortPreservingNatPicksAnotherPortWhenTaken) {
  const RealmId lan = net.AddNatRealm(Nat(NatType::kPortPreserving));
  const BindingResult a = Bind(lan, kLanHost, kStunA);
  SocketAddress other = kLanHost;
  other.bytes[3] = 3;  // 10.0.0.3, same port
  const BindingResult b = Bind(lan, other, kStunA);
  ASSERT_EQ(a.status, BindingStatus::kSuccess);
  ASSERT_EQ(b.status, BindingStatus::kSuccess);
  EXPECT_EQ(a.mapped.port, kLanHost.port);
  EXPECT_NE(b.mapped.port, kLanHost.port);
}

TEST_F(SimNetworkTest, SymmetricNatMapsEachDestinationToANewPort) {
  const RealmId lan = net.AddNatRealm(Nat(NatType::kSymmetric));
  const BindingResult a = Bind(lan, kLanHost, kStunA);
  const BindingResult b = Bind(lan, kLanHost, kStunB);
  ASSERT_EQ(a.status, BindingStatus::kSuccess);
  ASSERT_EQ(b.status, BindingStatus::kSuccess);
  EXPECT_EQ(a.mapped.IpString(), "198.51.100.1");
  EXPECT_NE(a.mapped.port, b.mapped.port);
  EXPECT_EQ(net.nat(lan)->mapping_count(), 2u);
  // The same destination again reuses its mapping.
  const BindingResult a2 = Bind(lan, kLanHost, kStunA);
  EXPECT_EQ(a2.mapped, a.mapped);
}

TEST_F(SimNetworkTest, BlockingNatDropsUdpSoBindingTimesOut) {
  const RealmId lan = net.AddNatRealm(Nat(NatType::kBlocksUdp));
  const BindingResult r = Bind(lan, kLanHost, kStunA);
  EXPECT_EQ(r.status, BindingStatus::kTimeout);
  EXPECT_EQ(r.transmissions, 7);  // RFC 8489 §6.2.1 Rc
  EXPECT_EQ(net.stats().dropped_blocked, 7u);
  EXPECT_EQ(server_a->counters().binding_success, 0u);
}

TEST_F(SimNetworkTest, BlockingNatLetsTheAllowedServerThroughOnly) {
  NatConfig c = Nat(NatType::kBlocksUdp);
  c.udp_allowed = {kStunA};
  const RealmId lan = net.AddNatRealm(c);
  const BindingResult a = Bind(lan, kLanHost, kStunA);
  ASSERT_EQ(a.status, BindingStatus::kSuccess);
  EXPECT_EQ(a.mapped.IpString(), "198.51.100.1");
  EXPECT_EQ(a.mapped.port, kLanHost.port);
  const BindingResult b = Bind(lan, kLanHost, kStunB);
  EXPECT_EQ(b.status, BindingStatus::kTimeout);
}

// Address-and-port-dependent filtering for both mapping models: only the
// exact remote the mapping sent to gets in.
class FilteringTest : public SimNetworkTest, public ::testing::WithParamInterface<NatType> {};

TEST_P(FilteringTest, OnlyTheExactRemoteGetsIn) {
  const RealmId lan = net.AddNatRealm(Nat(GetParam()));
  Recorder inside(&net, lan, kLanHost);
  const SocketAddress peer = V4(192, 0, 2, 20, 7000);
  const SocketAddress peer_other_port = V4(192, 0, 2, 20, 7001);
  const SocketAddress stranger = V4(192, 0, 2, 21, 7000);
  Recorder p(&net, kPublicRealm, peer), p2(&net, kPublicRealm, peer_other_port),
      s(&net, kPublicRealm, stranger);
  p.echo = true;

  inside.SendTo(peer, {1, 2, 3});
  net.RunFor(absl::Seconds(1));
  ASSERT_EQ(p.got.size(), 1u);
  const SocketAddress mapped = p.got[0].from;
  ASSERT_EQ(inside.got.size(), 1u);  // the echo came back in
  EXPECT_EQ(inside.got[0].from, peer);

  const uint64_t filtered = net.stats().dropped_filtered;
  p2.SendTo(mapped, {4});
  s.SendTo(mapped, {5});
  net.RunFor(absl::Seconds(1));
  EXPECT_EQ(inside.got.size(), 1u);
  EXPECT_EQ(net.stats().dropped_filtered, filtered + 2);

  // An unknown external port is dropped too.
  SocketAddress unmapped = mapped;
  unmapped.port = static_cast<uint16_t>(mapped.port + 1);
  p.SendTo(unmapped, {6});
  net.RunFor(absl::Seconds(1));
  EXPECT_EQ(inside.got.size(), 1u);
}

TEST_P(FilteringTest, MappingExpiresWithoutTraffic) {
  NatConfig c = Nat(GetParam());
  c.mapping_timeout = absl::Seconds(30);
  const RealmId lan = net.AddNatRealm(c);
  Recorder inside(&net, lan, kLanHost);
  const SocketAddress peer = V4(192, 0, 2, 20, 7000);
  Recorder p(&net, kPublicRealm, peer);
  inside.SendTo(peer, {1});
  net.RunFor(absl::Seconds(1));
  ASSERT_EQ(p.got.size(), 1u);
  const SocketAddress mapped = p.got[0].from;
  p.SendTo(mapped, {2});  // refreshes the mapping at t=1 s
  net.RunFor(absl::Seconds(29));
  p.SendTo(mapped, {3});  // still inside 30 s of the last traffic
  net.RunFor(absl::Seconds(31));
  p.SendTo(mapped, {4});  // 31 s of silence: gone
  net.RunFor(absl::Seconds(1));
  ASSERT_EQ(inside.got.size(), 2u);
  EXPECT_EQ(inside.got[1].bytes, Bytes{3});
  EXPECT_EQ(net.nat(lan)->mapping_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Nats, FilteringTest,
                         ::testing::Values(NatType::kPortPreserving, NatType::kSymmetric),
                         [](const auto& param_info) {
                           return std::string(param_info.param == NatType::kSymmetric ? "Symmetric"
                                                                                : "PortPreserving");
                         });

TEST(SimNetworkLossTest, LossIsDeterministicPerSeedAndNearItsRate) {
  auto run = [](uint64_t seed) {
    Network net(seed);
    const RealmId lan = net.AddNatRealm(Nat(NatType::kPortPreserving, 0.1));
    Recorder inside(&net, lan, kLanHost);
    Recorder peer(&net, kPublicRealm, V4(192, 0, 2, 20, 7000));
    for (int i = 0; i < 2000; ++i) {
      inside.SendTo(V4(192, 0, 2, 20, 7000), {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8)});
    }
    net.RunFor(absl::Seconds(1));
    std::vector<Bytes> got;
    for (const auto& g : peer.got) got.push_back(g.bytes);
    return got;
  };
  const auto a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // 10% loss of 2000: well inside [150, 250] lost.
  EXPECT_GT(a.size(), 1750u);
  EXPECT_LT(a.size(), 1850u);
}

TEST(SimNetworkLossTest, RealmLossAppliesOnEveryHop) {
  Network net(3);
  net.SetLoss(kPublicRealm, 1.0);
  Recorder a(&net, kPublicRealm, V4(192, 0, 2, 1, 1)), b(&net, kPublicRealm, V4(192, 0, 2, 2, 2));
  a.SendTo(V4(192, 0, 2, 2, 2), {1});
  net.RunFor(absl::Seconds(1));
  EXPECT_TRUE(b.got.empty());
  EXPECT_EQ(net.stats().dropped_loss, 1u);
}

TEST(SimNetworkRunTest, UnroutableAndUnboundAreCounted) {
  Network net(1);
  Recorder a(&net, kPublicRealm, V4(192, 0, 2, 1, 1));
  a.SendTo(V4(10, 1, 2, 3, 4), {1});        // a private address on the internet
  a.SendTo(V4(198, 51, 100, 9, 4), {1});    // no NAT owns that IP
  net.RunFor(absl::Seconds(1));
  EXPECT_EQ(net.stats().dropped_unroutable, 2u);
  EXPECT_EQ(net.stats().delivered, 0u);
}

TEST(SimNetworkRunTest, ScheduledActionsRunInTimeThenInsertionOrder) {
  Network net(1);
  const absl::Time t0 = net.now();
  std::vector<int> order;
  net.Schedule(t0 + absl::Seconds(2), [&] { order.push_back(3); });
  net.Schedule(t0 + absl::Seconds(1), [&] { order.push_back(1); });
  net.Schedule(t0 + absl::Seconds(1), [&] { order.push_back(2); });
  net.Schedule(t0 - absl::Seconds(5), [&] { order.push_back(0); });  // clamped to now
  EXPECT_TRUE(net.RunUntil([&] { return order.size() == 4; }, absl::Seconds(10)));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(net.now(), t0 + absl::Seconds(2));
}

TEST(SimNetworkRunTest, RunUntilStopsAtMaxTimeAndMaxSteps) {
  Network net(1);
  const absl::Time t0 = net.now();
  EXPECT_FALSE(net.RunUntil([] { return false; }, absl::Seconds(5)));
  EXPECT_EQ(net.now(), t0 + absl::Seconds(5));
  EXPECT_FALSE(net.hit_step_limit());

  // A node that always wants a timeout "now" would spin: the step bound stops it.
  struct Spinner : Node {
    void OnPacket(const SocketAddress&, const SocketAddress&, std::span<const uint8_t>,
                  absl::Time) override {}
    absl::Time NextTimeout() const override { return absl::InfinitePast(); }
    void OnTimeout(absl::Time) override { ++calls; }
    int calls = 0;
  } spinner;
  net.AddTimerNode(&spinner);
  EXPECT_FALSE(net.RunUntil([] { return false; }, absl::Seconds(5), 100));
  EXPECT_TRUE(net.hit_step_limit());
  EXPECT_EQ(spinner.calls, 100);
  net.RemoveTimerNode(&spinner);
}

// ---- TURN in the in-process server ----

TEST_F(SimNetworkTest, TurnAllocationThroughNatRelaysBothWays) {
  const RealmId lan = net.AddNatRealm(Nat(NatType::kSymmetric));
  TurnProbe client(&net, lan, kLanHost, kStunA, {"user", "pass"});
  ASSERT_TRUE(client.client().Allocate(net.now()).ok());
  client.Flush(net.now());
  ASSERT_TRUE(net.RunUntil([&] { return client.HasEvent(TurnEvent::Kind::kAllocated); },
                           absl::Seconds(10)));
  const RelayedAddresses& alloc = client.client().allocation();
  ASSERT_EQ(alloc.relayed.size(), 1u);
  EXPECT_EQ(alloc.relayed[0].IpString(), kStunA.IpString());
  ASSERT_TRUE(alloc.has_mapped);
  EXPECT_EQ(alloc.mapped.IpString(), "198.51.100.1");  // the NAT's side
  EXPECT_EQ(server_a->allocation_count(), 1u);

  const SocketAddress peer_addr = V4(192, 0, 2, 30, 9000);
  Recorder peer(&net, kPublicRealm, peer_addr);
  // Without a permission the server drops the peer's datagram.
  peer.SendTo(alloc.relayed[0], {9});
  net.RunFor(absl::Milliseconds(100));
  EXPECT_TRUE(client.data.empty());
  EXPECT_EQ(server_a->counters().dropped_no_permission, 1u);

  const SocketAddress peers[] = {peer_addr};
  ASSERT_TRUE(client.client().CreatePermission(net.now(), peers).ok());
  client.Flush(net.now());
  ASSERT_TRUE(net.RunUntil([&] { return client.HasEvent(TurnEvent::Kind::kPermissionCreated); },
                           absl::Seconds(10)));
  client.SendIndication(peer_addr, {1, 2, 3});
  net.RunFor(absl::Milliseconds(100));
  ASSERT_EQ(peer.got.size(), 1u);
  EXPECT_EQ(peer.got[0].from, alloc.relayed[0]);
  EXPECT_EQ(peer.got[0].bytes, (Bytes{1, 2, 3}));

  peer.SendTo(alloc.relayed[0], {4, 5});
  net.RunFor(absl::Milliseconds(100));
  ASSERT_EQ(client.data.size(), 1u);
  EXPECT_EQ(client.data[0].first, peer_addr);
  EXPECT_EQ(client.data[0].second, (Bytes{4, 5}));
  EXPECT_EQ(server_a->relayed_to_peers(), 1u);
  EXPECT_EQ(server_a->relayed_from_peers(), 2u);
}

TEST_F(SimNetworkTest, TurnServerDownTimesOut) {
  server_a->set_down(true);
  TurnProbe client(&net, kPublicRealm, V4(192, 0, 2, 5, 5000), kStunA, {"user", "pass"});
  ASSERT_TRUE(client.client().Allocate(net.now()).ok());
  client.Flush(net.now());
  ASSERT_TRUE(net.RunUntil([&] { return client.HasEvent(TurnEvent::Kind::kError); },
                           absl::Seconds(60)));
  EXPECT_TRUE(client.events.back().timed_out);
  EXPECT_EQ(server_a->allocation_count(), 0u);
}

TEST(SimTurnQuotaTest, QuotaReachedAnswers486) {
  Network net(5);
  SimTurnServer::Options o;
  o.user_quota = 1;
  SimTurnServer server(&net, o);
  TurnProbe first(&net, kPublicRealm, V4(192, 0, 2, 5, 5000), o.address, {"user", "pass"});
  TurnProbe second(&net, kPublicRealm, V4(192, 0, 2, 6, 5000), o.address, {"user", "pass"});
  ASSERT_TRUE(first.client().Allocate(net.now()).ok());
  first.Flush(net.now());
  ASSERT_TRUE(net.RunUntil([&] { return first.HasEvent(TurnEvent::Kind::kAllocated); },
                           absl::Seconds(10)));
  ASSERT_TRUE(second.client().Allocate(net.now()).ok());
  second.Flush(net.now());
  ASSERT_TRUE(net.RunUntil([&] { return second.HasEvent(TurnEvent::Kind::kError); },
                           absl::Seconds(10)));
  EXPECT_EQ(second.events.back().error_code, 486);
}

TEST_F(SimNetworkTest, WrongTurnPasswordIsRefused) {
  TurnProbe client(&net, kPublicRealm, V4(192, 0, 2, 5, 5000), kStunA, {"user", "wrong"});
  ASSERT_TRUE(client.client().Allocate(net.now()).ok());
  client.Flush(net.now());
  ASSERT_TRUE(net.RunUntil([&] { return client.HasEvent(TurnEvent::Kind::kError); },
                           absl::Seconds(60)));
  EXPECT_EQ(client.events.back().error_code, 401);
  EXPECT_EQ(server_a->allocation_count(), 0u);
}

}  // namespace
}  // namespace uturn::client::sim
