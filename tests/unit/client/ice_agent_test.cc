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

namespace uturn::client {
namespace {

using ice::Role;

RandomSource Rng(uint64_t seed) {
  auto state = std::make_shared<uint64_t>(seed);
  return [state](std::span<uint8_t> out) {
    for (uint8_t& b : out) {
      *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
      b = static_cast<uint8_t>(*state >> 56);
    }
  };
}

const stun::SocketAddress kBaseA = stun::SocketAddress::V4({192, 0, 2, 1}, 5000);
const stun::SocketAddress kBaseB = stun::SocketAddress::V4({198, 51, 100, 1}, 6000);
const stun::SocketAddress kStranger = stun::SocketAddress::V4({203, 0, 113, 9}, 7000);

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

IceAgentConfig Config(Role role, uint64_t tie_breaker) {
  IceAgentConfig c;
  c.role = role;
  c.tie_breaker = tie_breaker;
  return c;
}

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

std::vector<uint8_t> AppDatagram(uint8_t seq) {
  std::vector<uint8_t> d(100, 0x55);
  d[0] = 0x80;  // RFC 7983: RTP range
  d[4] = seq;
  return d;
}

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

// ---- Check processing with hand-made messages ----

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = std::make_unique<IceAgent>(Config(Role::kControlled, 10), Rng(6));
    ASSERT_TRUE(agent_->AddLocalInterface(kBaseA).ok());
    ASSERT_TRUE(agent_->StartGathering(now_).ok());
    ASSERT_TRUE(agent_->SetRemoteCredentials(remote_, now_).ok());
    while (agent_->PollTransmit()) {
    }
  }

  struct Options {
    bool username = true;
    std::string user;  // default "local:remote"
    bool integrity = true;
    std::string pwd;   // default the agent's local pwd
    bool priority = true;
    bool fingerprint = true;
    std::optional<uint64_t> controlling = 1;
    std::optional<uint64_t> controlled;
    bool use_candidate = false;
    std::optional<uint16_t> extra;  // an attribute of this type
  };

  std::vector<uint8_t> Request(const Options& o) {
    stun::TransactionId id{};
    id[0] = ++counter_;
    std::vector<uint8_t> buf(512);
    stun::MessageBuilder b(buf,
                           stun::EncodeMessageType(stun::Method::kBinding,
                                                   stun::MessageClass::kRequest),
                           id);
    const ice::Credentials& local = agent_->local_credentials();
    if (o.username) {
      b.AddString(stun::attr::kUsername,
                  o.user.empty() ? local.ufrag + ":" + remote_.ufrag : o.user);
    }
    if (o.priority) b.AddU32(stun::attr::kPriority, 1853824767);
    if (o.controlling) b.AddU64(stun::attr::kIceControlling, *o.controlling);
    if (o.controlled) b.AddU64(stun::attr::kIceControlled, *o.controlled);
    if (o.use_candidate) b.AddFlag(stun::attr::kUseCandidate);
    if (o.extra) b.AddU32(*o.extra, 0);
    if (o.integrity) {
      b.AddMessageIntegrity(stun::KeyBytes(o.pwd.empty() ? local.pwd : o.pwd));
    }
    if (o.fingerprint) b.AddFingerprint();
    EXPECT_TRUE(b.ok());
    const std::span<const uint8_t> bytes = b.bytes();
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }

  // The agent's answer to `request` from `from`: 0 for success, the error
  // code, or -1 for no answer.
  int Answer(const std::vector<uint8_t>& request, const stun::SocketAddress& from = kStranger) {
    agent_->HandlePacket(kBaseA, from, request, now_);
    for (int i = 0; i < 100; ++i) {
      std::optional<IceTransmit> t = agent_->PollTransmit();
      if (!t) return -1;
      stun::MessageView m;
      if (stun::MessageView::Parse(t->bytes, &m) != stun::ParseError::kNone) continue;
      if (m.message_class() == stun::MessageClass::kRequest) continue;  // a triggered check
      last_answer_ = t->bytes;
      EXPECT_EQ(t->destination, from);
      EXPECT_EQ(t->source, kBaseA);
      if (m.message_class() == stun::MessageClass::kSuccessResponse) {
        const stun::AttrResult<stun::SocketAddress> mapped = stun::GetXorMappedAddress(m);
        EXPECT_TRUE(mapped.ok());
        EXPECT_EQ(mapped.value, from);
        EXPECT_EQ(stun::VerifyMessageIntegrity(m, stun::KeyBytes(agent_->local_credentials().pwd)),
                  stun::IntegrityCheck::kOk);
        return 0;
      }
      return stun::GetErrorCode(m).value.code;
    }
    return -1;
  }

