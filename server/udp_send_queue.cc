#include "server/udp_send_queue.h"

#include <cassert>
#include <cerrno>
#include <cstring>

namespace uturn::server {
namespace {

int SystemSendmmsg(int fd, mmsghdr* msgs, unsigned count, int flags) {
  return ::sendmmsg(fd, msgs, count, flags);
}

}  // namespace

UdpSendQueue::UdpSendQueue(uint32_t capacity, uint32_t copy_size, SendFn send)
    : send_(send != nullptr ? send : &SystemSendmmsg),
      pool_(capacity, copy_size),
      batch_(capacity),
      done_(capacity) {
  assert(capacity > 0);
  pending_.reserve(capacity);
}

UdpSendQueue::Queued UdpSendQueue::Add(int fd, const stun::SocketAddress& to,
                                       std::span<const uint8_t> bytes,
                                       std::span<const uint8_t> stable) {
  const bool in_place = !stable.empty() && bytes.data() >= stable.data() &&
                        bytes.data() + bytes.size() <= stable.data() + stable.size();
  if (!in_place && bytes.size() > pool_.slot(0).buffer.size()) return Queued::kTooLarge;
  SendSlot* slot = pool_.Acquire();
  if (slot == nullptr) return Queued::kFull;
  if (in_place) {
    slot->PrepareExternal(bytes, to);
  } else {
    std::memcpy(slot->buffer.data(), bytes.data(), bytes.size());
    slot->Prepare(bytes.size(), to);
  }
  assert(pending_.size() < pending_.capacity());  // as many entries as slots
  pending_.push_back(Pending{fd, slot});
  return in_place ? Queued::kInPlace : Queued::kCopied;
}

UdpSendQueue::FlushResult UdpSendQueue::Flush() {
  FlushResult r;
  const size_t n = pending_.size();
  std::fill(done_.begin(), done_.begin() + static_cast<std::ptrdiff_t>(n), false);
  // Group by socket, keeping each socket's order. Quadratic in the number of
  // distinct sockets in one batch at worst, which is bounded by `capacity`
  // and cheap next to the syscalls it saves.
  for (size_t first = 0; first < n; ++first) {
    if (done_[first]) continue;
    const int fd = pending_[first].fd;
    unsigned count = 0;
    for (size_t j = first; j < n; ++j) {
      if (done_[j] || pending_[j].fd != fd) continue;
      done_[j] = true;
      batch_[count] = mmsghdr{};
      batch_[count].msg_hdr = pending_[j].slot->msg;
      ++count;
    }
    unsigned k = 0;
    while (k < count) {
      const int rc = send_(fd, &batch_[k], count - k, MSG_DONTWAIT);
      ++r.calls;
      if (rc > 0) {
        k += static_cast<unsigned>(rc);  // a short count: send the rest next
        r.sent += static_cast<unsigned>(rc);
      } else if (rc < 0 && errno == EINTR) {
        continue;
      } else if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        r.would_block += count - k;  // socket buffer full: drop, never wait
        break;
      } else {
        // sendmmsg reports an error only for the first datagram; skip it
        // (e.g. EPERM from a firewall, EMSGSIZE with DF) and go on.
        r.errors += 1;
        r.last_error = rc < 0 ? errno : EIO;
        ++k;
      }
    }
  }
  for (const Pending& p : pending_) pool_.Release(p.slot);
  pending_.clear();
  return r;
}

}  // namespace uturn::server
