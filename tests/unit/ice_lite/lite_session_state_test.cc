// Nomination, tuples, consent freshness, ICE restart, Close.
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

// ---- Nomination ----

TEST_F(LiteSessionTest, RegularNominatorMovingToLowerPriorityPairIsFollowed) {
  CheckSpec hi = Chrome();
  hi.priority = 2000;
  CheckSpec lo = Chrome();
  lo.priority = 1000;
  ASSERT_EQ(Check(a_, hi), Outcome::kAnswered);
  ASSERT_EQ(Check(b_, lo), Outcome::kAnswered);
  hi.use_candidate = true;
  ASSERT_EQ(Check(a_, hi), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  lo.use_candidate = true;  // Chrome switched networks and nominates again
  ASSERT_EQ(Check(b_, lo), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
  EXPECT_EQ(out_.Count(Kind::kSelectedChanged), 2u);
  EXPECT_EQ(out_.Count(Kind::kConnected), 1u);
}

TEST_F(LiteSessionTest, ChromeRenominationFollowsIncreasingValues) {
  ASSERT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
  ASSERT_EQ(Check(b_, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(Check(a_, Chrome(false, 1)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  EXPECT_EQ(Check(b_, Chrome(false, 2)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
  EXPECT_EQ(Check(a_, Chrome(false, 1)), Outcome::kAnswered);  // stale, reordered
  EXPECT_EQ(s_->selected(), b_);
  EXPECT_EQ(Check(a_, Chrome(false, 2)), Outcome::kAnswered);  // not higher
  EXPECT_EQ(s_->selected(), b_);
  EXPECT_EQ(Check(a_, Chrome(false, 3)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  EXPECT_EQ(out_.Count(Kind::kSelectedChanged), 3u);
  EXPECT_EQ(out_.Count(Kind::kConnected), 1u);
  EXPECT_EQ(out_.Count(Kind::kTupleAdded), 2u);
}

TEST_F(LiteSessionTest, NominationValueGovernsOverUseCandidate) {
  ASSERT_EQ(Check(a_, Chrome(false, 5)), Outcome::kAnswered);
  CheckSpec spec = Chrome(true, 4);  // USE-CANDIDATE with a stale value
  ASSERT_EQ(Check(b_, spec), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
}

TEST_F(LiteSessionTest, AggressiveNominatorHighestPriorityNominatedPairWins) {
  // Firefox: USE-CANDIDATE on every check, from the first one.
  ASSERT_EQ(Check(a_, FirefoxCheck(local_, client_, 1000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  ASSERT_EQ(Check(b_, FirefoxCheck(local_, client_, 3000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
  now_ += absl::Milliseconds(50);
  ASSERT_EQ(Check(a_, FirefoxCheck(local_, client_, 1000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);  // no flapping back to the lower pair
  ASSERT_EQ(Check(c_, FirefoxCheck(local_, client_, 2000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
  EXPECT_EQ(out_.Count(Kind::kSelectedChanged), 2u);
  EXPECT_EQ(out_.Count(Kind::kConnected), 1u);
}

TEST_F(LiteSessionTest, AggressiveNominatorMovesWhenSelectedGoesQuiet) {
  ASSERT_EQ(Check(b_, FirefoxCheck(local_, client_, 3000)), Outcome::kAnswered);
  ASSERT_EQ(Check(a_, FirefoxCheck(local_, client_, 1000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
  now_ += absl::Seconds(4);  // under disconnected_after (5 s)
  ASSERT_EQ(Check(a_, FirefoxCheck(local_, client_, 1000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
  now_ += absl::Seconds(1);  // b_ quiet for 5 s
  ASSERT_EQ(Check(a_, FirefoxCheck(local_, client_, 1000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
}

TEST_F(LiteSessionTest, LibniceFromSeveralLocalCandidatesV4AndV6) {
  // libnice checks from host v4, host v6 and a server-reflexive address,
  // nominating aggressively; priorities as RFC 8445 §5.1.2 would give.
  const Tuple host4 = UdpTuple(V4(10, 40000));
  const Tuple host6 = UdpTuple(V6(10, 40002), ServerV6());
  const Tuple srflx = UdpTuple(stun::SocketAddress::V4({203, 0, 113, 9}, 61000));
  const uint32_t prio_host6 = (110u << 24) | (65535u << 8) | 255;
  const uint32_t prio_host4 = (110u << 24) | (65534u << 8) | 255;
  const uint32_t prio_srflx = (100u << 24) | (65535u << 8) | 255;
  ASSERT_EQ(Check(srflx, LibniceCheck(local_, client_, prio_srflx)), Outcome::kAnswered);
  ASSERT_EQ(Check(host4, LibniceCheck(local_, client_, prio_host4)), Outcome::kAnswered);
  ASSERT_EQ(Check(host6, LibniceCheck(local_, client_, prio_host6)), Outcome::kAnswered);
  const Response r6 = Last();
  ASSERT_TRUE(r6.xor_mapped.has_value());
  EXPECT_EQ(*r6.xor_mapped, host6.remote);
  EXPECT_EQ(out_.sent.back().tuple, host6);
  EXPECT_EQ(s_->selected(), host6);
  EXPECT_THAT(s_->tuples(), UnorderedElementsAre(host4, host6, srflx));
  ASSERT_EQ(Check(host4, LibniceCheck(local_, client_, prio_host4)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), host6);
}

// ---- Peer-reflexive tuples and the cap ----

TEST_F(LiteSessionTest, PeerReflexiveTuplesIPv4AndIPv6) {
  const Tuple v4 = UdpTuple(V4(7, 1111));
  const Tuple v6 = UdpTuple(V6(7, 2222), ServerV6());
  ASSERT_EQ(Check(v4, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(*Last().xor_mapped, v4.remote);
  ASSERT_EQ(Check(v6, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(*Last().xor_mapped, v6.remote);
  EXPECT_TRUE(s_->HasTuple(v4));
  EXPECT_TRUE(s_->HasTuple(v6));
  ASSERT_EQ(out_.Count(Kind::kTupleAdded), 2u);
  EXPECT_EQ(out_.events[0].tuple, v4);
  EXPECT_EQ(out_.events[1].tuple, v6);
  // Same addresses over TCP are a different tuple.
  Tuple tcp = v4;
  tcp.transport = Transport::kTcp;
  EXPECT_FALSE(s_->HasTuple(tcp));
  ASSERT_EQ(Check(tcp, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(s_->tuples().size(), 3u);
}

TEST_F(LiteSessionTest, TupleCapEvictsLeastRecentlyCheckedButNeverSelected) {
  SessionConfig cfg;
  cfg.max_tuples = 3;
  Make(cfg);
  Connect(a_);  // oldest, but selected
  now_ += absl::Seconds(1);
  ASSERT_EQ(Check(b_, Chrome()), Outcome::kAnswered);
  now_ += absl::Seconds(1);
  ASSERT_EQ(Check(c_, Chrome()), Outcome::kAnswered);
  now_ += absl::Seconds(1);
  const Tuple d = UdpTuple(V4(4, 50003));
  ASSERT_EQ(Check(d, Chrome()), Outcome::kAnswered);
  EXPECT_THAT(s_->tuples(), UnorderedElementsAre(a_, c_, d));
  ASSERT_EQ(out_.Count(Kind::kTupleRemoved), 1u);
  const SessionEvent& removed = out_.events[out_.events.size() - 2];
  EXPECT_EQ(removed.kind, Kind::kTupleRemoved);
  EXPECT_EQ(removed.tuple, b_);
  EXPECT_EQ(out_.events.back().kind, Kind::kTupleAdded);
  // A check refreshes recency: c_ checked again, so d is now the oldest.
  now_ += absl::Seconds(1);
  ASSERT_EQ(Check(c_, Chrome()), Outcome::kAnswered);
  ASSERT_EQ(Check(b_, Chrome()), Outcome::kAnswered);
  EXPECT_THAT(s_->tuples(), UnorderedElementsAre(a_, c_, b_));
  EXPECT_EQ(s_->selected(), a_);
}

TEST_F(LiteSessionTest, TupleCapBelowTwoIsRaisedToTwo) {
  SessionConfig cfg;
  cfg.max_tuples = 1;
  Make(cfg);
  Connect(a_);
  ASSERT_EQ(Check(b_, Chrome()), Outcome::kAnswered);
  EXPECT_THAT(s_->tuples(), UnorderedElementsAre(a_, b_));
  ASSERT_EQ(Check(c_, Chrome()), Outcome::kAnswered);
  EXPECT_THAT(s_->tuples(), UnorderedElementsAre(a_, c_));
}

// ---- Consent freshness (RFC 7675) ----

TEST_F(LiteSessionTest, NoTimerBeforeAnyCheck) {
  EXPECT_EQ(s_->NextTimeout(), absl::InfiniteFuture());
}

TEST_F(LiteSessionTest, DisconnectedThenFailedEachOnce) {
  Connect(a_);
  const absl::Time t = now_;
  EXPECT_EQ(s_->NextTimeout(), t + absl::Seconds(5));
  s_->HandleTimeout(t + absl::Seconds(5) - absl::Milliseconds(1));
  EXPECT_EQ(s_->state(), SessionState::kConnected);
  s_->HandleTimeout(t + absl::Seconds(5));
  EXPECT_EQ(s_->state(), SessionState::kDisconnected);
  EXPECT_EQ(out_.Count(Kind::kDisconnected), 1u);
  EXPECT_EQ(out_.events.back().tuple, a_);
  s_->HandleTimeout(t + absl::Seconds(6));
  EXPECT_EQ(out_.Count(Kind::kDisconnected), 1u);
  EXPECT_EQ(s_->NextTimeout(), t + absl::Seconds(30));
  s_->HandleTimeout(t + absl::Seconds(30) - absl::Milliseconds(1));
  EXPECT_EQ(s_->state(), SessionState::kDisconnected);
  s_->HandleTimeout(t + absl::Seconds(30));
  EXPECT_EQ(s_->state(), SessionState::kFailed);
  EXPECT_EQ(out_.Count(Kind::kFailed), 1u);
  EXPECT_THAT(out_.Kinds(),
              ElementsAre(Kind::kTupleAdded, Kind::kSelectedChanged, Kind::kConnected,
                          Kind::kDisconnected, Kind::kFailed, Kind::kTupleRemoved));
  EXPECT_EQ(out_.events[4].tuple, a_);
  EXPECT_TRUE(s_->tuples().empty());
  EXPECT_FALSE(s_->selected().has_value());
  EXPECT_EQ(s_->NextTimeout(), absl::InfiniteFuture());
  // Terminal: later checks are discarded, timers silent.
  now_ = t + absl::Seconds(31);
  EXPECT_EQ(Check(a_, Chrome(true)), Outcome::kDiscarded);
  s_->HandleTimeout(t + absl::Seconds(100));
  EXPECT_EQ(out_.events.size(), 6u);
}

TEST_F(LiteSessionTest, LateTimerReportsDisconnectedBeforeFailed) {
  Connect(a_);
  s_->HandleTimeout(now_ + absl::Seconds(45));
  EXPECT_THAT(out_.Kinds(),
              ElementsAre(Kind::kTupleAdded, Kind::kSelectedChanged, Kind::kConnected,
                          Kind::kDisconnected, Kind::kFailed, Kind::kTupleRemoved));
}

TEST_F(LiteSessionTest, ValidCheckBringsDisconnectedBack) {
  Connect(a_);
  now_ += absl::Seconds(6);
  s_->HandleTimeout(now_);
  ASSERT_EQ(s_->state(), SessionState::kDisconnected);
  // A plain check (no USE-CANDIDATE) on the selected tuple restores consent.
  ASSERT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(s_->state(), SessionState::kConnected);
  EXPECT_EQ(out_.Count(Kind::kConnected), 2u);
  EXPECT_EQ(out_.events.back().kind, Kind::kConnected);
  EXPECT_EQ(out_.events.back().tuple, a_);
  EXPECT_EQ(out_.Count(Kind::kSelectedChanged), 1u);
  EXPECT_EQ(s_->NextTimeout(), now_ + absl::Seconds(5));
}

TEST_F(LiteSessionTest, CheckOnOtherTupleDoesNotRestoreConsentButNominationDoes) {
  Connect(a_);
  now_ += absl::Seconds(6);
  s_->HandleTimeout(now_);
  ASSERT_EQ(Check(b_, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(s_->state(), SessionState::kDisconnected);
  ASSERT_EQ(Check(b_, Chrome(true)), Outcome::kAnswered);
  EXPECT_EQ(s_->state(), SessionState::kConnected);
  EXPECT_EQ(s_->selected(), b_);
  EXPECT_EQ(out_.events.back().kind, Kind::kConnected);
  EXPECT_EQ(out_.events.back().tuple, b_);
}

TEST_F(LiteSessionTest, RegularChecksKeepConsent) {
  Connect(a_);
  for (int i = 0; i < 40; ++i) {
    now_ += absl::Seconds(2);
    s_->HandleTimeout(now_);
    ASSERT_EQ(Check(a_, Chrome(true)), Outcome::kAnswered);
  }
  EXPECT_EQ(s_->state(), SessionState::kConnected);
  EXPECT_EQ(out_.Count(Kind::kDisconnected), 0u);
}

TEST_F(LiteSessionTest, RejectedChecksDoNotRefreshConsent) {
  Connect(a_);
  const absl::Time t = now_;
  now_ += absl::Seconds(3);
  CheckSpec bad = Chrome(true);
  bad.key_pwd = "wrongpasswordwrongpassword";
  ASSERT_EQ(Check(a_, bad), Outcome::kRejected);
  EXPECT_EQ(s_->NextTimeout(), t + absl::Seconds(5));
}

TEST_F(LiteSessionTest, ConfigurableTimers) {
  SessionConfig cfg;
  cfg.disconnected_after = absl::Seconds(2);
  cfg.consent_timeout = absl::Seconds(10);
  Make(cfg);
  Connect(a_);
  EXPECT_EQ(s_->NextTimeout(), now_ + absl::Seconds(2));
  s_->HandleTimeout(now_ + absl::Seconds(2));
  EXPECT_EQ(s_->state(), SessionState::kDisconnected);
  EXPECT_EQ(s_->NextTimeout(), now_ + absl::Seconds(10));
  s_->HandleTimeout(now_ + absl::Seconds(10));
  EXPECT_EQ(s_->state(), SessionState::kFailed);
}

TEST_F(LiteSessionTest, UncheckedNonSelectedTuplesExpire) {
  Connect(a_);
  ASSERT_EQ(Check(b_, Chrome()), Outcome::kAnswered);
  const absl::Time t = now_;
  for (int i = 1; i <= 30; ++i) {  // keep a_ alive only
    now_ = t + absl::Seconds(i);
    s_->HandleTimeout(now_);
    ASSERT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
  }
  EXPECT_THAT(s_->tuples(), ElementsAre(a_));
  EXPECT_EQ(out_.Count(Kind::kTupleRemoved), 1u);
  EXPECT_EQ(s_->state(), SessionState::kConnected);
}

TEST_F(LiteSessionTest, NewSessionTuplesExpireToo) {
  ASSERT_EQ(Check(a_, Chrome()), Outcome::kAnswered);
  EXPECT_EQ(s_->NextTimeout(), now_ + absl::Seconds(30));
  s_->HandleTimeout(now_ + absl::Seconds(30));
  EXPECT_TRUE(s_->tuples().empty());
  EXPECT_EQ(s_->state(), SessionState::kNew);
  EXPECT_EQ(s_->NextTimeout(), absl::InfiniteFuture());
}

// ---- ICE restart (RFC 8445 §9) ----

TEST_F(LiteSessionTest, RestartKeepsOldCredentialsUntilFirstCheckWithNew) {
  s_->SetRemoteCredentials(Credentials{"clnt", "clntpwdclntpwdclntpwdxx"});
  Connect(a_);
  const Credentials old = local_;
  const Credentials fresh = Creds("srvN");
  s_->Restart(fresh);
  EXPECT_EQ(s_->local(), fresh);
  EXPECT_THAT(s_->local_ufrags(), UnorderedElementsAre("srvA", "srvN"));
  // Old credentials (with the old remote ufrag) still answered.
  EXPECT_EQ(Check(a_, ChromeCheck(old, "clnt")), Outcome::kAnswered);
  EXPECT_TRUE(Last(old.pwd).integrity_ok);
  // The new offer brings new remote credentials.
  s_->SetRemoteCredentials(Credentials{"cln2", "cln2pwdcln2pwdcln2pwdxx"});
  EXPECT_EQ(Check(a_, ChromeCheck(old, "clnt")), Outcome::kAnswered);  // old pairing
  EXPECT_EQ(Check(a_, ChromeCheck(fresh, "clnt")), Outcome::kRejected);  // new ufrag, old remote
  EXPECT_EQ(Check(b_, ChromeCheck(fresh, "cln2")), Outcome::kAnswered);
  EXPECT_TRUE(Last(fresh.pwd).integrity_ok);
  EXPECT_FALSE(Last(old.pwd).integrity_ok);  // signed with the new password
  EXPECT_THAT(s_->local_ufrags(), ElementsAre("srvN"));
  // Old ones are now refused.
  EXPECT_EQ(Check(a_, ChromeCheck(old, "clnt")), Outcome::kRejected);
  ExpectError(401, false);
  // The selection survives the restart until a new nomination.
  EXPECT_EQ(s_->selected(), a_);
  EXPECT_EQ(s_->state(), SessionState::kConnected);
}

TEST_F(LiteSessionTest, RestartResetsRenominationCounter) {
  Connect(a_);
  ASSERT_EQ(Check(a_, Chrome(false, 7)), Outcome::kAnswered);
  const Credentials fresh = Creds("srvN");
  s_->Restart(fresh);
  ASSERT_EQ(Check(b_, ChromeCheck(fresh, client_, false, 1)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);
}

TEST_F(LiteSessionTest, RestartResetsAggressiveRanking) {
  ASSERT_EQ(Check(a_, FirefoxCheck(local_, client_, 5000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), a_);
  const Credentials fresh = Creds("srvN");
  s_->Restart(fresh);
  ASSERT_EQ(Check(b_, FirefoxCheck(fresh, client_, 1000)), Outcome::kAnswered);
  EXPECT_EQ(s_->selected(), b_);  // first nomination of the new generation
}

TEST_F(LiteSessionTest, SecondRestartDropsTheOldestCredentials) {
  const Credentials first = local_;
  s_->Restart(Creds("srvB"));
  s_->Restart(Creds("srvC"));
  EXPECT_THAT(s_->local_ufrags(), UnorderedElementsAre("srvB", "srvC"));
  EXPECT_EQ(Check(a_, ChromeCheck(first, client_)), Outcome::kRejected);
  EXPECT_EQ(Check(a_, ChromeCheck(Creds("srvB"), client_)), Outcome::kAnswered);
}

// ---- Close ----

TEST_F(LiteSessionTest, CloseSilencesEverything) {
  Connect(a_);
  const size_t events = out_.events.size();
  const size_t sent = out_.sent.size();
  s_->Close();
  EXPECT_EQ(s_->state(), SessionState::kClosed);
  EXPECT_TRUE(s_->tuples().empty());
  EXPECT_FALSE(s_->selected().has_value());
  EXPECT_EQ(s_->NextTimeout(), absl::InfiniteFuture());
  EXPECT_EQ(Check(a_, Chrome(true)), Outcome::kDiscarded);
  s_->HandleTimeout(now_ + absl::Minutes(5));
  EXPECT_EQ(out_.events.size(), events);
  EXPECT_EQ(out_.sent.size(), sent);
}

TEST_F(LiteSessionTest, CloseFromEventCallbackStopsFurtherEvents) {
  out_.on_event = [&](const SessionEvent& e) {
    if (e.kind == Kind::kTupleAdded) s_->Close();
  };
  EXPECT_EQ(Check(a_, Chrome(true)), Outcome::kAnswered);
  EXPECT_THAT(out_.Kinds(), ElementsAre(Kind::kTupleAdded));
  EXPECT_EQ(s_->state(), SessionState::kClosed);
}

TEST_F(LiteSessionTest, CloseFromFailedCallbackStopsTupleRemovals) {
  Connect(a_);
  out_.on_event = [&](const SessionEvent& e) {
    if (e.kind == Kind::kFailed) s_->Close();
  };
  s_->HandleTimeout(now_ + absl::Seconds(30));
  EXPECT_EQ(out_.events.back().kind, Kind::kFailed);
  EXPECT_EQ(s_->state(), SessionState::kClosed);
}

}  // namespace
}  // namespace uturn::ice
