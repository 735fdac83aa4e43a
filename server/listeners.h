// Opening the listening sockets (UDP and TCP) for one address.
#pragma once

#include "absl/status/statusor.h"
#include <optional>

#include "stun/address.h"
#include "turn/types.h"

namespace uturn::server {

struct ListeningSocket {
  int fd = -1;
  turn::Transport transport = turn::Transport::kUdp;
  stun::SocketAddress local;  // with the port actually bound (matters for port 0)
};

// IPv6 sockets are IPV6_V6ONLY so that 0.0.0.0 and :: can both be listened
// on. No SO_REUSEPORT yet: it would let a second instance silently share the
// port; the sharding issue adds it together with one socket per shard.
absl::StatusOr<ListeningSocket> OpenUdpSocket(const stun::SocketAddress& address);
absl::StatusOr<ListeningSocket> OpenTcpListener(const stun::SocketAddress& address, int backlog);

// The first IPv4 address of an up, non-loopback interface (getifaddrs), for
// the default relay address; nullopt if there is none.
std::optional<stun::SocketAddress> FirstNonLoopbackIpv4();

}  // namespace uturn::server
