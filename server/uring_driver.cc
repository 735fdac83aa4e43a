#include "server/uring_driver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "server/text.h"
#include "stun/channel_data.h"

namespace uturn::server {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr uint16_t kBufferGroup = 0;

// Each receive buffer starts with io_uring_recvmsg_out and the peer's name;
// once the name is read those bytes are free, and they are the headroom in
// front of the payload where the TURN issue writes a ChannelData header.
static_assert(sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_in6) >= stun::kChannelDataHeaderSize);

int64_t CoarseNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kSecondNs + ts.tv_nsec;
}

}  // namespace

uint64_t UringDriver::Tag(Op op, uint32_t index, uint32_t generation) {
  return static_cast<uint64_t>(op) << 56 | static_cast<uint64_t>(generation & 0xFFFFFF) << 32 |
         index;
}

UringDriver::UringDriver(const DriverOptions& options, StunResponder* responder)
    : options_(options),
      responder_(responder),
      send_pool_(options.send_slots, options.receive_buffer_size) {
  assert(options.receive_buffer_size >= StunResponder::kMaxResponseSize);
}

absl::StatusOr<std::unique_ptr<UringDriver>> UringDriver::Create(const DriverOptions& options,
                                                                 StunResponder* responder) {
  std::unique_ptr<UringDriver> d(new UringDriver(options, responder));
  io_uring_params p{};
  // SINGLE_ISSUER + DEFER_TASKRUN (kernel 6.1+): completions are run only
  // when this thread waits, with no interrupts from task work in between.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = options.cq_entries;
  int rc = io_uring_queue_init_params(options.sq_entries, &d->ring_, &p);
  if (rc == -EINVAL) {
    d->reduced_setup_flags_ = true;
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = options.cq_entries;
    rc = io_uring_queue_init_params(options.sq_entries, &d->ring_, &p);
  }
  if (rc < 0) {
    return absl::UnavailableError(
        Cat("io_uring_queue_init: ", std::strerror(-rc),
            " (io_uring blocked by seccomp or kernel.io_uring_disabled?); the epoll fallback is"
            " not implemented yet"));
  }
  d->ring_ready_ = true;
  auto buffers = BufferRing::Create(&d->ring_, kBufferGroup, options.receive_buffers,
                                    options.receive_buffer_size);
  if (!buffers.ok()) return buffers.status();
  d->buffers_ = std::move(*buffers);
  return d;
}

UringDriver::~UringDriver() {
  for (const auto& s : udp_) ::close(s->fd);
  for (int fd : listeners_) ::close(fd);
  for (auto& c : conns_) {
    if (c) ::close(c->fd);
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  buffers_.reset();  // unregisters from the ring, so before the ring goes
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* UringDriver::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);  // SQ full: flush this turn's work early
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe == nullptr) {
    // The kernel took none of a full SQ: nothing sane is left to do.
    Log(LogLevel::kError, "io_uring_sq_stuck");
    std::abort();
  }
  return sqe;
}

void UringDriver::AddUdpSocket(int fd) {
  auto s = std::make_unique<UdpSocket>(UdpSocket{fd, msghdr{}});
  s->msg.msg_namelen = sizeof(sockaddr_in6);  // room for either family
  udp_.push_back(std::move(s));
  ArmUdpReceive(static_cast<uint32_t>(udp_.size() - 1));
}

void UringDriver::AddTcpListener(int fd) {
  listeners_.push_back(fd);
  ArmAccept(static_cast<uint32_t>(listeners_.size() - 1));
}

void UringDriver::AddSignalFd(int fd) {
  assert(signal_fd_ < 0);
  signal_fd_ = fd;
  ArmSignal();
}

void UringDriver::ArmUdpReceive(uint32_t socket) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recvmsg_multishot(sqe, udp_[socket]->fd, &udp_[socket]->msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, Tag(Op::kUdpReceive, socket));
}

void UringDriver::ArmAccept(uint32_t listener) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_multishot_accept(sqe, listeners_[listener], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Tag(Op::kAccept, listener));
}

