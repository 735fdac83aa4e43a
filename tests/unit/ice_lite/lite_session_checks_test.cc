// Check processing: answers, RFC order of error answers, roles.
#include "ice-lite/lite_session.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lite_session_fixture.h"

namespace uturn::ice {
namespace {

using namespace uturn::ice::testing;  // NOLINT: test helpers
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using Kind = SessionEvent::Kind;
using Outcome = LiteSession::CheckOutcome;

// ---- Answering and response contents ----

TEST_F(LiteSessionTest, ChromeRegularNominationSelectsOnUseCandidate) {
  EXPECT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
  const Response r = Last();
  EXPECT_EQ(r.cls, stun::MessageClass::kSuccessResponse);
  ASSERT_TRUE(r.xor_mapped.has_value());
  EXPECT_EQ(*r.xor_mapped, a_.remote);
  EXPECT_TRUE(r.has_integrity);
  EXPECT_TRUE(r.integrity_ok);  // short-term key = local pwd (RFC 8445 §7.3)
  EXPECT_TRUE(r.fingerprint_ok);
  EXPECT_EQ(r.txid, last_txid_);
  EXPECT_EQ(out_.sent.back().tuple, a_);
  EXPECT_THAT(out_.Kinds(), ElementsAre(Kind::kTupleAdded));
  EXPECT_EQ(s_->state(), SessionState::kNew);
  EXPECT_FALSE(s_->selected().has_value());
  EXPECT_TRUE(s_->HasTuple(a_));

  EXPECT_EQ(Check(a_, Chrome(true)), Outcome::kAnswered);
  EXPECT_THAT(out_.Kinds(), ElementsAre(Kind::kTupleAdded, Kind::kSelectedChanged,
                                        Kind::kConnected));
  EXPECT_EQ(out_.events[1].tuple, a_);
  EXPECT_EQ(out_.events[2].tuple, a_);
  EXPECT_EQ(s_->state(), SessionState::kConnected);
  EXPECT_EQ(s_->selected(), a_);
  // Later nominating checks on the same tuple change nothing.
  EXPECT_EQ(Check(a_, Chrome(true)), Outcome::kAnswered);
  EXPECT_EQ(out_.events.size(), 3u);
}

TEST_F(LiteSessionTest, AnswerIsNotSignedWithAnotherPassword) {
  ASSERT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
  EXPECT_FALSE(Last("someoneelsespasswordxxxx").integrity_ok);
}

TEST_F(LiteSessionTest, GoogNetworkInfoIsIgnored) {
  CheckSpec spec = Chrome(true);
  ASSERT_TRUE(spec.goog_network_info);
  EXPECT_EQ(Check(a_, spec), Outcome::kAnswered);
  EXPECT_EQ(Last().cls, stun::MessageClass::kSuccessResponse);
}

TEST_F(LiteSessionTest, FirefoxAndLibniceAttributeOrdersAreAnswered) {
  EXPECT_EQ(Check(a_, FirefoxCheck(local_, client_)), Outcome::kAnswered);
  EXPECT_EQ(Check(b_, LibniceCheck(local_, client_)), Outcome::kAnswered);
  EXPECT_EQ(Last().cls, stun::MessageClass::kSuccessResponse);
}

// ---- Check order and error answers (RFC 8489 §9.1.3, RFC 8445 §7.3) ----

TEST_F(LiteSessionTest, MissingFingerprintIsDiscarded) {
  CheckSpec spec = Chrome(true);
  spec.fingerprint = false;
  EXPECT_EQ(Check(a_, spec), Outcome::kDiscarded);
  EXPECT_TRUE(out_.sent.empty());
  EXPECT_TRUE(out_.events.empty());
}

TEST_F(LiteSessionTest, BadFingerprintIsDiscarded) {
  CheckSpec spec = Chrome(true);
  spec.corrupt_fingerprint = true;
  EXPECT_EQ(Check(a_, spec), Outcome::kDiscarded);
  EXPECT_TRUE(out_.sent.empty());
  EXPECT_FALSE(s_->HasTuple(a_));
}

TEST_F(LiteSessionTest, FingerprintIsCheckedBeforeUsername) {
  CheckSpec spec = Chrome();
  spec.username.reset();
  spec.corrupt_fingerprint = true;
  EXPECT_EQ(Check(a_, spec), Outcome::kDiscarded);
  EXPECT_TRUE(out_.sent.empty());
}

TEST_F(LiteSessionTest, NonRequestsAreDiscarded) {
  CheckSpec ind = Chrome();
  ind.type = stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kIndication);
  EXPECT_EQ(Check(a_, ind), Outcome::kDiscarded);
  CheckSpec resp = Chrome();
  resp.type = stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kSuccessResponse);
  EXPECT_EQ(Check(a_, resp), Outcome::kDiscarded);
  CheckSpec alloc = Chrome();
  alloc.type = stun::EncodeMessageType(stun::Method::kAllocate, stun::MessageClass::kRequest);
  EXPECT_EQ(Check(a_, alloc), Outcome::kDiscarded);
  EXPECT_TRUE(out_.sent.empty());
}

