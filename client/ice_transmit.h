// One message the ICE agent (or its gatherer) wants sent: from the base
// `source` (a socket the driver added with AddLocalInterface) to
// `destination`. UDP: one datagram from that socket. TCP (TURN over TCP,
// RFC 8656 §3.1): the bytes of one whole STUN message or ChannelData frame,
// written on the stream from `source`'s IP to `destination`, which the
// driver opens if there is none. The driver owns the sockets and streams.
#pragma once

#include <cstdint>
#include <vector>

#include "stun/address.h"

namespace uturn::client {

// How the client reaches a TURN server (RFC 8656 §3.1). The relayed
// candidate is a UDP relay whichever is used. TLS is not built yet.
enum class TurnTransport : uint8_t { kUdp, kTcp, kTls };
inline const char* ToString(TurnTransport t) {
  switch (t) {
    case TurnTransport::kUdp: return "udp";
    case TurnTransport::kTcp: return "tcp";
    case TurnTransport::kTls: return "tls";
  }
  return "?";
}

struct IceTransmit {
  stun::SocketAddress source;
  stun::SocketAddress destination;
  std::vector<uint8_t> bytes;
  TurnTransport transport = TurnTransport::kUdp;
};

}  // namespace uturn::client
