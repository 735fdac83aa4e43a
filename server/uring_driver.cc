// The loop, the receive paths (client UDP, relay UDP, TCP) and signals. The
// turn::TurnHost side (relay sockets, sends) is in relay_host.cc.
#include "server/uring_driver.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "server/text.h"

namespace uturn::server {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr uint16_t kBufferGroup = 0;
// Destinations with a GSO batch open at once during a loop turn: a burst
// seldom interleaves more flows than this between two of its packets.
constexpr uint32_t kOpenGsoBatches = 16;

// The area in front of a received payload (io_uring_recvmsg_out + name) is
// the core's headroom once the name is copied out.
static_assert(sizeof(io_uring_recvmsg_out) + UringDriver::kRecvNameLen >= turn::kPacketHeadroom);
static_assert(UringDriver::kRecvNameLen >= sizeof(sockaddr_in6));

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

UringDriver::UringDriver(const DriverOptions& options)
    : options_(options),
      buffer_refs_(options.receive_buffers, 0),
      send_pool_(options.send_slots, options.receive_buffer_size),
      gso_(options.gso_batches, kOpenGsoBatches, [this](GsoBatch& b) { SubmitBatch(b); }),
      tcp_scratch_(turn::kPacketHeadroom + stun::StreamFramer::kCapacity + turn::kPacketTailroom) {
  assert(options.receive_buffer_size >
         sizeof(io_uring_recvmsg_out) + kRecvNameLen + turn::kPacketTailroom + 548);
  // Monotonic time mapped once onto the wall clock, so the core's `now` is
  // close to Unix time (REST usernames carry Unix expiry times) yet never
  // jumps when the wall clock is stepped.
  now_ns_ = CoarseNowNs();
  epoch_ = absl::Now() - absl::Nanoseconds(now_ns_);
}

absl::StatusOr<std::unique_ptr<UringDriver>> UringDriver::Create(const DriverOptions& options) {
  std::unique_ptr<UringDriver> d(new UringDriver(options));
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
  for (const Listener& l : listeners_) ::close(l.fd);
  for (auto& c : conns_) {
    if (c) ::close(c->fd);
  }
  for (auto& r : relays_) {
    if (r && r->fd >= 0) ::close(r->fd);
  }
  for (const Reservations::Entry& e : reservations_.TakeAll()) ::close(e.fd);
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

void UringDriver::AddUdpSocket(int fd, const stun::SocketAddress& local) {
  ResetGso(fd);
  auto s = std::make_unique<UdpSocket>(UdpSocket{fd, local, msghdr{}});
  s->msg.msg_namelen = kRecvNameLen;
  udp_.push_back(std::move(s));
  const auto i = static_cast<uint32_t>(udp_.size() - 1);
  ArmRecvmsg(fd, &udp_[i]->msg, Tag(Op::kUdpReceive, i));
}

void UringDriver::AddTcpListener(int fd, const stun::SocketAddress& local) {
  listeners_.push_back(Listener{fd, local});
  ArmAccept(static_cast<uint32_t>(listeners_.size() - 1));
}

void UringDriver::AddSignalFd(int fd, std::function<void()> on_reload) {
  assert(signal_fd_ < 0);
  signal_fd_ = fd;
  on_reload_ = std::move(on_reload);
  ArmSignal();
}

void UringDriver::AddWakeFd(int fd, std::function<void()> on_wake) {
  assert(wake_fd_ < 0);
  wake_fd_ = fd;
  on_wake_ = std::move(on_wake);
  ArmWake();
}

void UringDriver::ArmWake() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kWake, 0));
}

void UringDriver::OnWake(int res) {
  if (res < 0 && res != -EINTR && res != -EAGAIN && res != -ECANCELED) {
    Log(LogLevel::kError, "wake_read_error", {{"error", std::strerror(-res)}});
  }
  if (on_wake_) on_wake_();
  if (stop_signal_ == nullptr) ArmWake();
}

void UringDriver::ArmRecvmsg(int fd, msghdr* msg, uint64_t tag) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recvmsg_multishot(sqe, fd, msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag);
}

void UringDriver::ArmAccept(uint32_t listener) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_multishot_accept(sqe, listeners_[listener].fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Tag(Op::kAccept, listener));
}

