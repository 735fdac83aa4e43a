// ProbeIoBackend and CreateIoDriver: the one place that knows both drivers.
#include "server/io_driver.h"

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/buffer_ring.h"
#include "server/epoll_driver.h"
#include "stun/text.h"
#include "server/uring_driver.h"

namespace uturn::server {
namespace {

struct RingGuard {
  io_uring* ring;
  ~RingGuard() { io_uring_queue_exit(ring); }
};

struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

// A multishot recvmsg with a provided buffer on a loopback socket that sends
// itself one datagram: kernels before 6.0 answer -EINVAL.
absl::Status ProbeMultishotRecvmsg(io_uring* ring) {
  auto buffers = BufferRing::Create(ring, 0, 1, 256);
  if (!buffers.ok()) return buffers.status();
  FdGuard fd{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (fd.fd < 0) return absl::InternalError(text::Cat("socket: ", std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return absl::InternalError(text::Cat("probe socket: ", std::strerror(errno)));
  }
  msghdr msg{};
  msg.msg_namelen = sizeof(sockaddr_in6);
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  io_uring_prep_recvmsg_multishot(sqe, fd.fd, &msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  io_uring_sqe_set_data64(sqe, 1);
  if (const int rc = io_uring_submit(ring); rc < 0) {
    return absl::UnavailableError(text::Cat("io_uring_submit: ", std::strerror(-rc)));
  }
  const uint8_t byte = 0;
  if (::sendto(fd.fd, &byte, 1, 0, reinterpret_cast<sockaddr*>(&a), len) != 1) {
    // No loopback: cancelling still tells a supported request (-ECANCELED)
    // from an unsupported one (-EINVAL).
    io_uring_sqe* cancel = io_uring_get_sqe(ring);
    io_uring_prep_cancel64(cancel, 1, 0);
    io_uring_sqe_set_data64(cancel, 2);
    io_uring_submit(ring);
  }
  for (;;) {
    __kernel_timespec wait{.tv_sec = 1, .tv_nsec = 0};
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe_timeout(ring, &cqe, &wait);
    if (rc < 0) return absl::UnavailableError(text::Cat("multishot recvmsg probe: ", std::strerror(-rc)));
    const uint64_t tag = cqe->user_data;
    const int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (tag != 1) continue;
    if (res >= 0 || res == -ECANCELED) return absl::OkStatus();
    return absl::UnavailableError(
        text::Cat("multishot recvmsg: ", std::strerror(-res), " (kernel 6.0+ needed)"));
  }
}

// OK with a note, or why io_uring cannot run uturn.
absl::StatusOr<std::string> ProbeUring() {
  io_uring ring{};
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(8, &ring, &p);
  std::string note = "io_uring available";
  if (rc == -EINVAL) {
    note = "io_uring available (basic setup flags: SINGLE_ISSUER|DEFER_TASKRUN need kernel 6.1)";
    p = io_uring_params{};
    rc = io_uring_queue_init_params(8, &ring, &p);
  }
  if (rc < 0) return absl::UnavailableError(text::Cat("io_uring_setup: ", std::strerror(-rc)));
  RingGuard guard{&ring};
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) return absl::UnavailableError("io_uring_register(PROBE) refused");
  struct Needed {
    int op;
    const char* name;
  };
  static constexpr Needed kNeeded[] = {
      {IORING_OP_RECVMSG, "RECVMSG"}, {IORING_OP_SENDMSG, "SENDMSG"},
      {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"},
      {IORING_OP_SEND, "SEND"},       {IORING_OP_READ, "READ"},
      {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
  };
  for (const Needed& n : kNeeded) {
    if (!io_uring_opcode_supported(probe, n.op)) {
      io_uring_free_probe(probe);
      return absl::UnavailableError(text::Cat("io_uring opcode ", n.name, " unsupported"));
    }
  }
  io_uring_free_probe(probe);
  if (absl::Status s = ProbeMultishotRecvmsg(&ring); !s.ok()) return s;
  return note;
}

}  // namespace

absl::StatusOr<BackendChoice> ProbeIoBackend(IoBackend requested) {
  if (requested == IoBackend::kEpoll) return BackendChoice{IoBackend::kEpoll, "requested"};
  absl::StatusOr<std::string> uring = ProbeUring();
  if (uring.ok()) {
    return BackendChoice{IoBackend::kUring,
                         requested == IoBackend::kUring ? text::Cat("requested; ", *uring) : *uring};
  }
  if (requested == IoBackend::kUring) {
    return absl::UnavailableError(text::Cat("--io-backend=uring: ", std::string(uring.status().message()),
                                      " (blocked by seccomp or kernel.io_uring_disabled?);"
                                      " --io-backend=epoll or auto runs without it"));
  }
  return BackendChoice{IoBackend::kEpoll, std::string(uring.status().message())};
}

absl::StatusOr<std::unique_ptr<IoDriver>> CreateIoDriver(IoBackend backend,
                                                         const DriverOptions& options) {
  if (backend == IoBackend::kAuto) {
    absl::StatusOr<BackendChoice> choice = ProbeIoBackend(backend);
    if (!choice.ok()) return choice.status();
    backend = choice->backend;
  }
  if (backend == IoBackend::kUring) {
    absl::StatusOr<std::unique_ptr<UringDriver>> d = UringDriver::Create(options);
    if (!d.ok()) return d.status();
    return std::unique_ptr<IoDriver>(std::move(*d));
  }
  absl::StatusOr<std::unique_ptr<EpollDriver>> d = EpollDriver::Create(options);
  if (!d.ok()) return d.status();
  return std::unique_ptr<IoDriver>(std::move(*d));
}

}  // namespace uturn::server
