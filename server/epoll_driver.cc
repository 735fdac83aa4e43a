#include "server/epoll_driver.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

#include "stun/text.h"

namespace uturn::server {
namespace {

constexpr unsigned kAcceptsPerEvent = 64;

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

EpollDriver::EpollDriver(const DriverOptions& options)
    : DriverBase(options),
      storage_(static_cast<size_t>(kBatch) * options.receive_buffer_size),
      sends_(kSendQueue, options.receive_buffer_size) {
  const size_t size = options.receive_buffer_size;
  assert(size > turn::kPacketHeadroom + turn::kPacketTailroom + 548);
  for (unsigned k = 0; k < kBatch; ++k) {
    // Headroom in front and tailroom behind every payload: the core frames
    // ChannelData/Data indications around it in place.
    iovs_[k].iov_base = storage_.data() + k * size + turn::kPacketHeadroom;
    iovs_[k].iov_len = size - turn::kPacketHeadroom - turn::kPacketTailroom;
    msgs_[k].msg_hdr.msg_iov = &iovs_[k];
    msgs_[k].msg_hdr.msg_iovlen = 1;
    msgs_[k].msg_hdr.msg_name = &names_[k];
  }
}

absl::StatusOr<std::unique_ptr<EpollDriver>> EpollDriver::Create(const DriverOptions& options) {
  std::unique_ptr<EpollDriver> d(new EpollDriver(options));
  d->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (d->epoll_fd_ < 0) return absl::InternalError(text::Cat("epoll_create1: ", std::strerror(errno)));
  return d;
}

EpollDriver::~EpollDriver() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  // DriverBase and its RelaySockets close the sockets.
}

void EpollDriver::Watch(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    // ENOMEM/ENOSPC (max_user_watches): the socket stays unread.
    LogLimited(LogLevel::kError, "epoll_ctl_error", std::strerror(errno));
  }
}

void EpollDriver::Rewatch(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    LogLimited(LogLevel::kError, "epoll_ctl_error", std::strerror(errno));
  }
}

