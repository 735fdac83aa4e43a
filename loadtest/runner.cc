#include "loadtest/runner.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/turn_client.h"
#include "loadtest/probe.h"

namespace uturn::loadtest {
namespace {

using Clock = std::chrono::steady_clock;
using client::TurnEvent;

constexpr uint16_t kChannel = 0x4000;  // RFC 8656 §12: first valid channel number
constexpr int kBatch = 64;             // datagrams per sendmmsg/recvmmsg
constexpr uint32_t kPeerTag = 0x80000000u;
// Set-up and teardown phases end by themselves even if the server is gone.
constexpr absl::Duration kPhaseTimeout = absl::Seconds(60);
constexpr size_t kMaxDatagram = 65536;

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

absl::StatusOr<Fd> UdpSocket(const stun::SocketAddress& local,
                             const stun::SocketAddress* connect_to) {
  const int domain = local.is_v4() ? AF_INET : AF_INET6;
  Fd fd(::socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  // Larger buffers absorb bursts; the kernel caps them at rmem_max/wmem_max.
  const int size = 1 << 20;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  sockaddr_storage ss;
  socklen_t len = local.ToSockaddr(&ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return absl::InternalError(absl::StrCat("bind ", local.ToString(), ": ", std::strerror(errno)));
  }
  if (connect_to != nullptr) {
    len = connect_to->ToSockaddr(&ss);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return absl::InternalError(absl::StrCat("connect: ", std::strerror(errno)));
    }
  }
  return fd;
}

stun::SocketAddress LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(
      stun::SocketAddress{});
}

// Not for security: transaction IDs of a load generator only need to be
// distinct. One shared generator, seeded from the OS.
client::RandomSource MakeRandom() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*rng)());
  };
}

struct Allocation {
  Fd fd;
  std::unique_ptr<client::TurnClient> turn;
  stun::SocketAddress peer;
  uint32_t peer_index = 0;
  bool ready = false;
};

enum class Step : uint8_t { kContinue, kDone, kFailed };

class Generator {
 public:
  Generator(const Options& o, std::ostream* progress) : o_(o), progress_(progress) {}
  absl::StatusOr<Report> Run();

 private:
  absl::Status OpenSockets();
  // Drives requests on `indices` with at most `window` in flight; `start`
  // issues the first request, `on_event` decides what each outcome means.
  void Phase(const std::vector<uint32_t>& indices, uint32_t window,
             const std::function<bool(uint32_t)>& start,
             const std::function<Step(uint32_t, const TurnEvent&)>& on_event, uint32_t* ok,
             uint32_t* failed);
  void Flush(Allocation& a);
  void SendPackets(uint64_t* next, uint64_t due);
  // Waits until `until_ns` at most for datagrams and handles them.
  void Receive(uint64_t until_ns);
  void ReceivePeer(uint32_t k);
  void ReceiveClient(uint32_t i);
  void Progress(double elapsed);

  const Options& o_;
  std::ostream* progress_;
  Report r_;
  Fd epoll_;
  std::vector<Fd> peers_;
  std::vector<stun::SocketAddress> peer_addresses_;
  std::vector<Allocation> allocs_;
  std::vector<uint32_t> ready_;  // indices of allocations that carry data
  client::RandomSource random_ = MakeRandom();
  std::vector<uint8_t> payload_;
  // Batch buffers for sendmmsg/recvmmsg.
  std::vector<std::vector<uint8_t>> bufs_ = std::vector<std::vector<uint8_t>>(
      kBatch, std::vector<uint8_t>(kMaxDatagram));
  sockaddr_storage names_[kBatch]{};
  iovec iov_[kBatch]{};
  mmsghdr msgs_[kBatch]{};
  uint64_t last_sent_ = 0, last_delivered_ = 0;
};

