// The io_uring transport. Every socket has one multishot recvmsg armed that
// draws buffers from a provided buffer ring; sends are SQEs queued during a
// loop turn and submitted, together with the wait for completions, by one
// io_uring_enter. So the per-packet cost is an SQE and a CQE, not a system
// call, however the packets are spread over sockets.
#include <liburing.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "loadtest/transport.h"

namespace uturn::loadtest {
namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kCqEntries = 32768;
constexpr uint16_t kBufferGroup = 7;
// Completions handled per Poll before returning to the loop (which sends
// what is due); the rest wait in the CQ for the next turn.
constexpr unsigned kMaxCqesPerPoll = 4096;

enum Op : uint64_t { kRecv = 1, kSend = 2 };

// user_data: op in bits 56..63; receive: fd in 32..55 and tag in 0..31;
// send: traffic in 32..39 and pool slot in 0..31.
uint64_t RecvData(int fd, uint32_t tag) {
  assert(fd >= 0 && fd < (1 << 24));
  return (kRecv << 56) | (static_cast<uint64_t>(fd) << 32) | tag;
}
uint64_t SendData(Traffic t, uint32_t id) {
  return (kSend << 56) | (static_cast<uint64_t>(t) << 32) | id;
}

// Multishot recvmsg needs Linux 6.0; older kernels refuse it with EINVAL
// for every receive, so they get the epoll transport instead.
bool KernelHasMultishotRecvmsg() {
  utsname u{};
  int major = 0, minor = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major >= 6;
}

// Receive buffers the kernel picks from (IORING_REGISTER_PBUF_RING, kernel
// 5.19+). liburing 2.3 lacks io_uring_setup_buf_ring, so the descriptor ring
// and the buffers live in one anonymous mapping registered here: the ring at
// the start (page aligned, as the kernel requires), then the buffers.
class ProvidedBuffers {
 public:
  static absl::StatusOr<std::unique_ptr<ProvidedBuffers>> Register(io_uring* ring, uint32_t count,
                                                                   uint32_t size) {
    assert(count > 0 && (count & (count - 1)) == 0 && count <= 32768);
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t ring_bytes = (sizeof(io_uring_buf) * count + page - 1) / page * page;
    const size_t total = ring_bytes + static_cast<size_t>(count) * size;
    void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (base == MAP_FAILED) {
      return absl::ResourceExhaustedError(absl::StrCat("mmap: ", std::strerror(errno)));
    }
    std::unique_ptr<ProvidedBuffers> self(new ProvidedBuffers(base, total, ring_bytes, count, size));
    io_uring_buf_ring_init(self->ring());
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(base);
    reg.ring_entries = count;
    reg.bgid = kBufferGroup;
    if (const int rc = io_uring_register_buf_ring(ring, &reg, 0); rc < 0) {
      return absl::UnavailableError(
          absl::StrCat("io_uring_register_buf_ring: ", std::strerror(-rc)));
    }
    for (uint32_t id = 0; id < count; ++id) self->Recycle(static_cast<uint16_t>(id));
    self->Publish();
    return self;
  }
  ~ProvidedBuffers() { ::munmap(base_, total_); }

  uint8_t* at(uint16_t id) const {
    assert(id < count_);
    return static_cast<uint8_t*>(base_) + ring_bytes_ + static_cast<size_t>(id) * size_;
  }
  // Buffers go back to the kernel in batches: added here, made visible by Publish.
  void Recycle(uint16_t id) {
    io_uring_buf_ring_add(ring(), at(id), size_, id, io_uring_buf_ring_mask(count_), unpublished_++);
  }
  void Publish() {
    if (unpublished_ > 0) io_uring_buf_ring_advance(ring(), unpublished_);
    unpublished_ = 0;
  }

 private:
  ProvidedBuffers(void* base, size_t total, size_t ring_bytes, uint32_t count, uint32_t size)
      : base_(base), total_(total), ring_bytes_(ring_bytes), count_(count), size_(size) {}
  io_uring_buf_ring* ring() const { return static_cast<io_uring_buf_ring*>(base_); }

  void* base_;
  size_t total_, ring_bytes_;
  uint32_t count_, size_;
  int unpublished_ = 0;
};

class UringTransport final : public Transport {
 public:
  explicit UringTransport(const BufferSizes& sizes) : Transport(sizes) {
    // The template multishot recvmsg lays out in each buffer: room for the
    // source address, no control data.
    recv_msg_.msg_namelen = sizeof(sockaddr_storage);
  }
  ~UringTransport() override {
    if (initialised_) io_uring_queue_exit(&ring_);  // before buffers_ is unmapped
  }