void UringDriver::ArmSignal() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, signal_fd_, &siginfo_, sizeof siginfo_, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kSignal, 0));
}

absl::Status UringDriver::Run() {
  __kernel_timespec tick{.tv_sec = 1, .tv_nsec = 0};  // housekeeping period
  now_ns_ = CoarseNowNs();
  next_housekeeping_ns_ = now_ns_ + kSecondNs;
  while (stop_signal_ == nullptr) {
    io_uring_cqe* first = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &tick, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      return absl::InternalError(Cat("io_uring_submit_and_wait: ", std::strerror(-rc)));
    }
    now_ns_ = CoarseNowNs();
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      OnCompletion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    if (now_ns_ >= next_housekeeping_ns_) {
      CloseIdle();
      next_housekeeping_ns_ = now_ns_ + kSecondNs;
    }
  }
  return absl::OkStatus();
}

const char* UringDriver::stop_signal() const { return stop_signal_; }

void UringDriver::OnCompletion(const io_uring_cqe& cqe) {
  const uint64_t tag = cqe.user_data;
  const auto op = static_cast<Op>(tag >> 56);
  const auto index = static_cast<uint32_t>(tag);
  const auto generation = static_cast<uint32_t>(tag >> 32) & 0xFFFFFF;
  switch (op) {
    case Op::kUdpReceive: return OnUdpReceive(index, cqe);
    case Op::kUdpSend: return OnUdpSend(index, cqe.res);
    case Op::kAccept: return OnAccept(index, cqe);
    case Op::kTcpReceive:
    case Op::kTcpSend: {
      // A connection slot is released only when none of its operations is
      // in flight, so a completion always finds its own connection.
      assert(index < conns_.size() && conns_[index] &&
             (conns_[index]->generation & 0xFFFFFF) == generation);
      if (index >= conns_.size() || !conns_[index] ||
          (conns_[index]->generation & 0xFFFFFF) != generation) {
        return;
      }
      return op == Op::kTcpReceive ? OnTcpReceive(index, cqe.res) : OnTcpSend(index, cqe.res);
    }
    case Op::kSignal: return OnSignal(cqe.res);
    case Op::kCancel: return;  // outcome shows on the cancelled operations
  }
  assert(false && "unknown completion tag");
}

void UringDriver::OnUdpReceive(uint32_t socket, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (cqe.res < 0) {
    if (cqe.res == -ENOBUFS) {
      ++stats_.udp_no_buffers;  // datagrams wait in the socket or are dropped by it
    } else if (cqe.res != -ECANCELED) {
      LogLimited(LogLevel::kWarning, "udp_receive_error", std::strerror(-cqe.res));
    }
  } else {
    assert(cqe.flags & IORING_CQE_F_BUFFER);
    const auto id = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    std::span<uint8_t> buf = buffers_->buffer(id);
    msghdr* msg = &udp_[socket]->msg;
    io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf.data(), cqe.res, msg);
    if (o == nullptr || (o->flags & MSG_TRUNC) != 0) {
      ++stats_.udp_truncated;
    } else {
      ++stats_.udp_received;
      auto peer = stun::SocketAddress::FromSockaddr(
          static_cast<const sockaddr*>(io_uring_recvmsg_name(o)), o->namelen);
      if (peer.has_value()) {
        std::span<const uint8_t> payload(
            static_cast<const uint8_t*>(io_uring_recvmsg_payload(o, msg)),
            io_uring_recvmsg_payload_length(o, cqe.res, msg));
        // Respond straight into a send slot; without one the responder still
        // runs (its counters stay true) and the answer is dropped.
        SendSlot* slot = send_pool_.Acquire();
        std::array<uint8_t, StunResponder::kMaxResponseSize> scratch;
        std::span<uint8_t> out = slot != nullptr ? slot->buffer : std::span<uint8_t>(scratch);
        const auto r = responder_->Handle(payload, *peer, Transport::kUdp, out);
        if (r.response_size > 0 && slot != nullptr) {
          slot->Prepare(r.response_size, *peer);
          io_uring_sqe* sqe = GetSqe();
          io_uring_prep_sendmsg(sqe, udp_[socket]->fd, &slot->msg, 0);
          io_uring_sqe_set_data64(sqe, Tag(Op::kUdpSend, slot->index));
          slot = nullptr;
        } else if (r.response_size > 0) {
          ++stats_.send_pool_exhausted;
        }
        if (slot != nullptr) send_pool_.Release(slot);
      }
    }
    buffers_->Return(id);
  }
  // A multishot receive that ends (no F_MORE, e.g. after -ENOBUFS) must be
  // armed again or the socket goes deaf.
  if (!more && stop_signal_ == nullptr) {
    ++stats_.udp_rearms;
    ArmUdpReceive(socket);
  }
}

