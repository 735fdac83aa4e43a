// The ICE agent end to end in the simulated network (sim_network.h): two
// agents (or one and an ice-lite remote) behind the NAT models, with an
// in-process TURN server, the cases of the NAT lab (tests/natlab/) and the
// error paths the lab cannot stage. Each asserts the selected pair's
// candidate types on both sides and that application data flows both ways;
// the simulated time to connected is printed and recorded (RecordProperty),
// bounded only loosely.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/ice_agent.h"
#include "tests/unit/client/ice_scenario_harness.h"
#include "tests/unit/client/sim_network.h"

namespace uturn::client::sim {
namespace {


// Where an agent sits.
struct Site {
  RealmId realm = kPublicRealm;
  SocketAddress host;
};


class IceScenarioTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Invariants every scenario keeps, whatever it asserts.
    for (SimAgent* s : {a.get(), b.get()}) {
      if (s == nullptr) continue;
      EXPECT_EQ(s->transmits_from_unknown_source, 0u) << s->name() << ": sent from a non-base";
      EXPECT_EQ(s->timeout_not_advanced, 0u)
          << s->name() << ": PollTimeout() still due right after HandleTimeout(), first "
          << s->first_stuck;
    }
  }

  void MakeTurn(uint32_t user_quota = 0) {
    SimTurnServer::Options o;
    o.address = kTurn;
    o.user_quota = user_quota;
    turn = std::make_unique<SimTurnServer>(&net, o);
  }

  Site Behind(NatType type, const SocketAddress& nat_ip, const SocketAddress& lan_host,
              double loss = 0.0) {
    NatConfig c;
    c.type = type;
    c.public_ip = nat_ip;
    c.loss = loss;
    if (type == NatType::kBlocksUdp) c.udp_allowed = {kTurn};
    return Site{net.AddNatRealm(c), lan_host};
  }
  static Site Public(const SocketAddress& host) { return Site{kPublicRealm, host}; }

  IceAgentConfig Config(ice::Role role, bool servers = true) {
    IceAgentConfig c;
    c.role = role;
    if (servers && turn) {
      c.stun_servers = {kTurn};
      c.turn_servers = {IceTurnServer{kTurn, TurnCredentials{"user", "pass"}}};
    }
    return c;
  }

  // Two full agents at `sa` and `sb`, signalling wired, credentials sent.
  void MakePair(const Site& sa, IceAgentConfig ca, const Site& sb, IceAgentConfig cb) {
    a = std::make_unique<SimAgent>(&net, "A", std::move(ca));
    b = std::make_unique<SimAgent>(&net, "B", std::move(cb));
    a->AddInterface(sa.realm, sa.host);
    b->AddInterface(sb.realm, sb.host);
    sig = std::make_unique<Signalling>(&net, a.get(), b.get());
    sig->ExchangeCredentials();
  }
  void StartBoth() {
    a->Start();
    b->Start();
  }
  bool ConnectBoth(absl::Duration limit = absl::Seconds(40)) {
    const bool ok = net.RunUntil([&] { return a->up() && b->up(); }, limit);
    EXPECT_FALSE(net.hit_step_limit());
    if (!ok) Dump();
    return ok;
  }

  // Each side sends `n` datagrams (one per 20 ms); all must arrive at the
  // other within `limit`, unless `min_fraction` allows loss.
  void ExpectDataBothWays(int n = 10, double min_fraction = 1.0) {
    for (int i = 0; i < n; ++i) {
      net.Schedule(net.now() + absl::Milliseconds(20) * i, [this, i] {
        EXPECT_TRUE(a->agent().SendData(AppDatagram('a', static_cast<uint32_t>(i)), net.now()).ok());
        a->Flush(net.now());
        EXPECT_TRUE(b->agent().SendData(AppDatagram('b', static_cast<uint32_t>(i)), net.now()).ok());
        b->Flush(net.now());
      });
    }
    const size_t want = static_cast<size_t>(n * min_fraction);
    net.RunUntil([&] { return b->ReceivedFrom('a') >= static_cast<size_t>(n) &&
                              a->ReceivedFrom('b') >= static_cast<size_t>(n); },
                 absl::Milliseconds(20) * n + absl::Seconds(2));
    EXPECT_GE(b->ReceivedFrom('a'), want) << "A -> B over " << a->PairTypes();
    EXPECT_GE(a->ReceivedFrom('b'), want) << "B -> A over " << b->PairTypes();
  }

