#include "client/ice_socket_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "stun/text.h"
#include "absl/time/clock.h"

namespace uturn::client {
namespace {

// Largest UDP payload; TURN/STUN and application datagrams are far smaller.
constexpr size_t kReceiveBuffer = 65536;
// Datagrams read from one socket per RunOnce, so one busy socket cannot
// starve the others, the watched fds or the timers.
constexpr int kReadsPerSocket = 64;
// Events and transmits drained per Flush (callbacks may queue more); a
// bound against a callback that keeps feeding the agent.
constexpr int kFlushRounds = 1024;

bool IsLinkLocalV6(const stun::SocketAddress& a) {
  return !a.is_v4() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

bool IsUnspecified(const stun::SocketAddress& a) {
  for (size_t i = 0; i < a.address_size(); ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return true;
}

socklen_t ToSockaddr(const stun::SocketAddress& a, uint32_t scope_id, sockaddr_storage* ss) {
  const socklen_t len = a.ToSockaddr(ss);
  if (!a.is_v4() && IsLinkLocalV6(a)) reinterpret_cast<sockaddr_in6*>(ss)->sin6_scope_id = scope_id;
  return len;
}

std::string Errno(std::string_view what) { return text::Cat(what, ": ", std::strerror(errno)); }

}  // namespace

bool UseInterfaceAddress(const InterfaceAddress& a, const IceSocketDriverOptions& options) {
  if (!a.up || IsUnspecified(a.address)) return false;
  if (a.loopback && !options.loopback) return false;
  if (IsLinkLocalV6(a.address) && !options.link_local_v6) return false;
  return true;
}

absl::StatusOr<std::vector<InterfaceAddress>> ListInterfaceAddresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return absl::InternalError(Errno("getifaddrs"));
  std::vector<InterfaceAddress> out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    const int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    std::optional<stun::SocketAddress> a = stun::SocketAddress::FromSockaddr(i->ifa_addr, len);
    if (!a) continue;
    InterfaceAddress ia;
    ia.address = *a;
    ia.address.port = 0;
    if (family == AF_INET6) ia.scope_id = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_scope_id;
    ia.up = (i->ifa_flags & IFF_UP) != 0;
    ia.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
    out.push_back(ia);
  }
  freeifaddrs(list);
  return out;
}

IceSocketDriver::IceSocketDriver(IceAgent* agent, IceDriverCallbacks callbacks)
    : agent_(agent), callbacks_(std::move(callbacks)), buffer_(kReceiveBuffer) {
  assert(agent_ != nullptr);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

IceSocketDriver::~IceSocketDriver() {
  Close();
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status IceSocketDriver::OpenOne(const stun::SocketAddress& address, uint32_t scope_id) {
  if (IsUnspecified(address)) {
    // ICE needs each candidate's own address (RFC 8445 §5.1.1.1), not a wildcard.
    return absl::InvalidArgumentError(text::Cat("cannot gather on the wildcard ", address.ToString()));
  }
  const int fd = socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Errno("socket"));
  if (!address.is_v4()) {
    const int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  sockaddr_storage ss{};
  const socklen_t len = ToSockaddr(address, scope_id, &ss);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    const std::string e = Errno(text::Cat("bind ", address.ToString()));
    close(fd);
    return absl::UnavailableError(e);
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  std::optional<stun::SocketAddress> local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0) {
    local = stun::SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len);
  }
  if (!local) {
    close(fd);
    return absl::InternalError(Errno("getsockname"));
  }
  if (by_address_.contains(*local)) {
    close(fd);
    return absl::AlreadyExistsError(text::Cat(local->ToString(), " is already open"));
  }
  if (absl::Status s = agent_->AddLocalInterface(*local); !s.ok()) {
    close(fd);
    return s;
  }
  by_address_[*local] = sockets_.size();
  sockets_.push_back(Socket{fd, *local, scope_id});
  addresses_.push_back(*local);
  return absl::OkStatus();
}

absl::Status IceSocketDriver::Open(const IceSocketDriverOptions& options) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
  if (closed_) return absl::FailedPreconditionError("driver closed");
  stream_queue_limit_ = options.stream_queue_limit;
  std::vector<std::pair<stun::SocketAddress, uint32_t>> wanted;
  if (!options.bind.empty()) {
    for (const stun::SocketAddress& a : options.bind) wanted.emplace_back(a, 0);
  } else {
    absl::StatusOr<std::vector<InterfaceAddress>> list = ListInterfaceAddresses();
    if (!list.ok()) return list.status();
    for (const InterfaceAddress& a : *list) {
      if (UseInterfaceAddress(a, options)) wanted.emplace_back(a.address, a.scope_id);
    }
  }
  if (wanted.empty()) return absl::FailedPreconditionError("no usable local address");
  std::string failures;
  for (const auto& [address, scope] : wanted) {
    if (absl::Status s = OpenOne(address, scope); !s.ok()) {
      Error(std::string(s.message()));
      failures += text::Cat(failures.empty() ? "" : "; ", s.message());
    }
  }
  if (sockets_.empty()) return absl::UnavailableError(text::Cat("no socket opened: ", failures));
  return absl::OkStatus();
}

