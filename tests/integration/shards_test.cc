// --relay-threads and --drain-seconds on the real binary: several shards all
// serve (their relay ports fall in their own slices), SIGHUP reaches every
// shard, and SIGTERM drains (508 for new allocations, existing ones relay
// until they end or the deadline passes; a second SIGTERM stops at once).
#include <sched.h>
#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

constexpr uint16_t kMinPort = 51000;
constexpr uint16_t kMaxPort = 51999;

int ErrorOf(const std::optional<TurnEvent>& ev) {
  if (!ev) return -1;
  if (ev->kind != TurnEvent::Kind::kError) return 0;
  return ev->error_code;
}

std::vector<std::string> ShardArgs(std::vector<std::string> extra) {
  std::vector<std::string> args = BaseTurnArgs();
  for (const char* a : {"--min-port", "51000", "--max-port", "51999"}) args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

size_t CountEvents(const ServerProcess& server, const std::string& event) {
  size_t n = 0;
  for (const std::string& l : server.Lines()) n += LogField(l, "event") == event ? 1 : 0;
  return n;
}

// The predicate runs under the process's lock: it counts, it does not call
// back into `server`.
bool WaitForEvents(ServerProcess& server, const std::string& event, size_t count) {
  size_t seen = 0;
  return server.WaitForLine(
      [&](const std::string& l) {
        seen += LogField(l, "event") == event ? 1 : 0;
        return seen >= count;
      },
      std::chrono::seconds(10));
}

// Relays one payload each way through an allocated session; false on loss.
bool RelaysBothWays(TurnSession& s, Peer& peer, uint32_t seed) {
  const auto perm = s.CreatePermission({peer.address});
  if (!perm || perm->kind != TurnEvent::Kind::kPermissionCreated) return false;
  const auto out = RandomBytes(100, seed);
  if (!s.SendIndication(peer.address, out)) return false;
  const auto got = RecvDatagram(peer.fd.get(), milliseconds(3000));
  if (!got || *got != out) return false;
  const auto back = RandomBytes(200, seed + 1);
  if (!SendTo(peer.fd.get(), back, s.client().allocation().relayed[0])) return false;
  const auto data = s.WaitData();
  return data.has_value() && data->payload == back && data->peer == peer.address;
}

class ShardsTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& extra) {
    std::string error;
    ASSERT_TRUE(server_.StartAndWaitReady(ShardArgs(extra), &error)) << error;
    ASSERT_TRUE(server_.Udp().has_value()) << server_.Log();
    udp_ = *server_.Udp();
  }

  std::unique_ptr<TurnSession> Allocated() {
    auto s = std::make_unique<TurnSession>(udp_, TurnConfigFor("u", "p"));
    const auto ev = s->Allocate();
    EXPECT_EQ(ErrorOf(ev), 0) << server_.Log();
    return s;
  }

  ServerProcess server_;
  stun::SocketAddress udp_;
};

TEST_F(ShardsTest, TwoShardsBothServeFromTheirOwnPortSlices) {
  Start({"--relay-threads", "2"});
  // The slices as the server announces them; checked here to be a partition
  // of the configured range rather than trusted.
  std::map<uint32_t, std::pair<uint16_t, uint16_t>> slices;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") != "shard") continue;
    const std::string ports = LogField(l, "ports");
    const size_t dash = ports.find('-');
    ASSERT_NE(dash, std::string::npos) << l;
    slices[std::stoul(LogField(l, "shard"))] = {
        static_cast<uint16_t>(std::stoul(ports.substr(0, dash))),
        static_cast<uint16_t>(std::stoul(ports.substr(dash + 1)))};
  }
  ASSERT_EQ(slices.size(), 2u) << server_.Log();
  EXPECT_EQ(slices[0].first, kMinPort);
  EXPECT_EQ(slices[1].second, kMaxPort);
  EXPECT_EQ(slices[0].second + 1, slices[1].first);
  EXPECT_LE(slices[0].first, slices[0].second);
  EXPECT_LE(slices[1].first, slices[1].second);

  // 40 client sockets: the kernel's SO_REUSEPORT hash spreads their 5-tuples
  // over both shards (all on one: probability 2^-39).
  constexpr int kClients = 40;
  std::map<uint32_t, int> per_shard;
  // Kept open: a closed client's port could be reused by the next one, whose
  // 5-tuple would then still have an allocation (437).
  std::vector<std::unique_ptr<TurnSession>> sessions;
  for (int i = 0; i < kClients; ++i) {
    sessions.push_back(Allocated());
    TurnSession* s = sessions.back().get();
    ASSERT_FALSE(s->client().allocation().relayed.empty());
    const uint16_t port = s->client().allocation().relayed[0].port;
    int shard = -1;
    for (const auto& [k, slice] : slices) {
      if (port >= slice.first && port <= slice.second) shard = static_cast<int>(k);
    }
    ASSERT_GE(shard, 0) << "relayed port " << port << " outside every slice";
    ++per_shard[static_cast<uint32_t>(shard)];
    Peer peer = MakePeer();
    EXPECT_TRUE(RelaysBothWays(*s, peer, static_cast<uint32_t>(i) * 2)) << "client " << i;
  }
  EXPECT_GT(per_shard[0], 0) << "shard 0 served no allocation";
  EXPECT_GT(per_shard[1], 0) << "shard 1 served no allocation";
  EXPECT_EQ(per_shard[0] + per_shard[1], kClients);

  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitExit(), 0) << server_.Log();
  bool counted = false;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") != "stopped") continue;
    // Summed over the shards.
    counted = LogField(l, "allocations_created") == std::to_string(kClients) &&
              LogField(l, "shards") == "2";
  }
  EXPECT_TRUE(counted) << server_.Log();
}

