// RFC 8489 §6.2.1/§6.2.2 client transaction timers and the RFC 6298 RTO
// estimator. Pure arithmetic on absl::Time values handed in by the caller.
#include "stun/client_transaction.h"

#include <algorithm>
#include <cassert>

namespace uturn::stun {
namespace {

// RFC 6298 §2.3: alpha = 1/8, beta = 1/4, K = 4. Applied as exact fractions
// so that absl::Duration arithmetic stays exact.
constexpr int kAlphaDen = 8;  // alpha = 1/8
constexpr int kBetaDen = 4;   // beta = 1/4
constexpr int kK = 4;
// RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at
// least 60 seconds."
constexpr absl::Duration kMaxRto = absl::Seconds(60);
// RFC 8489 §6.2.1: the cached RTO "SHOULD be considered stale and discarded
// if no transactions have occurred to the same server in the last 10 minutes".
constexpr absl::Duration kRtoCacheLifetime = absl::Minutes(10);

}  // namespace

// ---------------------------------------------------------------- RtoEstimator

RtoEstimator::RtoEstimator(absl::Duration initial_rto)
    : initial_(initial_rto), rto_(initial_rto), rttvar_(absl::ZeroDuration()) {
  assert(initial_rto > absl::ZeroDuration());
}

void RtoEstimator::AddSample(absl::Duration rtt) {
  // A clock stepping back must not drive SRTT negative.
  rtt = std::max(rtt, absl::ZeroDuration());
  if (!srtt_) {
    // RFC 6298 §2.2: first measurement R: SRTT <- R, RTTVAR <- R/2.
    srtt_ = rtt;
    rttvar_ = rtt / 2;
  } else {
    // RFC 6298 §2.3: RTTVAR first (it uses the old SRTT), then SRTT.
    rttvar_ = rttvar_ * (kBetaDen - 1) / kBetaDen + absl::AbsDuration(*srtt_ - rtt) / kBetaDen;
    srtt_ = *srtt_ * (kAlphaDen - 1) / kAlphaDen + rtt / kAlphaDen;
  }
  // RFC 6298 §2.2/§2.3: RTO <- SRTT + max(G, K*RTTVAR). The clock granularity
  // G is ignored: time here is absl::Time, far finer than any RTT.
  absl::Duration rto = *srtt_ + rttvar_ * kK;
  // Lower bound: the configured initial RTO, not RFC 6298 §2.4's 1 s. RFC 8489
  // §6.2.1 recommends an initial RTO of >= 500 ms for STUN; a 1 s floor would
  // make every measured RTO slower than the unmeasured default. (Documented
  // in stun/README.md as a deviation from RFC 6298 §2.4.)
  rto = std::max(rto, initial_);
  rto_ = std::min(rto, kMaxRto);  // RFC 6298 §2.5
}

void RtoEstimator::MaybeExpire(absl::Time now) {
  if (last_used_ == absl::InfinitePast()) return;  // never used: nothing cached
  // RFC 8489 §6.2.1: stale once no transaction happened "in the last 10
  // minutes"; a transaction exactly 10 minutes ago still counts.
  if (now - last_used_ <= kRtoCacheLifetime) return;
  rto_ = initial_;
  srtt_.reset();
  rttvar_ = absl::ZeroDuration();
  last_used_ = absl::InfinitePast();
}

// ------------------------------------------------------------ ClientTransaction
//
// `interval_` holds the RTO this transaction started with; the gap after the
// n-th transmission is RTO * 2^(n-1) (RFC 8489 §6.2.1: "starting with an
// interval of RTO, doubling after each retransmission").

ClientTransaction::ClientTransaction(const TransactionConfig& config, TransportKind transport,
                                     absl::Duration rto, absl::Time now)
    : config_(config), transport_(transport), interval_(rto), first_sent_(now) {
  assert(config.rc >= 1);
  assert(config.rm >= 1);
  assert(rto > absl::ZeroDuration());
  assert(config.reliable_timeout > absl::ZeroDuration());
  if (transport_ == TransportKind::kReliable) {
    // RFC 8489 §6.2.2: reliable transports do not retransmit; the transaction
    // fails after Ti.
    deadline_ = now + config_.reliable_timeout;
  } else if (config_.rc <= 1) {
    // Only one request in total: go straight to the final Rm * RTO wait.
    deadline_ = now + interval_ * config_.rm;
  } else {
    deadline_ = now + interval_;
  }
}

ClientTransaction::Action ClientTransaction::HandleTimeout(absl::Time now) {
  if (state_ != State::kWaiting) return Action::kNone;
  if (now < deadline_) return Action::kNone;  // woken early: nothing is due

  if (transport_ == TransportKind::kReliable || transmissions_ >= config_.rc) {
    // RFC 8489 §6.2.2 (Ti elapsed) or §6.2.1 (Rm * RTO after the last of the
    // Rc requests): the transaction has failed.
    state_ = State::kTimedOut;
    deadline_ = absl::InfiniteFuture();
    return Action::kTimedOut;
  }

  // The gap that just elapsed was RTO * 2^(transmissions_-1); the next one is
  // twice that. Measured from `now`, the moment this retransmission is sent,
  // so a late wake-up delays the rest of the schedule instead of bunching
  // retransmissions together.
  ++transmissions_;
  assert(transmissions_ <= config_.rc);
  if (transmissions_ == config_.rc) {
    // RFC 8489 §6.2.1: "If, after the last request, a duration equal to Rm
    // times the RTO has passed without a response ... failed."
    deadline_ = now + interval_ * config_.rm;
  } else {
    absl::Duration gap = interval_;
    for (int i = 1; i < transmissions_; ++i) gap *= 2;  // saturates, never wraps
    deadline_ = now + gap;
  }
  return Action::kRetransmit;
}

std::optional<absl::Duration> ClientTransaction::HandleResponse(absl::Time now) {
  // A response after success is a duplicate; after a timeout it is too late
  // to change the outcome the caller has already acted on.
  if (state_ != State::kWaiting) return std::nullopt;
  state_ = State::kSucceeded;
  deadline_ = absl::InfiniteFuture();
  // Karn's rule (RFC 6298 §3, as RFC 8489 §6.2.1 asks): an RTT measured on a
  // retransmitted request is ambiguous, so no sample.
  if (transmissions_ != 1) return std::nullopt;
  return std::max(now - first_sent_, absl::ZeroDuration());
}

}  // namespace uturn::stun
