// A fixed pool of UDP send slots: each owns a buffer and the msghdr/iovec/
// address the kernel reads until the sendmsg completes. Preallocated, so the
// hot path never allocates; when all slots are in flight the caller drops.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "stun/address.h"

namespace uturn::server {

struct SendSlot {
  msghdr msg{};
  iovec iov{};
  sockaddr_storage addr{};
  std::span<uint8_t> buffer;
  uint32_t index = 0;

  // Points msg at `size` bytes of `buffer` for `to`.
  void Prepare(size_t size, const stun::SocketAddress& to);
  // Points msg at `bytes` outside the slot (a send in place from a receive
  // buffer, which must stay untouched until the send completes).
  void PrepareExternal(std::span<const uint8_t> bytes, const stun::SocketAddress& to);
};

class SendPool {
 public:
  SendPool(uint32_t count, uint32_t slot_size);

  SendSlot* Acquire();  // nullptr when every slot is in flight
  void Release(SendSlot* slot);
  SendSlot& slot(uint32_t index) { return slots_[index]; }
  size_t in_use() const { return slots_.size() - free_.size(); }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  std::vector<SendSlot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace uturn::server
