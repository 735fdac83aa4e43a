#include "server/send_pool.h"

#include <cassert>

namespace uturn::server {

void SendSlot::Prepare(size_t size, const stun::SocketAddress& to) {
  assert(size <= buffer.size());
  iov.iov_base = buffer.data();
  iov.iov_len = size;
  msg = msghdr{};
  msg.msg_name = &addr;
  msg.msg_namelen = to.ToSockaddr(&addr);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
}

void SendSlot::PrepareExternal(std::span<const uint8_t> bytes, const stun::SocketAddress& to) {
  Prepare(0, to);
  iov.iov_base = const_cast<uint8_t*>(bytes.data());  // the kernel only reads it
  iov.iov_len = bytes.size();
}

SendPool::SendPool(uint32_t count, uint32_t slot_size)
    : storage_(new uint8_t[static_cast<size_t>(count) * slot_size]), slots_(count) {
  free_.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    slots_[i].index = i;
    slots_[i].buffer = {storage_.get() + static_cast<size_t>(i) * slot_size, slot_size};
    free_.push_back(count - 1 - i);  // hand out low indices first
  }
}

SendSlot* SendPool::Acquire() {
  if (free_.empty()) return nullptr;
  const uint32_t i = free_.back();
  free_.pop_back();
  return &slots_[i];
}

void SendPool::Release(SendSlot* slot) {
  assert(slot != nullptr && slot->index < slots_.size());
  assert(free_.size() < slots_.size());  // released twice otherwise
  free_.push_back(slot->index);
}

}  // namespace uturn::server
