// Focused tests of the IceAgent's rules: two agents wired back to back by a
// tiny in-test packet pump with a fake clock, and hand-made STUN messages
// for the error paths. End-to-end scenarios through NATs and a TURN server
// are in the simulated-network tests.
#include "client/ice_agent.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "stun/attributes.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "tests/unit/client/ice_agent_test_util.h"

namespace uturn::client {
namespace {

using ice::Role;
using agent_test::AppDatagram;
using agent_test::Config;
using agent_test::kBaseA;
using agent_test::kBaseB;
using agent_test::kStranger;
using agent_test::Rng;

struct Peer {
  std::unique_ptr<IceAgent> agent;
  stun::SocketAddress base;
  std::vector<IceEvent> events;
  std::vector<std::vector<uint8_t>> data;
  std::vector<IceTransmit> sent;

  bool Saw(IceEvent::Kind k) const {
    for (const IceEvent& e : events) {
      if (e.kind == k) return true;
    }
    return false;
  }
  bool SawState(IceState s, const std::string& reason = "") const {
    for (const IceEvent& e : events) {
      if (e.kind == IceEvent::Kind::kStateChanged && e.state == s &&
          (reason.empty() || e.reason == reason)) {
        return true;
      }
    }
    return false;
  }
};


// Two agents, datagrams delivered at once (same instant) unless dropped.
class Pair {
 public:
  Pair(IceAgentConfig ca, IceAgentConfig cb) {
    a.agent = std::make_unique<IceAgent>(std::move(ca), Rng(1));
    a.base = kBaseA;
    b.agent = std::make_unique<IceAgent>(std::move(cb), Rng(2));
    b.base = kBaseB;
  }

  void Start(bool exchange_credentials = true) {
    ASSERT_TRUE(a.agent->AddLocalInterface(a.base).ok());
    ASSERT_TRUE(b.agent->AddLocalInterface(b.base).ok());
    ASSERT_TRUE(a.agent->StartGathering(now).ok());
    ASSERT_TRUE(b.agent->StartGathering(now).ok());
    if (exchange_credentials) {
      ASSERT_TRUE(a.agent->SetRemoteCredentials(b.agent->local_credentials(), now).ok());
      ASSERT_TRUE(b.agent->SetRemoteCredentials(a.agent->local_credentials(), now).ok());
    }
  }

  // Delivers everything queued, events included, until quiet (bounded).
  void Flush() {
    for (int i = 0; i < 1000; ++i) {
      bool any = false;
      any |= Move(a, b);
      any |= Move(b, a);
      any |= Events(a, b);
      any |= Events(b, a);
      if (!any) return;
    }
    FAIL() << "pump did not settle";
  }

  // Runs the clock until `done` or `limit` has passed.
  bool RunUntil(const std::function<bool()>& done, absl::Duration limit) {
    const absl::Time end = now + limit;
    for (int i = 0; i < 200000; ++i) {
      Flush();
      if (done()) return true;
      absl::Time next = std::min(a.agent->PollTimeout(), b.agent->PollTimeout());
      if (next > end) next = end;
      if (next > now) now = next;
      a.agent->HandleTimeout(now);
      // A driver sleeping until PollTimeout() would spin if it stayed due.
      EXPECT_GT(a.agent->PollTimeout(), now);
      b.agent->HandleTimeout(now);
      EXPECT_GT(b.agent->PollTimeout(), now);
      if (now >= end) {
        Flush();
        return done();
      }
    }
    return false;
  }

  bool Connected() const {
    return a.agent->selected_pair().has_value() && b.agent->selected_pair().has_value();
  }

  Peer a, b;
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  bool signal_candidates_a = true;  // a's candidates reach b
  bool signal_candidates_b = true;
  bool signal_end_of_candidates = true;
  // Return true to drop a datagram.
  std::function<bool(const IceTransmit&)> drop;

 private:
  bool Move(Peer& from, Peer& to) {
    bool any = false;
    while (std::optional<IceTransmit> t = from.agent->PollTransmit()) {
      any = true;
      from.sent.push_back(*t);
      if (drop && drop(*t)) continue;
      if (t->destination != to.base) continue;
      const IceIncoming in = to.agent->HandlePacket(t->destination, t->source, t->bytes, now);
      if (in.kind == IceIncoming::Kind::kData) {
        to.data.emplace_back(in.data.begin(), in.data.end());
      }
    }
    return any;
  }