// RFC 8656 §7.2: the RESERVATION-TOKEN of an EVEN-PORT R=1 allocation is
// redeemed by an Allocate from another socket, which the SO_REUSEPORT hash
// may send to the other shard (server/shared_reservations.h). 8 pairs: all
// second sockets on the issuer's shard has probability 2^-8.
TEST_F(ShardsTest, ReservationTokenIsRedeemedOnWhicheverShardTheSecondSocketReaches) {
  Start({"--relay-threads", "2"});
  std::vector<std::unique_ptr<TurnSession>> sessions;  // kept: see above
  for (int i = 0; i < 8; ++i) {
    client::TurnClientConfig first_config = TurnConfigFor("u", "p");
    first_config.even_port = true;
    sessions.push_back(std::make_unique<TurnSession>(udp_, first_config));
    TurnSession& first = *sessions.back();
    ASSERT_EQ(ErrorOf(first.Allocate()), 0) << server_.Log();
    const auto& a = first.client().allocation();
    ASSERT_TRUE(a.reservation_token.has_value());
    const uint16_t port = a.relayed[0].port;
    EXPECT_EQ(port % 2, 0) << "EVEN-PORT";

    client::TurnClientConfig second_config = TurnConfigFor("u", "p");
    second_config.reservation_token = a.reservation_token;
    sessions.push_back(std::make_unique<TurnSession>(udp_, second_config));
    TurnSession& second = *sessions.back();
    ASSERT_EQ(ErrorOf(second.Allocate()), 0) << "pair " << i << "\n" << server_.Log();
    EXPECT_EQ(second.client().allocation().relayed[0].port, port + 1);
    Peer peer = MakePeer();
    EXPECT_TRUE(RelaysBothWays(second, peer, static_cast<uint32_t>(i) * 2)) << "pair " << i;
  }
}

// DESIGN.md §The data plane: a client's allocation and every packet of it
// stay on one shard. One client relays both ways; at exit the per-shard
// lines show one shard with the allocation and every packet, the other idle.
TEST_F(ShardsTest, AnAllocationAndItsPacketsStayOnOneShard) {
  Start({"--relay-threads", "2"});
  auto s = Allocated();
  Peer peer = MakePeer();
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(RelaysBothWays(*s, peer, static_cast<uint32_t>(i) * 2)) << i;
  }
  server_.Signal(SIGTERM);
  ASSERT_EQ(server_.WaitExit(), 0) << server_.Log();
  std::map<std::string, std::map<std::string, uint64_t>> by_shard;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") != "shard_stopped") continue;
    for (const char* k : {"allocations_created", "packets_to_peer", "packets_to_client",
                          "relay_received", "udp_received"}) {
      by_shard[LogField(l, "shard")][k] = std::stoull(LogField(l, k));
    }
  }
  ASSERT_EQ(by_shard.size(), 2u) << server_.Log();
  const bool first_owns = by_shard["0"]["allocations_created"] == 1;
  auto& owner = by_shard[first_owns ? "0" : "1"];
  auto& other = by_shard[first_owns ? "1" : "0"];
  EXPECT_EQ(owner["allocations_created"], 1u);
  EXPECT_EQ(owner["packets_to_peer"], uint64_t{kRounds});
  EXPECT_EQ(owner["packets_to_client"], uint64_t{kRounds});
  EXPECT_EQ(owner["relay_received"], uint64_t{kRounds});
  for (const char* k : {"allocations_created", "packets_to_peer", "packets_to_client",
                        "relay_received", "udp_received"}) {
    EXPECT_EQ(other[k], 0u) << k << "\n" << server_.Log();
  }
}