void UringDriver::OnUdpSend(uint32_t slot, int res) {
  if (res < 0) {
    ++stats_.udp_send_errors;
    LogLimited(LogLevel::kWarning, "udp_send_error", std::strerror(-res));
  }
  send_pool_.Release(&send_pool_.slot(slot));
}

void UringDriver::OnAccept(uint32_t listener, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (cqe.res < 0) {
    if (cqe.res != -ECANCELED) {
      LogLimited(LogLevel::kWarning, "tcp_accept_error", std::strerror(-cqe.res));
    }
  } else if (open_conns_ >= options_.max_tcp_connections) {
    ::close(cqe.res);
    ++stats_.tcp_rejected;
    LogLimited(LogLevel::kWarning, "tcp_connection_limit", "connection refused");
  } else {
    const int fd = cqe.res;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    std::optional<stun::SocketAddress> peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      peer = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
    if (!peer.has_value()) {
      ::close(fd);  // already reset by the peer
    } else {
      // Responses are small and latency matters more than segment count.
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      uint32_t i;
      if (!free_conns_.empty()) {
        i = free_conns_.back();
        free_conns_.pop_back();
      } else {
        i = static_cast<uint32_t>(conns_.size());
        conns_.emplace_back();
        generations_.push_back(0);
      }
      assert(!conns_[i]);
      conns_[i] = std::make_unique<TcpConnection>();
      TcpConnection& c = *conns_[i];
      c.fd = fd;
      c.generation = ++generations_[i];
      c.peer = *peer;
      c.last_receive_ns = now_ns_;
      ++open_conns_;
      ++stats_.tcp_accepted;
      ArmTcpReceive(i);
    }
  }
  if (!more && stop_signal_ == nullptr) ArmAccept(listener);
}

void UringDriver::ArmTcpReceive(uint32_t i) {
  TcpConnection& c = *conns_[i];
  assert(!c.receive_pending && !c.closing);
  std::span<uint8_t> space = c.framer.WritableSpace();
  if (space.empty()) {  // cannot happen with a framer that holds a maximal frame
    Close(i, &stats_.tcp_closed_invalid);
    return;
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recv(sqe, c.fd, space.data(), space.size(), 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kTcpReceive, i, c.generation));
  c.receive_pending = true;
}

void UringDriver::MaybeSend(uint32_t i) {
  TcpConnection& c = *conns_[i];
  if (c.send_pending || c.closing || c.out.empty()) return;
  std::span<const uint8_t> chunk = c.out.Next();
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_send(sqe, c.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Tag(Op::kTcpSend, i, c.generation));
  c.send_pending = true;
}

