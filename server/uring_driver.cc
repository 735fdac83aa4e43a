// The loop and the receive paths (client UDP, relay UDP, TCP). The sends and
// the relay sockets' reads are in relay_host.cc.
#include "server/uring_driver.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "stun/text.h"

namespace uturn::server {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr uint16_t kBufferGroup = 0;

// The area in front of a received payload (io_uring_recvmsg_out + name) is
// the core's headroom once the name is copied out.
static_assert(sizeof(io_uring_recvmsg_out) + UringDriver::kRecvNameLen >= turn::kPacketHeadroom);
static_assert(UringDriver::kRecvNameLen >= sizeof(sockaddr_in6));

// Destinations with a GSO batch open at once during a loop turn: a burst
// seldom interleaves more flows than this between two of its packets.
constexpr uint32_t kOpenGsoBatches = 16;

}  // namespace

UringDriver::UringDriver(const DriverOptions& options)
    : DriverBase(options),
      buffer_refs_(options.receive_buffers, 0),
      send_pool_(options.send_slots, options.receive_buffer_size),
      gso_(options.gso_batches, kOpenGsoBatches, [this](GsoBatch& b) { SubmitBatch(b); }) {
  assert(options.receive_buffer_size >
         sizeof(io_uring_recvmsg_out) + kRecvNameLen + turn::kPacketTailroom + 548);
}

absl::StatusOr<std::unique_ptr<UringDriver>> UringDriver::Create(const DriverOptions& options) {
  std::unique_ptr<UringDriver> d(new UringDriver(options));
  io_uring_params p{};
  // SINGLE_ISSUER + DEFER_TASKRUN (kernel 6.1+): completions are run only
  // when this thread waits, with no interrupts from task work in between.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = options.cq_entries;
  int rc = io_uring_queue_init_params(options.sq_entries, &d->ring_, &p);
  if (rc == -EINVAL) {  // older than 6.1; ProbeIoBackend has logged it
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = options.cq_entries;
    rc = io_uring_queue_init_params(options.sq_entries, &d->ring_, &p);
  }
  if (rc < 0) {
    return absl::UnavailableError(
        text::Cat("io_uring_queue_init: ", std::strerror(-rc),
            " (io_uring blocked by seccomp or kernel.io_uring_disabled?)"));
  }
  d->ring_ready_ = true;
  auto buffers = BufferRing::Create(&d->ring_, kBufferGroup, options.receive_buffers,
                                    options.receive_buffer_size);
  if (!buffers.ok()) return buffers.status();
  d->buffers_ = std::move(*buffers);
  return d;
}

UringDriver::~UringDriver() {
  buffers_.reset();  // unregisters from the ring, so before the ring goes
  if (ring_ready_) io_uring_queue_exit(&ring_);
  // DriverBase and its RelaySockets close the sockets.
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

absl::Status UringDriver::Run() {
  BeginRun();
  while (stop_signal_ == nullptr) {
    const int64_t wait_ns = WaitNs();
    __kernel_timespec wait{.tv_sec = wait_ns / kSecondNs, .tv_nsec = wait_ns % kSecondNs};
    io_uring_cqe* first = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &wait, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      return absl::InternalError(text::Cat("io_uring_submit_and_wait: ", std::strerror(-rc)));
    }
    ReadClock();
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      OnCompletion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    gso_.Flush();  // the turn's batches go out with the next submit
    EndTurn();
  }
  return absl::OkStatus();
}