  bool Events(Peer& from, Peer& to) {
    bool any = false;
    const bool signal = &from == &a ? signal_candidates_a : signal_candidates_b;
    while (std::optional<IceEvent> e = from.agent->PollEvent()) {
      any = true;
      from.events.push_back(*e);
      if (e->kind == IceEvent::Kind::kLocalCandidate && signal) {
        EXPECT_TRUE(to.agent->AddRemoteCandidate(e->candidate.candidate, now).ok());
      } else if (e->kind == IceEvent::Kind::kGatheringComplete && signal_end_of_candidates) {
        to.agent->SetRemoteEndOfCandidates(now);
      } else if (e->kind == IceEvent::Kind::kRestarted) {
        EXPECT_TRUE(to.agent->SetRemoteCredentials(from.agent->local_credentials(), now).ok());
      }
    }
    return any;
  }
};

TEST(IceAgentTest, HostPairConnectsAndCarriesData) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  const IceSelectedPair sa = *p.a.agent->selected_pair();
  const IceSelectedPair sb = *p.b.agent->selected_pair();
  EXPECT_EQ(sa.local.address, kBaseA);
  EXPECT_EQ(sa.remote.address, kBaseB);
  EXPECT_EQ(sb.local.address, kBaseB);
  EXPECT_EQ(sb.remote.address, kBaseA);
  EXPECT_EQ(sa.local.candidate.type, ice::CandidateType::kHost);
  EXPECT_TRUE(sa.nominated);
  EXPECT_TRUE(p.a.Saw(IceEvent::Kind::kSelectedPair));
  EXPECT_TRUE(p.b.SawState(IceState::kConnected));
  // Everything is local: well within a second (a few Ta and RTTs).
  const std::vector<uint8_t> d = AppDatagram(1);
  ASSERT_TRUE(p.a.agent->SendData(d, p.now).ok());
  ASSERT_TRUE(p.b.agent->SendData(d, p.now).ok());
  p.Flush();
  ASSERT_EQ(p.b.data.size(), 1u);
  EXPECT_EQ(p.b.data[0], d);
  ASSERT_EQ(p.a.data.size(), 1u);
  EXPECT_EQ(p.a.agent->stats().data_sent, 1u);
  EXPECT_EQ(p.b.agent->stats().data_received, 1u);
  // Both sides gathered and were told end-of-candidates: completed.
  EXPECT_EQ(p.a.agent->state(), IceState::kCompleted);
  EXPECT_EQ(p.b.agent->state(), IceState::kCompleted);
}

TEST(IceAgentTest, ChecksArePacedByTa) {
  IceAgentConfig ca = Config(Role::kControlling, 10);
  Pair p(ca, Config(Role::kControlled, 20));
  // Three remote candidates that never answer: the checks go out one per Ta.
  p.drop = [](const IceTransmit&) { return true; };
  p.signal_candidates_b = false;
  p.Start();
  for (uint16_t port = 7000; port < 7003; ++port) {
    ice::Candidate c;
    c.foundation = "x" + std::to_string(port);
    c.transport = "udp";
    c.priority = 1000 + port;
    c.ip = stun::SocketAddress::V4({203, 0, 113, 5}, port);
    c.address = "203.0.113.5";
    c.port = port;
    ASSERT_TRUE(p.a.agent->AddRemoteCandidate(c, p.now).ok());
  }
  const absl::Time start = p.now;
  p.RunUntil([&] { return p.a.agent->stats().checks_sent >= 3; }, absl::Seconds(1));
  ASSERT_GE(p.a.sent.size(), 3u);
  EXPECT_GE(p.now - start, absl::Milliseconds(100));  // 3 checks: at least 2 Ta apart
}

TEST(IceAgentTest, RoleConflictBothControllingResolves) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlling, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  // RFC 8445 §7.3.1.1: the larger tie-breaker (b) stays controlling.
  EXPECT_EQ(p.b.agent->role(), Role::kControlling);
  EXPECT_EQ(p.a.agent->role(), Role::kControlled);
  EXPECT_TRUE(p.a.Saw(IceEvent::Kind::kRoleChanged));
  EXPECT_FALSE(p.b.Saw(IceEvent::Kind::kRoleChanged));
  EXPECT_GE(p.a.agent->stats().role_conflicts + p.b.agent->stats().role_conflicts, 1u);
}

