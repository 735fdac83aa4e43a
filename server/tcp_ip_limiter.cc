#include "server/tcp_ip_limiter.h"

#include <cassert>

namespace uturn::server {

bool TcpIpLimiter::Acquire(const stun::SocketAddress& client) {
  if (per_ip_ == 0) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  uint32_t& n = open_[Key(client)];
  if (n >= per_ip_) return false;
  ++n;
  return true;
}

void TcpIpLimiter::Release(const stun::SocketAddress& client) {
  if (per_ip_ == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = open_.find(Key(client));
  assert(it != open_.end() && it->second > 0);
  if (it == open_.end()) return;
  // Entries go with their last connection: the map holds only IPs with
  // connections open, so it is bounded by the connection cap.
  if (--it->second == 0) open_.erase(it);
}

uint32_t TcpIpLimiter::count(const stun::SocketAddress& client) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = open_.find(Key(client));
  return it == open_.end() ? 0 : it->second;
}

}  // namespace uturn::server
