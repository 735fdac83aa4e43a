// The IceAgent's handling of single hand-made STUN messages: checks it
// answers (400/401/420/487, FINGERPRINT, peer-reflexive candidates) and
// responses to its own checks (integrity, symmetry, errors, role conflicts,
// retransmission, nomination).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/ice_agent.h"
#include "stun/attributes.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "tests/unit/client/ice_agent_test_util.h"

namespace uturn::client {
namespace {

using namespace uturn::client::agent_test;  // NOLINT(build/namespaces)

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

TEST_F(ResponseTest, RegularNominationWaitsForBetterPairs) {
  // A second, higher-priority remote candidate that never answers.
  absl::StatusOr<ice::Candidate> better =
      ice::ParseCandidate("candidate:2 1 udp 2130706432 198.51.100.2 6000 typ host");
  ASSERT_TRUE(better.ok());
  ASSERT_TRUE(agent_->AddRemoteCandidate(*better, now_).ok());
  std::optional<IceTransmit> first = NextCheck();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->destination.port, 6000);
  EXPECT_NE(first->destination, kBaseB);  // the higher-priority pair goes first
  std::optional<IceTransmit> second = NextCheck();
  ASSERT_TRUE(second);
  ASSERT_EQ(second->destination, kBaseB);
  agent_->HandlePacket(kBaseA, kBaseB, Response(*second, 0), now_);
  const absl::Time valid_at = now_;
  // The better pair is still in progress: no nomination until nomination_wait.
  for (int i = 0; i < 20; ++i) {
    std::optional<IceTransmit> t = NextCheck();
    ASSERT_TRUE(t);
    stun::MessageView m;
    ASSERT_EQ(stun::MessageView::Parse(t->bytes, &m), stun::ParseError::kNone);
    if (!stun::HasUseCandidate(m)) {
      EXPECT_NE(t->destination, kBaseB);  // only the better pair's retransmissions
      continue;
    }
    EXPECT_EQ(t->destination, kBaseB);
    EXPECT_GE(now_ - valid_at, IceAgentConfig{}.nomination_wait);
    EXPECT_LT(now_ - valid_at, IceAgentConfig{}.nomination_wait + absl::Milliseconds(100));
    return;
  }
  FAIL() << "no nomination";
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