absl::Status Generator::OpenSockets() {
  // Many allocations need many descriptors: take what the hard limit allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (epoll_.get() < 0) return absl::InternalError("epoll_create1 failed");
  const auto peer_ip = *stun::SocketAddress::ParseIp(o_.peer_ip, 0);
  const uint32_t k = std::min(o_.peer_sockets, o_.allocations);
  for (uint32_t i = 0; i < k; ++i) {
    auto fd = UdpSocket(peer_ip, nullptr);
    if (!fd.ok()) return fd.status();
    epoll_event ev{EPOLLIN, {.u32 = kPeerTag | i}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd->get(), &ev);
    peer_addresses_.push_back(LocalAddress(fd->get()));
    peers_.push_back(std::move(*fd));
  }
  const auto local = o_.server.is_v4() ? stun::SocketAddress::V4({127, 0, 0, 1}, 0)
                                       : *stun::SocketAddress::ParseIp("::1", 0);
  client::TurnClientConfig config;
  if (!o_.no_auth) {
    if (!o_.secret.empty()) {
      // One hour of validity is plenty for a run capped at a few minutes.
      const std::string user = RestUsername(absl::ToUnixSeconds(absl::Now()) + 3600, o_.rest_name);
      config.credentials = client::TurnCredentials{user, RestPassword(o_.secret, user)};
    } else {
      config.credentials = client::TurnCredentials{o_.user, o_.password};
    }
  }
  config.software = "uturn-load";
  allocs_.resize(o_.allocations);
  for (uint32_t i = 0; i < o_.allocations; ++i) {
    auto fd = UdpSocket(local, &o_.server);
    if (!fd.ok()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("client socket ", i, ": ", fd.status().message()));
    }
    epoll_event ev{EPOLLIN, {.u32 = i}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd->get(), &ev);
    Allocation& a = allocs_[i];
    a.fd = std::move(*fd);
    a.turn = std::make_unique<client::TurnClient>(config, random_);
    a.peer_index = i % k;
    a.peer = peer_addresses_[a.peer_index];
  }
  return absl::OkStatus();
}

void Generator::Flush(Allocation& a) {
  while (auto out = a.turn->PollTransmit()) {
    ::send(a.fd.get(), out->data(), out->size(), 0);  // loss is retransmitted
  }
}

void Generator::Phase(const std::vector<uint32_t>& indices, uint32_t window,
                      const std::function<bool(uint32_t)>& start,
                      const std::function<Step(uint32_t, const TurnEvent&)>& on_event,
                      uint32_t* ok, uint32_t* failed) {
  std::vector<uint32_t> inflight;
  std::vector<uint8_t> buf(kMaxDatagram);
  size_t next = 0;
  const absl::Time give_up = absl::Now() + kPhaseTimeout;
  auto finish = [&](uint32_t i, bool good) {
    ++*(good ? ok : failed);
    inflight.erase(std::find(inflight.begin(), inflight.end(), i));
  };
  auto drain_events = [&](uint32_t i) {
    Allocation& a = allocs_[i];
    while (auto ev = a.turn->PollEvent()) {
      const Step s = on_event(i, *ev);
      if (s != Step::kContinue) {
        finish(i, s == Step::kDone);
        break;
      }
    }
    Flush(a);
  };
  while ((next < indices.size() || !inflight.empty()) && absl::Now() < give_up) {
    while (inflight.size() < window && next < indices.size()) {
      const uint32_t i = indices[next++];
      inflight.push_back(i);
      if (!start(i)) {
        finish(i, false);
        continue;
      }
      Flush(allocs_[i]);
    }
    absl::Time wake = absl::Now() + absl::Milliseconds(100);
    for (const uint32_t i : inflight) wake = std::min(wake, allocs_[i].turn->deadline());
    const int wait_ms = static_cast<int>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(wake - absl::Now()) + 1, 0, 100));
    epoll_event evs[kBatch];
    const int n = ::epoll_wait(epoll_.get(), evs, kBatch, wait_ms);
    for (int e = 0; e < n; ++e) {
      if (evs[e].data.u32 & kPeerTag) continue;  // no peer traffic during set-up
      const uint32_t i = evs[e].data.u32;
      Allocation& a = allocs_[i];
      for (;;) {
        const ssize_t got = ::recv(a.fd.get(), buf.data(), buf.size(), 0);
        if (got <= 0) break;
        a.turn->HandleIncoming(std::span<const uint8_t>(buf.data(), static_cast<size_t>(got)),
                               absl::Now());
      }
      if (std::find(inflight.begin(), inflight.end(), i) != inflight.end()) drain_events(i);
    }
    const absl::Time now = absl::Now();
    for (size_t j = 0; j < inflight.size();) {
      const uint32_t i = inflight[j];
      const size_t before = inflight.size();
      if (now >= allocs_[i].turn->deadline()) {
        allocs_[i].turn->HandleTimeout(now);
        drain_events(i);
      }
      if (inflight.size() == before) ++j;  // otherwise j now holds the next one
    }
  }
  *failed += static_cast<uint32_t>(inflight.size() + (indices.size() - next));
}

