#include "loadtest/runner.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
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
#include "loadtest/schedule.h"
#include "loadtest/transport.h"

namespace uturn::loadtest {
namespace {

using client::TurnEvent;

constexpr uint16_t kChannel = 0x4000;  // RFC 8656 §12: first valid channel number
constexpr uint32_t kPeerTag = 0x80000000u;
// Set-up and teardown phases end by themselves even if the server is gone.
constexpr absl::Duration kPhaseTimeout = absl::Seconds(60);
constexpr uint64_t kSecondNs = 1000000000;
// Without --echo the loop turns at most every 100 us: what fell due in
// between goes out in one submission and what arrived is taken in one go.
// (A finer pace would buy nothing but system calls; with --echo the loop
// wakes on every arrival instead, so that RTTs are not rounded up.)
constexpr uint64_t kTickNs = 100000;

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
  std::optional<uint16_t> channel;  // bound channel (channel mode), looked up once
};

enum class Step : uint8_t { kContinue, kDone, kFailed };

class Generator {
 public:
  Generator(const Options& o, std::ostream* progress)
      : o_(o), progress_(progress), sizes_(SizeBuffers(o.payload)) {}
  absl::StatusOr<Report> Run();

 private:
  absl::Status OpenTransport();
  absl::Status OpenSockets();
  // Drives requests on `indices` with at most `window` in flight; `start`
  // issues the first request, `on_event` decides what each outcome means.
  void Phase(const std::vector<uint32_t>& indices, uint32_t window,
             const std::function<bool(uint32_t)>& start,
             const std::function<Step(uint32_t, const TurnEvent&)>& on_event, uint32_t* ok,
             uint32_t* failed);
  // Queues what the allocation's TurnClient wants sent (requests).
  void Flush(Allocation& a);
  // Queues packets [*next, due) (at most one tick's worth) and advances *next.
  void SendTick(uint64_t* next, uint64_t due);
  void OnData(const Received& in);
  void Tally();
  void Progress(double elapsed);
  void DataPhase();

