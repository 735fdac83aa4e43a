// --max-tcp-connections-per-ip: TCP connections open at once per client IP
// address, counted across all shards (a client's connections spread over the
// shards' SO_REUSEPORT listeners by hash). Taken only on accept and close,
// never on the packet path, so one mutex is cheap enough.
#pragma once

#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "stun/address.h"

namespace uturn::server {

class TcpIpLimiter {
 public:
  // `per_ip` 0: no cap (Acquire always succeeds, nothing is tracked).
  explicit TcpIpLimiter(uint32_t per_ip) : per_ip_(per_ip) {}

  // One more connection from `client`'s IP (its port is ignored); false, and
  // nothing counted, if that IP already holds the cap.
  bool Acquire(const stun::SocketAddress& client);
  // A connection Acquire admitted is gone.
  void Release(const stun::SocketAddress& client);
  // Connections counted for `client`'s IP now.
  uint32_t count(const stun::SocketAddress& client) const;

 private:
  static stun::SocketAddress Key(stun::SocketAddress a) {
    a.port = 0;
    return a;
  }

  const uint32_t per_ip_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<stun::SocketAddress, uint32_t> open_;
};

}  // namespace uturn::server