void Generator::SendPackets(uint64_t* next, uint64_t due) {
  Pacer pacer(o_.rate, static_cast<uint32_t>(ready_.size()), o_.burst);
  while (*next < due) {
    const uint64_t run = pacer.RunLength(*next, std::min<uint64_t>(due - *next, kBatch));
    Allocation& a = allocs_[ready_[pacer.AllocationOf(*next)]];
    const uint32_t index = static_cast<uint32_t>(&a - allocs_.data());
    const auto channel = a.turn->ChannelFor(a.peer);
    int built = 0;
    for (uint64_t j = 0; j < run; ++j) {
      WriteProbe(Probe{index, *next + j, NowNs()}, payload_);
      auto len = o_.mode == DataMode::kChannel && channel
                     ? a.turn->WriteChannelData(*channel, payload_, bufs_[built])
                     : a.turn->WriteSendIndication(a.peer, payload_, bufs_[built]);
      if (!len.ok()) {
        ++r_.send_errors;
        continue;
      }
      iov_[built] = {bufs_[built].data(), *len};
      msgs_[built].msg_hdr = msghdr{};
      msgs_[built].msg_hdr.msg_iov = &iov_[built];
      msgs_[built].msg_hdr.msg_iovlen = 1;
      ++built;
    }
    int done = 0;
    while (done < built) {
      const int s = ::sendmmsg(a.fd.get(), msgs_ + done, static_cast<unsigned>(built - done), 0);
      if (s <= 0) break;  // EAGAIN/ENOBUFS: the rest of this run is dropped
      done += s;
    }
    r_.sent += static_cast<uint64_t>(done);
    r_.send_errors += static_cast<uint64_t>(built - done);
    *next += run;
  }
}