absl::Status IceSocketDriver::Watch(int fd, std::function<void(absl::Time)> on_readable) {
  if (fd < 0 || !on_readable) return absl::InvalidArgumentError("Watch needs an fd and a callback");
  std::lock_guard<std::recursive_mutex> lock(mu_);
  watched_[fd] = std::move(on_readable);
  Wake();
  return absl::OkStatus();
}

void IceSocketDriver::Unwatch(int fd) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  watched_.erase(fd);
}

void IceSocketDriver::Error(std::string_view what) {
  if (callbacks_.on_error) callbacks_.on_error(what);
}

void IceSocketDriver::Wake() {
  if (wake_fd_ < 0 || std::this_thread::get_id() == loop_thread_.load()) return;
  const uint64_t one = 1;
  // EAGAIN only when the counter is saturated: the poll wakes anyway.
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

void IceSocketDriver::Flush() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  FlushLocked(absl::Now());
}

void IceSocketDriver::FlushLocked(absl::Time now) {
  for (int round = 0; round < kFlushRounds; ++round) {
    bool any = false;
    while (std::optional<IceTransmit> t = agent_->PollTransmit()) {
      any = true;
      if (t->transport == TurnTransport::kUdp) {
        SendDatagram(*t);
      } else {
        SendOnStream(std::move(*t), now);
      }
    }
    while (std::optional<IceEvent> e = agent_->PollEvent()) {
      any = true;
      if (callbacks_.on_event) callbacks_.on_event(*e);
    }
    if (!any) return;
  }
}

void IceSocketDriver::SendDatagram(const IceTransmit& t) {
  auto it = by_address_.find(t.source);
  if (it == by_address_.end()) {
    ++send_errors_;
    Error(text::Cat("transmit from unknown local address ", t.source.ToString()));
    return;
  }
  const Socket& s = sockets_[it->second];
  if (t.destination.is_v4() != s.address.is_v4()) {
    ++send_errors_;
    Error(text::Cat("transmit across families ", s.address.ToString(), " -> ",
                    t.destination.ToString()));
    return;
  }
  sockaddr_storage ss{};
  const socklen_t len = ToSockaddr(t.destination, s.scope_id, &ss);
  if (sendto(s.fd, t.bytes.data(), t.bytes.size(), 0, reinterpret_cast<const sockaddr*>(&ss),
             len) < 0) {
    // UDP: a lost datagram is the protocol's to recover (retransmission).
    ++send_errors_;
    Error(Errno(text::Cat("sendto ", t.destination.ToString())));
  }
}

// ---------------------------------------------------------------- TURN streams

size_t IceSocketDriver::open_streams() const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return streams_.size();
}

void IceSocketDriver::SendOnStream(IceTransmit t, absl::Time now) {
  const auto route = std::make_tuple(t.source, t.destination, t.transport);
  Stream* s = nullptr;
  if (auto it = stream_by_route_.find(route); it != stream_by_route_.end()) {
    s = streams_.at(it->second).get();
    if (s->dead) return;  // the agent hears of it when the loop reaps it
  } else {
    s = OpenStream(t, now);
    if (s == nullptr) return;  // the agent has been told
  }
  if (s->queued_bytes + t.bytes.size() > stream_queue_limit_) {
    // Bounded: the server is not reading. Dropped whole, as a datagram would be.
    ++send_errors_;
    Error(text::Cat("stream to ", t.destination.ToString(), ": write queue full, message dropped"));
    return;
  }
  s->queued_bytes += t.bytes.size();
  s->queue.push_back(std::move(t.bytes));
  if (!s->connecting) WriteStream(*s, now);
}