  void Dump() { DumpRun(net, {a.get(), b.get()}, sig.get()); }

  // Prints and records the simulated time to connected of each side.
  void Report(const std::string& scenario) {
    for (SimAgent* s : {a.get(), b.get()}) {
      if (s == nullptr) continue;
      const auto t = s->time_to_connected();
      const std::string v = t ? absl::StrCat(absl::ToInt64Milliseconds(*t)) : "never";
      RecordProperty("connect_ms_" + s->name(), v);
      std::printf("[ scenario ] %s: %s connected after %s ms (simulated) over %s\n",
                  scenario.c_str(), s->name().c_str(), v.c_str(), s->PairTypes().c_str());
    }
  }

  static bool IsType(const IceCandidateInfo& c, ice::CandidateType t) {
    return c.candidate.type == t;
  }
  static bool Direct(const IceSelectedPair& p) {
    return !IsType(p.local, ice::CandidateType::kRelay) &&
           !IsType(p.remote, ice::CandidateType::kRelay);
  }

  Network net{20260101};
  std::unique_ptr<SimTurnServer> turn;
  std::unique_ptr<SimAgent> a, b;
  std::unique_ptr<Signalling> sig;
};

TEST_F(IceScenarioTest, NoNatConnectsHostToHost) {
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), Public(kPublicB),
           Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("no-nat");
  EXPECT_EQ(a->PairTypes(), "host/host");
  EXPECT_EQ(b->PairTypes(), "host/host");
  EXPECT_EQ(a->agent().selected_pair()->remote.address, kPublicB);
  EXPECT_EQ(b->agent().selected_pair()->remote.address, kPublicA);
  // One RTT (20 ms) after the candidates are signalled (50 ms) for the
  // check, one more for the nominating check, which does not wait for a Ta
  // slot (client/README.md); 10 ms of slack.
  const absl::Duration bound = sig->delay + 2 * absl::Milliseconds(20) + absl::Milliseconds(10);
  EXPECT_LE(*a->time_to_connected(), bound);
  EXPECT_LE(*b->time_to_connected(), bound);
  ExpectDataBothWays();
}

// As in the NAT lab's nonat case: STUN and TURN configured, signalling
// almost instant. Gathering takes the first Ta slot and alternates with the
// checks after it; the nomination must not wait behind the Allocate.
TEST_F(IceScenarioTest, HostPairWithServersConfiguredConnectsWithinOneTaOfTwoRtts) {
  MakeTurn();
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), Public(kPublicB),
           Config(ice::Role::kControlled));
  sig->delay = absl::Milliseconds(1);
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("no-nat-servers");
  EXPECT_EQ(a->PairTypes(), "host/host");
  // The first check in the second Ta slot (50 ms), then two RTTs of 20 ms.
  const absl::Duration bound = absl::Milliseconds(50) + 2 * absl::Milliseconds(20) +
                               absl::Milliseconds(10);
  EXPECT_LE(*a->time_to_connected(), bound);
  EXPECT_LE(*b->time_to_connected(), bound);
}

TEST_F(IceScenarioTest, BothBehindPortPreservingNatConnectDirectlyNeverRelay) {
  MakeTurn();
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("port-preserving");
  ASSERT_TRUE(a->agent().selected_pair() && b->agent().selected_pair());
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  EXPECT_TRUE(Direct(*b->agent().selected_pair())) << b->PairTypes();
  // The local side is the host base (srflx pairs are pruned to their base,
  // RFC 8445 §6.1.2.4); the remote is the other NAT's address.
  EXPECT_EQ(a->agent().selected_pair()->remote.address.IpString(), kNatB.IpString());
  EXPECT_EQ(b->agent().selected_pair()->remote.address.IpString(), kNatA.IpString());
  const uint64_t relayed = turn->relayed_to_peers();
  ExpectDataBothWays();
  EXPECT_EQ(turn->relayed_to_peers(), relayed) << "data went through the relay";
}

