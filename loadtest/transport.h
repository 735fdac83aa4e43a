// How uturn-load moves datagrams: io_uring (multishot recvmsg on a provided
// buffer ring, sends queued and submitted together) or, where io_uring is not
// available, epoll + recvmmsg/sendmmsg. The generator above it is the same
// for both; only this interface differs.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "loadtest/options.h"
#include "loadtest/packet_pool.h"
#include "loadtest/schedule.h"

namespace uturn::loadtest {

// What a send carries, so that failures are counted where they belong.
enum class Traffic : uint8_t { kData, kEcho, kControl };

struct Received {
  uint32_t tag = 0;                  // as given to Watch
  std::span<const uint8_t> bytes;    // valid during the callback only
  const sockaddr* from = nullptr;    // the sender (unconnected sockets)
  socklen_t from_len = 0;
};

class Transport {
 public:
  using OnReceive = absl::FunctionRef<void(const Received&)>;

  virtual ~Transport() = default;
  virtual const char* name() const = 0;

  // Reports every datagram arriving on `fd` with `tag` (fd: a UDP socket
  // that stays open as long as this transport).
  virtual absl::Status Watch(int fd, uint32_t tag) = 0;

  // Slots for outgoing datagrams: Acquire one from pool(), write it, Send it.
  PacketPool& pool() { return pool_; }
  // Queues pool slot `id` (its first `len` bytes) on `fd`, to `to` or, when
  // null, to the connected peer. The transport owns the slot from here on.
  virtual void Send(int fd, uint32_t id, size_t len, const sockaddr* to, socklen_t to_len,
                    Traffic traffic) = 0;
  // kFirst: return as soon as something arrived (latency runs, set-up).
  // kUntil: wait out the whole time, then take everything that arrived in
  // one go (throughput runs: fewer, fuller turns of the loop).
  enum class Wait : uint8_t { kFirst, kUntil };
  // Hands every queued send to the kernel, then waits until `until_ns`
  // (steady clock) at most for datagrams, reports what arrived through
  // `on_receive` and returns. The callback may Send.
  virtual void Poll(uint64_t until_ns, Wait wait, OnReceive on_receive) = 0;

  // Sends the kernel refused (or that found no pool slot), by traffic kind.
  uint64_t failed(Traffic t) const { return failed_[static_cast<size_t>(t)]; }
  void CountFailure(Traffic t) { ++failed_[static_cast<size_t>(t)]; }

 protected:
  explicit Transport(const BufferSizes& sizes)
      : sizes_(sizes), pool_(sizes.pool_slots, sizes.slot_size) {}
  const BufferSizes sizes_;
  PacketPool pool_;

 private:
  std::array<uint64_t, 3> failed_{};
};

absl::StatusOr<std::unique_ptr<Transport>> MakeUringTransport(const BufferSizes& sizes);
std::unique_ptr<Transport> MakeEpollTransport(const BufferSizes& sizes);

// The steady clock in nanoseconds (the clock every `*_ns` above refers to).
uint64_t NowNs();

}  // namespace uturn::loadtest
