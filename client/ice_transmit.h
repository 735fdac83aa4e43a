// One datagram the ICE agent (or its gatherer) wants sent: from the socket
// bound to `source` (a base the driver added with AddLocalInterface) to
// `destination`. The driver owns the sockets and just sends it.
#pragma once

#include <cstdint>
#include <vector>

#include "stun/address.h"

namespace uturn::client {

struct IceTransmit {
  stun::SocketAddress source;
  stun::SocketAddress destination;
  std::vector<uint8_t> bytes;
};

}  // namespace uturn::client