TEST_F(IceScenarioTest, BothBehindSymmetricNatUseTheRelay) {
  MakeTurn();
  const Site sa = Behind(NatType::kSymmetric, kNatA, kLanA);
  const Site sb = Behind(NatType::kSymmetric, kNatB, kLanB);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("symmetric");
  const auto pa = a->agent().selected_pair();
  const auto pb = b->agent().selected_pair();
  ASSERT_TRUE(pa && pb);
  EXPECT_FALSE(Direct(*pa)) << a->PairTypes();
  EXPECT_FALSE(Direct(*pb)) << b->PairTypes();
  const uint64_t relayed = turn->relayed_to_peers() + turn->relayed_from_peers();
  ExpectDataBothWays();
  // 20 datagrams, each through the relay at least once.
  EXPECT_GE(turn->relayed_to_peers() + turn->relayed_from_peers(), relayed + 20);
}

TEST_F(IceScenarioTest, PublicAndSymmetricConnectDirectlyViaPeerReflexive) {
  MakeTurn();
  const Site sb = Behind(NatType::kSymmetric, kNatB, kLanB);
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("public-symmetric");
  const auto pa = a->agent().selected_pair();
  ASSERT_TRUE(pa && b->agent().selected_pair());
  EXPECT_TRUE(Direct(*pa)) << a->PairTypes();
  EXPECT_TRUE(Direct(*b->agent().selected_pair())) << b->PairTypes();
  // B's mapping towards A is new (symmetric): A learned it from B's check.
  EXPECT_TRUE(IsType(pa->remote, ice::CandidateType::kPeerReflexive)) << a->PairTypes();
  EXPECT_EQ(b->agent().selected_pair()->remote.address, kPublicA);
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, BothControllingResolveTheRoleConflict) {
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), Public(kPublicB),
           Config(ice::Role::kControlling));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("both-controlling");
  EXPECT_NE(a->agent().role(), b->agent().role());
  EXPECT_TRUE(a->HasEvent(IceEvent::Kind::kRoleChanged) ||
              b->HasEvent(IceEvent::Kind::kRoleChanged));
  EXPECT_GE(a->agent().stats().role_conflicts + b->agent().stats().role_conflicts, 1u);
  EXPECT_EQ(a->PairTypes(), "host/host");
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, BothControlledResolveTheRoleConflict) {
  MakePair(Public(kPublicA), Config(ice::Role::kControlled), Public(kPublicB),
           Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("both-controlled");
  EXPECT_NE(a->agent().role(), b->agent().role());
  EXPECT_TRUE(a->HasEvent(IceEvent::Kind::kRoleChanged) ||
              b->HasEvent(IceEvent::Kind::kRoleChanged));
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, RestartSelectsANewPairWhileDataKeepsFlowing) {
  MakeTurn();
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  ExpectDataBothWays(5);
  const ice::Credentials before = a->agent().local_credentials();
  const absl::Time restart_at = net.now();
  // Data every 20 ms from both sides throughout the restart.
  const int n = 100;
  for (int i = 0; i < n; ++i) {
    net.Schedule(restart_at + absl::Milliseconds(20) * i, [this, i] {
      EXPECT_TRUE(a->agent().SendData(AppDatagram('A', static_cast<uint32_t>(i)), net.now()).ok())
          << "A has no pair at +" << i * 20 << " ms of the restart";
      a->Flush(net.now());
      EXPECT_TRUE(b->agent().SendData(AppDatagram('B', static_cast<uint32_t>(i)), net.now()).ok())
          << "B has no pair at +" << i * 20 << " ms of the restart";
      b->Flush(net.now());
    });
  }
  ASSERT_TRUE(a->agent().Restart(net.now()).ok());
  a->Flush(net.now());
  EXPECT_NE(a->agent().local_credentials(), before);
  net.RunFor(absl::Milliseconds(20) * n + absl::Seconds(1));
  Report("restart");
  EXPECT_TRUE(a->FindEvent(IceEvent::Kind::kRestarted, restart_at) != nullptr);
  EXPECT_TRUE(b->FindEvent(IceEvent::Kind::kRestarted, restart_at) != nullptr);
  EXPECT_TRUE(a->FindEvent(IceEvent::Kind::kSelectedPair, restart_at) != nullptr)
      << "no pair of the new session was selected";
  EXPECT_TRUE(b->FindEvent(IceEvent::Kind::kSelectedPair, restart_at) != nullptr);
  EXPECT_TRUE(a->up() && b->up());
  // No loss in this network: every datagram of the restart arrived.
  EXPECT_EQ(b->ReceivedFrom('A'), static_cast<size_t>(n));
  EXPECT_EQ(a->ReceivedFrom('B'), static_cast<size_t>(n));
  // Consent (RFC 7675) runs on the new pair: with no loss it never lapses.
  net.RunFor(absl::Seconds(40));
  EXPECT_FALSE(a->StateTime(IceState::kDisconnected, restart_at).has_value());
  EXPECT_FALSE(b->StateTime(IceState::kDisconnected, restart_at).has_value());
  EXPECT_TRUE(a->up() && b->up()) << ToString(a->agent().state()) << " "
                                  << ToString(b->agent().state());
  if (!a->up() || !b->up()) Dump();
}

TEST_F(IceScenarioTest, FrozenRemoteLosesConsentAfterAboutThirtySeconds) {
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), Public(kPublicB),
           Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  ExpectDataBothWays(3);
  // Let consent run a while so the freeze falls between two checks.
  net.RunFor(absl::Seconds(12));
  ASSERT_TRUE(a->up());
  b->set_frozen(true);
  const absl::Time frozen_at = net.now();
  net.RunUntil([&] { return a->agent().state() == IceState::kFailed; }, absl::Seconds(45));
  Report("frozen-remote");
  const auto failed = a->StateTime(IceState::kFailed, frozen_at);
  ASSERT_TRUE(failed.has_value()) << "consent never lost; state " << ToString(a->agent().state());
  // RFC 7675 §5.1: lost 30 s after the last answered check, which came at
  // most one 6 s interval before the freeze.
  EXPECT_GE(*failed - frozen_at, absl::Seconds(23));
  EXPECT_LE(*failed - frozen_at, absl::Seconds(31));
  const IceEvent* e = nullptr;
  for (const auto& t : a->events) {
    if (t.at >= frozen_at && t.event.kind == IceEvent::Kind::kStateChanged &&
        t.event.state == IceState::kFailed) {
      e = &t.event;
    }
  }
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, "consent");
  // kDisconnected came first (unanswered consent, not yet lost).
  const auto disconnected = a->StateTime(IceState::kDisconnected, frozen_at);
  ASSERT_TRUE(disconnected.has_value());
  EXPECT_LT(*disconnected, *failed);
  EXPECT_FALSE(a->agent().SendData(AppDatagram('a', 0), net.now()).ok());
}