void Generator::ReceivePeer(uint32_t k) {
  const int fd = peers_[k].get();
  for (;;) {
    for (int j = 0; j < kBatch; ++j) {
      iov_[j] = {bufs_[j].data(), bufs_[j].size()};
      msgs_[j].msg_hdr = msghdr{};
      msgs_[j].msg_hdr.msg_name = &names_[j];
      msgs_[j].msg_hdr.msg_namelen = sizeof names_[j];
      msgs_[j].msg_hdr.msg_iov = &iov_[j];
      msgs_[j].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd, msgs_, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    int echo = 0;
    for (int j = 0; j < n; ++j) {
      if (!ReadProbe(std::span<const uint8_t>(bufs_[j].data(), msgs_[j].msg_len))) {
        ++r_.foreign;
        continue;
      }
      ++r_.peer_received;
      if (!o_.echo) continue;
      // Echo to the source (the relayed address), compacting the batch.
      if (echo != j) {
        std::swap(bufs_[echo], bufs_[j]);
        names_[echo] = names_[j];
        msgs_[echo].msg_hdr.msg_namelen = msgs_[j].msg_hdr.msg_namelen;
      }
      iov_[echo] = {bufs_[echo].data(), msgs_[j].msg_len};
      ++echo;
    }
    int done = 0;
    while (done < echo) {
      const int s = ::sendmmsg(fd, msgs_ + done, static_cast<unsigned>(echo - done), 0);
      if (s <= 0) break;
      done += s;
    }
    r_.send_errors += static_cast<uint64_t>(echo - done);
    if (n < kBatch) return;
  }
}

void Generator::ReceiveClient(uint32_t i) {
  Allocation& a = allocs_[i];
  for (;;) {
    for (int j = 0; j < kBatch; ++j) {
      iov_[j] = {bufs_[j].data(), bufs_[j].size()};
      msgs_[j].msg_hdr = msghdr{};
      msgs_[j].msg_hdr.msg_iov = &iov_[j];
      msgs_[j].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(a.fd.get(), msgs_, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const uint64_t now_ns = NowNs();
    const absl::Time now = absl::Now();
    for (int j = 0; j < n; ++j) {
      const client::Incoming in =
          a.turn->HandleIncoming(std::span<const uint8_t>(bufs_[j].data(), msgs_[j].msg_len), now);
      const auto probe =
          in.kind == client::Incoming::Kind::kData ? ReadProbe(in.payload) : std::nullopt;
      if (!probe || probe->sent_ns > now_ns) {
        if (in.kind != client::Incoming::Kind::kResponse) ++r_.foreign;
        continue;
      }
      ++r_.echoed_received;
      r_.rtt_ns.Add(now_ns - probe->sent_ns);
    }
    Flush(a);
    if (n < kBatch) return;
  }
}

void Generator::Receive(uint64_t until_ns) {
  const uint64_t now = NowNs();
  const uint64_t wait = until_ns > now ? until_ns - now : 0;
  const timespec ts{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
  epoll_event evs[kBatch];
  int n = ::epoll_pwait2(epoll_.get(), evs, kBatch, &ts, nullptr);
  if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond timeouts
    n = ::epoll_wait(epoll_.get(), evs, kBatch, static_cast<int>((wait + 999999) / 1000000));
  }
  for (int e = 0; e < n; ++e) {
    const uint32_t tag = evs[e].data.u32;
    if (tag & kPeerTag) {
      ReceivePeer(tag & ~kPeerTag);
    } else {
      ReceiveClient(tag);
    }
  }
}

void Generator::Progress(double elapsed) {
  if (progress_ == nullptr) return;
  const uint64_t delivered = r_.Delivered();
  *progress_ << absl::StrFormat("[%5.1fs] sent %llu pps, delivered %llu pps, total loss %.3f%%",
                                elapsed, static_cast<unsigned long long>(r_.sent - last_sent_),
                                static_cast<unsigned long long>(delivered - last_delivered_),
                                100 * r_.Loss());
  if (o_.echo && r_.rtt_ns.count() > 0) {
    *progress_ << absl::StrFormat(", rtt p50 %.1f us p99 %.1f us",
                                  static_cast<double>(r_.rtt_ns.Percentile(0.5)) / 1000,
                                  static_cast<double>(r_.rtt_ns.Percentile(0.99)) / 1000);
  }
  *progress_ << "\n" << std::flush;
  last_sent_ = r_.sent;
  last_delivered_ = delivered;
}

absl::StatusOr<Report> Generator::Run() {
  r_.server = o_.server.ToString();
  r_.mode = o_.mode == DataMode::kChannel ? "channel" : "send";
  r_.allocations_wanted = o_.allocations;
  r_.payload = o_.payload;
  r_.burst = o_.burst;
  r_.rate_offered = o_.rate;
  r_.echo = o_.echo;
  payload_.assign(o_.payload, 0);
  if (auto s = OpenSockets(); !s.ok()) return s;

  // ---- Allocate (and bind a channel or install a permission) ----
  if (o_.server_pid > 0) r_.rss_before_kib = ReadRssKib(o_.server_pid);
  std::vector<uint32_t> all(o_.allocations);
  for (uint32_t i = 0; i < o_.allocations; ++i) all[i] = i;
  const absl::Time t0 = absl::Now();
  Phase(
      all, o_.window, [&](uint32_t i) { return allocs_[i].turn->Allocate(absl::Now()).ok(); },
      [&](uint32_t i, const TurnEvent& ev) {
        Allocation& a = allocs_[i];
        switch (ev.kind) {
          case TurnEvent::Kind::kAllocated:
            // Data goes only to loopback: refuse a relay anywhere else.
            if (ev.allocation.relayed.empty() || !IsLoopback(ev.allocation.relayed[0])) {
              return Step::kFailed;
            }
            if (o_.alloc_only) return a.ready = true, Step::kDone;
            if (o_.mode == DataMode::kChannel) {
              // RFC 8656 §11: a channel binding also installs the permission.
              return a.turn->ChannelBind(absl::Now(), kChannel, a.peer).ok() ? Step::kContinue
                                                                             : Step::kFailed;
            }
            return a.turn->CreatePermission(absl::Now(), std::span(&a.peer, 1)).ok()
                       ? Step::kContinue
                       : Step::kFailed;
          case TurnEvent::Kind::kChannelBound:
          case TurnEvent::Kind::kPermissionCreated:
            return a.ready = true, Step::kDone;
          default:
            return Step::kFailed;
        }
      },
      &r_.allocations_ok, &r_.allocations_failed);
  r_.allocate_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  if (o_.server_pid > 0) r_.rss_after_kib = ReadRssKib(o_.server_pid);
  for (uint32_t i = 0; i < o_.allocations; ++i) {
    if (allocs_[i].ready) ready_.push_back(i);
  }
  if (ready_.empty()) return absl::UnavailableError("no allocation succeeded");

  // ---- Data ----
  if (!o_.alloc_only) {
    const std::optional<double> cpu0 =
        o_.server_pid > 0 ? ReadCpuSeconds(o_.server_pid) : std::nullopt;
    const Pacer pacer(o_.rate, static_cast<uint32_t>(ready_.size()), o_.burst);
    const uint64_t start = NowNs();
    const uint64_t end = start + static_cast<uint64_t>(o_.duration_s * 1e9);
    uint64_t next = 0, next_progress = start + 1000000000;
    for (uint64_t now = start; now < end; now = NowNs()) {
      // Unpaced: a batch per turn, so receiving is not starved.
      const uint64_t due =
          std::min(pacer.Due(static_cast<double>(now - start) / 1e9), next + 4 * kBatch);
      SendPackets(&next, due);
      uint64_t wake = std::min(end, next_progress);
      if (o_.rate > 0) {
        // Time at which packet `next` falls due.
        wake = std::min(wake, start + static_cast<uint64_t>(static_cast<double>(next + 1) /
                                                            o_.rate * 1e9));
      } else {
        wake = now;
      }
      Receive(wake);
      if (NowNs() >= next_progress) {
        Progress(static_cast<double>(NowNs() - start) / 1e9);
        next_progress += 1000000000;
      }
    }
    r_.send_seconds = static_cast<double>(NowNs() - start) / 1e9;
    // Stragglers: bounded by --drain, over as soon as everything arrived.
    const uint64_t drain_end = NowNs() + static_cast<uint64_t>(o_.drain_s * 1e9);
    while (NowNs() < drain_end && r_.Delivered() + r_.send_errors < r_.sent) Receive(drain_end);
    if (cpu0) {
      if (auto cpu1 = ReadCpuSeconds(o_.server_pid)) r_.server_cpu_seconds = *cpu1 - *cpu0;
    }
  }

  // ---- Teardown: RFC 8656 §8, a Refresh with LIFETIME 0 deletes ----
  uint32_t deleted = 0, not_deleted = 0;
  Phase(
      ready_, o_.window,
      [&](uint32_t i) { return allocs_[i].turn->Refresh(absl::Now(), 0).ok(); },
      [&](uint32_t, const TurnEvent& ev) {
        return ev.kind == TurnEvent::Kind::kRefreshed ? Step::kDone : Step::kFailed;
      },
      &deleted, &not_deleted);
  return r_;
}

}  // namespace

absl::StatusOr<Report> Run(const Options& options, std::ostream* progress) {
  Generator g(options, progress);
  return g.Run();
}

}  // namespace uturn::loadtest