TEST_F(ShardsTest, SighupReachesEveryShard) {
  Start({"--relay-threads", "2"});
  server_.Signal(SIGHUP);
  ASSERT_TRUE(WaitForEvents(server_, "reloaded", 2)) << server_.Log();
  std::map<std::string, int> shards;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") == "reloaded") ++shards[LogField(l, "shard")];
  }
  EXPECT_EQ(shards["0"], 1) << server_.Log();
  EXPECT_EQ(shards["1"], 1) << server_.Log();
  // Still serving after the reload.
  auto s = Allocated();
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitExit(), 0) << server_.Log();
}

TEST_F(ShardsTest, DrainRefusesNewAllocationsServesOldOnesAndEndsWithTheLast) {
  Start({"--relay-threads", "2", "--drain-seconds", "30"});
  auto old_session = Allocated();
  Peer peer = MakePeer();
  ASSERT_TRUE(RelaysBothWays(*old_session, peer, 1));

  server_.Signal(SIGTERM);
  // Every shard has switched to draining once it logged so.
  ASSERT_TRUE(WaitForEvents(server_, "shard_draining", 2)) << server_.Log();
  EXPECT_TRUE(server_.Alive());

  // RFC 8656 §7.2 has no code for "going away": 508 Insufficient Capacity.
  TurnSession fresh(udp_, TurnConfigFor("u", "p"));
  EXPECT_EQ(ErrorOf(fresh.Allocate()), 508) << server_.Log();
  // The existing allocation still relays both ways.
  EXPECT_TRUE(RelaysBothWays(*old_session, peer, 3));
  EXPECT_TRUE(server_.Alive());

  // Deleting the last allocation (RFC 8656 §7.4: LIFETIME 0) ends the drain
  // long before its 30 s deadline.
  const auto refreshed = old_session->Refresh(0);
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_EQ(refreshed->kind, TurnEvent::Kind::kRefreshed);
  EXPECT_EQ(server_.WaitExit(std::chrono::seconds(5)), 0) << server_.Log();
  bool done = false;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") == "stopped") done = LogField(l, "drain") == "done";
  }
  EXPECT_TRUE(done) << server_.Log();
}

TEST_F(ShardsTest, SecondSigtermStopsADrainAtOnce) {
  Start({"--relay-threads", "2", "--drain-seconds", "30"});
  auto s = Allocated();
  server_.Signal(SIGTERM);
  ASSERT_TRUE(WaitForEvents(server_, "draining", 1)) << server_.Log();
  EXPECT_TRUE(server_.Alive());
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitExit(std::chrono::seconds(5)), 0) << server_.Log();
  bool interrupted = false;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") == "stopped") interrupted = LogField(l, "drain") == "interrupted";
  }
  EXPECT_TRUE(interrupted) << server_.Log();
}

TEST_F(ShardsTest, DrainStopsAtItsDeadline) {
  Start({"--relay-threads", "2", "--drain-seconds", "1"});
  auto s = Allocated();  // 600 s lifetime: outlives the deadline
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitExit(std::chrono::seconds(8)), 0) << server_.Log();
  bool deadline = false;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") == "stopped") deadline = LogField(l, "drain") == "deadline";
  }
  EXPECT_TRUE(deadline) << server_.Log();
}

TEST_F(ShardsTest, WithoutDrainSecondsSigtermStopsAtOnce) {
  Start({"--relay-threads", "2"});
  auto s = Allocated();
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitExit(std::chrono::seconds(5)), 0) << server_.Log();
  EXPECT_EQ(CountEvents(server_, "draining"), 0u) << server_.Log();
}

TEST(ShardCliTest, MoreShardsThanRelayPortsIsAUsageError) {
  const RunResult r = RunToCompletion({"--listening-ip", "127.0.0.1", "--listening-port", "0",
                                       "--user", "u:p", "--relay-threads", "3", "--min-port",
                                       "51000", "--max-port", "51001"});
  EXPECT_EQ(r.exit_status, 2) << r.err;
  EXPECT_NE(r.err.find("--relay-threads"), std::string::npos) << r.err;
}

// DESIGN.md §The data plane: one shard per CPU, by default and with 0.
TEST(ShardCliTest, DefaultAndZeroRelayThreadsRunOneShardPerCpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int cpus = CPU_COUNT(&set);  // the child inherits this affinity
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--relay-threads", "0"}}) {
    ServerProcess server;
    std::string error;
    ASSERT_TRUE(server.StartAndWaitReady(ShardArgs(extra), &error)) << error;
    std::string shards;
    for (const std::string& l : server.Lines()) {
      if (LogField(l, "event") == "ready") shards = LogField(l, "shards");
    }
    EXPECT_EQ(shards, std::to_string(cpus)) << server.Log();
    server.Signal(SIGTERM);
    EXPECT_EQ(server.WaitExit(), 0) << server.Log();
  }
}

}  // namespace
}  // namespace uturn::testing
