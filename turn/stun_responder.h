// Sans-IO STUN Binding responder (RFC 8489 §6.3): given one request's bytes,
// the peer's transport address and the transport, writes the response into a
// caller buffer or says to drop, and counts what it did. No allocation, no
// clock, no I/O: the drivers (io_uring, later epoll) and tests call it alike.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "stun/address.h"
#include "turn/types.h"

namespace uturn::turn {

// Transport comes from turn/types.h (kUdp, kTcp, kTls).

// What happened to one message. Stable: used as metric and log labels.
enum class Outcome : uint8_t {
  kSuccess,            // Binding success response written
  kBadRequest,         // 400 written
  kUnknownAttribute,   // 420 + UNKNOWN-ATTRIBUTES written
  kIndication,         // Binding indication accepted, nothing to send
  kNotStun,            // dropped: fails the header checks of RFC 8489 §6.3
  kBadFingerprint,     // dropped: FINGERPRINT wrong (RFC 8489 §6.3, §7)
  kUnsupportedMethod,  // dropped: method not served (RFC 8489 §6.3)
  kUnexpectedClass,    // dropped: a response, with no transaction of ours
  kMalformedDropped,   // dropped: malformed indication (RFC 8489 §6.3.2)
  kResponseTooLarge,   // dropped: response did not fit the caller's buffer
  kCount,
};
const char* ToString(Outcome outcome);

struct ResponderOptions {
  // SOFTWARE value (RFC 8489 §14.14); empty leaves the attribute out.
  std::string software;
};

class StunResponder {
 public:
  // A buffer this large always holds any response the responder writes:
  // header, ERROR-CODE, UNKNOWN-ATTRIBUTES for every attribute a parsed
  // message can hold, SOFTWARE of at most 127 bytes, FINGERPRINT.
  static constexpr size_t kMaxResponseSize = 548;

  struct Result {
    Outcome outcome = Outcome::kNotStun;
    size_t response_size = 0;  // bytes written to `out`; 0: send nothing
  };

  explicit StunResponder(ResponderOptions options);

  // `message` is one datagram or one frame cut by stun::StreamFramer.
  Result Handle(std::span<const uint8_t> message, const stun::SocketAddress& peer,
                Transport transport, std::span<uint8_t> out);

  uint64_t count(Outcome outcome) const { return counters_[static_cast<size_t>(outcome)]; }
  uint64_t count(Transport transport) const {
    return messages_by_transport_[static_cast<size_t>(transport)];
  }

 private:
  Result Finish(Outcome outcome, size_t size);

  ResponderOptions options_;
  std::array<uint64_t, static_cast<size_t>(Outcome::kCount)> counters_{};
  std::array<uint64_t, 3> messages_by_transport_{};
};

}  // namespace uturn::turn
