// ClientTransaction and RtoEstimator driven by a hand-made clock: every time
// is an absl::Time built from a fixed epoch plus milliseconds.
#include "stun/client_transaction.h"

#include <vector>

#include "gtest/gtest.h"

namespace uturn::stun {
namespace {

using Action = ClientTransaction::Action;
using State = ClientTransaction::State;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
absl::Time At(int64_t ms) { return kT0 + absl::Milliseconds(ms); }
int64_t MsSinceT0(absl::Time t) { return absl::ToInt64Milliseconds(t - kT0); }

// Drives a transaction by calling HandleTimeout exactly at each deadline and
// records when each transmission (the first one included) happened and when
// the transaction failed.
struct Schedule {
  std::vector<int64_t> sends_ms;
  int64_t timeout_ms = -1;
};
Schedule RunToTimeout(ClientTransaction& txn) {
  Schedule s;
  s.sends_ms.push_back(0);
  for (int guard = 0; guard < 100 && txn.state() == State::kWaiting; ++guard) {
    const absl::Time t = txn.deadline();
    const Action a = txn.HandleTimeout(t);
    if (a == Action::kRetransmit) s.sends_ms.push_back(MsSinceT0(t));
    if (a == Action::kTimedOut) s.timeout_ms = MsSinceT0(t);
    EXPECT_NE(a, Action::kNone) << "called at the deadline, something is due";
  }
  return s;
}

// ------------------------------------------------------------------ unreliable

TEST(ClientTransactionTest, DefaultsMatchRfc8489) {
  const TransactionConfig c;
  EXPECT_EQ(c.initial_rto, absl::Milliseconds(500));
  EXPECT_EQ(c.rc, 7);
  EXPECT_EQ(c.rm, 16);
  EXPECT_EQ(c.reliable_timeout, absl::Milliseconds(39500));
}

// RFC 8489 §6.2.1's worked example: RTO 500 ms gives sends at 0, 500, 1500,
// 3500, 7500, 15500 and 31500 ms and failure at 39.5 s.
TEST(ClientTransactionTest, FullUnreliableScheduleFromRfcExample) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  EXPECT_EQ(txn.state(), State::kWaiting);
  EXPECT_EQ(txn.transmissions(), 1);
  EXPECT_EQ(txn.deadline(), At(500));
  const Schedule s = RunToTimeout(txn);
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(s.timeout_ms, 39500);
  EXPECT_EQ(txn.state(), State::kTimedOut);
  EXPECT_EQ(txn.transmissions(), 7);
  EXPECT_EQ(txn.deadline(), absl::InfiniteFuture());
  // Finished: further timeouts do nothing.
  EXPECT_EQ(txn.HandleTimeout(At(100'000)), Action::kNone);
  EXPECT_EQ(txn.state(), State::kTimedOut);
}

TEST(ClientTransactionTest, DeadlinesFollowEachRetransmission) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  ASSERT_EQ(txn.HandleTimeout(At(500)), Action::kRetransmit);
  EXPECT_EQ(txn.transmissions(), 2);
  EXPECT_EQ(txn.deadline(), At(1500));
  ASSERT_EQ(txn.HandleTimeout(At(1500)), Action::kRetransmit);
  EXPECT_EQ(txn.transmissions(), 3);
  EXPECT_EQ(txn.deadline(), At(3500));
}

// The RTO handed in (e.g. from an estimator) scales the whole schedule.
TEST(ClientTransactionTest, ScheduleScalesWithGivenRto) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(300),
                        kT0);
  const Schedule s = RunToTimeout(txn);
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{0, 300, 900, 2100, 4500, 9300, 18900}));
  EXPECT_EQ(s.timeout_ms, 18900 + 16 * 300);
}

TEST(ClientTransactionTest, CustomRcAndRm) {
  TransactionConfig c;
  c.rc = 3;
  c.rm = 4;
  ClientTransaction txn(c, TransportKind::kUnreliable, absl::Milliseconds(100), kT0);
  const Schedule s = RunToTimeout(txn);
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{0, 100, 300}));
  EXPECT_EQ(s.timeout_ms, 300 + 4 * 100);
  EXPECT_EQ(txn.transmissions(), 3);
}

TEST(ClientTransactionTest, RcOfOneSendsOnceThenWaitsRmTimesRto) {
  TransactionConfig c;
  c.rc = 1;
  c.rm = 5;
  ClientTransaction txn(c, TransportKind::kUnreliable, absl::Milliseconds(200), kT0);
  EXPECT_EQ(txn.deadline(), At(1000));
  const Schedule s = RunToTimeout(txn);
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{0}));
  EXPECT_EQ(s.timeout_ms, 1000);
}

