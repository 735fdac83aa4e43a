// Sans-IO STUN Binding client (RFC 8489 §6.2, §6.3). One object runs one
// transaction: Start() hands back the request to send, HandleTimeout() says
// when to retransmit or give up, HandleMessage() takes every received
// datagram / stream frame and picks out the answer by transaction ID. Time is
// always an argument; randomness comes from an injected source.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "stun/address.h"
#include "stun/client_transaction.h"
#include "stun/constants.h"
#include "stun/message_view.h"

namespace uturn::client {

// Fills the span with unpredictable bytes. RFC 8489 §6: the transaction ID
// "MUST be uniformly and randomly chosen ... and SHOULD be cryptographically
// random".
using RandomSource = std::function<void(std::span<uint8_t>)>;

struct ExtraAttribute {
  uint16_t type = 0;
  std::vector<uint8_t> value;
};

struct BindingClientConfig {
  stun::TransportKind transport = stun::TransportKind::kUnreliable;
  stun::TransactionConfig transaction;
  // RFC 8489 §7.2: FINGERPRINT is optional for plain STUN usage.
  bool fingerprint = true;
  // RFC 8489 §14.14 SOFTWARE; omitted when empty.
  std::string software;
  // Send an RFC 3489 request (no magic cookie: the 16-byte transaction ID
  // starts at offset 4). The answer then carries MAPPED-ADDRESS (RFC 8489 §12).
  bool rfc3489 = false;
  // Appended after SOFTWARE and before FINGERPRINT, verbatim. For tests and
  // diagnostics (e.g. provoking 420 with an unknown attribute).
  std::vector<ExtraAttribute> extra_attributes;
};

// The identity of one request on the wire: the 96-bit transaction ID and the
// word at offset 4 (the magic cookie, or for RFC 3489 the first 32 bits of
// the 128-bit transaction ID).
struct RequestId {
  stun::TransactionId transaction_id{};
  uint32_t cookie = stun::kMagicCookie;
};

enum class BindingStatus : uint8_t {
  kIdle,           // Start() not called yet
  kPending,        // waiting for an answer
  kSuccess,        // mapped address known
  kErrorResponse,  // the server answered with ERROR-CODE
  kTimeout,        // RFC 8489 §6.2.1 / §6.2.2 timers ran out
  kMalformed,      // the answer matched our ID but could not be used
};
const char* ToString(BindingStatus s);

struct BindingResult {
  BindingStatus status = BindingStatus::kIdle;
  // kSuccess: the reflexive address, and whether it came from
  // XOR-MAPPED-ADDRESS (false: MAPPED-ADDRESS).
  stun::SocketAddress mapped;
  bool from_xor_mapped = false;
  // kErrorResponse: ERROR-CODE, and UNKNOWN-ATTRIBUTES for 420.
  int error_code = 0;
  std::string error_reason;
  std::vector<uint16_t> unknown_attributes;
  // Any answer: whether it carried a (verified) FINGERPRINT, its SOFTWARE.
  bool response_had_fingerprint = false;
  std::string server_software;
  // kMalformed: why, for messages.
  std::string malformed_reason;
  // Round-trip time when Karn's rule allows a sample (one transmission).
  std::optional<absl::Duration> rtt;
  int transmissions = 0;
};

// What HandleMessage did with a received message.
enum class Disposition : uint8_t {
  kIgnored,   // not STUN, not our transaction, or not a response: keep waiting
  kAnswered,  // our transaction finished (see result())
};

class BindingClient {
 public:
  // `random` is used by Start(now) only; it may be empty if the caller always
  // supplies the request ID.
  explicit BindingClient(BindingClientConfig config, RandomSource random = {});

  // Builds the request and starts the timers; the caller sends request()
  // right away. Fails if already started, if the random source is missing,
  // or if the attributes do not fit a message.
  absl::Status Start(absl::Time now);
  absl::Status Start(absl::Time now, const RequestId& id);

  // The request bytes (empty before Start).
  std::span<const uint8_t> request() const;
  const RequestId& request_id() const { return id_; }

  // When HandleTimeout must be called; InfiniteFuture when not pending.
  absl::Time deadline() const;
  // Returns true if request() must be sent again now. May finish the
  // transaction with kTimeout.
  bool HandleTimeout(absl::Time now);

  // Offer one received datagram (UDP) or one whole frame (TCP).
  Disposition HandleMessage(std::span<const uint8_t> bytes, absl::Time now);

  bool done() const;
  const BindingResult& result() const { return result_; }

 private:
  bool MatchesOurs(std::span<const uint8_t> bytes) const;
  void Finish(BindingStatus status, absl::Time now);
  void FinishMalformed(std::string reason, absl::Time now);
  void ReadSuccess(const stun::MessageView& m, absl::Time now);
  void ReadError(const stun::MessageView& m, absl::Time now);

  BindingClientConfig config_;
  RandomSource random_;
  RequestId id_;
  std::vector<uint8_t> request_;
  std::optional<stun::ClientTransaction> transaction_;
  BindingResult result_;
};

}  // namespace uturn::client