void EpollDriver::Unwatch(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EpollDriver::AddUdpSocket(int fd, const stun::SocketAddress& local) {
  udp_.push_back(std::make_unique<UdpSocket>(UdpSocket{fd, local, msghdr{}}));
  Watch(fd, EPOLLIN, Tag(Op::kUdp, static_cast<uint32_t>(udp_.size() - 1)));
}

void EpollDriver::AddTcpListener(int fd, const stun::SocketAddress& local) {
  // Nonblocking: a connection reset between readiness and accept4 must not
  // stall the shard.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  listeners_.push_back(Listener{fd, local});
  Watch(fd, EPOLLIN, Tag(Op::kListener, static_cast<uint32_t>(listeners_.size() - 1)));
}

void EpollDriver::AddWakeFd(int fd, std::function<void()> on_wake) {
  assert(wake_fd_ < 0);
  wake_fd_ = fd;
  on_wake_ = std::move(on_wake);
  Watch(fd, EPOLLIN, Tag(Op::kWake, 0));
}

absl::Status EpollDriver::Run() {
  BeginRun();
  while (stop_signal_ == nullptr) {
    const int64_t wait_ns = WaitNs();
    const int wait_ms = static_cast<int>((wait_ns + 999'999) / 1'000'000);
    const int n = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      return absl::InternalError(text::Cat("epoll_wait: ", std::strerror(errno)));
    }
    ReadClock();
    for (int k = 0; k < n; ++k) OnEvent(events_[static_cast<size_t>(k)]);
    FlushSends();
    EndTurn();
    FlushSends();  // what the timers sent
  }
  return absl::OkStatus();
}

void EpollDriver::OnEvent(const epoll_event& ev) {
  const TagParts t = UnpackTag(ev.data.u64);
  const auto op = static_cast<Op>(t.op);
  const uint32_t index = t.index;
  const uint32_t generation = t.generation;
  switch (op) {
    case Op::kUdp: {
      assert(index < udp_.size());
      const UdpSocket& s = *udp_[index];
      return Drain(
          s.fd, [] { return true; },
          [&](const stun::SocketAddress& peer, std::span<uint8_t> payload) {
            DeliverClientDatagram(s, peer, payload);
          });
    }
    case Op::kRelay: {
      // Closed (and maybe reused) earlier in this turn: a stale event.
      auto open = [this, index, generation] {
        const RelaySockets::Socket* s = relays_.get(index);
        return s != nullptr && (s->generation & 0xFFFFFF) == generation;
      };
      if (!open()) return;
      return Drain(relays_.get(index)->fd, open,
                   [&](const stun::SocketAddress& peer, std::span<uint8_t> payload) {
                     DeliverPeerDatagram(index, peer, payload);
                   });
    }
    case Op::kListener: return OnListener(index);
    case Op::kTcp: {
      const TcpConnection* c = conn(index);
      if (c == nullptr || (c->generation & 0xFFFFFF) != generation || c->closing) return;
      return OnTcp(index, ev.events);
    }
    case Op::kWake: return OnWake();
  }
  assert(false && "unknown epoll tag");
}

template <typename Open, typename Deliver>
void EpollDriver::Drain(int fd, Open open, Deliver deliver) {
  for (unsigned batch = 0; batch < kBatchesPerEvent; ++batch) {
    for (mmsghdr& m : msgs_) {
      m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      m.msg_hdr.msg_flags = 0;
      m.msg_len = 0;
    }
    const int n = recvmmsg(fd, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!WouldBlock(errno)) {
        LogLimited(LogLevel::kWarning, "udp_receive_error", std::strerror(errno));
      }
      return;
    }
    for (int k = 0; k < n && open(); ++k) {
      const msghdr& h = msgs_[static_cast<size_t>(k)].msg_hdr;
      if (h.msg_flags & MSG_TRUNC) {
        ++stats_.udp_truncated;  // a datagram this large leaves no tailroom: drop it
        continue;
      }
      const std::optional<stun::SocketAddress> peer = stun::SocketAddress::FromSockaddr(
          static_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
      if (!peer.has_value()) continue;
      deliver(*peer, std::span<uint8_t>(static_cast<uint8_t*>(h.msg_iov->iov_base),
                                        msgs_[static_cast<size_t>(k)].msg_len));
    }
    // In-place sends point into the batch: out before it is overwritten.
    FlushSends();
    if (static_cast<unsigned>(n) < kBatch || !open()) return;
  }
}

void EpollDriver::OnListener(uint32_t listener) {
  for (unsigned k = 0; k < kAcceptsPerEvent; ++k) {
    const int fd = accept4(listeners_[listener].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (!WouldBlock(errno)) {
        LogLimited(LogLevel::kWarning, "tcp_accept_error", std::strerror(errno));
      }
      return;
    }
    if (std::optional<uint32_t> i = AcceptConnection(fd, listeners_[listener].local)) {
      Watch(fd, EPOLLIN, Tag(Op::kTcp, *i, conn(*i)->generation));
    }
  }
}

uint32_t EpollDriver::TcpEvents(const TcpConnection& c) const {
  return (c.close_after_flush ? 0u : static_cast<uint32_t>(EPOLLIN)) |
         (c.send_pending ? static_cast<uint32_t>(EPOLLOUT) : 0u);
}

void EpollDriver::OnTcp(uint32_t i, uint32_t events) {
  TcpConnection& c = *conn(i);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !c.close_after_flush) {
    std::span<uint8_t> space = c.framer.WritableSpace();
    const ssize_t n = ::recv(c.fd, space.data(), space.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || WouldBlock(errno))) {
      // Level-triggered: reported again.
    } else if (n <= 0) {
      return CloseConnection(i, nullptr);  // EOF, reset or error
    } else {
      c.framer.Commit(static_cast<size_t>(n));
      if (!DeliverFrames(i)) return;
    }
  }
  // Output the frames produced, or what EPOLLOUT now lets through; a hang-up
  // while flushing fails the send, which closes.
  SendQueued(i);
}

