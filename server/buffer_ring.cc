#include "server/buffer_ring.h"

#include <sys/mman.h>

#include <cassert>
#include <cstring>

#include "stun/text.h"

namespace uturn::server {

BufferRing::BufferRing(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t buffer_size)
    : ring_(ring), group_id_(group_id), count_(count), buffer_size_(buffer_size) {}

absl::StatusOr<std::unique_ptr<BufferRing>> BufferRing::Create(io_uring* ring, uint16_t group_id,
                                                               uint32_t count,
                                                               uint32_t buffer_size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || buffer_size == 0) {
    return absl::InvalidArgumentError("buffer ring: count must be a power of two <= 32768");
  }
  std::unique_ptr<BufferRing> self(new BufferRing(ring, group_id, count, buffer_size));

  // The ring of buffer descriptors must be page aligned; mmap gives that.
  self->br_bytes_ = sizeof(io_uring_buf) * count;
  void* br = mmap(nullptr, self->br_bytes_, PROT_READ | PROT_WRITE,
                  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (br == MAP_FAILED) {
    return absl::ResourceExhaustedError(text::Cat("buffer ring: mmap: ", std::strerror(errno)));
  }
  self->br_ = static_cast<io_uring_buf_ring*>(br);

  self->buffers_bytes_ = static_cast<size_t>(count) * buffer_size;
  void* bufs = mmap(nullptr, self->buffers_bytes_, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (bufs == MAP_FAILED) {
    return absl::ResourceExhaustedError(text::Cat("buffer ring: mmap: ", std::strerror(errno)));
  }
  self->buffers_ = static_cast<uint8_t*>(bufs);

  io_uring_buf_ring_init(self->br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(self->br_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  const int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    return absl::UnavailableError(
        text::Cat("io_uring_register_buf_ring: ", std::strerror(-rc), " (kernel 5.19+ needed)"));
  }
  self->registered_ = true;

  const int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(self->br_, self->buffers_ + static_cast<size_t>(i) * buffer_size,
                          buffer_size, static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(self->br_, static_cast<int>(count));
  return self;
}

BufferRing::~BufferRing() {
  if (registered_) io_uring_unregister_buf_ring(ring_, group_id_);
  if (buffers_ != nullptr) munmap(buffers_, buffers_bytes_);
  if (br_ != nullptr) munmap(br_, br_bytes_);
}

void BufferRing::Return(uint16_t id) {
  assert(id < count_);
  io_uring_buf_ring_add(br_, buffer(id).data(), buffer_size_, id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace uturn::server
