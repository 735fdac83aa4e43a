#include "server/gso_batcher.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cassert>
#include <cstring>

// glibc exposes UDP_SEGMENT from 2.31 on; the value is the kernel's ABI.
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace uturn::server {

void GsoBatch::PrepareMessage() {
  assert(count >= 1 && count <= kMaxSegments);
  msg = msghdr{};
  msg.msg_name = &addr;
  msg.msg_namelen = to.ToSockaddr(&addr);
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  if (count > 1) {
    // Linux udp(7), UDP_SEGMENT: every datagram but the last is exactly
    // `segment_size` bytes; the last may be shorter.
    control.fill(0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    std::memcpy(CMSG_DATA(c), &segment_size, sizeof segment_size);
  }
}

GsoBatcher::GsoBatcher(uint32_t pool, uint32_t max_open, SubmitFn submit)
    : batches_(pool), max_open_(max_open), submit_(std::move(submit)) {
  assert(pool > 0 && max_open > 0);
  free_.reserve(pool);
  for (uint32_t i = 0; i < pool; ++i) {
    batches_[i].index = i;
    free_.push_back(pool - 1 - i);
  }
  open_.reserve(max_open);
}

GsoBatch* GsoBatcher::Acquire() {
  if (free_.empty()) return nullptr;
  GsoBatch* b = &batches_[free_.back()];
  free_.pop_back();
  b->count = 0;
  b->bytes = 0;
  b->segment_size = 0;
  b->sealed = false;
  return b;
}

void GsoBatcher::Release(GsoBatch& batch) {
  assert(batch.index < batches_.size() && free_.size() < batches_.size());
  free_.push_back(batch.index);
}

void GsoBatcher::SubmitOpen(size_t i) {
  GsoBatch* b = open_[i];
  open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(i));
  submit_(*b);
}

bool GsoBatcher::Add(int fd, const stun::SocketAddress& to, std::span<const uint8_t> bytes,
                     int32_t cookie, bool gso) {
  const size_t size = bytes.size();
  const bool batchable = gso && size > 0 && size <= kMaxSegmentSize;
  for (size_t i = 0; i < open_.size(); ++i) {
    GsoBatch& b = *open_[i];
    if (b.fd != fd || !(b.to == to)) continue;
    if (batchable && !b.sealed && size <= b.segment_size && b.count < GsoBatch::kMaxSegments &&
        b.bytes + size <= GsoBatch::kMaxBytes) {
      b.iov[b.count] = iovec{const_cast<uint8_t*>(bytes.data()), size};  // the kernel only reads
      b.cookies[b.count] = cookie;
      ++b.count;
      b.bytes += static_cast<uint32_t>(size);
      b.sealed = size < b.segment_size;
      if (b.sealed || b.count == GsoBatch::kMaxSegments) SubmitOpen(i);
      return true;
    }
    // It cannot join: what is open for this destination leaves first, so
    // the destination sees its datagrams in order.
    SubmitOpen(i);
    break;
  }
  GsoBatch* b = Acquire();
  if (b == nullptr) return false;
  b->fd = fd;
  b->to = to;
  b->iov[0] = iovec{const_cast<uint8_t*>(bytes.data()), size};
  b->cookies[0] = cookie;
  b->count = 1;
  b->bytes = static_cast<uint32_t>(size);
  b->segment_size = static_cast<uint16_t>(batchable ? size : 0);
  if (!batchable) {
    submit_(*b);
    return true;
  }
  if (open_.size() == max_open_) SubmitOpen(0);  // the oldest goes
  open_.push_back(b);
  return true;
}

void GsoBatcher::Flush() {
  while (!open_.empty()) SubmitOpen(0);
}

}  // namespace uturn::server