  const Options& o_;
  std::ostream* progress_;
  const BufferSizes sizes_;
  Report r_;
  std::vector<Fd> peers_;
  std::vector<stun::SocketAddress> peer_addresses_;
  std::vector<Allocation> allocs_;
  std::vector<uint32_t> ready_;  // indices of allocations that carry data
  client::RandomSource random_ = MakeRandom();
  std::vector<uint8_t> payload_;
  std::vector<SendRun> runs_;
  uint64_t queued_ = 0;        // data packets handed to the transport
  uint64_t build_errors_ = 0;  // data packets that could not be written or found no slot
  uint64_t last_sent_ = 0, last_delivered_ = 0;
  // Declared last: destroyed first, while the sockets it watches are open.
  std::unique_ptr<Transport> transport_;
};

absl::Status Generator::OpenTransport() {
  if (o_.io != IoBackend::kEpoll) {
    auto t = MakeUringTransport(sizes_);
    if (t.ok()) {
      transport_ = std::move(*t);
      return absl::OkStatus();
    }
    if (o_.io == IoBackend::kUring) return t.status();
    if (progress_ != nullptr) {
      *progress_ << "uturn-load: io_uring unavailable (" << t.status().message()
                 << "), using epoll\n";
    }
  }
  transport_ = MakeEpollTransport(sizes_);
  return absl::OkStatus();
}

absl::Status Generator::OpenSockets() {
  // Many allocations need many descriptors: take what the hard limit allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  const auto peer_ip = *stun::SocketAddress::ParseIp(o_.peer_ip, 0);
  const uint32_t k = std::min(o_.peer_sockets, o_.allocations);
  for (uint32_t i = 0; i < k; ++i) {
    auto fd = UdpSocket(peer_ip, nullptr);
    if (!fd.ok()) return fd.status();
    if (auto s = transport_->Watch(fd->get(), kPeerTag | i); !s.ok()) return s;
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
    if (auto s = transport_->Watch(fd->get(), i); !s.ok()) return s;
    Allocation& a = allocs_[i];
    a.fd = std::move(*fd);
    a.turn = std::make_unique<client::TurnClient>(config, random_);
    a.peer_index = i % k;
    a.peer = peer_addresses_[a.peer_index];
  }
  return absl::OkStatus();
}

void Generator::Flush(Allocation& a) {
  PacketPool& pool = transport_->pool();
  while (auto out = a.turn->PollTransmit()) {
    const auto id = pool.Acquire();
    if (!id || out->size() > pool.slot_size()) {  // lost requests are retransmitted
      if (id) pool.Release(*id);
      transport_->CountFailure(Traffic::kControl);
      continue;
    }
    std::copy(out->begin(), out->end(), pool.buffer(*id).begin());
    transport_->Send(a.fd.get(), *id, out->size(), nullptr, 0, Traffic::kControl);
  }
}

void Generator::Phase(const std::vector<uint32_t>& indices, uint32_t window,
                      const std::function<bool(uint32_t)>& start,
                      const std::function<Step(uint32_t, const TurnEvent&)>& on_event,
                      uint32_t* ok, uint32_t* failed) {
  std::vector<uint32_t> inflight, touched;
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
    const int64_t wait_ns =
        std::clamp<int64_t>(absl::ToInt64Nanoseconds(wake - absl::Now()), 0, 100000000);
    transport_->Poll(NowNs() + static_cast<uint64_t>(wait_ns), Transport::Wait::kFirst,
                     [&](const Received& in) {
      if (in.tag & kPeerTag) return;  // no peer traffic during set-up
      allocs_[in.tag].turn->HandleIncoming(in.bytes, absl::Now());
      touched.push_back(in.tag);
    });
    for (const uint32_t i : touched) {
      if (std::find(inflight.begin(), inflight.end(), i) != inflight.end()) drain_events(i);
    }
    touched.clear();
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

void Generator::SendTick(uint64_t* next, uint64_t due) {
  const Pacer pacer(o_.rate, static_cast<uint32_t>(ready_.size()), o_.burst);
  const uint64_t after = PlanTick(pacer, *next, due, sizes_.tick_cap, &runs_);
  PacketPool& pool = transport_->pool();
  // One timestamp per tick: every packet of it goes to the kernel in the
  // same submission.
  const uint64_t now_ns = NowNs();
  for (const SendRun& run : runs_) {
    Allocation& a = allocs_[ready_[run.allocation]];
    const uint32_t index = ready_[run.allocation];
    for (uint32_t j = 0; j < run.count; ++j) {
      const auto id = pool.Acquire();
      if (!id) {
        ++build_errors_;
        continue;
      }
      WriteProbe(Probe{index, run.first + j, now_ns}, payload_);
      auto len = a.channel ? a.turn->WriteChannelData(*a.channel, payload_, pool.buffer(*id))
                         : a.turn->WriteSendIndication(a.peer, payload_, pool.buffer(*id));
      if (!len.ok()) {
        pool.Release(*id);
        ++build_errors_;
        continue;
      }
      transport_->Send(a.fd.get(), *id, *len, nullptr, 0, Traffic::kData);
      ++queued_;
    }
  }
  *next = after;
}

void Generator::OnData(const Received& in) {
  if (in.tag & kPeerTag) {
    if (!ReadProbe(in.bytes)) {
      ++r_.foreign;
      return;
    }
    ++r_.peer_received;
    if (!o_.echo) return;
    // Echo to the source (the relayed address).
    PacketPool& pool = transport_->pool();
    const auto id = pool.Acquire();
    if (!id || in.bytes.size() > pool.slot_size()) {
      if (id) pool.Release(*id);
      transport_->CountFailure(Traffic::kEcho);
      return;
    }
    std::copy(in.bytes.begin(), in.bytes.end(), pool.buffer(*id).begin());
    transport_->Send(peers_[in.tag & ~kPeerTag].get(), *id, in.bytes.size(), in.from, in.from_len,
                     Traffic::kEcho);
    return;
  }
  Allocation& a = allocs_[in.tag];
  const uint64_t now_ns = NowNs();
  const client::Incoming got = a.turn->HandleIncoming(in.bytes, absl::Now());
  const auto probe =
      got.kind == client::Incoming::Kind::kData ? ReadProbe(got.payload) : std::nullopt;
  if (!probe || probe->sent_ns > now_ns) {
    if (got.kind != client::Incoming::Kind::kResponse) ++r_.foreign;
    Flush(a);
    return;
  }
  ++r_.echoed_received;
  r_.rtt_ns.Add(now_ns - probe->sent_ns);
}

// Sends are counted when the kernel took them: with io_uring that is known
// only from the completion, so `sent` is what was queued minus what failed.
void Generator::Tally() {
  const uint64_t failed_data = transport_->failed(Traffic::kData);
  r_.sent = queued_ - failed_data;
  r_.send_errors = build_errors_ + failed_data + transport_->failed(Traffic::kEcho);
}

void Generator::Progress(double elapsed) {
  if (progress_ == nullptr) return;
  Tally();
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

void Generator::DataPhase() {
  const std::optional<double> cpu0 =
      o_.server_pid > 0 ? ReadCpuSeconds(o_.server_pid) : std::nullopt;
  const std::optional<double> self0 = ReadCpuSeconds(static_cast<int>(::getpid()));
  const Pacer pacer(o_.rate, static_cast<uint32_t>(ready_.size()), o_.burst);
  const auto on_data = [this](const Received& in) { OnData(in); };
  const Transport::Wait wait = o_.echo ? Transport::Wait::kFirst : Transport::Wait::kUntil;
  const uint64_t start = NowNs();
  const uint64_t end = start + static_cast<uint64_t>(o_.duration_s * 1e9);
  uint64_t next = 0, next_progress = start + kSecondNs;
  for (uint64_t now = start; now < end; now = NowNs()) {
    SendTick(&next, pacer.Due(static_cast<double>(now - start) / 1e9));
    uint64_t wake = std::min(end, next_progress);
    if (o_.rate > 0) {
      // Time at which packet `next` falls due.
      uint64_t due_at = start + static_cast<uint64_t>(static_cast<double>(next + 1) / o_.rate * 1e9);
      if (!o_.echo) due_at = std::max(due_at, now + kTickNs);
      wake = std::min(wake, due_at);
    } else {
      wake = now;  // unpaced: a tick, then whatever arrived, then the next tick
    }
    transport_->Poll(wake, wait, on_data);
    if (NowNs() >= next_progress) {
      Progress(static_cast<double>(NowNs() - start) / 1e9);
      next_progress += kSecondNs;
    }
  }
  r_.send_seconds = static_cast<double>(NowNs() - start) / 1e9;
  // Stragglers: bounded by --drain, over as soon as everything arrived.
  const uint64_t drain_end = NowNs() + static_cast<uint64_t>(o_.drain_s * 1e9);
  for (;;) {
    transport_->Poll(std::min(drain_end, NowNs() + kSecondNs / 100), Transport::Wait::kFirst,
                     on_data);
    Tally();
    if (NowNs() >= drain_end || r_.Delivered() + r_.send_errors >= r_.sent) break;
  }
  if (cpu0) {
    if (auto cpu1 = ReadCpuSeconds(o_.server_pid)) r_.server_cpu_seconds = *cpu1 - *cpu0;
  }
  if (self0) {
    if (auto self1 = ReadCpuSeconds(static_cast<int>(::getpid()))) {
      r_.client_cpu_seconds = *self1 - *self0;
    }
  }
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
  runs_.reserve(sizes_.tick_cap);
  if (auto s = OpenTransport(); !s.ok()) return s;
  r_.io = transport_->name();
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
    Allocation& a = allocs_[i];
    if (!a.ready) continue;
    ready_.push_back(i);
    if (o_.mode == DataMode::kChannel) a.channel = a.turn->ChannelFor(a.peer);
  }
  if (ready_.empty()) return absl::UnavailableError("no allocation succeeded");

  if (!o_.alloc_only) DataPhase();
  Tally();

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
