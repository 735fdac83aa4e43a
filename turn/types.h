// Small value types shared by the TURN core and its host.
#pragma once

#include <cstdint>

#include "stun/address.h"

namespace uturn::turn {

using stun::SocketAddress;

enum class Transport : uint8_t { kUdp, kTcp, kTls };

// RFC 8656 §2: the 5-tuple identifies an allocation: client address, server
// address (the listening socket it reached) and transport.
struct FiveTuple {
  SocketAddress client;
  SocketAddress server;
  Transport transport = Transport::kUdp;

  friend bool operator==(const FiveTuple&, const FiveTuple&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const FiveTuple& t) {
    return H::combine(std::move(h), t.client, t.server, t.transport);
  }
};

// A relay socket owned by the host (driver). Opaque to the core.
using RelayId = uint32_t;

}  // namespace uturn::turn
