// Sans-IO client transaction timing (RFC 8489 §6.2.1, §6.2.2). The caller
// sends the request, asks when to wake up, and reports timeouts and the
// response; this class says when to retransmit and when to give up. Time is
// always an argument.
#pragma once

#include <optional>

#include "absl/time/time.h"

namespace uturn::stun {

struct TransactionConfig {
  // RFC 8489 §6.2.1: "RTO ... SHOULD be greater than or equal to 500 ms".
  absl::Duration initial_rto = absl::Milliseconds(500);
  // RFC 8489 §6.2.1: "Rc SHOULD be configurable and SHOULD have a default of 7."
  int rc = 7;
  // RFC 8489 §6.2.1: "Rm SHOULD be configurable and SHOULD have a default of 16."
  int rm = 16;
  // RFC 8489 §6.2.2: over reliable transports "Ti SHOULD be configurable and
  // SHOULD have a default of 39.5 s."
  absl::Duration reliable_timeout = absl::Milliseconds(39500);
};

enum class TransportKind { kUnreliable, kReliable };

// Smoothed RTO per server, as RFC 8489 §6.2.1 asks ("computed as described in
// RFC 6298"); Karn's rule: samples only from unretransmitted requests.
class RtoEstimator {
 public:
  explicit RtoEstimator(absl::Duration initial_rto = absl::Milliseconds(500));
  void AddSample(absl::Duration rtt);
  absl::Duration rto() const { return rto_; }
  // RFC 8489 §6.2.1: the cached RTO should be reset after 10 minutes without
  // a transaction to the server.
  void MaybeExpire(absl::Time now);
  void Touch(absl::Time now) { last_used_ = now; }

 private:
  absl::Duration initial_;
  absl::Duration rto_;
  std::optional<absl::Duration> srtt_;
  absl::Duration rttvar_;
  absl::Time last_used_ = absl::InfinitePast();
};

class ClientTransaction {
 public:
  enum class State { kWaiting, kSucceeded, kTimedOut };
  enum class Action { kNone, kRetransmit, kTimedOut };

  // The first transmission happens at `now` (the caller sends it).
  ClientTransaction(const TransactionConfig& config, TransportKind transport,
                    absl::Duration rto, absl::Time now);

  State state() const { return state_; }
  int transmissions() const { return transmissions_; }
  // When HandleTimeout must be called next; InfiniteFuture once finished.
  absl::Time deadline() const { return deadline_; }
  // Call at or after deadline(); says whether to send the request again now.
  Action HandleTimeout(absl::Time now);
  // A response matched this transaction. Returns the RTT sample if Karn's rule
  // allows one (only one transmission was made).
  std::optional<absl::Duration> HandleResponse(absl::Time now);

 private:
  TransactionConfig config_;
  TransportKind transport_;
  absl::Duration interval_;
  absl::Time first_sent_;
  absl::Time deadline_;
  int transmissions_ = 1;
  State state_ = State::kWaiting;
};

}  // namespace uturn::stun
