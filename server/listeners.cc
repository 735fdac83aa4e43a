#include "server/listeners.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "stun/text.h"

namespace uturn::server {
namespace {

absl::Status Errno(std::string_view what, const stun::SocketAddress& a) {
  return absl::UnavailableError(text::Cat(what, " ", a.ToString(), ": ", std::strerror(errno)));
}

// Every client of a shard sends into its one listening socket, so bursts
// from many clients land there together; the kernel's default (about 200 KiB,
// a few hundred small datagrams) overflows first under load. The buffer is a
// limit, not memory allocated up front.
constexpr int kUdpListenBufferBytes = 8 << 20;

void SizeUdpBuffers(int fd) {
  // SO_*BUFFORCE passes net.core.[rw]mem_max when the process has
  // CAP_NET_ADMIN; otherwise the plain option gets as much as the sysctl
  // allows. Best effort either way: a small buffer costs loss, not function.
  const int bytes = kUdpListenBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
}

absl::StatusOr<ListeningSocket> Open(const stun::SocketAddress& address, turn::Transport transport,
                                     int backlog, bool reuse_port) {
  const int domain = address.is_v4() ? AF_INET : AF_INET6;
  const int type = transport == turn::Transport::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  const int fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", address);
  auto fail = [&](std::string_view what) {
    absl::Status s = Errno(what, address);
    ::close(fd);
    return s;
  };
  const int one = 1;
  if (!address.is_v4() && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
    return fail("setsockopt(IPV6_V6ONLY)");
  }
  // TCP: rebinding right after a restart must not wait out TIME_WAIT.
  if (transport == turn::Transport::kTcp &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    return fail("setsockopt(SO_REUSEADDR)");
  }
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    return fail("setsockopt(SO_REUSEPORT)");
  }
  if (transport == turn::Transport::kUdp) SizeUdpBuffers(fd);
  sockaddr_storage ss{};
  const socklen_t len = address.ToSockaddr(&ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) return fail("bind");
  if (transport == turn::Transport::kTcp && ::listen(fd, backlog) < 0) return fail("listen");

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) < 0) {
    return fail("getsockname");
  }
  auto local = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len);
  if (!local.has_value()) {
    ::close(fd);
    return absl::InternalError(text::Cat("getsockname ", address.ToString(), ": unexpected family"));
  }
  return ListeningSocket{fd, transport, *local};
}

}  // namespace

absl::StatusOr<ListeningSocket> OpenUdpSocket(const stun::SocketAddress& address,
                                              bool reuse_port) {
  return Open(address, turn::Transport::kUdp, 0, reuse_port);
}

absl::StatusOr<ListeningSocket> OpenTcpListener(const stun::SocketAddress& address, int backlog,
                                                bool reuse_port) {
  return Open(address, turn::Transport::kTcp, backlog, reuse_port);
}

std::optional<stun::SocketAddress> FirstNonLoopbackIpv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<stun::SocketAddress> out;
  for (ifaddrs* i = list; i != nullptr && !out.has_value(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    out = stun::SocketAddress::FromSockaddr(i->ifa_addr, sizeof(sockaddr_in));
  }
  ::freeifaddrs(list);
  if (out.has_value()) out->port = 0;
  return out;
}

}  // namespace uturn::server
