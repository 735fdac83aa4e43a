#include "client/ice_socket_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
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
  Stop();
  for (const Socket& s : sockets_) close(s.fd);
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

void IceSocketDriver::FlushLocked(absl::Time) {
  for (int round = 0; round < kFlushRounds; ++round) {
    bool any = false;
    while (std::optional<IceTransmit> t = agent_->PollTransmit()) {
      any = true;
      auto it = by_address_.find(t->source);
      if (it == by_address_.end()) {
        ++send_errors_;
        Error(text::Cat("transmit from unknown local address ", t->source.ToString()));
        continue;
      }
      const Socket& s = sockets_[it->second];
      if (t->destination.is_v4() != s.address.is_v4()) {
        ++send_errors_;
        Error(text::Cat("transmit across families ", s.address.ToString(), " -> ",
                           t->destination.ToString()));
        continue;
      }
      sockaddr_storage ss{};
      const socklen_t len = ToSockaddr(t->destination, s.scope_id, &ss);
      if (sendto(s.fd, t->bytes.data(), t->bytes.size(), 0, reinterpret_cast<const sockaddr*>(&ss),
                 len) < 0) {
        // UDP: a lost datagram is the protocol's to recover (retransmission).
        ++send_errors_;
        Error(Errno(text::Cat("sendto ", t->destination.ToString())));
      }
    }
    while (std::optional<IceEvent> e = agent_->PollEvent()) {
      any = true;
      if (callbacks_.on_event) callbacks_.on_event(*e);
    }
    if (!any) return;
  }
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
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (sockets_.empty()) return absl::FailedPreconditionError("RunOnce before Open");
    loop_thread_.store(std::this_thread::get_id());
    const absl::Time now = absl::Now();
    if (agent_->PollTimeout() <= now) agent_->HandleTimeout(now);
    FlushLocked(now);
    const absl::Duration until = std::min(max_wait, agent_->PollTimeout() - now);
    max_wait = std::max(absl::ZeroDuration(), until);
    for (const Socket& s : sockets_) fds.push_back({s.fd, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    for (const auto& [fd, cb] : watched_) fds.push_back({fd, POLLIN, 0});
  }
  // Round up so a deadline 0.3 ms away does not spin at 0 ms.
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(max_wait, absl::Milliseconds(1)));
  const int ready = poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(ms, 60'000)));
  if (ready < 0 && errno != EINTR) return absl::InternalError(Errno("poll"));

  std::lock_guard<std::recursive_mutex> lock(mu_);
  const absl::Time now = absl::Now();
  const size_t n_sockets = sockets_.size();
  for (size_t i = 0; ready > 0 && i < fds.size(); ++i) {
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