void UringDriver::ArmSignal() {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, signal_fd_, &siginfo_, sizeof siginfo_, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kSignal, 0));
}

absl::Status UringDriver::Run() {
  assert(turn_ != nullptr);
  now_ns_ = CoarseNowNs();
  next_housekeeping_ns_ = now_ns_ + kSecondNs;

  while (stop_signal_ == nullptr) {
    // Wake for the housekeeping tick or the core's next timer, whichever is
    // first; at least 1 ms so a deadline inside the coarse clock's tick does
    // not spin.
    int64_t wait_ns = next_housekeeping_ns_ - now_ns_;
    const absl::Time next = turn_->NextTimeout();
    if (next != absl::InfiniteFuture()) {
      wait_ns = std::min(wait_ns, absl::ToInt64Nanoseconds(next - Now()));
    }
    wait_ns = std::clamp<int64_t>(wait_ns, 1'000'000, kSecondNs);
    __kernel_timespec wait{.tv_sec = wait_ns / kSecondNs, .tv_nsec = wait_ns % kSecondNs};
    io_uring_cqe* first = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &wait, nullptr);
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
    gso_.Flush();  // the turn's batches go out with the next submit
    RunTimers();
    FlushTcp();
    if (on_turn_) on_turn_();
    if (now_ns_ >= next_housekeeping_ns_) {
      CloseIdle();
      ExpireReservations();
      next_housekeeping_ns_ = now_ns_ + kSecondNs;
    }
  }
  return absl::OkStatus();
}

void UringDriver::RunTimers() {
  const absl::Time now = Now();
  if (turn_->NextTimeout() <= now) turn_->HandleTimeout(now);
}

const char* UringDriver::stop_signal() const { return stop_signal_; }

void UringDriver::OnCompletion(const io_uring_cqe& cqe) {
  const uint64_t tag = cqe.user_data;
  const auto op = static_cast<Op>(tag >> 56);
  const auto index = static_cast<uint32_t>(tag);
  const auto generation = static_cast<uint32_t>(tag >> 32) & 0xFFFFFF;
  switch (op) {
    case Op::kUdpReceive: return OnUdpReceive(index, cqe);
    case Op::kRelayReceive: return OnRelayReceive(index, cqe);
    case Op::kUdpSend: return OnUdpSend(index, cqe.res);
    case Op::kUdpBatchSend: return OnBatchSend(index, cqe.res);
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
    case Op::kWake: return OnWake(cqe.res);
    case Op::kCancel: return;  // outcome shows on the cancelled operations
  }
  assert(false && "unknown completion tag");
}

std::span<uint8_t> UringDriver::TakePayload(const io_uring_cqe& cqe, const msghdr& msg,
                                            std::optional<stun::SocketAddress>* peer,
                                            uint16_t* buffer_id) {
  if (cqe.res < 0) {
    if (cqe.res == -ENOBUFS) {
      ++stats_.udp_no_buffers;  // datagrams wait in the socket or are dropped by it
    } else if (cqe.res != -ECANCELED) {
      LogLimited(LogLevel::kWarning, "udp_receive_error", std::strerror(-cqe.res));
    }
    return {};
  }
  assert(cqe.flags & IORING_CQE_F_BUFFER);
  const auto id = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  std::span<uint8_t> buf = buffers_->buffer(id);
  msghdr* m = const_cast<msghdr*>(&msg);  // liburing's helpers take non-const
  io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf.data(), cqe.res, m);
  std::span<uint8_t> payload;
  if (o != nullptr && (o->flags & MSG_TRUNC) == 0) {
    *peer = stun::SocketAddress::FromSockaddr(
        static_cast<const sockaddr*>(io_uring_recvmsg_name(o)), o->namelen);
    payload = {static_cast<uint8_t*>(io_uring_recvmsg_payload(o, m)),
               io_uring_recvmsg_payload_length(o, cqe.res, m)};
  }
  const uint8_t* end = buf.data() + buf.size();
  if (payload.data() == nullptr ||
      static_cast<size_t>(end - (payload.data() + payload.size())) < turn::kPacketTailroom) {
    ++stats_.udp_truncated;  // a datagram this large leaves no tailroom: drop it
    buffers_->Return(id);
    return {};
  }
  assert(static_cast<size_t>(payload.data() - buf.data()) >= turn::kPacketHeadroom);
  *buffer_id = id;
  return payload;
}

