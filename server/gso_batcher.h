// Groups the UDP datagrams one loop turn sends into UDP GSO sends
// (DESIGN.md §The data plane, "Send"): datagrams from the same socket to the
// same destination with the same size go out as ONE sendmsg carrying a
// UDP_SEGMENT control message (Linux 4.18+), and the kernel cuts them back
// into datagrams below the socket layer. A burst of N relayed packets then
// costs one route lookup and one trip down the stack instead of N.
//
// The batcher owns a fixed pool of batches (no allocation per packet). Each
// batch holds the iovecs and an opaque cookie per datagram (the driver's
// receive-buffer id, whose reference the batch keeps until the send
// completes). A few batches stay open during the turn, one per (socket,
// destination); Submit hands a batch to the driver when it is full, when a
// datagram cannot join it, or at the end of the turn (Flush). The driver
// calls Release when the kernel is done with the batch.
//
// Ordering: datagrams to one (socket, destination) leave in the order they
// were added, since each pair has at most one open batch.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "stun/address.h"

namespace uturn::server {

struct GsoBatch {
  // The kernel's cap on segments per GSO send is UDP_MAX_SEGMENTS: 64 before
  // Linux 6.x raised it to 128; 64 works on every kernel that has GSO.
  static constexpr size_t kMaxSegments = 64;
  // A UDP datagram carries at most 65,535 - 8 (UDP) - 20 (IPv4) bytes; the
  // kernel refuses a GSO send whose total exceeds that.
  static constexpr size_t kMaxBytes = 65'000;

  int fd = -1;
  stun::SocketAddress to;
  uint32_t count = 0;         // datagrams in the batch
  uint32_t bytes = 0;         // their total size
  uint16_t segment_size = 0;  // size of each datagram but the last
  bool sealed = false;        // the last datagram was shorter: nothing may follow
  uint32_t index = 0;         // in the pool
  std::array<iovec, kMaxSegments> iov{};
  std::array<int32_t, kMaxSegments> cookies{};

  // The driver's send state, kept with the batch until the send completes.
  msghdr msg{};
  sockaddr_storage addr{};
  alignas(cmsghdr) std::array<uint8_t, CMSG_SPACE(sizeof(uint16_t))> control{};

  // Points msg at the batch; with more than one datagram, adds UDP_SEGMENT.
  void PrepareMessage();
};

class GsoBatcher {
 public:
  // Called with each batch ready to go; the batch stays the caller's until
  // it passes it to Release.
  using SubmitFn = std::function<void(GsoBatch&)>;

  // `pool`: batches in flight at most (queued + submitted, not yet
  // completed). `max_open`: batches open at once during a turn.
  GsoBatcher(uint32_t pool, uint32_t max_open, SubmitFn submit);

  // Adds a datagram. Returns false (and takes nothing) when every batch is
  // in flight: the caller drops and counts. `gso` false: this socket must
  // not use UDP_SEGMENT (the kernel refused it), so the datagram goes alone.
  bool Add(int fd, const stun::SocketAddress& to, std::span<const uint8_t> bytes, int32_t cookie,
           bool gso);
  // Submits every open batch (the end of a loop turn).
  void Flush();
  void Release(GsoBatch& batch);
  GsoBatch& batch(uint32_t index) { return batches_[index]; }

  size_t in_flight() const { return batches_.size() - free_.size(); }
  size_t open() const { return open_.size(); }

  // Largest datagram that is batched: a segment must fit the path MTU or the
  // kernel refuses the whole send (EINVAL), and bigger datagrams are rare in
  // media. 1,400 fits a 1,500-byte MTU under IPv6 (40) + UDP (8) headers.
  static constexpr size_t kMaxSegmentSize = 1400;

 private:
  GsoBatch* Acquire();
  void SubmitOpen(size_t open_index);

  std::vector<GsoBatch> batches_;
  std::vector<uint32_t> free_;
  std::vector<GsoBatch*> open_;  // oldest first
  uint32_t max_open_;
  SubmitFn submit_;
};

}  // namespace uturn::server