TEST_F(IceScenarioTest, BriefFreezeDisconnectsThenRecovers) {
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), Public(kPublicB),
           Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  net.RunFor(absl::Seconds(6));
  b->set_frozen(true);
  const absl::Time frozen_at = net.now();
  ASSERT_TRUE(net.RunUntil([&] { return a->agent().state() == IceState::kDisconnected; },
                           absl::Seconds(20)))
      << ToString(a->agent().state());
  // SIGCONT well before consent is lost (RFC 7675 §5.1: 30 s).
  net.RunFor(absl::Seconds(3));
  b->set_frozen(false);
  ASSERT_TRUE(net.RunUntil([&] { return a->up(); }, absl::Seconds(10)))
      << ToString(a->agent().state());
  Report("brief-freeze");
  EXPECT_LT(net.now() - frozen_at, absl::Seconds(30));
  EXPECT_FALSE(a->StateTime(IceState::kFailed).has_value());
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, RemoteRestartByTheControlledSide) {
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), Public(kPublicB),
           Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  const absl::Time restart_at = net.now();
  ASSERT_TRUE(b->agent().Restart(net.now()).ok());
  b->Flush(net.now());
  net.RunFor(absl::Seconds(3));
  Report("remote-restart");
  EXPECT_TRUE(a->FindEvent(IceEvent::Kind::kRestarted, restart_at) != nullptr);
  EXPECT_TRUE(a->FindEvent(IceEvent::Kind::kSelectedPair, restart_at) != nullptr);
  EXPECT_TRUE(b->FindEvent(IceEvent::Kind::kSelectedPair, restart_at) != nullptr);
  EXPECT_TRUE(a->up() && b->up());
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, RestartUnderLossKeepsDataFlowing) {
  MakeTurn();
  const double loss = std::getenv("UTURN_SIM_LOSS") ? std::stod(std::getenv("UTURN_SIM_LOSS")) : 0.1;
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA, loss);
  const Site sb = Behind(NatType::kSymmetric, kNatB, kLanB, loss);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  const absl::Time restart_at = net.now();
  ASSERT_TRUE(a->agent().Restart(net.now()).ok());
  a->Flush(net.now());
  ExpectDataBothWays(100, 0.6);
  // Consent on the new pair survives 10% loss: brief kDisconnected spells
  // are allowed, losing it (30 s unanswered, RFC 7675 §5.1) is not.
  net.RunFor(absl::Seconds(45));
  Report("restart-loss");
  EXPECT_TRUE(a->FindEvent(IceEvent::Kind::kSelectedPair, restart_at) != nullptr);
  EXPECT_FALSE(a->StateTime(IceState::kFailed, restart_at).has_value());
  EXPECT_FALSE(b->StateTime(IceState::kFailed, restart_at).has_value());
  if (a->StateTime(IceState::kFailed) || b->StateTime(IceState::kFailed)) Dump();
}

