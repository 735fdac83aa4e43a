// A provided-buffer ring (IORING_REGISTER_PBUF_RING) for multishot receives.
// liburing 2.3 has no io_uring_setup_buf_ring, so the ring memory is mmap'd
// here and registered by hand. One per shard; all of the shard's UDP sockets
// draw from it.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"

namespace uturn::server {

class BufferRing {
 public:
  // `count` must be a power of two (a kernel requirement), at most 32768.
  static absl::StatusOr<std::unique_ptr<BufferRing>> Create(io_uring* ring, uint16_t group_id,
                                                            uint32_t count, uint32_t buffer_size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return buffer_size_; }
  std::span<uint8_t> buffer(uint16_t id) {
    return {buffers_ + static_cast<size_t>(id) * buffer_size_, buffer_size_};
  }
  // Hands a buffer back to the kernel once its contents are no longer needed.
  void Return(uint16_t id);

 private:
  BufferRing(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t buffer_size);

  io_uring* ring_;
  uint16_t group_id_;
  uint32_t count_;
  uint32_t buffer_size_;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  uint8_t* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  bool registered_ = false;
};

}  // namespace uturn::server