  std::unique_ptr<IceAgent> agent_;
  absl::Time now_ = absl::FromUnixSeconds(5000);
  ice::Credentials remote_{"rmte", "remotepasswordremotepass"};
  uint8_t counter_ = 0;
  std::vector<uint8_t> last_answer_;
};

TEST_F(CheckTest, ValidCheckGetsSuccessAndLearnsPeerReflexive) {
  EXPECT_EQ(Answer(Request({})), 0);
  EXPECT_EQ(agent_->stats().checks_received, 1u);
  EXPECT_EQ(agent_->stats().pairs, 1u);  // a pair with the prflx remote
  // RFC 8445 §7.3.1.4: a triggered check goes back to the source.
  agent_->HandleTimeout(now_ + absl::Milliseconds(100));
  bool checked_back = false;
  while (std::optional<IceTransmit> t = agent_->PollTransmit()) {
    stun::MessageView m;
    if (stun::MessageView::Parse(t->bytes, &m) == stun::ParseError::kNone &&
        m.message_class() == stun::MessageClass::kRequest && t->destination == kStranger) {
      checked_back = true;
      EXPECT_EQ(stun::GetUsername(m).value, remote_.ufrag + ":" + agent_->local_credentials().ufrag);
      EXPECT_TRUE(stun::GetIceControlled(m).ok());
      EXPECT_EQ(stun::VerifyMessageIntegrity(m, stun::KeyBytes(remote_.pwd)),
                stun::IntegrityCheck::kOk);
    }
  }
  EXPECT_TRUE(checked_back);
}

TEST_F(CheckTest, DataAcceptedFromARemoteWhoseCheckAuthenticated) {
  const std::vector<uint8_t> rtp = AppDatagram(3);
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kStranger, rtp, now_).kind, IceIncoming::Kind::kIgnored);
  EXPECT_EQ(Answer(Request({})), 0);
  // Our own check on the pair has not come back, but the remote's did
  // authenticate: its data is taken (the controlling side sends first).
  const IceIncoming in = agent_->HandlePacket(kBaseA, kStranger, rtp, now_);
  EXPECT_EQ(in.kind, IceIncoming::Kind::kData);
  EXPECT_EQ(std::vector<uint8_t>(in.data.begin(), in.data.end()), rtp);
  // The same bytes from elsewhere are not.
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kBaseB, rtp, now_).kind, IceIncoming::Kind::kIgnored);
}

TEST(IceAgentRelayOnlyTest, HostSocketDoesNotAnswerChecks) {
  IceAgentConfig c = Config(Role::kControlled, 10);
  c.relay_only = true;
  IceAgent agent(c, Rng(8));
  const absl::Time now = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(agent.AddLocalInterface(kBaseA).ok());
  ASSERT_TRUE(agent.StartGathering(now).ok());
  EXPECT_TRUE(agent.local_candidates().empty());  // no host candidate
  stun::TransactionId id{};
  std::vector<uint8_t> buf(256);
  stun::MessageBuilder b(
      buf, stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kRequest), id);
  b.AddString(stun::attr::kUsername, agent.local_credentials().ufrag + ":rmte")
      .AddU32(stun::attr::kPriority, 1)
      .AddU64(stun::attr::kIceControlling, 1)
      .AddMessageIntegrity(stun::KeyBytes(agent.local_credentials().pwd))
      .AddFingerprint();
  ASSERT_TRUE(b.ok());
  const std::vector<uint8_t> req(b.bytes().begin(), b.bytes().end());
  EXPECT_EQ(agent.HandlePacket(kBaseA, kStranger, req, now).kind, IceIncoming::Kind::kIgnored);
  EXPECT_FALSE(agent.PollTransmit());
}

TEST_F(CheckTest, MissingUsernameOrIntegrityIs400) {
  Options o;
  o.username = false;
  EXPECT_EQ(Answer(Request(o)), 400);
  o = {};
  o.integrity = false;
  EXPECT_EQ(Answer(Request(o)), 400);
  EXPECT_EQ(agent_->stats().checks_rejected, 2u);
}