TEST(ClientTransactionTest, RcOfTwo) {
  TransactionConfig c;
  c.rc = 2;
  c.rm = 1;
  ClientTransaction txn(c, TransportKind::kUnreliable, absl::Milliseconds(500), kT0);
  const Schedule s = RunToTimeout(txn);
  EXPECT_EQ(s.sends_ms, (std::vector<int64_t>{0, 500}));
  EXPECT_EQ(s.timeout_ms, 1000);
}

// A large Rc must not overflow the doubling: the gap saturates.
TEST(ClientTransactionTest, HugeRcSaturatesInsteadOfWrapping) {
  TransactionConfig c;
  c.rc = 100;
  ClientTransaction txn(c, TransportKind::kUnreliable, absl::Milliseconds(500), kT0);
  absl::Time prev = kT0;
  for (int i = 0; i < 80 && txn.deadline() != absl::InfiniteFuture(); ++i) {
    const absl::Time d = txn.deadline();
    EXPECT_GT(d, prev);
    prev = d;
    ASSERT_EQ(txn.HandleTimeout(d), Action::kRetransmit);
  }
  EXPECT_EQ(txn.state(), State::kWaiting);
}

// ------------------------------------------------------------- early and late

TEST(ClientTransactionTest, EarlyTimeoutDoesNothing) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  EXPECT_EQ(txn.HandleTimeout(kT0), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(499)), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(500) - absl::Nanoseconds(1)), Action::kNone);
  EXPECT_EQ(txn.transmissions(), 1);
  EXPECT_EQ(txn.deadline(), At(500));
  EXPECT_EQ(txn.state(), State::kWaiting);
  EXPECT_EQ(txn.HandleTimeout(At(500)), Action::kRetransmit);
}

// A late wake-up sends one retransmission (never a burst) and measures the
// next gap from when it was actually sent.
TEST(ClientTransactionTest, LateTimeoutRetransmitsOnceAndShiftsSchedule) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  // Woken at 5 s although due at 0.5 s (and 1.5 s, 3.5 s had it been sent).
  EXPECT_EQ(txn.HandleTimeout(At(5000)), Action::kRetransmit);
  EXPECT_EQ(txn.transmissions(), 2);
  EXPECT_EQ(txn.deadline(), At(6000));
  EXPECT_EQ(txn.HandleTimeout(At(5000)), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(6000)), Action::kRetransmit);
  EXPECT_EQ(txn.deadline(), At(8000));
}

TEST(ClientTransactionTest, LateFinalTimeoutStillTimesOut) {
  TransactionConfig c;
  c.rc = 2;
  c.rm = 2;
  ClientTransaction txn(c, TransportKind::kUnreliable, absl::Milliseconds(100), kT0);
  ASSERT_EQ(txn.HandleTimeout(At(100)), Action::kRetransmit);
  EXPECT_EQ(txn.deadline(), At(300));
  EXPECT_EQ(txn.HandleTimeout(At(299)), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(10'000)), Action::kTimedOut);
  EXPECT_EQ(txn.state(), State::kTimedOut);
}

// ------------------------------------------------------------------ responses

TEST(ClientTransactionTest, ResponseBeforeRetransmitGivesRttSample) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  const auto rtt = txn.HandleResponse(At(123));
  ASSERT_TRUE(rtt.has_value());
  EXPECT_EQ(*rtt, absl::Milliseconds(123));
  EXPECT_EQ(txn.state(), State::kSucceeded);
  EXPECT_EQ(txn.deadline(), absl::InfiniteFuture());
  EXPECT_EQ(txn.HandleTimeout(At(500)), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(100'000)), Action::kNone);
  EXPECT_EQ(txn.state(), State::kSucceeded);
}

// Karn's rule: once retransmitted, the response could answer either copy.
TEST(ClientTransactionTest, ResponseAfterRetransmitGivesNoSample) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  ASSERT_EQ(txn.HandleTimeout(At(500)), Action::kRetransmit);
  EXPECT_FALSE(txn.HandleResponse(At(600)).has_value());
  EXPECT_EQ(txn.state(), State::kSucceeded);
  EXPECT_EQ(txn.deadline(), absl::InfiniteFuture());
}

TEST(ClientTransactionTest, ResponseDuringFinalWaitSucceeds) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  for (int64_t t : {500, 1500, 3500, 7500, 15500, 31500}) {
    ASSERT_EQ(txn.HandleTimeout(At(t)), Action::kRetransmit);
  }
  EXPECT_FALSE(txn.HandleResponse(At(39499)).has_value());
  EXPECT_EQ(txn.state(), State::kSucceeded);
  EXPECT_EQ(txn.HandleTimeout(At(39500)), Action::kNone);
}

TEST(ClientTransactionTest, DuplicateResponseIsIgnored) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  ASSERT_TRUE(txn.HandleResponse(At(50)).has_value());
  EXPECT_FALSE(txn.HandleResponse(At(60)).has_value());
  EXPECT_EQ(txn.state(), State::kSucceeded);
}