TEST_F(LiteSessionTest, Rfc3489RequestWithoutCookieIsDiscarded) {
  CheckSpec spec = Chrome();
  spec.cookie = false;
  spec.fingerprint = false;  // FINGERPRINT needs the cookie to parse as STUN
  const Packet p = BuildCheck(spec);
  stun::MessageView v;
  ASSERT_EQ(stun::MessageView::Parse(p.bytes(), &v), stun::ParseError::kNone);
  EXPECT_EQ(s_->OnBindingRequest(a_, v, now_), Outcome::kDiscarded);
  EXPECT_TRUE(out_.sent.empty());
}

TEST_F(LiteSessionTest, MissingUsernameIs400WithoutIntegrity) {
  CheckSpec spec = Chrome();
  spec.username.reset();
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, /*with_integrity=*/false);
  EXPECT_FALSE(s_->HasTuple(a_));
  EXPECT_TRUE(out_.events.empty());
}

TEST_F(LiteSessionTest, MissingIntegrityIs400) {
  CheckSpec spec = Chrome();
  spec.integrity = false;
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, false);
}

TEST_F(LiteSessionTest, MissingIntegrityWinsOverWrongUfrag) {
  CheckSpec spec = Chrome();
  spec.integrity = false;
  spec.username = "nope:clnt";
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, false);
}

TEST_F(LiteSessionTest, WrongLocalUfragIs401WithoutIntegrity) {
  CheckSpec spec = Chrome();
  spec.username = "srvB:clnt";
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(401, false);
  EXPECT_FALSE(s_->HasTuple(a_));
}

TEST_F(LiteSessionTest, UsernameWithoutColonIs401) {
  CheckSpec spec = Chrome();
  spec.username = local_.ufrag;
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(401, false);
}

TEST_F(LiteSessionTest, WrongPasswordIs401) {
  CheckSpec spec = Chrome(true);
  spec.key_pwd = "wrongpasswordwrongpassword";
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(401, false);
  EXPECT_EQ(s_->state(), SessionState::kNew);
}

TEST_F(LiteSessionTest, AuthenticationComesBeforePriority) {
  CheckSpec spec = Chrome();
  spec.key_pwd = "wrongpasswordwrongpassword";
  spec.priority.reset();
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(401, false);
}

TEST_F(LiteSessionTest, RemoteUfragUncheckedUntilKnownThenEnforced) {
  CheckSpec spec = Chrome();
  spec.username = local_.ufrag + ":anything";
  EXPECT_EQ(Check(a_, spec), Outcome::kAnswered);  // RFC 8445 §7.3: answer may lag
  s_->SetRemoteCredentials(Credentials{"clnt", "clntpwdclntpwdclntpwdxx"});
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(401, false);
  EXPECT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
}

TEST_F(LiteSessionTest, MissingPriorityIs400WithIntegrity) {
  CheckSpec spec = Chrome(true);
  spec.priority.reset();
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, /*with_integrity=*/true);  // authenticated: RFC 8489 §9.1.4
  EXPECT_FALSE(s_->HasTuple(a_));
  EXPECT_TRUE(out_.events.empty());
}

TEST_F(LiteSessionTest, MalformedPriorityIs400) {
  CheckSpec spec = Chrome();
  spec.priority.reset();
  spec.extra.push_back({stun::attr::kPriority, {0x01, 0x02}});
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, true);
}