TEST_F(CheckTest, WrongCredentialsAre401) {
  Options o;
  o.pwd = "wrongpasswordwrongpassw";
  EXPECT_EQ(Answer(Request(o)), 401);
  o = {};
  o.user = "nobody:" + remote_.ufrag;
  EXPECT_EQ(Answer(Request(o)), 401);
  o = {};
  o.user = agent_->local_credentials().ufrag + ":other";  // remote part checked once known
  EXPECT_EQ(Answer(Request(o)), 401);
  o = {};
  o.user = agent_->local_credentials().ufrag;  // no colon
  EXPECT_EQ(Answer(Request(o)), 401);
  EXPECT_EQ(agent_->stats().checks_received, 0u);
}

TEST_F(CheckTest, MissingPriorityIs400) {
  Options o;
  o.priority = false;
  EXPECT_EQ(Answer(Request(o)), 400);
}

TEST_F(CheckTest, UnknownComprehensionRequiredIs420) {
  Options o;
  o.extra = 0x0042;
  EXPECT_EQ(Answer(Request(o)), 420);
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(last_answer_, &m), stun::ParseError::kNone);
  std::vector<uint16_t> listed;
  stun::ForEachUnknownAttribute(m, [&](uint16_t t) { listed.push_back(t); });
  EXPECT_EQ(listed, std::vector<uint16_t>{0x0042});
  o.extra = 0xC0DE;  // comprehension-optional: ignored
  EXPECT_EQ(Answer(Request(o)), 0);
}

TEST_F(CheckTest, NoFingerprintIsDiscarded) {
  Options o;
  o.fingerprint = false;
  EXPECT_EQ(Answer(Request(o)), -1);
  EXPECT_EQ(agent_->stats().packets_ignored, 1u);
}

TEST_F(CheckTest, RoleConflictAnswers487OrSwitches) {
  // We are controlled with tie-breaker 10. A controlled remote with a
  // larger tie-breaker: 487 (RFC 8445 §7.3.1.1).
  Options o;
  o.controlling.reset();
  o.controlled = 1000;
  EXPECT_EQ(Answer(Request(o)), 487);
  EXPECT_EQ(agent_->role(), Role::kControlled);
  // A smaller one: we switch to controlling and answer.
  o.controlled = 5;
  EXPECT_EQ(Answer(Request(o)), 0);
  EXPECT_EQ(agent_->role(), Role::kControlling);
  bool role_event = false;
  while (std::optional<IceEvent> e = agent_->PollEvent()) {
    if (e->kind == IceEvent::Kind::kRoleChanged && e->role == Role::kControlling) role_event = true;
  }
  EXPECT_TRUE(role_event);
  // Now controlling (10): a controlling remote with 1000 wins, we switch back.
  o = {};
  o.controlling = 1000;
  EXPECT_EQ(Answer(Request(o)), 0);
  EXPECT_EQ(agent_->role(), Role::kControlled);
}

TEST_F(CheckTest, RoleSwitchesAreBounded) {
  // A hostile remote flipping its role forever: after max_role_switches we
  // keep our role and answer 487.
  int switches = 0;
  for (int i = 0; i < 20; ++i) {
    Options o;
    if (agent_->role() == Role::kControlled) {
      o.controlling.reset();
      o.controlled = 1;  // smaller: we would switch to controlling
    } else {
      o.controlling = ~uint64_t{0};  // larger: we would switch to controlled
    }
    const Role before = agent_->role();
    Answer(Request(o));
    if (agent_->role() != before) ++switches;
  }
  EXPECT_EQ(switches, IceAgentConfig{}.max_role_switches);
}

TEST_F(CheckTest, GarbageIsIgnored) {
  const std::vector<std::vector<uint8_t>> inputs = {
      {}, {0x00}, {0x00, 0x01, 0x00, 0x00}, std::vector<uint8_t>(20, 0), {0x40, 0x00, 0x00, 0x04},
      {0x80, 1, 2, 3},  // RTP from an address no pair validated
      {0xFF, 0xFF},
  };
  for (const std::vector<uint8_t>& in : inputs) {
    const IceIncoming r = agent_->HandlePacket(kBaseA, kStranger, in, now_);
    EXPECT_EQ(r.kind, IceIncoming::Kind::kIgnored);
  }
  EXPECT_EQ(agent_->stats().packets_ignored, inputs.size());
  EXPECT_FALSE(agent_->PollTransmit());
}