IceSocketDriver::Stream* IceSocketDriver::OpenStream(const IceTransmit& t, absl::Time now) {
  const auto fail = [&](std::string reason) -> Stream* {
    ++send_errors_;
    Error(reason);
    agent_->HandleStreamClosed(t.source, t.destination, t.transport, reason, now);
    return nullptr;
  };
  if (t.transport != TurnTransport::kTcp) {
    return fail(text::Cat("TURN over ", ToString(t.transport), " is not supported by the driver yet"));
  }
  auto base = by_address_.find(t.source);
  if (base == by_address_.end()) {
    return fail(text::Cat("stream from unknown local address ", t.source.ToString()));
  }
  const Socket& sock = sockets_[base->second];
  if (t.destination.is_v4() != sock.address.is_v4()) {
    return fail(text::Cat("stream across families ", sock.address.ToString(), " -> ",
                          t.destination.ToString()));
  }
  const int fd = socket(sock.address.is_v4() ? AF_INET : AF_INET6,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Errno("socket (TCP)"));
  // From the base's IP (the candidate's host), any port: the server sees the
  // stream's 5-tuple, not the UDP socket's (RFC 8656 §3.1).
  stun::SocketAddress local = sock.address;
  local.port = 0;
  sockaddr_storage ss{};
  socklen_t len = ToSockaddr(local, sock.scope_id, &ss);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    const std::string e = Errno(text::Cat("bind TCP ", local.ToString()));
    close(fd);
    return fail(e);
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small messages, paced already
  len = ToSockaddr(t.destination, sock.scope_id, &ss);
  bool connecting = true;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0) {
    connecting = false;
  } else if (errno != EINPROGRESS) {
    const std::string e = Errno(text::Cat("connect to TURN server ", t.destination.ToString()));
    close(fd);
    return fail(e);
  }
  auto stream = std::make_unique<Stream>();
  stream->id = next_stream_id_++;
  stream->fd = fd;
  stream->base = t.source;
  stream->server = t.destination;
  stream->transport = t.transport;
  stream->connecting = connecting;
  Stream* raw = stream.get();
  stream_by_route_[std::make_tuple(t.source, t.destination, t.transport)] = raw->id;
  streams_[raw->id] = std::move(stream);
  return raw;
}

bool IceSocketDriver::WriteStream(Stream& s, absl::Time) {
  while (!s.queue.empty()) {
    const std::vector<uint8_t>& front = s.queue.front();
    const ssize_t n = send(s.fd, front.data() + s.front_written, front.size() - s.front_written,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;  // POLLOUT later
      s.dead = Errno(text::Cat("send to TURN server ", s.server.ToString()));
      return false;
    }
    s.front_written += static_cast<size_t>(n);
    if (s.front_written < front.size()) return true;
    s.queued_bytes -= front.size();
    s.front_written = 0;
    s.queue.pop_front();
  }
  return true;
}

void IceSocketDriver::ReadStream(Stream& s, absl::Time now) {
  const uint64_t id = s.id;
  for (int i = 0; i < kReadsPerSocket; ++i) {
    const std::span<uint8_t> space = s.framer.WritableSpace();
    const ssize_t n = recv(s.fd, space.data(), space.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return CloseStream(id, Errno(text::Cat("receive from TURN server ", s.server.ToString())), now);
    }
    if (n == 0) {
      return CloseStream(id, text::Cat("TURN server ", s.server.ToString(), " closed the stream"),
                         now);
    }
    s.framer.Commit(static_cast<size_t>(n));
    // Every whole frame goes to the agent. Nothing it or the callbacks do
    // destroys `s` (a failed write only marks it dead), so it stays valid.
    for (;;) {
      const stun::FrameInfo f = s.framer.Peek();
      if (f.status == stun::FrameInfo::Status::kNeedMore) break;
      if (f.status == stun::FrameInfo::Status::kInvalid) {
        // RFC 8489 §6.2.2 framing lost: the stream cannot be resynchronised.
        return CloseStream(id, text::Cat("TURN server ", s.server.ToString(),
                                         " sent bytes that are neither STUN nor ChannelData"),
                           now);
      }
      ++received_;
      const IceIncoming in =
          agent_->HandlePacket(s.base, s.server, s.framer.buffered().first(f.size), now, s.transport);
      if (in.kind == IceIncoming::Kind::kData && callbacks_.on_data) callbacks_.on_data(in.data);
      s.framer.Consume(f.size);
      if (s.dead) return;  // a callback's send failed on it: reaped by the loop
    }
  }
}

void IceSocketDriver::StreamReady(uint64_t id, short revents, absl::Time now) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;  // closed earlier in this turn
  Stream& s = *it->second;
  if (s.dead) return;  // reaped after this
  if (s.connecting) {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      return CloseStream(id, text::Cat("connect to TURN server ", s.server.ToString(), ": ",
                                       std::strerror(err)),
                         now);
    }
    s.connecting = false;
  }
  if ((revents & POLLOUT) != 0 && !WriteStream(s, now)) return;
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) ReadStream(s, now);
}

void IceSocketDriver::CloseStream(uint64_t id, std::string reason, absl::Time now) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  stream_by_route_.erase(std::make_tuple(s->base, s->server, s->transport));
  close(s->fd);
  Error(reason);
  agent_->HandleStreamClosed(s->base, s->server, s->transport, reason, now);
}

void IceSocketDriver::ReapStreams(absl::Time now) {
  std::vector<std::pair<uint64_t, std::string>> dead;
  for (const auto& [id, s] : streams_) {
    if (s->dead) dead.emplace_back(id, *s->dead);
  }
  for (auto& [id, reason] : dead) CloseStream(id, std::move(reason), now);
}