TEST(ClientTransactionTest, ResponseAfterTimeoutDoesNotRevive) {
  TransactionConfig c;
  c.rc = 1;
  c.rm = 1;
  ClientTransaction txn(c, TransportKind::kUnreliable, absl::Milliseconds(100), kT0);
  ASSERT_EQ(txn.HandleTimeout(At(100)), Action::kTimedOut);
  EXPECT_FALSE(txn.HandleResponse(At(150)).has_value());
  EXPECT_EQ(txn.state(), State::kTimedOut);
}

TEST(ClientTransactionTest, ClockSteppingBackGivesZeroRttNotNegative) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kUnreliable, absl::Milliseconds(500),
                        kT0);
  const auto rtt = txn.HandleResponse(kT0 - absl::Milliseconds(5));
  ASSERT_TRUE(rtt.has_value());
  EXPECT_EQ(*rtt, absl::ZeroDuration());
}

// ------------------------------------------------------------------- reliable

TEST(ClientTransactionTest, ReliableSendsOnceAndTimesOutAfterTi) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kReliable, absl::Milliseconds(500),
                        kT0);
  EXPECT_EQ(txn.deadline(), At(39500));
  EXPECT_EQ(txn.HandleTimeout(At(500)), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(39499)), Action::kNone);
  EXPECT_EQ(txn.HandleTimeout(At(39500)), Action::kTimedOut);
  EXPECT_EQ(txn.transmissions(), 1);
  EXPECT_EQ(txn.state(), State::kTimedOut);
  EXPECT_EQ(txn.deadline(), absl::InfiniteFuture());
}

TEST(ClientTransactionTest, ReliableCustomTiAndLateCall) {
  TransactionConfig c;
  c.reliable_timeout = absl::Seconds(5);
  ClientTransaction txn(c, TransportKind::kReliable, absl::Milliseconds(500), kT0);
  EXPECT_EQ(txn.deadline(), At(5000));
  EXPECT_EQ(txn.HandleTimeout(At(60'000)), Action::kTimedOut);
  EXPECT_EQ(txn.transmissions(), 1);
}

TEST(ClientTransactionTest, ReliableResponseGivesSample) {
  ClientTransaction txn(TransactionConfig{}, TransportKind::kReliable, absl::Milliseconds(500),
                        kT0);
  const auto rtt = txn.HandleResponse(At(2000));
  ASSERT_TRUE(rtt.has_value());
  EXPECT_EQ(*rtt, absl::Seconds(2));
  EXPECT_EQ(txn.state(), State::kSucceeded);
}

#ifndef NDEBUG
TEST(ClientTransactionDeathTest, InvalidConfigAsserts) {
  TransactionConfig zero_rc;
  zero_rc.rc = 0;
  EXPECT_DEATH(ClientTransaction(zero_rc, TransportKind::kUnreliable, absl::Milliseconds(500), kT0),
               "rc");
  TransactionConfig zero_rm;
  zero_rm.rm = 0;
  EXPECT_DEATH(ClientTransaction(zero_rm, TransportKind::kUnreliable, absl::Milliseconds(500), kT0),
               "rm");
  EXPECT_DEATH(
      ClientTransaction(TransactionConfig{}, TransportKind::kUnreliable, absl::ZeroDuration(), kT0),
      "rto");
  EXPECT_DEATH(RtoEstimator(absl::ZeroDuration()), "initial_rto");
}
#endif

// --------------------------------------------------------------- RtoEstimator

TEST(RtoEstimatorTest, StartsAtInitial) {
  EXPECT_EQ(RtoEstimator().rto(), absl::Milliseconds(500));
  EXPECT_EQ(RtoEstimator(absl::Milliseconds(700)).rto(), absl::Milliseconds(700));
}

// RFC 6298 §2.2/§2.3 by hand for R = 800 ms each time:
//   1: SRTT 800, RTTVAR 400            -> RTO 800 + 4*400 = 2400
//   2: RTTVAR 3/4*400 + 1/4*0 = 300    -> RTO 800 + 1200  = 2000
//   3: RTTVAR 225                      -> RTO 800 + 900   = 1700
TEST(RtoEstimatorTest, FirstSamplesFollowRfc6298) {
  RtoEstimator e;
  e.AddSample(absl::Milliseconds(800));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
  e.AddSample(absl::Milliseconds(800));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2000));
  e.AddSample(absl::Milliseconds(800));
  EXPECT_EQ(e.rto(), absl::Milliseconds(1700));
}

// Varying samples: R1 = 1000, R2 = 600.
//   1: SRTT 1000, RTTVAR 500
//   2: RTTVAR 3/4*500 + 1/4*|1000-600| = 375 + 100 = 475
//      SRTT 7/8*1000 + 1/8*600 = 875 + 75 = 950  -> RTO 950 + 1900 = 2850
TEST(RtoEstimatorTest, RttvarUsesOldSrtt) {
  RtoEstimator e;
  e.AddSample(absl::Milliseconds(1000));
  EXPECT_EQ(e.rto(), absl::Milliseconds(3000));
  e.AddSample(absl::Milliseconds(600));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2850));
}