void UringDriver::OnUdpReceive(uint32_t socket, const io_uring_cqe& cqe) {
  UdpSocket& s = *udp_[socket];
  std::optional<stun::SocketAddress> peer;
  uint16_t id = 0;
  std::span<uint8_t> payload = TakePayload(cqe, s.msg, &peer, &id);
  if (payload.data() != nullptr) {
    ++stats_.udp_received;
    assert(buffer_refs_[id] == 0);
    buffer_refs_[id] = 1;
    current_buffer_ = id;
    if (peer.has_value()) {
      const turn::FiveTuple tuple{*peer, s.local, turn::Transport::kUdp};
      turn_->OnClientPacket(tuple, payload, Now());
    }
    current_buffer_ = -1;
    Unref(id);
  }
  // A multishot receive that ends (no F_MORE, e.g. after -ENOBUFS) must be
  // armed again or the socket goes deaf.
  if ((cqe.flags & IORING_CQE_F_MORE) == 0 && stop_signal_ == nullptr) {
    ++stats_.udp_rearms;
    ArmRecvmsg(s.fd, &s.msg, Tag(Op::kUdpReceive, socket));
  }
}

void UringDriver::OnRelayReceive(uint32_t relay, const io_uring_cqe& cqe) {
  assert(relay < relays_.size() && relays_[relay]);
  RelaySocket& r = *relays_[relay];
  std::optional<stun::SocketAddress> peer;
  uint16_t id = 0;
  std::span<uint8_t> payload = TakePayload(cqe, r.msg, &peer, &id);
  if (payload.data() != nullptr) {
    ++stats_.relay_received;
    buffer_refs_[id] = 1;
    current_buffer_ = id;
    // After CloseRelay the core no longer knows this relay: drop.
    if (peer.has_value() && !r.closing) turn_->OnPeerPacket(relay, *peer, payload, Now());
    current_buffer_ = -1;
    Unref(id);
  }
  if ((cqe.flags & IORING_CQE_F_MORE) != 0) return;
  if (relays_[relay]->closing) return FinishRelayClose(relay);
  if (stop_signal_ == nullptr) {
    ++stats_.udp_rearms;
    ArmRecvmsg(relays_[relay]->fd, &relays_[relay]->msg, Tag(Op::kRelayReceive, relay));
  }
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
      c.tuple = turn::FiveTuple{*peer, listeners_[listener].local, turn::Transport::kTcp};
      c.last_receive_ns = now_ns_;
      tcp_by_tuple_[c.tuple] = i;
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

void UringDriver::FlushTcp() {
  for (uint32_t i : tcp_dirty_) {
    if (i < conns_.size() && conns_[i]) MaybeSend(i);
  }
  tcp_dirty_.clear();
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
    // The core may rewrite a packet in place and expects headroom around it;
    // the framer's buffer is read-only, so the frame is copied (TCP is not
    // the hot path; UDP is zero-copy).
    assert(turn::kPacketHeadroom + f.size + turn::kPacketTailroom <= tcp_scratch_.size());
    std::span<uint8_t> frame(tcp_scratch_.data() + turn::kPacketHeadroom, f.size);
    std::memcpy(frame.data(), c.framer.buffered().data(), f.size);
    c.framer.Consume(f.size);
    tcp_in_receive_ = i;
    turn_->OnClientPacket(c.tuple, frame, Now());
    tcp_in_receive_ = -1;
    if (c.overflowed) {
      LogLimited(LogLevel::kInfo, "tcp_write_backlog", c.peer.ToString());
      return Close(i, &stats_.tcp_closed_backlog);
    }
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
  tcp_by_tuple_.erase(c.tuple);  // nothing more is sent to it
  MaybeSend(i);
}

void UringDriver::Close(uint32_t i, uint64_t* reason_counter) {
  TcpConnection& c = *conns_[i];
  if (c.closing) return;
  c.closing = true;
  tcp_by_tuple_.erase(c.tuple);
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
        if (on_reload_) on_reload_();
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