void UringDriver::OnCompletion(const io_uring_cqe& cqe) {
  const TagParts t = UnpackTag(cqe.user_data);
  const auto op = static_cast<Op>(t.op);
  const uint32_t index = t.index;
  const uint32_t generation = t.generation;
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
      const TcpConnection* c = conn(index);
      assert(c != nullptr && (c->generation & 0xFFFFFF) == generation);
      if (c == nullptr || (c->generation & 0xFFFFFF) != generation) return;
      return op == Op::kTcpReceive ? OnTcpReceive(index, cqe.res) : OnTcpSend(index, cqe.res);
    }
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
    assert(buffer_refs_[id] == 0);
    buffer_refs_[id] = 1;
    current_buffer_ = id;
    if (peer.has_value()) DeliverClientDatagram(s, *peer, payload);
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
  RelaySockets::Socket* r = relays_.get(relay);
  assert(r != nullptr);
  std::optional<stun::SocketAddress> peer;
  uint16_t id = 0;
  std::span<uint8_t> payload = TakePayload(cqe, r->msg, &peer, &id);
  if (payload.data() != nullptr) {
    buffer_refs_[id] = 1;
    current_buffer_ = id;
    if (peer.has_value()) DeliverPeerDatagram(relay, *peer, payload);
    current_buffer_ = -1;
    Unref(id);
  }
  if ((cqe.flags & IORING_CQE_F_MORE) != 0) return;
  r = relays_.get(relay);  // the core may not close it here, but be sure
  if (r->closing) return relays_.Close(relay);
  if (stop_signal_ == nullptr) {
    ++stats_.udp_rearms;
    ArmRecvmsg(r->fd, &r->msg, Tag(Op::kRelayReceive, relay));
  }
}

void UringDriver::OnAccept(uint32_t listener, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (cqe.res < 0) {
    if (cqe.res != -ECANCELED) {
      LogLimited(LogLevel::kWarning, "tcp_accept_error", std::strerror(-cqe.res));
    }
  } else if (std::optional<uint32_t> i = AcceptConnection(cqe.res, listeners_[listener].local)) {
    ArmTcpReceive(*i);
  }
  if (!more && stop_signal_ == nullptr) ArmAccept(listener);
}

void UringDriver::ArmTcpReceive(uint32_t i) {
  TcpConnection& c = *conn(i);
  assert(!c.receive_pending && !c.closing);
  std::span<uint8_t> space = c.framer.WritableSpace();
  assert(!space.empty());  // DeliverFrames closes a connection whose framer is full
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_recv(sqe, c.fd, space.data(), space.size(), 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kTcpReceive, i, c.generation));
  c.receive_pending = true;
}

void UringDriver::SendQueued(uint32_t i) {
  TcpConnection& c = *conn(i);
  if (c.send_pending || c.closing || c.out.empty()) return;
  std::span<const uint8_t> chunk = c.out.Next();
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_send(sqe, c.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Tag(Op::kTcpSend, i, c.generation));
  c.send_pending = true;
}

void UringDriver::OnTcpReceive(uint32_t i, int res) {
  TcpConnection& c = *conn(i);
  c.receive_pending = false;
  if (c.closing) return MaybeRelease(i);
  if (res <= 0) return CloseConnection(i, nullptr);  // EOF, reset or error
  c.framer.Commit(static_cast<size_t>(res));
  if (!DeliverFrames(i)) return;
  ArmTcpReceive(i);
  SendQueued(i);
}

void UringDriver::OnTcpSend(uint32_t i, int res) {
  TcpConnection& c = *conn(i);
  c.send_pending = false;
  if (c.closing) return MaybeRelease(i);
  if (res < 0) return CloseConnection(i, nullptr);
  c.out.Sent(static_cast<size_t>(res));
  if (c.close_after_flush && c.out.empty()) return CloseConnection(i, c.close_reason);
  SendQueued(i);
}

void UringDriver::CloseConnectionAfterFlush(uint32_t i, uint64_t* reason) {
  TcpConnection& c = *conn(i);
  assert(!c.closing && !c.receive_pending);
  if (c.out.empty() && !c.send_pending) return CloseConnection(i, reason);
  // No receive is re-armed; the last send completion closes the connection
  // (counted then, with `reason`).
  c.close_after_flush = true;
  c.close_reason = reason;
  Unroute(i);  // nothing more is sent to it
  SendQueued(i);
}

void UringDriver::CloseConnection(uint32_t i, uint64_t* reason) {
  TcpConnection& c = *conn(i);
  if (!BeginClose(i, reason)) return;
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
  const TcpConnection& c = *conn(i);
  assert(c.closing);
  if (c.receive_pending || c.send_pending) return;
  ReleaseConnection(i);
}

}  // namespace uturn::server