TEST(IceAgentTest, RoleConflictBothControlledResolves) {
  Pair p(Config(Role::kControlled, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  EXPECT_EQ(p.b.agent->role(), Role::kControlling);
  EXPECT_EQ(p.a.agent->role(), Role::kControlled);
}

TEST(IceAgentTest, AggressiveNominationConnects) {
  IceAgentConfig ca = Config(Role::kControlling, 10);
  ca.nomination = NominationMode::kAggressive;
  Pair p(ca, Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  // The first check carried USE-CANDIDATE.
  ASSERT_FALSE(p.a.sent.empty());
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(p.a.sent.front().bytes, &m), stun::ParseError::kNone);
  EXPECT_TRUE(stun::HasUseCandidate(m));
}

TEST(IceAgentTest, PeerReflexiveRemoteLearntFromChecks) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.signal_candidates_b = false;  // a never hears of b's candidates
  p.signal_end_of_candidates = false;
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  const IceSelectedPair sa = *p.a.agent->selected_pair();
  // RFC 8445 §7.3.1.3: b's address was learnt from its check.
  EXPECT_EQ(sa.remote.candidate.type, ice::CandidateType::kPeerReflexive);
  EXPECT_EQ(sa.remote.address, kBaseB);
}

TEST(IceAgentTest, CheckBeforeRemoteCredentialsIsAnsweredAndActedOnLater) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start(false);
  // Only a knows b's credentials: b answers a's checks but cannot check.
  ASSERT_TRUE(p.a.agent->SetRemoteCredentials(p.b.agent->local_credentials(), p.now).ok());
  p.RunUntil([&] { return p.b.agent->stats().checks_received >= 1; }, absl::Seconds(2));
  ASSERT_GE(p.b.agent->stats().checks_received, 1u);
  EXPECT_EQ(p.b.agent->stats().checks_sent, 0u);
  // The answer made a's pair valid; now b learns the credentials and its
  // remembered check becomes a triggered check.
  ASSERT_TRUE(p.b.agent->SetRemoteCredentials(p.a.agent->local_credentials(), p.now).ok());
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  EXPECT_GE(p.b.agent->stats().checks_sent, 1u);
}

TEST(IceAgentTest, RemoteThatNeverAnswersTimesOut) {
  IceAgentConfig ca = Config(Role::kControlling, 10);
  ca.connect_timeout = absl::Seconds(10);
  Pair p(ca, Config(Role::kControlled, 20));
  p.drop = [](const IceTransmit& t) { return t.destination == kBaseB; };
  p.signal_end_of_candidates = false;
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.a.agent->state() == IceState::kFailed; },
                         absl::Seconds(20)));
  EXPECT_TRUE(p.a.SawState(IceState::kFailed, "timeout"));
  EXPECT_FALSE(p.a.agent->SendData(AppDatagram(1), p.now).ok());
}

TEST(IceAgentTest, ChecklistFailsOnceEndOfCandidatesAndAllPairsFailed) {
  IceAgentConfig ca = Config(Role::kControlling, 10);
  ca.check_transmissions = 2;
  ca.connect_timeout = absl::Seconds(600);
  Pair p(ca, Config(Role::kControlled, 20));
  p.drop = [](const IceTransmit& t) { return t.destination == kBaseB; };
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.a.agent->state() == IceState::kFailed; },
                         absl::Seconds(30)));
  EXPECT_TRUE(p.a.SawState(IceState::kFailed, "checks"));
}

TEST(IceAgentTest, NoFailureBeforeEndOfCandidates) {
  IceAgentConfig ca = Config(Role::kControlling, 10);
  ca.check_transmissions = 2;
  ca.connect_timeout = absl::Seconds(600);
  Pair p(ca, Config(Role::kControlled, 20));
  p.drop = [](const IceTransmit& t) { return t.destination == kBaseB; };
  p.signal_end_of_candidates = false;
  p.Start();
  p.RunUntil([&] { return p.a.agent->state() == IceState::kFailed; }, absl::Seconds(30));
  // RFC 8838 §8: more candidates may come; the checklist does not fail.
  EXPECT_NE(p.a.agent->state(), IceState::kFailed);
}

