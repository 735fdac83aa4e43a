// Opening the listening sockets (UDP and TCP) for one address.
#pragma once

#include "absl/status/statusor.h"
#include "server/stun_responder.h"
#include "stun/address.h"

namespace uturn::server {

struct ListeningSocket {
  int fd = -1;
  Transport transport = Transport::kUdp;
  stun::SocketAddress local;  // with the port actually bound (matters for port 0)
};

// IPv6 sockets are IPV6_V6ONLY so that 0.0.0.0 and :: can both be listened
// on. No SO_REUSEPORT yet: it would let a second instance silently share the
// port; the sharding issue adds it together with one socket per shard.
absl::StatusOr<ListeningSocket> OpenUdpSocket(const stun::SocketAddress& address);
absl::StatusOr<ListeningSocket> OpenTcpListener(const stun::SocketAddress& address, int backlog);

}  // namespace uturn::server
