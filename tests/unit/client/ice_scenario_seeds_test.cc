// The ICE agent under random loss, seed by seed (sim_network.h): twenty runs
// per NAT pairing and mode, each a different loss pattern; the medians and
// p95 of the simulated time to connected are printed. UTURN_SIM_SEED=n runs
// one seed (with UTURN_SIM_TRACE=1, every datagram of both agents).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/ice_agent.h"
#include "tests/unit/client/ice_scenario_harness.h"
#include "tests/unit/client/sim_network.h"

namespace uturn::client::sim {
namespace {

// One run of two agents, each behind a NAT of the given type (`loss` on
// both boxes), with STUN and TURN: the simulated times to connected (A, B;
// InfiniteDuration when not within 40 s), datagrams sent, and A's pair.
struct PairRun {
  absl::Duration a, b;
  uint64_t sent = 0;
  std::string pair;
};
struct PairOptions {
  NominationMode nomination = NominationMode::kRegular;
  ice::Role role_b = ice::Role::kControlled;  // kControlling: a role conflict
  // After connecting: data both ways for this long, then done.
  absl::Duration data_for = absl::ZeroDuration();
};
PairRun RunPair(uint64_t seed, NatType type_a, NatType type_b, double loss,
                const PairOptions& opt = {}) {
  Network net(seed);
  NatConfig na, nb;
  na.type = type_a;
  na.public_ip = kNatA;
  na.loss = loss;
  nb.type = type_b;
  nb.public_ip = kNatB;
  nb.loss = loss;
  const RealmId ra = net.AddNatRealm(na), rb = net.AddNatRealm(nb);
  SimTurnServer::Options o;
  o.address = kTurn;
  SimTurnServer turn(&net, o);
  IceAgentConfig ca, cb;
  ca.stun_servers = cb.stun_servers = {kTurn};
  ca.turn_servers = cb.turn_servers = {IceTurnServer{kTurn, TurnCredentials{"user", "pass"}}};
  cb.role = opt.role_b;
  ca.nomination = cb.nomination = opt.nomination;
  SimAgent a(&net, "A", ca), b(&net, "B", cb);
  a.AddInterface(ra, kLanA);
  b.AddInterface(rb, kLanB);
  Signalling sig(&net, &a, &b);
  sig.ExchangeCredentials();
  a.Start();
  b.Start();
  if (!net.RunUntil([&] { return a.up() && b.up(); }, absl::Seconds(40))) {
    std::printf("seed %lu, %s/%s, loss %.2f:\n", static_cast<unsigned long>(seed),
                ToString(type_a), ToString(type_b), loss);
    DumpRun(net, {&a, &b}, &sig);
  }
  if (a.up() && b.up() && opt.data_for > absl::ZeroDuration()) {
    // One datagram each way per 20 ms; with loss most, not all, arrive.
    const int n = static_cast<int>(opt.data_for / absl::Milliseconds(20));
    for (int i = 0; i < n; ++i) {
      net.Schedule(net.now() + absl::Milliseconds(20) * i, [&, i] {
        EXPECT_TRUE(a.agent().SendData(AppDatagram('a', static_cast<uint32_t>(i)), net.now()).ok());
        a.Flush(net.now());
        EXPECT_TRUE(b.agent().SendData(AppDatagram('b', static_cast<uint32_t>(i)), net.now()).ok());
        b.Flush(net.now());
      });
    }
    net.RunFor(opt.data_for + absl::Seconds(1));
    // Two NAT crossings at `loss` each: (1 - loss)^2 expected, well above half.
    auto describe = [](const SimAgent& s) {
      const auto p = const_cast<SimAgent&>(s).agent().selected_pair();
      return p ? absl::StrCat(s.name(), " ", s.PairTypes(), " ", p->local.address.ToString(),
                              " -> ", p->remote.address.ToString())
               : s.name() + " none";
    };
    EXPECT_GT(b.ReceivedFrom('a'), static_cast<size_t>(n / 2))
        << "seed " << seed << ": " << describe(a) << "; " << describe(b);
    EXPECT_GT(a.ReceivedFrom('b'), static_cast<size_t>(n / 2))
        << "seed " << seed << ": " << describe(a) << "; " << describe(b);
  }
  return PairRun{a.time_to_connected().value_or(absl::InfiniteDuration()),
                 b.time_to_connected().value_or(absl::InfiniteDuration()), net.stats().sent,
                 a.PairTypes()};
}

// The simulation is deterministic: one seed, one history; another seed,
// another history that still connects.
TEST(IceScenarioDeterminismTest, SameSeedSameRunOtherSeedStillConnects) {
  const PairRun x = RunPair(11, NatType::kSymmetric, NatType::kPortPreserving, 0.05);
  const PairRun y = RunPair(11, NatType::kSymmetric, NatType::kPortPreserving, 0.05);
  const PairRun z = RunPair(12, NatType::kSymmetric, NatType::kPortPreserving, 0.05);
  EXPECT_EQ(x.a, y.a);
  EXPECT_EQ(x.b, y.b);
  EXPECT_EQ(x.sent, y.sent);
  EXPECT_LT(x.a, absl::Seconds(40));
  EXPECT_LT(z.a, absl::Seconds(40));
  EXPECT_TRUE(x.sent != z.sent || x.a != z.a) << "the seed changes nothing";
}

// The loss case over 20 seeds (as the lab's benchmark runs 20 times): every
// run connects; median and p95 of the simulated time to connected are
// printed and recorded, bounded only loosely. Debug one seed with
// UTURN_SIM_SEED=n UTURN_SIM_TRACE=1 (every datagram of both agents).
//
// AGENT BUG this found (2026-12-04, client/ice_agent_checks.cc; fails for
// port-preserving seed 10, symmetric seeds 4 and 16): regular nomination
// loses its USE-CANDIDATE check. The controlling agent sends the nominating
// check (g.nominating = true, nominee = P); its response is lost; the
// remote's own check on P then makes a triggered check on P (RFC 8445
// §7.3.1.4), which replaces the in-flight nominating transaction (no
// retransmission of it follows) and carries no USE-CANDIDATE. That check
// succeeds, but g.nominating stays true with nominee P, so MaybeNominate
// never runs again: no pair is ever selected and the agent fails with
// "timeout" after connect_timeout, with 4 valid pairs. Either the triggered
// check on the nominee must carry USE-CANDIDATE, or a success on the
// nominee without it must nominate again.
TEST(IceScenarioLossTest, TenPercentLossConnectsForTwentySeeds) {
  for (NatType t : {NatType::kPortPreserving, NatType::kSymmetric}) {
    std::vector<absl::Duration> times;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      if (const char* only = std::getenv("UTURN_SIM_SEED"); only && std::stoul(only) != seed) {
        continue;
      }
      const PairRun r = RunPair(seed, t, t, 0.1);
      EXPECT_LT(r.a, absl::Seconds(40)) << ToString(t) << " seed " << seed << " never connected";
      EXPECT_LT(r.b, absl::Seconds(40)) << ToString(t) << " seed " << seed << " never connected";
      times.push_back(std::max(r.a, r.b));
    }
    if (times.empty()) continue;
    std::sort(times.begin(), times.end());
    const int64_t median = absl::ToInt64Milliseconds(times[times.size() / 2]);
    const int64_t p95 = absl::ToInt64Milliseconds(times[times.size() * 95 / 100]);
    ::testing::Test::RecordProperty(absl::StrCat("loss10_", ToString(t), "_median_ms"),
                                    std::to_string(median));
    ::testing::Test::RecordProperty(absl::StrCat("loss10_", ToString(t), "_p95_ms"),
                                    std::to_string(p95));
    std::printf("[ scenario ] 10%% loss, both %s: connected (both sides) median %ld ms, p95 %ld "
                "ms over 20 seeds (simulated)\n",
                ToString(t), static_cast<long>(median), static_cast<long>(p95));
  }
}

// Aggressive nomination and a role conflict (both controlling) under the
// same loss, 20 seeds each, with data flowing for 2 s after connecting.
//
// AGENT BUG this found (2026-12-04; aggressive, seeds 9 and 14): the two
// sides select different pairs and A's data never reaches B's application.
// Seed 9: A selects relay/relay (A's relay 203.0.113.1:50000 -> B's relay
// :50001), B selects prflx/relay (B's NAT mapping -> A's relay). A sends
// through both relays; B's TURN server delivers it to B as Data indications
// from peer 203.0.113.1:50000 on B's allocation (UTURN_SIM_TRACE shows them),
// but B's HandlePacket does not return kData: that (relay, peer) pair is not
// valid on B's side. Two things to look at: (1) with aggressive nomination
// the controlling agent concludes on the first USE-CANDIDATE success while
// the controlled one selected another nominated pair (RFC 8445 §8.1.1 /
// RFC 5245 §8.1.2: both should end on the highest-priority nominated valid
// pair); (2) RFC 8445 §12.1: an agent should be prepared to receive data on
// any of its candidates, not only on valid pairs.
TEST(IceScenarioLossTest, AggressiveAndRoleConflictUnderLossForTwentySeeds) {
  PairOptions aggressive;
  aggressive.nomination = NominationMode::kAggressive;
  aggressive.data_for = absl::Seconds(2);
  PairOptions conflict;
  conflict.role_b = ice::Role::kControlling;
  conflict.data_for = absl::Seconds(2);
  for (const auto& [name, opt] : {std::pair{"aggressive", aggressive},
                                  std::pair{"both-controlling", conflict}}) {
    int connected = 0;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      if (const char* only = std::getenv("UTURN_SIM_SEED"); only && std::stoul(only) != seed) {
        continue;
      }
      const PairRun r = RunPair(seed, NatType::kPortPreserving, NatType::kSymmetric, 0.1, opt);
      EXPECT_LT(std::max(r.a, r.b), absl::Seconds(40)) << name << " seed " << seed;
      connected += std::max(r.a, r.b) < absl::Seconds(40);
    }
    std::printf("[ scenario ] 10%% loss, %s: %d of 20 seeds connected\n", name, connected);
  }
}

}  // namespace
}  // namespace uturn::client::sim