TEST_F(IceScenarioTest, TenPercentLossOnBothNatsStillConnects) {
  MakeTurn();
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA, 0.1);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB, 0.1);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("loss-10pct");
  EXPECT_GT(net.stats().dropped_loss, 0u);
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  // Two NATs at 10% each way: about 81% of datagrams survive.
  ExpectDataBothWays(50, 0.6);
}

TEST_F(IceScenarioTest, LiteRemoteConnectsWithUsControlling) {
  LiteRemote lite(&net, kPublicB);
  // RFC 8445 §6.1.1: against a lite agent the full agent is controlling,
  // whatever it was configured with.
  a = std::make_unique<SimAgent>(&net, "A", Config(ice::Role::kControlled));
  a->AddInterface(kPublicRealm, kPublicA);
  a->agent().SetRemoteLite(true);
  ASSERT_TRUE(a->agent().SetRemoteCredentials(lite.session().local(), net.now()).ok());
  lite.session().SetRemoteCredentials(a->agent().local_credentials());
  ASSERT_TRUE(a->agent().AddRemoteCandidate(lite.HostCandidate(), net.now()).ok());
  a->agent().SetRemoteEndOfCandidates(net.now());
  a->Start();
  ASSERT_TRUE(net.RunUntil(
      [&] { return a->up() && lite.session().state() == ice::SessionState::kConnected; },
      absl::Seconds(20)));
  Report("lite-remote");
  EXPECT_EQ(a->agent().role(), ice::Role::kControlling);
  EXPECT_EQ(a->PairTypes(), "host/host");
  ASSERT_TRUE(lite.session().selected().has_value());
  EXPECT_EQ(lite.session().selected()->remote, kPublicA);
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(a->agent().SendData(AppDatagram('a', i), net.now()).ok());
    a->Flush(net.now());
    EXPECT_TRUE(lite.SendToSelected(AppDatagram('l', i)));
  }
  net.RunFor(absl::Milliseconds(200));
  EXPECT_EQ(lite.received.size(), 5u);
  EXPECT_EQ(a->ReceivedFrom('l'), 5u);
}

TEST_F(IceScenarioTest, AggressiveNominationConnects) {
  MakeTurn();
  IceAgentConfig ca = Config(ice::Role::kControlling);
  ca.nomination = NominationMode::kAggressive;
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA);
  MakePair(sa, std::move(ca), Public(kPublicB), Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("aggressive");
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  EXPECT_TRUE(a->agent().selected_pair()->nominated);
  EXPECT_TRUE(b->agent().selected_pair()->nominated);
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, TurnServerDownConnectsWithoutRelay) {
  // STUN from a second server that is up; the TURN server is down, so every
  // Allocate times out and the agents go on with host and srflx candidates.
  MakeTurn();
  turn->set_down(true);
  SimTurnServer::Options so;
  so.address = V4(203, 0, 113, 2, 3478);
  SimTurnServer stun(&net, so);
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  IceAgentConfig ca = Config(ice::Role::kControlling), cb = Config(ice::Role::kControlled);
  ca.stun_servers = cb.stun_servers = {so.address};
  MakePair(sa, std::move(ca), sb, std::move(cb));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("turn-down");
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  EXPECT_TRUE(Direct(*b->agent().selected_pair())) << b->PairTypes();
  ExpectDataBothWays();
  // The timeout is reported once the Allocate gives up (RFC 8489 §6.2.1:
  // 39.5 s with the default RTO and Rc).
  net.RunUntil([&] { return a->HasEvent(IceEvent::Kind::kTurnError) &&
                            b->HasEvent(IceEvent::Kind::kTurnError); },
               absl::Seconds(60));
  EXPECT_TRUE(a->HasEvent(IceEvent::Kind::kTurnError));
  EXPECT_TRUE(b->HasEvent(IceEvent::Kind::kTurnError));
  EXPECT_TRUE(a->up() && b->up());
}