TEST(IceAgentTest, ConsentLostAfterThirtySeconds) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  const absl::Time connected = p.now;
  p.drop = [](const IceTransmit&) { return true; };  // the remote went silent
  ASSERT_TRUE(p.RunUntil([&] { return p.a.agent->state() == IceState::kDisconnected; },
                         absl::Seconds(20)));
  EXPECT_TRUE(p.a.SawState(IceState::kDisconnected, "consent"));
  ASSERT_TRUE(
      p.RunUntil([&] { return p.a.agent->state() == IceState::kFailed; }, absl::Seconds(40)));
  EXPECT_TRUE(p.a.SawState(IceState::kFailed, "consent"));
  // RFC 7675 §5.1: 30 s after the last success (the check at connection).
  EXPECT_GE(p.now - connected, absl::Seconds(30));
  EXPECT_LE(p.now - connected, absl::Seconds(31));
  EXPECT_FALSE(p.a.agent->SendData(AppDatagram(1), p.now).ok());
  // Consent requests kept going out while unanswered (about every 5 s).
  EXPECT_GE(p.a.sent.size(), 5u);
}

TEST(IceAgentTest, ConsentRequestsAreRandomisedFourToSixSeconds) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  std::vector<absl::Time> times;
  const size_t before = p.a.sent.size();
  p.drop = [&](const IceTransmit& t) {
    stun::MessageView m;
    if (t.source == kBaseA && stun::MessageView::Parse(t.bytes, &m) == stun::ParseError::kNone &&
        m.message_class() == stun::MessageClass::kRequest) {
      times.push_back(p.now);
    }
    return false;
  };
  p.RunUntil([] { return false; }, absl::Seconds(60));
  ASSERT_GT(p.a.sent.size(), before);
  ASSERT_GE(times.size(), 9u);
  bool differ = false;
  for (size_t i = 1; i < times.size(); ++i) {
    const absl::Duration gap = times[i] - times[i - 1];
    EXPECT_GE(gap, absl::Seconds(4));
    EXPECT_LE(gap, absl::Seconds(6));
    if (i > 1 && gap != times[i - 1] - times[i - 2]) differ = true;
  }
  EXPECT_TRUE(differ);  // randomised, not a fixed period
  EXPECT_EQ(p.a.agent->state(), IceState::kCompleted);
}

TEST(IceAgentTest, DisconnectedComesBackOnConsentSuccess) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  p.drop = [](const IceTransmit&) { return true; };
  ASSERT_TRUE(p.RunUntil([&] { return p.a.agent->state() == IceState::kDisconnected; },
                         absl::Seconds(20)));
  p.drop = nullptr;
  ASSERT_TRUE(p.RunUntil([&] { return p.a.agent->state() == IceState::kCompleted; },
                         absl::Seconds(10)));
}

TEST(IceAgentTest, RestartSelectsANewPairAndKeepsDataFlowing) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  const ice::Credentials old_a = p.a.agent->local_credentials();
  const ice::Credentials old_b = p.b.agent->local_credentials();
  const size_t selections = std::count_if(p.a.events.begin(), p.a.events.end(), [](auto& e) {
    return e.kind == IceEvent::Kind::kSelectedPair;
  });
  // Data still flows right after the restart, before the new pair is chosen.
  ASSERT_TRUE(p.a.agent->Restart(p.now).ok());
  EXPECT_NE(p.a.agent->local_credentials(), old_a);
  ASSERT_TRUE(p.a.agent->SendData(AppDatagram(7), p.now).ok());
  p.Flush();
  EXPECT_TRUE(p.a.Saw(IceEvent::Kind::kRestarted));
  EXPECT_TRUE(p.b.Saw(IceEvent::Kind::kRestarted));  // remote restart: b renewed too
  EXPECT_NE(p.b.agent->local_credentials(), old_b);
  ASSERT_TRUE(p.RunUntil(
      [&] {
        return std::count_if(p.a.events.begin(), p.a.events.end(), [](auto& e) {
                 return e.kind == IceEvent::Kind::kSelectedPair;
               }) > static_cast<long>(selections);
      },
      absl::Seconds(5)));
  ASSERT_TRUE(p.a.agent->SendData(AppDatagram(8), p.now).ok());
  p.Flush();
  ASSERT_GE(p.b.data.size(), 2u);
  EXPECT_EQ(p.b.data.back()[4], 8);
  ASSERT_TRUE(p.RunUntil([&] { return p.b.agent->selected_pair().has_value(); },
                         absl::Seconds(5)));
}