void UringDriver::OnTcpReceive(uint32_t i, int res) {
  TcpConnection& c = *conns_[i];
  c.receive_pending = false;
  if (c.closing) return MaybeRelease(i);
  if (res <= 0) return Close(i, nullptr);  // EOF, reset or error
  c.framer.Commit(static_cast<size_t>(res));
  c.last_receive_ns = now_ns_;
  for (;;) {
    const stun::FrameInfo f = c.framer.Peek();
    if (f.status == stun::FrameInfo::Status::kNeedMore) break;
    if (f.status == stun::FrameInfo::Status::kInvalid) {
      // RFC 8489 §6.2.2 / RFC 8656 §12.4: a stream that is neither STUN nor
      // ChannelData cannot be resynchronised.
      LogLimited(LogLevel::kInfo, "tcp_invalid_stream", c.peer.ToString());
      return CloseAfterFlush(i, &stats_.tcp_closed_invalid);
    }
    const std::span<const uint8_t> frame = c.framer.buffered().first(f.size);
    if (f.kind == stun::FrameKind::kStun) {
      std::array<uint8_t, StunResponder::kMaxResponseSize> response;
      const auto r = responder_->Handle(frame, c.peer, Transport::kTcp, response);
      if (r.response_size > 0 &&
          !c.out.Append(std::span<const uint8_t>(response).first(r.response_size))) {
        LogLimited(LogLevel::kInfo, "tcp_write_backlog", c.peer.ToString());
        return Close(i, &stats_.tcp_closed_backlog);
      }
    } else {
      ++stats_.tcp_channel_data_dropped;  // no allocations, so no channels yet
    }
    c.framer.Consume(f.size);
  }
  ArmTcpReceive(i);  // may close, and free, the connection
  if (conns_[i] && !conns_[i]->closing) MaybeSend(i);
}

void UringDriver::OnTcpSend(uint32_t i, int res) {
  TcpConnection& c = *conns_[i];
  c.send_pending = false;
  if (c.closing) return MaybeRelease(i);
  if (res < 0) return Close(i, nullptr);
  c.out.Sent(static_cast<size_t>(res));
  if (c.close_after_flush && c.out.empty()) return Close(i, c.close_reason);
  MaybeSend(i);
}

void UringDriver::CloseAfterFlush(uint32_t i, uint64_t* reason_counter) {
  TcpConnection& c = *conns_[i];
  assert(!c.closing && !c.receive_pending);
  if (c.out.empty() && !c.send_pending) return Close(i, reason_counter);
  // No receive is re-armed; the last send completion closes the connection.
  c.close_after_flush = true;
  c.close_reason = reason_counter;
  MaybeSend(i);
}

void UringDriver::Close(uint32_t i, uint64_t* reason_counter) {
  TcpConnection& c = *conns_[i];
  if (c.closing) return;
  c.closing = true;
  ++stats_.tcp_closed;
  if (reason_counter != nullptr) ++*reason_counter;
  if (c.receive_pending || c.send_pending) {
    // Completes the pending receive/send (with -ECANCELED); the slot is freed
    // when the last of them is back.
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, Tag(Op::kCancel, i));
  }
  MaybeRelease(i);
}

void UringDriver::MaybeRelease(uint32_t i) {
  TcpConnection& c = *conns_[i];
  assert(c.closing);
  if (c.receive_pending || c.send_pending) return;
  ::close(c.fd);
  conns_[i].reset();
  free_conns_.push_back(i);
  assert(open_conns_ > 0);
  --open_conns_;
}

void UringDriver::CloseIdle() {
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i] && !conns_[i]->closing &&
        now_ns_ - conns_[i]->last_receive_ns > options_.tcp_idle_timeout_ns) {
      Close(i, &stats_.tcp_closed_idle);
    }
  }
}

void UringDriver::OnSignal(int res) {
  if (res == static_cast<int>(sizeof siginfo_)) {
    switch (siginfo_.ssi_signo) {
      case SIGTERM: stop_signal_ = "SIGTERM"; return;
      case SIGINT: stop_signal_ = "SIGINT"; return;
      case SIGHUP:
        Log(LogLevel::kInfo, "sighup", {{"action", "ignored"}, {"reason", "reload not implemented yet"}});
        break;
      default:
        break;
    }
  } else if (res < 0 && res != -EINTR && res != -EAGAIN) {
    Log(LogLevel::kError, "signalfd_read_error", {{"error", std::strerror(-res)}});
  }
  ArmSignal();
}

void UringDriver::LogLimited(LogLevel level, std::string_view event, std::string_view detail) {
  if (!log_limiter_.Allow(now_ns_)) return;
  const uint64_t suppressed = log_limiter_.TakeSuppressed();
  if (suppressed > 0) {
    Log(level, event, {{"detail", detail}, {"suppressed", suppressed}});
  } else {
    Log(level, event, {{"detail", detail}});
  }
}

}  // namespace uturn::server