void IceSocketDriver::Close() {
  Stop();
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  const absl::Time now = absl::Now();
  FlushLocked(now);
  for (auto& [id, s] : streams_) {
    // One last non-blocking write: the kernel sends what it took before the FIN.
    if (!s->connecting) {
      for (const std::vector<uint8_t>& m : s->queue) {
        if (send(s->fd, m.data(), m.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) break;
      }
    }
    close(s->fd);
  }
  streams_.clear();
  stream_by_route_.clear();
  for (const Socket& s : sockets_) close(s.fd);
  sockets_.clear();
  by_address_.clear();
}

void IceSocketDriver::ReadSocket(const Socket& s, absl::Time now) {
  for (int i = 0; i < kReadsPerSocket; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(s.fd, buffer_.data(), buffer_.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      // ECONNREFUSED and friends are ICMP errors of earlier sends: keep reading.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      if (errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENETUNREACH) {
        Error(Errno(text::Cat("recvfrom on ", s.address.ToString())));
        return;
      }
      continue;
    }
    std::optional<stun::SocketAddress> peer =
        stun::SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&from), from_len);
    if (!peer) continue;
    ++received_;
    const IceIncoming in = agent_->HandlePacket(
        s.address, *peer, std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n)), now);
    if (in.kind == IceIncoming::Kind::kData && callbacks_.on_data) callbacks_.on_data(in.data);
  }
}

absl::Status IceSocketDriver::RunOnce(absl::Duration max_wait) {
  std::vector<pollfd> fds;
  std::vector<uint64_t> stream_ids;  // of fds[first_stream...]: an fd number may be reused
  size_t first_stream = 0;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (sockets_.empty()) return absl::FailedPreconditionError("RunOnce before Open");
    loop_thread_.store(std::this_thread::get_id());
    const absl::Time now = absl::Now();
    if (agent_->PollTimeout() <= now) agent_->HandleTimeout(now);
    FlushLocked(now);
    ReapStreams(now);
    FlushLocked(now);
    const absl::Duration until = std::min(max_wait, agent_->PollTimeout() - now);
    max_wait = std::max(absl::ZeroDuration(), until);
    for (const Socket& s : sockets_) fds.push_back({s.fd, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    for (const auto& [fd, cb] : watched_) fds.push_back({fd, POLLIN, 0});
    first_stream = fds.size();
    for (const auto& [id, st] : streams_) {
      const bool want_write = st->connecting || !st->queue.empty();
      fds.push_back({st->fd, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0});
      stream_ids.push_back(id);
    }
  }
  // Round up so a deadline 0.3 ms away does not spin at 0 ms.
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(max_wait, absl::Milliseconds(1)));
  const int ready = poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(ms, 60'000)));
  if (ready < 0 && errno != EINTR) return absl::InternalError(Errno("poll"));

  std::lock_guard<std::recursive_mutex> lock(mu_);
  const absl::Time now = absl::Now();
  const size_t n_sockets = sockets_.size();
  for (size_t i = 0; ready > 0 && i < fds.size(); ++i) {
    if (i >= first_stream) {
      if (fds[i].revents != 0) StreamReady(stream_ids[i - first_stream], fds[i].revents, now);
      FlushLocked(now);
      ReapStreams(now);
      FlushLocked(now);
      continue;
    }
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    if (i < n_sockets) {
      ReadSocket(sockets_[i], now);
    } else if (fds[i].fd == wake_fd_) {
      uint64_t count = 0;
      if (read(wake_fd_, &count, sizeof count) == sizeof count) ++wakeups_;
    } else if (auto it = watched_.find(fds[i].fd); it != watched_.end()) {
      // A copy: the callback may Unwatch (and so destroy) itself.
      std::function<void(absl::Time)> cb = it->second;
      cb(now);
    }
    FlushLocked(now);
  }
  if (agent_->PollTimeout() <= now) agent_->HandleTimeout(now);
  FlushLocked(now);
  ReapStreams(now);
  FlushLocked(now);
  return absl::OkStatus();
}

absl::Status IceSocketDriver::Start() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (thread_.joinable()) return absl::FailedPreconditionError("already started");
  if (sockets_.empty()) return absl::FailedPreconditionError("Start before Open");
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_) {
      if (absl::Status s = RunOnce(absl::Seconds(1)); !s.ok()) {
        Error(std::string(s.message()));
        return;
      }
    }
  });
  return absl::OkStatus();
}

void IceSocketDriver::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  Wake();
  thread_.join();
}

absl::Status IceSocketDriver::SendData(std::span<const uint8_t> payload) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const absl::Time now = absl::Now();
  absl::Status s = agent_->SendData(payload, now);
  FlushLocked(now);
  return s;
}

}  // namespace uturn::client
