// The epoll driver's outgoing datagrams: queued while a receive batch (or a
// loop turn) is handled, then written with one sendmmsg per socket. Bytes
// that lie in the caller's receive batch go out in place (the batch is not
// reused until Flush()); others are copied into a preallocated slot, so
// nothing is allocated per packet. A full socket buffer drops the rest of
// that socket's run and counts it (UDP semantics): a send never blocks.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <vector>

#include "server/send_pool.h"
#include "stun/address.h"

namespace uturn::server {

class UdpSendQueue {
 public:
  // ::sendmmsg's shape; tests substitute a fake to provoke short writes,
  // EAGAIN and errors.
  using SendFn = int (*)(int fd, mmsghdr* msgs, unsigned count, int flags);

  enum class Queued : uint8_t { kInPlace, kCopied, kTooLarge, kFull };
  struct FlushResult {
    uint64_t calls = 0;        // sendmmsg calls made
    uint64_t sent = 0;         // datagrams the kernel took
    uint64_t would_block = 0;  // dropped: socket buffer full (EAGAIN)
    uint64_t errors = 0;       // dropped: any other error
    int last_error = 0;        // errno of the last error, for the log
  };

  // `capacity` datagrams at most; copies up to `copy_size` bytes each.
  UdpSendQueue(uint32_t capacity, uint32_t copy_size, SendFn send = nullptr);

  // Queues `bytes` from `fd` to `to`. In place if `bytes` lies inside
  // `stable` (valid until the next Flush), else copied. kFull: flush, retry.
  Queued Add(int fd, const stun::SocketAddress& to, std::span<const uint8_t> bytes,
             std::span<const uint8_t> stable);
  // Sends everything queued, grouped by socket in queue order, and empties
  // the queue.
  FlushResult Flush();

  size_t size() const { return pending_.size(); }
  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    int fd;
    SendSlot* slot;
  };

  SendFn send_;
  SendPool pool_;
  std::vector<Pending> pending_;  // capacity reserved up front
  std::vector<mmsghdr> batch_;    // one socket's run, built at Flush
  std::vector<bool> done_;
};

}  // namespace uturn::server