void EpollDriver::SendQueued(uint32_t i) {
  TcpConnection& c = *conn(i);
  if (c.closing) return;
  while (!c.out.empty()) {
    const std::span<const uint8_t> chunk = c.out.Next();
    const ssize_t n = ::send(c.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.Sent(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && WouldBlock(errno)) {
      break;
    } else {
      return CloseConnection(i, nullptr);
    }
  }
  if (c.out.empty() && c.close_after_flush) return CloseConnection(i, c.close_reason);
  const bool want_out = !c.out.empty();
  if (want_out != c.send_pending) {
    c.send_pending = want_out;
    Rewatch(c.fd, TcpEvents(c), Tag(Op::kTcp, i, c.generation));
  }
}

void EpollDriver::CloseConnectionAfterFlush(uint32_t i, uint64_t* reason) {
  TcpConnection& c = *conn(i);
  assert(!c.closing);
  if (c.out.empty()) return CloseConnection(i, reason);
  // Reads nothing more; SendQueued closes (and counts `reason`) once empty.
  c.close_after_flush = true;
  c.close_reason = reason;
  Unroute(i);  // nothing more is sent to it
  Rewatch(c.fd, TcpEvents(c), Tag(Op::kTcp, i, c.generation));
  SendQueued(i);
}

void EpollDriver::CloseConnection(uint32_t i, uint64_t* reason) {
  if (!BeginClose(i, reason)) return;
  Unwatch(conn(i)->fd);
  ReleaseConnection(i);  // events already fetched for it fail the generation check
}

void EpollDriver::OnWake() {
  uint64_t value = 0;
  if (::read(wake_fd_, &value, sizeof value) < 0 && errno != EAGAIN && errno != EINTR) {
    Log(LogLevel::kError, "wake_read_error", {{"error", std::strerror(errno)}});
  }
  if (on_wake_) on_wake_();
}

void EpollDriver::StartRelayReceive(turn::RelayId id) {
  const RelaySockets::Socket& s = *relays_.get(id);
  Watch(s.fd, EPOLLIN, Tag(Op::kRelay, id, s.generation));
}

void EpollDriver::StopRelay(turn::RelayId id) {
  // Queued datagrams name the socket by descriptor, which a relay opened
  // next could reuse: out with them first.
  FlushSends();
  Unwatch(relays_.get(id)->fd);
  relays_.Close(id);
}

void EpollDriver::QueueDatagram(int fd, const stun::SocketAddress& to,
                                std::span<const uint8_t> bytes) {
  UdpSendQueue::Queued q = sends_.Add(fd, to, bytes, storage_);
  if (q == UdpSendQueue::Queued::kFull) {
    FlushSends();  // in-place bytes stay valid: the batch is not reused yet
    q = sends_.Add(fd, to, bytes, storage_);
  }
  switch (q) {
    case UdpSendQueue::Queued::kInPlace: ++stats_.sends_in_place; break;
    case UdpSendQueue::Queued::kCopied: ++stats_.sends_copied; break;
    case UdpSendQueue::Queued::kTooLarge: ++stats_.send_too_large; break;
    case UdpSendQueue::Queued::kFull: assert(false && "empty queue refused a datagram"); break;
  }
}

void EpollDriver::FlushSends() {
  if (sends_.empty()) return;
  const UdpSendQueue::FlushResult r = sends_.Flush();
  stats_.udp_send_batches += r.calls;
  stats_.udp_send_would_block += r.would_block;
  stats_.udp_send_errors += r.errors;
  if (r.errors > 0) {
    LogLimited(LogLevel::kWarning, "udp_send_error", std::strerror(r.last_error));
  }
}

}  // namespace uturn::server