// ---- Responses ----

// One agent checking a scripted remote at kBaseB.
class ResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IceAgentConfig c = Config(Role::kControlling, 10);
    c.max_role_switches = 3;
    c.check_transmissions = 2;
    agent_ = std::make_unique<IceAgent>(c, Rng(7));
    ASSERT_TRUE(agent_->AddLocalInterface(kBaseA).ok());
    ASSERT_TRUE(agent_->StartGathering(now_).ok());
    ASSERT_TRUE(agent_->SetRemoteCredentials(remote_, now_).ok());
    absl::StatusOr<ice::Candidate> c1 =
        ice::ParseCandidate("candidate:1 1 udp 2130706431 198.51.100.1 6000 typ host");
    ASSERT_TRUE(c1.ok());
    ASSERT_TRUE(agent_->AddRemoteCandidate(*c1, now_).ok());
  }

  // Runs timers until the agent sends a check; returns it.
  std::optional<IceTransmit> NextCheck() {
    for (int i = 0; i < 1000; ++i) {
      while (std::optional<IceTransmit> t = agent_->PollTransmit()) {
        stun::MessageView m;
        if (stun::MessageView::Parse(t->bytes, &m) == stun::ParseError::kNone &&
            m.message_class() == stun::MessageClass::kRequest) {
          return t;
        }
      }
      const absl::Time next = agent_->PollTimeout();
      if (next == absl::InfiniteFuture()) return std::nullopt;
      now_ = std::max(now_, next);
      agent_->HandleTimeout(now_);
    }
    return std::nullopt;
  }

  std::vector<uint8_t> Response(const IceTransmit& check, int error_code, bool good_mi = true) {
    stun::MessageView req;
    EXPECT_EQ(stun::MessageView::Parse(check.bytes, &req), stun::ParseError::kNone);
    std::vector<uint8_t> buf(512);
    stun::MessageBuilder b = stun::MessageBuilder::ResponseTo(
        req,
        error_code == 0 ? stun::MessageClass::kSuccessResponse
                        : stun::MessageClass::kErrorResponse,
        buf);
    if (error_code == 0) {
      b.AddXorAddress(stun::attr::kXorMappedAddress, check.source);
    } else {
      b.AddErrorCode(error_code);
    }
    b.AddMessageIntegrity(stun::KeyBytes(good_mi ? remote_.pwd : "notthepasswordnottheps"));
    b.AddFingerprint();
    const std::span<const uint8_t> bytes = b.bytes();
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }

  std::unique_ptr<IceAgent> agent_;
  absl::Time now_ = absl::FromUnixSeconds(9000);
  ice::Credentials remote_{"rmte", "remotepasswordremotepass"};
};

TEST_F(ResponseTest, SuccessMakesTheNominationAndSelects) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 0), now_).kind,
            IceIncoming::Kind::kHandled);
  EXPECT_EQ(agent_->stats().valid_pairs, 1u);
  // Regular nomination: a second check with USE-CANDIDATE.
  std::optional<IceTransmit> nomination = NextCheck();
  ASSERT_TRUE(nomination);
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(nomination->bytes, &m), stun::ParseError::kNone);
  EXPECT_TRUE(stun::HasUseCandidate(m));
  EXPECT_FALSE(agent_->selected_pair());
  agent_->HandlePacket(kBaseA, kBaseB, Response(*nomination, 0), now_);
  ASSERT_TRUE(agent_->selected_pair());
  EXPECT_EQ(agent_->state(), IceState::kConnected);
}

