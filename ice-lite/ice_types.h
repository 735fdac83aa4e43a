// Shared vocabulary of the ICE-lite library (RFC 8445 §2.5): transport
// tuples, credentials, session events. Sans-IO: nothing here owns a socket,
// a thread or a clock.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "absl/hash/hash.h"
#include "stun/address.h"

namespace uturn::ice {

// Fills the span with bytes from a CSPRNG (the host passes OpenSSL's
// RAND_bytes or getrandom; tests pass a deterministic one).
using RandomSource = std::function<void(std::span<uint8_t>)>;

enum class Transport : uint8_t { kUdp, kTcp };  // TCP: RFC 6544 passive, RFC 4571 framing

// The 5-tuple a check or media packet arrived on: the peer's address, the
// local address it reached, and the transport.
struct Tuple {
  stun::SocketAddress remote;
  stun::SocketAddress local;
  Transport transport = Transport::kUdp;
  friend bool operator==(const Tuple&, const Tuple&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Tuple& t) {
    return H::combine(std::move(h), t.remote, t.local, t.transport);
  }
  std::string ToString() const;  // "udp 192.0.2.1:5000->198.51.100.2:3478"
};

struct Credentials {
  std::string ufrag;  // RFC 8445 §5.3: at least 24 bits of randomness, ice-chars
  std::string pwd;    // at least 128 bits of randomness, 22 to 256 ice-chars
  friend bool operator==(const Credentials&, const Credentials&) = default;
};

// RFC 8445 §5.3 / RFC 8839 §5.4: ufrag of 8 and pwd of 24 ice-chars
// ([A-Za-z0-9+/]), 6 bits each: 48 and 144 bits of randomness.
Credentials GenerateCredentials(const RandomSource& random);
// True if `s` is 1..256 ice-chars (ufrag: 4..256; pwd: 22..256 per RFC 8839 §5.4).
bool IsValidUfrag(std::string_view s);
bool IsValidPwd(std::string_view s);

// RFC 8445 §6.1.1 roles. A lite agent is controlled against a full agent;
// between two lite agents the offerer is controlling.
enum class Role : uint8_t { kControlled, kControlling };

// The session state as the SFU sees it.
enum class SessionState : uint8_t {
  kNew,           // no authenticated check yet
  kConnected,     // a tuple is selected and consent is fresh
  kDisconnected,  // no valid check for `disconnected_after`; may come back
  kFailed,        // consent expired (RFC 7675 §5.1): terminal
  kClosed,        // closed by the application
};
const char* ToString(SessionState s);

struct SessionEvent {
  enum class Kind : uint8_t {
    kTupleAdded,       // a tuple authenticated a check (peer-reflexive if new)
    kTupleRemoved,     // evicted (cap) or expired with the session
    kSelectedChanged,  // nominated tuple changed (USE-CANDIDATE / NOMINATION)
    kConnected,        // first selection, or back from kDisconnected
    kDisconnected,
    kFailed,
  };
  Kind kind;
  Tuple tuple;  // the tuple concerned (the selected one for state events)
};
const char* ToString(SessionEvent::Kind k);

}  // namespace uturn::ice