  absl::Status Init() {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_COOP_TASKRUN;
    p.cq_entries = kCqEntries;
    int rc = io_uring_queue_init_params(kSqEntries, &ring_, &p);
    if (rc == -EINVAL) {  // kernels before 6.0 lack some of those flags
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = kCqEntries;
      rc = io_uring_queue_init_params(kSqEntries, &ring_, &p);
    }
    if (rc < 0) return absl::UnavailableError(absl::StrCat("io_uring_queue_init: ", std::strerror(-rc)));
    initialised_ = true;
    auto buffers = ProvidedBuffers::Register(&ring_, sizes_.recv_buffers, sizes_.recv_size);
    if (!buffers.ok()) return buffers.status();
    buffers_ = std::move(*buffers);
    return absl::OkStatus();
  }

  const char* name() const override { return "uring"; }

  absl::Status Watch(int fd, uint32_t tag) override {
    if (fd < 0 || fd >= (1 << 24)) return absl::InvalidArgumentError("descriptor out of range");
    Arm(fd, tag);
    return absl::OkStatus();
  }

  void Send(int fd, uint32_t id, size_t len, const sockaddr* to, socklen_t to_len,
            Traffic traffic) override {
    io_uring_sqe* sqe = Sqe();
    if (to == nullptr) {
      io_uring_prep_send(sqe, fd, pool_.buffer(id).data(), len, 0);
    } else {
      io_uring_prep_sendmsg(sqe, fd, &pool_.Prepare(id, len, to, to_len), 0);
    }
    io_uring_sqe_set_data64(sqe, SendData(traffic, id));
  }

  void Poll(uint64_t until_ns, Wait mode, OnReceive on_receive) override {
    const uint64_t now = NowNs();
    const uint64_t wait = until_ns > now ? until_ns - now : 0;
    __kernel_timespec ts{static_cast<int64_t>(wait / 1000000000),
                         static_cast<long long>(wait % 1000000000)};
    io_uring_cqe* cqe = nullptr;
    // One system call submits the turn's sends and waits (-ETIME: the time
    // ran out first). kUntil asks for more completions than one turn takes,
    // so in practice it waits out the time.
    const unsigned wait_nr = mode == Wait::kUntil ? kMaxCqesPerPoll : 1;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, wait_nr, &ts, nullptr);
    for (unsigned n = 0; n < kMaxCqesPerPoll && io_uring_peek_cqe(&ring_, &cqe) == 0; ++n) {
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      const uint32_t flags = cqe->flags;
      io_uring_cqe_seen(&ring_, cqe);  // before the callback, which may submit
      if ((data >> 56) == kSend) {
        if (res < 0) CountFailure(static_cast<Traffic>((data >> 32) & 0xff));
        pool_.Release(static_cast<uint32_t>(data));
      } else {
        HandleRecv(data, res, flags, on_receive);
      }
    }
    buffers_->Publish();
  }

 private:
  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {  // SQ full: hand the kernel what is there
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void Arm(int fd, uint32_t tag) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recvmsg_multishot(sqe, fd, &recv_msg_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, RecvData(fd, tag));
  }

  void HandleRecv(uint64_t data, int res, uint32_t flags, OnReceive on_receive) {
    const int fd = static_cast<int>((data >> 32) & 0xffffff);
    const uint32_t tag = static_cast<uint32_t>(data);
    if (res >= 0 && (flags & IORING_CQE_F_BUFFER)) {
      const auto id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      uint8_t* buf = buffers_->at(id);
      if (io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, res, &recv_msg_)) {
        const auto* payload = static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
        const unsigned len = io_uring_recvmsg_payload_length(out, res, &recv_msg_);
        const socklen_t name_len = std::min<socklen_t>(out->namelen, recv_msg_.msg_namelen);
        on_receive(loadtest::Received{tag, {payload, len},
                                       static_cast<const sockaddr*>(io_uring_recvmsg_name(out)),
                                       name_len});
      }
      buffers_->Recycle(id);
    }
    // A multishot receive ends without F_MORE: when the buffers ran out
    // (-ENOBUFS; they are back after this turn) or on a socket error (e.g. an
    // ICMP-reported ECONNREFUSED). Re-arm it, unless the error is for good.
    if (flags & IORING_CQE_F_MORE) return;
    switch (res) {
      case -ECANCELED:  // ring teardown
      case -EBADF:
      case -ENOTSOCK:
      case -EINVAL:     // unsupported: re-arming would spin
        return;
      default:
        Arm(fd, tag);
    }
  }

  io_uring ring_{};
  bool initialised_ = false;
  msghdr recv_msg_{};
  std::unique_ptr<ProvidedBuffers> buffers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> MakeUringTransport(const BufferSizes& sizes) {
  if (!KernelHasMultishotRecvmsg()) {
    return absl::UnavailableError("multishot recvmsg needs Linux 6.0 or later");
  }
  auto t = std::make_unique<UringTransport>(sizes);
  if (absl::Status s = t->Init(); !s.ok()) return s;
  return t;
}

}  // namespace uturn::loadtest