// A higher-priority pair in progress is waited for, but only for the
// patience the proven path's round trip sets (MaybeNominate): four RTTs,
// at least two Ta, at most nomination_wait. `rtt` delays the answer that
// makes the lower pair valid; the nomination time from the higher pair's
// first check is returned (InfiniteDuration if none came).
class NominationPatienceTest : public ResponseTest {
 protected:
  absl::Duration NominationDelay(absl::Duration rtt) {
    absl::StatusOr<ice::Candidate> better =
        ice::ParseCandidate("candidate:2 1 udp 2130706432 198.51.100.2 6000 typ host");
    EXPECT_TRUE(better.ok());
    EXPECT_TRUE(agent_->AddRemoteCandidate(*better, now_).ok());
    std::optional<IceTransmit> first = NextCheck();  // the better pair; never answered
    EXPECT_TRUE(first);
    if (!first) return absl::InfiniteDuration();
    EXPECT_NE(first->destination, kBaseB);  // the higher-priority pair goes first
    const absl::Time first_at = now_;
    std::optional<IceTransmit> second = NextCheck();
    EXPECT_TRUE(second && second->destination == kBaseB);
    if (!second) return absl::InfiniteDuration();
    now_ += rtt;
    agent_->HandlePacket(kBaseA, kBaseB, Response(*second, 0), now_);
    for (int i = 0; i < 20; ++i) {
      std::optional<IceTransmit> t = NextCheck();
      if (!t) break;
      stun::MessageView m;
      EXPECT_EQ(stun::MessageView::Parse(t->bytes, &m), stun::ParseError::kNone);
      if (!stun::HasUseCandidate(m)) {
        EXPECT_NE(t->destination, kBaseB);  // only the better pair's retransmissions
        continue;
      }
      EXPECT_EQ(t->destination, kBaseB);
      EXPECT_FALSE(agent_->selected_pair());
      return now_ - first_at;
    }
    return absl::InfiniteDuration();
  }
};

TEST_F(NominationPatienceTest, FastPathWaitsTwoTaForTheBetterPair) {
  const absl::Duration d = NominationDelay(absl::ZeroDuration());
  const IceAgentConfig c;
  EXPECT_GE(d, 2 * c.ta);
  EXPECT_LT(d, 2 * c.ta + absl::Milliseconds(60));
}

TEST_F(NominationPatienceTest, ModerateRttWaitsFourRoundTrips) {
  const absl::Duration d = NominationDelay(absl::Milliseconds(80));
  EXPECT_GE(d, absl::Milliseconds(320));
  EXPECT_LT(d, absl::Milliseconds(380));
}

TEST_F(NominationPatienceTest, SlowPathWaitsTheWholeNominationWait) {
  const absl::Duration d = NominationDelay(absl::Milliseconds(200));
  const IceAgentConfig c;
  EXPECT_GE(d, c.nomination_wait);  // 4 x 200 ms is capped at nomination_wait
  EXPECT_LT(d, c.nomination_wait + absl::Milliseconds(60));
}

TEST_F(ResponseTest, NominationSurvivesATriggeredCheckReplacingIt) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 0), now_);
  std::optional<IceTransmit> nomination = NextCheck();
  ASSERT_TRUE(nomination);
  // Its answer is lost; the remote's own check on the pair arrives and
  // (RFC 8445 §7.3.1.4) cancels it for a triggered check.
  stun::TransactionId id{};
  id[0] = 0x77;
  std::vector<uint8_t> buf(256);
  stun::MessageBuilder b(
      buf, stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kRequest), id);
  b.AddString(stun::attr::kUsername, agent_->local_credentials().ufrag + ":" + remote_.ufrag)
      .AddU32(stun::attr::kPriority, 1)
      .AddU64(stun::attr::kIceControlled, 1)
      .AddMessageIntegrity(stun::KeyBytes(agent_->local_credentials().pwd))
      .AddFingerprint();
  ASSERT_TRUE(b.ok());
  const std::vector<uint8_t> req(b.bytes().begin(), b.bytes().end());
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kBaseB, req, now_).kind, IceIncoming::Kind::kHandled);
  // The triggered check carries the nomination on.
  std::optional<IceTransmit> triggered = NextCheck();
  ASSERT_TRUE(triggered);
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(triggered->bytes, &m), stun::ParseError::kNone);
  EXPECT_TRUE(stun::HasUseCandidate(m));
  EXPECT_NE(triggered->bytes, nomination->bytes);  // a new transaction
  agent_->HandlePacket(kBaseA, kBaseB, Response(*triggered, 0), now_);
  EXPECT_TRUE(agent_->selected_pair());
}

TEST_F(ResponseTest, ResponseWithBadIntegrityIsDiscarded) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 0, false), now_).kind,
            IceIncoming::Kind::kIgnored);
  EXPECT_EQ(agent_->stats().valid_pairs, 0u);
  // The real answer still counts (the transaction was kept).
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 0), now_).kind,
            IceIncoming::Kind::kHandled);
  EXPECT_EQ(agent_->stats().valid_pairs, 1u);
}

