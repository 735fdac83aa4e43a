// A fixed pool of outgoing datagrams for uturn-load. Every send (ChannelData,
// Send indication, echo, request) is written into a slot, handed to the
// kernel, and the slot comes back when the send completed (io_uring) or was
// made (epoll). Sized once at start: no heap allocation per packet.
//
// Each slot carries a msghdr/iovec/address next to its bytes, because an
// io_uring sendmsg reads them when the kernel runs it, not when it is queued.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace uturn::loadtest {

class PacketPool {
 public:
  struct Meta {
    msghdr msg{};
    iovec iov{};
    sockaddr_storage to{};
  };

  // `count` slots of `slot_size` bytes each; both > 0.
  PacketPool(uint32_t count, uint32_t slot_size);
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A free slot, or nullopt when every slot is in flight.
  std::optional<uint32_t> Acquire();
  // Gives back a slot taken with Acquire (exactly once).
  void Release(uint32_t id);

  std::span<uint8_t> buffer(uint32_t id);
  // Points the slot's msghdr at its first `len` bytes, addressed to `to`
  // (null: a connected socket's peer). `to_len` at most sizeof(sockaddr_storage).
  msghdr& Prepare(uint32_t id, size_t len, const sockaddr* to, socklen_t to_len);

  uint32_t capacity() const { return static_cast<uint32_t>(meta_.size()); }
  uint32_t slot_size() const { return slot_size_; }
  uint32_t in_use() const { return capacity() - static_cast<uint32_t>(free_.size()); }

 private:
  uint32_t slot_size_;
  std::vector<uint8_t> bytes_;
  std::vector<Meta> meta_;
  std::vector<uint32_t> free_;   // stack of free slot ids
  std::vector<uint8_t> taken_;   // per slot, to catch double releases
};

}  // namespace uturn::loadtest