TEST_F(IceScenarioTest, TurnServerDownOnePublicSideStillConnects) {
  MakeTurn();
  turn->set_down(true);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  MakePair(Public(kPublicA), Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("turn-down-public");
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  ExpectDataBothWays();
  net.RunUntil([&] { return a->HasEvent(IceEvent::Kind::kTurnError) &&
                            b->HasEvent(IceEvent::Kind::kTurnError); },
               absl::Seconds(60));
  EXPECT_TRUE(a->HasEvent(IceEvent::Kind::kTurnError));
  EXPECT_TRUE(b->HasEvent(IceEvent::Kind::kTurnError));
  EXPECT_TRUE(a->up() && b->up());
}

TEST_F(IceScenarioTest, TurnQuotaReachedConnectsWithoutRelay) {
  // Both agents share one TURN user with a quota of one allocation: the
  // second Allocate gets 486 (RFC 8656 §7.2) and that agent goes on without.
  MakeTurn(/*user_quota=*/1);
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("turn-486");
  // (Both also report 403s: the server refuses permissions for the other
  // side's private host address, RFC 8656 §21.1.2 defaults.)
  auto got_486 = [](const SimAgent& s) {
    for (const auto& e : s.events) {
      if (e.event.kind == IceEvent::Kind::kTurnError &&
          e.event.reason.find("486") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_NE(got_486(*a), got_486(*b)) << "exactly one side must get 486";
  EXPECT_EQ(turn->counters().error_codes[486 - 300], 1u);
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, UdpBlockedNatConnectsThroughTheRelay) {
  MakeTurn();
  // A's firewall lets UDP reach the TURN server and nothing else.
  const Site sa = Behind(NatType::kBlocksUdp, kNatA, kLanA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("udp-blocked");
  const auto pa = a->agent().selected_pair();
  ASSERT_TRUE(pa.has_value());
  // A can only reach the TURN server's IP: its own relay, or B's (whose
  // port the firewall lets through as well, being on the allowed IP).
  EXPECT_FALSE(Direct(*pa)) << a->PairTypes();
  EXPECT_FALSE(Direct(*b->agent().selected_pair())) << b->PairTypes();
  EXPECT_GT(net.stats().dropped_blocked, 0u);
  const uint64_t relayed = turn->relayed_to_peers() + turn->relayed_from_peers();
  ExpectDataBothWays();
  EXPECT_GE(turn->relayed_to_peers() + turn->relayed_from_peers(), relayed + 20);
}

TEST_F(IceScenarioTest, TrickledCandidatesArrivingAfterChecksStartedConnect) {
  MakeTurn();
  const Site sa = Behind(NatType::kPortPreserving, kNatA, kLanA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  // STUN only: no relay to fall back on.
  IceAgentConfig ca = Config(ice::Role::kControlling), cb = Config(ice::Role::kControlled);
  ca.turn_servers.clear();
  cb.turn_servers.clear();
  MakePair(sa, std::move(ca), sb, std::move(cb));
  // Server-reflexive candidates (the only ones that can work here) come 2 s
  // after the host ones, whose checks are already running and failing.
  sig->late_type = {ice::CandidateType::kServerReflexive, absl::Seconds(2)};
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("trickle-late");
  ASSERT_TRUE(sig->stats_at_late_delivery.has_value());
  EXPECT_GT(sig->stats_at_late_delivery->checks_sent, 0u) << "checks had not started";
  EXPECT_GE(*a->time_to_connected(), absl::Seconds(2));
  EXPECT_TRUE(Direct(*a->agent().selected_pair())) << a->PairTypes();
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, RemoteThatNeverAnswersFailsAfterConnectTimeout) {
  IceAgentConfig c = Config(ice::Role::kControlling);
  c.connect_timeout = absl::Seconds(10);
  a = std::make_unique<SimAgent>(&net, "A", std::move(c));
  a->AddInterface(kPublicRealm, kPublicA);
  a->Start();
  ice::Credentials remote{"abcd", "0123456789012345678901"};
  ASSERT_TRUE(a->agent().SetRemoteCredentials(remote, net.now()).ok());
  ice::Candidate ghost;
  ghost.foundation = "1";
  ghost.transport = "udp";
  ghost.priority = ice::CandidatePriority(126, 65535, 1);
  ghost.address = "192.0.2.99";
  ghost.ip = V4(192, 0, 2, 99, 9);
  ghost.port = 9;
  ASSERT_TRUE(a->agent().AddRemoteCandidate(ghost, net.now()).ok());
  a->agent().SetRemoteEndOfCandidates(net.now());
  a->Flush(net.now());
  const absl::Time checks_from = net.now();
  net.RunUntil([&] { return a->agent().state() == IceState::kFailed; }, absl::Seconds(60));
  Report("never-answers");
  const auto failed = a->StateTime(IceState::kFailed);
  ASSERT_TRUE(failed.has_value()) << ToString(a->agent().state());
  EXPECT_GE(*failed - checks_from, absl::Seconds(10) - absl::Milliseconds(1));
  EXPECT_LE(*failed - checks_from, absl::Seconds(12));
  EXPECT_GT(a->agent().stats().checks_sent, 1u);
  EXPECT_FALSE(a->agent().selected_pair().has_value());
  // Nothing more is sent once failed.
  const uint64_t sent = a->transmits;
  net.RunFor(absl::Seconds(30));
  EXPECT_EQ(a->transmits, sent);
}

TEST_F(IceScenarioTest, MultiHomedAgentConnectsOverTheInterfaceThatWorks) {
  MakeTurn();
  // A's first (preferred) interface is on a LAN whose box drops all UDP;
  // the second is public. Checks from the dead one fail, the other wins.
  NatConfig dead;
  dead.type = NatType::kBlocksUdp;
  dead.public_ip = kNatA;
  const RealmId dead_lan = net.AddNatRealm(dead);
  a = std::make_unique<SimAgent>(&net, "A", Config(ice::Role::kControlling));
  b = std::make_unique<SimAgent>(&net, "B", Config(ice::Role::kControlled));
  a->AddInterface(dead_lan, kLanA);
  a->AddInterface(kPublicRealm, kPublicA);
  const Site sb = Behind(NatType::kPortPreserving, kNatB, kLanB);
  b->AddInterface(sb.realm, sb.host);
  sig = std::make_unique<Signalling>(&net, a.get(), b.get());
  sig->ExchangeCredentials();
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("multi-homed");
  const auto pa = a->agent().selected_pair();
  ASSERT_TRUE(pa.has_value());
  EXPECT_TRUE(Direct(*pa)) << a->PairTypes();
  EXPECT_EQ(pa->local.address, kPublicA) << a->PairTypes();
  EXPECT_GT(net.stats().dropped_blocked, 0u);
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, ConsentKeepsShortNatMappingsAliveForMinutes) {
  MakeTurn();
  // Conntrack forgets an idle UDP mapping after 30 s; RFC 7675 consent
  // checks every 4-6 s must keep both open with no application data.
  NatConfig ca_nat, cb_nat;
  ca_nat.public_ip = kNatA;
  cb_nat.public_ip = kNatB;
  ca_nat.mapping_timeout = cb_nat.mapping_timeout = absl::Seconds(30);
  const Site sa{net.AddNatRealm(ca_nat), kLanA};
  const Site sb{net.AddNatRealm(cb_nat), kLanB};
  MakePair(sa, Config(ice::Role::kControlling), sb, Config(ice::Role::kControlled));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  const auto before = a->agent().selected_pair();
  net.RunFor(absl::Minutes(5));
  Report("consent-5min");
  EXPECT_TRUE(a->up()) << ToString(a->agent().state());
  EXPECT_TRUE(b->up()) << ToString(b->agent().state());
  EXPECT_FALSE(a->StateTime(IceState::kDisconnected).has_value());
  ASSERT_TRUE(before && a->agent().selected_pair());
  EXPECT_EQ(a->agent().selected_pair()->remote.address, before->remote.address);
  ExpectDataBothWays();
}

TEST_F(IceScenarioTest, DualStackPrefersIpv6) {
  const SocketAddress a6 = *SocketAddress::ParseIp("2001:db8::a", 40000);
  const SocketAddress b6 = *SocketAddress::ParseIp("2001:db8::b", 40000);
  a = std::make_unique<SimAgent>(&net, "A", Config(ice::Role::kControlling));
  b = std::make_unique<SimAgent>(&net, "B", Config(ice::Role::kControlled));
  a->AddInterface(kPublicRealm, kPublicA);
  a->AddInterface(kPublicRealm, a6);
  b->AddInterface(kPublicRealm, kPublicB);
  b->AddInterface(kPublicRealm, b6);
  sig = std::make_unique<Signalling>(&net, a.get(), b.get());
  sig->ExchangeCredentials();
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  // Let the IPv4 pairs finish too: the nominated pair is the best valid one.
  net.RunFor(absl::Seconds(2));
  Report("dual-stack");
  // RFC 8421 §4: IPv6 candidates get the higher local preference.
  ASSERT_TRUE(a->agent().selected_pair() && b->agent().selected_pair());
  EXPECT_EQ(a->agent().selected_pair()->remote.address, b6) << a->PairTypes();
  EXPECT_EQ(b->agent().selected_pair()->remote.address, a6) << b->PairTypes();
  EXPECT_EQ(a->PairTypes(), "host/host");
  ExpectDataBothWays();
}

// A "STUN/TURN server" that answers every datagram with garbage: random
// bytes, the request echoed as a success response, a truncated header.
class GarbageServer : public Node {
 public:
  GarbageServer(Network* net, SocketAddress address) : net_(net), address_(address) {
    EXPECT_TRUE(net_->Bind(kPublicRealm, address_, this));
  }
  ~GarbageServer() override { net_->Unbind(kPublicRealm, address_); }
  void OnPacket(const SocketAddress&, const SocketAddress& from, std::span<const uint8_t> bytes,
                absl::Time) override {
    Bytes random(1 + net_->random().Next() % 200);
    for (auto& x : random) x = static_cast<uint8_t>(net_->random().Next());
    net_->Send(kPublicRealm, address_, from, random);
    Bytes echo(bytes.begin(), bytes.end());
    if (echo.size() >= 20) echo[0] = 0x01;  // class bits now say success response
    net_->Send(kPublicRealm, address_, from, echo);
    const size_t cut = std::min<size_t>(bytes.size(), 12);
    net_->Send(kPublicRealm, address_, from, Bytes(bytes.begin(), bytes.begin() + cut));
    ++answered;
  }
  int answered = 0;

 private:
  Network* net_;
  SocketAddress address_;
};

TEST_F(IceScenarioTest, GarbageFromTheStunTurnServerDoesNotStopTheAgents) {
  GarbageServer garbage(&net, kTurn);
  IceAgentConfig ca = Config(ice::Role::kControlling), cb = Config(ice::Role::kControlled);
  for (IceAgentConfig* c : {&ca, &cb}) {
    c->stun_servers = {kTurn};
    c->turn_servers = {IceTurnServer{kTurn, TurnCredentials{"user", "pass"}}};
  }
  MakePair(Public(kPublicA), std::move(ca), Public(kPublicB), std::move(cb));
  StartBoth();
  ASSERT_TRUE(ConnectBoth());
  Report("garbage-server");
  EXPECT_GT(garbage.answered, 0);
  EXPECT_EQ(a->PairTypes(), "host/host");
  ExpectDataBothWays();
  // Gathering ends (the requests time out) and the agents stay up.
  net.RunUntil([&] { return a->HasEvent(IceEvent::Kind::kGatheringComplete) &&
                            b->HasEvent(IceEvent::Kind::kGatheringComplete); },
               absl::Seconds(60));
  EXPECT_TRUE(a->HasEvent(IceEvent::Kind::kGatheringComplete));
  EXPECT_TRUE(b->HasEvent(IceEvent::Kind::kGatheringComplete));
  EXPECT_TRUE(a->up() && b->up());
  EXPECT_GT(a->agent().stats().packets_ignored, 0u);
}

}  // namespace
}  // namespace uturn::client::sim