TEST(RtoEstimatorTest, ConvergesToSteadyRtt) {
  RtoEstimator e;
  for (int i = 0; i < 100; ++i) e.AddSample(absl::Milliseconds(800));
  EXPECT_GE(e.rto(), absl::Milliseconds(800));
  EXPECT_LT(e.rto(), absl::Milliseconds(801));
}

// Fast paths do not push RTO below the initial value (our chosen floor).
TEST(RtoEstimatorTest, FloorIsInitialRto) {
  RtoEstimator e(absl::Milliseconds(500));
  e.AddSample(absl::Milliseconds(10));  // 10 + 4*5 = 30 ms before the floor
  EXPECT_EQ(e.rto(), absl::Milliseconds(500));
  for (int i = 0; i < 50; ++i) e.AddSample(absl::Milliseconds(10));
  EXPECT_EQ(e.rto(), absl::Milliseconds(500));
}

TEST(RtoEstimatorTest, CappedAtSixtySeconds) {
  RtoEstimator e;
  e.AddSample(absl::Seconds(100));  // 100 + 4*50 = 300 s before the cap
  EXPECT_EQ(e.rto(), absl::Seconds(60));
}

TEST(RtoEstimatorTest, NegativeSampleTreatedAsZero) {
  RtoEstimator e;
  e.AddSample(absl::Milliseconds(-100));
  EXPECT_EQ(e.rto(), absl::Milliseconds(500));
  // SRTT is 0 and RTTVAR 0; a 1000 ms sample then gives
  // RTTVAR 1/4*1000 = 250, SRTT 125 -> 125 + 1000 = 1125.
  e.AddSample(absl::Milliseconds(1000));
  EXPECT_EQ(e.rto(), absl::Milliseconds(1125));
}

TEST(RtoEstimatorTest, ExpiresAfterTenIdleMinutes) {
  RtoEstimator e;
  e.AddSample(absl::Milliseconds(800));
  e.Touch(kT0);
  e.MaybeExpire(kT0 + absl::Minutes(5));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
  e.MaybeExpire(kT0 + absl::Minutes(10));  // exactly 10 min: still fresh
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
  e.MaybeExpire(kT0 + absl::Minutes(10) + absl::Milliseconds(1));
  EXPECT_EQ(e.rto(), absl::Milliseconds(500));
  // The history is gone too: the next sample is treated as the first.
  e.AddSample(absl::Milliseconds(800));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
}

TEST(RtoEstimatorTest, TouchKeepsItFresh) {
  RtoEstimator e;
  e.AddSample(absl::Milliseconds(800));
  e.Touch(kT0);
  e.Touch(kT0 + absl::Minutes(9));
  e.MaybeExpire(kT0 + absl::Minutes(15));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
  e.MaybeExpire(kT0 + absl::Minutes(20));
  EXPECT_EQ(e.rto(), absl::Milliseconds(500));
}

TEST(RtoEstimatorTest, NeverTouchedNeverExpires) {
  RtoEstimator e;
  e.AddSample(absl::Milliseconds(800));
  e.MaybeExpire(kT0 + absl::Hours(24));
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
}

// The pieces together: a clean transaction's sample feeds the estimator and
// the next transaction uses the new RTO; a retransmitted one feeds nothing.
TEST(RtoEstimatorTest, DrivesTransactionsWithKarnsRule) {
  RtoEstimator e;
  const TransactionConfig c;
  ClientTransaction first(c, TransportKind::kUnreliable, e.rto(), kT0);
  const auto rtt = first.HandleResponse(At(800));
  ASSERT_TRUE(rtt.has_value());
  e.AddSample(*rtt);
  e.Touch(At(800));
  ASSERT_EQ(e.rto(), absl::Milliseconds(2400));

  ClientTransaction second(c, TransportKind::kUnreliable, e.rto(), At(1000));
  EXPECT_EQ(second.deadline(), At(3400));
  ASSERT_EQ(second.HandleTimeout(At(3400)), Action::kRetransmit);
  EXPECT_EQ(second.deadline(), At(3400 + 4800));
  EXPECT_FALSE(second.HandleResponse(At(3500)).has_value());
  EXPECT_EQ(e.rto(), absl::Milliseconds(2400));
}

}  // namespace
}  // namespace uturn::stun