TEST_F(ResponseTest, NonSymmetricResponseFailsTheCheck) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  // RFC 8445 §7.2.5.2.1: from another address than the request went to.
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kStranger, Response(*check, 0), now_).kind,
            IceIncoming::Kind::kHandled);
  EXPECT_EQ(agent_->stats().valid_pairs, 0u);
  EXPECT_EQ(agent_->stats().responses_received, 1u);
  agent_->SetRemoteEndOfCandidates(now_);
  agent_->HandleTimeout(now_);
  EXPECT_EQ(agent_->state(), IceState::kFailed);  // the only pair failed
}

TEST_F(ResponseTest, ErrorResponseFailsTheCheck) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 401), now_);
  agent_->SetRemoteEndOfCandidates(now_);
  EXPECT_EQ(agent_->state(), IceState::kFailed);
}

TEST_F(ResponseTest, RoleConflictResponseSwitchesAndRetries) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 487), now_);
  EXPECT_EQ(agent_->role(), Role::kControlled);  // RFC 8445 §7.2.5.1
  std::optional<IceTransmit> retry = NextCheck();
  ASSERT_TRUE(retry);
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(retry->bytes, &m), stun::ParseError::kNone);
  EXPECT_TRUE(stun::GetIceControlled(m).ok());
}

TEST_F(ResponseTest, RoleConflictStormIsBounded) {
  int checks = 0;
  for (int i = 0; i < 50; ++i) {
    std::optional<IceTransmit> check = NextCheck();
    if (!check) break;
    ++checks;
    agent_->HandlePacket(kBaseA, kBaseB, Response(*check, 487), now_);
  }
  // max_role_switches (3) switches, then the pair fails; no endless retry.
  EXPECT_EQ(agent_->stats().role_conflicts, 3u);
  EXPECT_LE(checks, 5);
  agent_->SetRemoteEndOfCandidates(now_);
  EXPECT_EQ(agent_->state(), IceState::kFailed);
}

TEST_F(ResponseTest, UnknownTransactionIsIgnored) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  std::vector<uint8_t> response = Response(*check, 0);
  agent_->HandlePacket(kBaseA, kBaseB, response, now_);
  // The same answer again matches nothing any more.
  EXPECT_EQ(agent_->HandlePacket(kBaseA, kBaseB, response, now_).kind,
            IceIncoming::Kind::kIgnored);
}

TEST_F(ResponseTest, CheckRetransmitsThenFails) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  std::optional<IceTransmit> again = NextCheck();  // the retransmission
  ASSERT_TRUE(again);
  EXPECT_EQ(again->bytes, check->bytes);  // RFC 8489 §6.2.1: the same request
  agent_->SetRemoteEndOfCandidates(now_);
  for (int i = 0; i < 100 && agent_->state() != IceState::kFailed; ++i) {
    now_ = std::max(now_, agent_->PollTimeout());
    agent_->HandleTimeout(now_);
  }
  EXPECT_EQ(agent_->state(), IceState::kFailed);
  EXPECT_EQ(agent_->stats().checks_sent, 2u);  // check_transmissions = 2
}

TEST_F(ResponseTest, PeerReflexiveLocalFromMappedAddress) {
  std::optional<IceTransmit> check = NextCheck();
  ASSERT_TRUE(check);
  IceTransmit natted = *check;
  natted.source = stun::SocketAddress::V4({203, 0, 113, 50}, 40000);  // what a NAT shows
  agent_->HandlePacket(kBaseA, kBaseB, Response(natted, 0), now_);
  std::optional<IceTransmit> nomination = NextCheck();
  ASSERT_TRUE(nomination);
  nomination->source = natted.source;
  agent_->HandlePacket(kBaseA, kBaseB, Response(*nomination, 0), now_);
  ASSERT_TRUE(agent_->selected_pair());
  // RFC 8445 §7.2.5.3.1: the valid pair's local is peer-reflexive, not signalled.
  EXPECT_EQ(agent_->selected_pair()->local.candidate.type, ice::CandidateType::kPeerReflexive);
  EXPECT_EQ(agent_->selected_pair()->local.address, natted.source);
  for (const IceCandidateInfo& c : agent_->local_candidates()) {
    EXPECT_NE(c.candidate.type, ice::CandidateType::kPeerReflexive);
  }
}

}  // namespace
}  // namespace uturn::client