TEST(IceAgentTest, LiteRemoteMakesUsControlling) {
  IceAgent agent(Config(Role::kControlled, 10), Rng(3));
  agent.SetRemoteLite(true);
  EXPECT_EQ(agent.role(), Role::kControlling);  // RFC 8445 §6.1.1
}

TEST(IceAgentTest, CloseEndsTheAgent) {
  Pair p(Config(Role::kControlling, 10), Config(Role::kControlled, 20));
  p.Start();
  ASSERT_TRUE(p.RunUntil([&] { return p.Connected(); }, absl::Seconds(5)));
  p.a.agent->Close(p.now);
  p.Flush();
  EXPECT_EQ(p.a.agent->state(), IceState::kClosed);
  EXPECT_TRUE(p.a.SawState(IceState::kClosed));
  EXPECT_FALSE(p.a.agent->SendData(AppDatagram(1), p.now).ok());
  EXPECT_FALSE(p.a.agent->Restart(p.now).ok());
}

// ---- Signalling input ----

TEST(IceAgentTest, BadRemoteCandidatesAreRefused) {
  IceAgentConfig c = Config(Role::kControlling, 10);
  c.max_remote_candidates = 2;
  IceAgent agent(c, Rng(4));
  const absl::Time now = absl::FromUnixSeconds(1000);
  absl::StatusOr<ice::Candidate> good =
      ice::ParseCandidate("candidate:1 1 udp 2130706431 198.51.100.7 4000 typ host");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(agent.AddRemoteCandidate(*good, now).ok());
  EXPECT_EQ(agent.AddRemoteCandidate(*good, now).code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<ice::Candidate> tcp = ice::ParseCandidate(
      "candidate:2 1 tcp 2130706431 198.51.100.7 4001 typ host tcptype passive");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(agent.AddRemoteCandidate(*tcp, now).code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ice::Candidate> rtcp =
      ice::ParseCandidate("candidate:3 2 udp 2130706431 198.51.100.7 4002 typ host");
  ASSERT_TRUE(rtcp.ok());
  EXPECT_EQ(agent.AddRemoteCandidate(*rtcp, now).code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ice::Candidate> mdns = ice::ParseCandidate(
      "candidate:4 1 udp 2130706431 0f1e2d3c-1111-2222-3333-444455556666.local 4003 typ host");
  ASSERT_TRUE(mdns.ok());
  EXPECT_EQ(agent.AddRemoteCandidate(*mdns, now).code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ice::Candidate> second =
      ice::ParseCandidate("candidate:5 1 udp 2130706431 198.51.100.8 4000 typ host");
  absl::StatusOr<ice::Candidate> third =
      ice::ParseCandidate("candidate:6 1 udp 2130706431 198.51.100.9 4000 typ host");
  EXPECT_TRUE(agent.AddRemoteCandidate(*second, now).ok());
  EXPECT_EQ(agent.AddRemoteCandidate(*third, now).code(), absl::StatusCode::kResourceExhausted);
  agent.SetRemoteEndOfCandidates(now);
  EXPECT_EQ(agent.AddRemoteCandidate(*third, now).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IceAgentTest, BadCredentialsAndLifecycleErrors) {
  IceAgent agent(Config(Role::kControlling, 10), Rng(5));
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(agent.SetRemoteCredentials({"ab", "0123456789012345678901"}, now).ok());
  EXPECT_FALSE(agent.SetRemoteCredentials({"abcd", "short"}, now).ok());
  EXPECT_EQ(agent.StartGathering(now).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(agent.SendData(AppDatagram(1), now).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(agent.AddLocalInterface(kBaseA).ok());
  EXPECT_EQ(agent.AddLocalInterface(kBaseA).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(agent.StartGathering(now).ok());
  EXPECT_EQ(agent.AddLocalInterface(kBaseB).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace uturn::client
