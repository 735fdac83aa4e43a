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
// on. `reuse_port` sets SO_REUSEPORT, for one socket per shard on the same
// address (the kernel spreads 5-tuples over them); only with several shards,
// because it also lets another instance of the same user share the port.
absl::StatusOr<ListeningSocket> OpenUdpSocket(const stun::SocketAddress& address,
                                              bool reuse_port = false);
absl::StatusOr<ListeningSocket> OpenTcpListener(const stun::SocketAddress& address, int backlog,
                                                bool reuse_port = false);

// The first IPv4 address of an up, non-loopback interface (getifaddrs), for
// the default relay address; nullopt if there is none.
std::optional<stun::SocketAddress> FirstNonLoopbackIpv4();

}  // namespace uturn::server
