#include "tests/integration/net.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "absl/time/clock.h"

namespace uturn::testing {
namespace {

using Clock = std::chrono::steady_clock;

int PollIn(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, left > 0 ? static_cast<int>(left) : 0);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

int PollMs(absl::Time now, absl::Time until) {
  if (until <= now) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(until - now) + 1, 60'000));
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd UdpSocket(const stun::SocketAddress& local) {
  Fd fd(::socket(local.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  sockaddr_storage ss{};
  const socklen_t len = local.ToSockaddr(&ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  return fd;
}

Fd TcpConnect(const stun::SocketAddress& server) {
  Fd fd(::socket(server.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  sockaddr_storage ss{};
  const socklen_t len = server.ToSockaddr(&ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

stun::SocketAddress LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)
      .value_or(stun::SocketAddress{});
}

bool SendTo(int fd, std::span<const uint8_t> bytes, const stun::SocketAddress& to) {
  sockaddr_storage ss{};
  const socklen_t len = to.ToSockaddr(&ss);
  const ssize_t n =
      ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  return n == static_cast<ssize_t>(bytes.size());
}

bool SendBurst(int fd, const std::vector<std::vector<uint8_t>>& datagrams,
               const stun::SocketAddress& to) {
  sockaddr_storage ss{};
  const socklen_t len = to.ToSockaddr(&ss);
  std::vector<iovec> iov(datagrams.size());
  std::vector<mmsghdr> msgs(datagrams.size());
  for (size_t i = 0; i < datagrams.size(); ++i) {
    iov[i] = iovec{const_cast<uint8_t*>(datagrams[i].data()), datagrams[i].size()};
    msgs[i].msg_hdr.msg_name = &ss;
    msgs[i].msg_hdr.msg_namelen = len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  size_t done = 0;
  while (done < msgs.size()) {
    const int n = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(msgs.size() - done), 0);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool SendAll(int fd, std::span<const uint8_t> bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::vector<uint8_t>> RecvDatagram(int fd, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (PollIn(fd, deadline) <= 0) return std::nullopt;
    std::vector<uint8_t> buf(65536);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
}

std::optional<std::vector<uint8_t>> RecvFrame(int fd, stun::StreamFramer& framer,
                                              milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const stun::FrameInfo info = framer.Peek();
    if (info.status == stun::FrameInfo::Status::kInvalid) return std::nullopt;
    if (info.status == stun::FrameInfo::Status::kComplete) {
      const auto frame = framer.buffered().first(info.size);
      std::vector<uint8_t> out(frame.begin(), frame.end());
      framer.Consume(info.size);
      return out;
    }
    if (PollIn(fd, deadline) <= 0) return std::nullopt;
    std::span<uint8_t> space = framer.WritableSpace();
    if (space.empty()) return std::nullopt;
    const ssize_t n = ::recv(fd, space.data(), space.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return std::nullopt;
    framer.Commit(static_cast<size_t>(n));
  }
}

StreamEnd WaitForClose(int fd, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (PollIn(fd, deadline) <= 0) return StreamEnd::kTimeout;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return StreamEnd::kClosed;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return StreamEnd::kClosed;  // reset
  }
}

client::RandomSource TestRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*engine)());
  };
}

client::BindingClientConfig FastConfig() {
  client::BindingClientConfig c;
  c.transaction.initial_rto = absl::Milliseconds(100);
  c.transaction.reliable_timeout = absl::Seconds(5);
  c.software = "uturn-integration-test";
  return c;
}

client::BindingResult BindingOverUdp(int fd, const stun::SocketAddress& server,
                                     client::BindingClientConfig config) {
  config.transport = stun::TransportKind::kUnreliable;
  client::BindingClient c(config, TestRandom());
  if (!c.Start(absl::Now()).ok() || !SendTo(fd, c.request(), server)) return c.result();
  while (!c.done()) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, PollMs(absl::Now(), c.deadline()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (c.HandleTimeout(absl::Now())) SendTo(fd, c.request(), server);
      continue;
    }
    std::vector<uint8_t> buf(65536);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) c.HandleMessage(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), absl::Now());
  }
  return c.result();
}

client::BindingResult BindingOverTcp(int fd, client::BindingClientConfig config) {
  config.transport = stun::TransportKind::kReliable;
  client::BindingClient c(config, TestRandom());
  if (!c.Start(absl::Now()).ok() || !SendAll(fd, c.request())) return c.result();
  stun::StreamFramer framer;
  while (!c.done()) {
    const absl::Duration left = c.deadline() - absl::Now();
    const auto frame = RecvFrame(fd, framer, milliseconds(std::max<int64_t>(0, absl::ToInt64Milliseconds(left))));
    if (frame) {
      c.HandleMessage(*frame, absl::Now());
    } else {
      // Timeout, EOF or a broken stream: let the timer decide; nothing more
      // will arrive on this connection.
      c.HandleTimeout(c.deadline());
    }
  }
  return c.result();
}

}  // namespace uturn::testing
