#include "loadtest/packet_pool.h"

#include <cassert>
#include <cstring>

namespace uturn::loadtest {

PacketPool::PacketPool(uint32_t count, uint32_t slot_size)
    : slot_size_(slot_size),
      bytes_(static_cast<size_t>(count) * slot_size),
      meta_(count),
      free_(count),
      taken_(count, 0) {
  assert(count > 0 && slot_size > 0);
  // Lowest ids on top of the stack: the first packets use the first slots.
  for (uint32_t i = 0; i < count; ++i) free_[i] = count - 1 - i;
}

std::optional<uint32_t> PacketPool::Acquire() {
  if (free_.empty()) return std::nullopt;
  const uint32_t id = free_.back();
  free_.pop_back();
  assert(!taken_[id]);
  taken_[id] = 1;
  return id;
}

void PacketPool::Release(uint32_t id) {
  assert(id < capacity() && taken_[id]);
  taken_[id] = 0;
  free_.push_back(id);
}

std::span<uint8_t> PacketPool::buffer(uint32_t id) {
  assert(id < capacity());
  return {bytes_.data() + static_cast<size_t>(id) * slot_size_, slot_size_};
}

msghdr& PacketPool::Prepare(uint32_t id, size_t len, const sockaddr* to, socklen_t to_len) {
  assert(id < capacity() && taken_[id] && len <= slot_size_);
  Meta& m = meta_[id];
  m.iov = {buffer(id).data(), len};
  m.msg = msghdr{};
  m.msg.msg_iov = &m.iov;
  m.msg.msg_iovlen = 1;
  if (to != nullptr) {
    assert(to_len <= sizeof m.to);
    std::memcpy(&m.to, to, to_len);
    m.msg.msg_name = &m.to;
    m.msg.msg_namelen = to_len;
  }
  return m.msg;
}

}  // namespace uturn::loadtest