TEST_F(LiteSessionTest, MalformedIceControllingIs400) {
  CheckSpec spec = Chrome();
  spec.controlling.reset();
  spec.extra.push_back({stun::attr::kIceControlling, {1, 2, 3, 4}});
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, true);
}

TEST_F(LiteSessionTest, MalformedNominationIs400) {
  CheckSpec spec = Chrome();
  spec.extra.push_back({stun::attr::kNomination, {1, 2}});
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(400, true);
}

TEST_F(LiteSessionTest, UnknownComprehensionRequiredIs420) {
  CheckSpec spec = Chrome();
  spec.extra.push_back({0x7F01, {0xAA, 0xBB, 0xCC, 0xDD}});
  EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
  ExpectError(420, true);
  EXPECT_THAT(Last().unknown, ElementsAre(0x7F01));
}

TEST_F(LiteSessionTest, UnknownComprehensionOptionalIsIgnored) {
  CheckSpec spec = Chrome();
  spec.extra.push_back({0xFF01, {0xAA}});
  EXPECT_EQ(Check(a_, spec), Outcome::kAnswered);
}

// ---- Roles (RFC 8445 §6.1.1, §7.3.1.1) ----

TEST_F(LiteSessionTest, ControlledLiteAnswers487ToIceControlledWhateverTheTieBreaker) {
  SessionConfig cfg;
  cfg.tie_breaker = 1000;
  Make(cfg);
  for (uint64_t theirs : {uint64_t{1}, uint64_t{1000}, uint64_t{1} << 63}) {
    CheckSpec spec = Chrome(true);
    spec.controlling.reset();
    spec.controlled = theirs;
    EXPECT_EQ(Check(a_, spec), Outcome::kRejected) << theirs;
    ExpectError(487, /*with_integrity=*/true);
  }
  EXPECT_EQ(s_->role(), Role::kControlled);
  EXPECT_FALSE(s_->HasTuple(a_));
  EXPECT_EQ(s_->state(), SessionState::kNew);
}

TEST_F(LiteSessionTest, ControlledLiteAcceptsIceControlling) {
  EXPECT_EQ(Check(a_, Chrome(true)), Outcome::kAnswered);
  EXPECT_EQ(s_->role(), Role::kControlled);
}

TEST_F(LiteSessionTest, LiteLiteControllingKeepsRoleWhenTieBreakerLargerOrEqual) {
  SessionConfig cfg;
  cfg.role = Role::kControlling;
  cfg.tie_breaker = 500;
  Make(cfg);
  for (uint64_t theirs : {uint64_t{499}, uint64_t{500}}) {
    CheckSpec spec = Chrome();
    spec.controlling = theirs;
    EXPECT_EQ(Check(a_, spec), Outcome::kRejected);
    ExpectError(487, true);
    EXPECT_EQ(s_->role(), Role::kControlling);
  }
  EXPECT_FALSE(s_->HasTuple(a_));
}

TEST_F(LiteSessionTest, LiteLiteControllingYieldsToLargerTieBreaker) {
  SessionConfig cfg;
  cfg.role = Role::kControlling;
  cfg.tie_breaker = 500;
  Make(cfg);
  CheckSpec spec = Chrome(true);
  spec.controlling = 501;
  EXPECT_EQ(Check(a_, spec), Outcome::kAnswered);
  EXPECT_EQ(s_->role(), Role::kControlled);
  // Now controlled: the USE-CANDIDATE of that same check nominated.
  EXPECT_EQ(s_->selected(), a_);
}

TEST_F(LiteSessionTest, ControllingLiteSelectsHighestPriorityTupleWithoutNomination) {
  SessionConfig cfg;
  cfg.role = Role::kControlling;
  Make(cfg);
  CheckSpec spec = Chrome();
  spec.controlling.reset();
  spec.controlled = 7;  // peer agrees it is controlled: no conflict
  spec.priority = 100;
  EXPECT_EQ(Check(a_, spec), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  spec.priority = 50;
  EXPECT_EQ(Check(b_, spec), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  spec.priority = 200;
  EXPECT_EQ(Check(c_, spec), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), c_);
  EXPECT_EQ(s_->role(), Role::kControlling);
}

}  // namespace
}  // namespace uturn::ice
