#include "server/shard.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <future>
#include <type_traits>

#include "server/log.h"
#include "stun/text.h"

namespace uturn::server {
namespace {

// Both counter structs are flat runs of uint64_t (no padding, checked here);
// summing them as arrays keeps the sum right when a counter is added.
template <typename T>
void AddFlat(T& a, const T& b) {
  static_assert(std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T>);
  static_assert(sizeof(T) % sizeof(uint64_t) == 0 && alignof(T) == alignof(uint64_t));
  constexpr size_t n = sizeof(T) / sizeof(uint64_t);
  std::array<uint64_t, n> x{}, y{};
  std::memcpy(x.data(), &a, sizeof(T));
  std::memcpy(y.data(), &b, sizeof(T));
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
  std::memcpy(static_cast<void*>(&a), x.data(), sizeof(T));
}

}  // namespace

void AddStats(DriverStats& a, const DriverStats& b) { AddFlat(a, b); }
void AddCounters(turn::TurnCounters& a, const turn::TurnCounters& b) { AddFlat(a, b); }

Shard::Shard(ShardSetup setup, int notify_fd) : setup_(std::move(setup)), notify_fd_(notify_fd) {}

Shard::~Shard() {
  if (thread_.joinable()) {
    RequestStop();
    thread_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Status Shard::Start() {
  assert(!thread_.joinable());
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    for (const ListeningSocket& s : setup_.sockets) ::close(s.fd);
    setup_.sockets.clear();
    return absl::InternalError(text::Cat("eventfd: ", std::strerror(errno)));
  }
  std::promise<absl::Status> ready;
  std::future<absl::Status> result = ready.get_future();
  thread_ = std::thread([this, &ready] { ThreadMain(&ready); });
  absl::Status s = result.get();
  if (!s.ok()) Join();
  return s;
}

void Shard::Post(uint32_t request) {
  if (exited()) return;
  requests_.fetch_or(request, std::memory_order_release);
  const uint64_t one = 1;
  // Nonblocking: a full counter (never in practice) still has the shard
  // readable, so the request is seen.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void Shard::RequestStop() { Post(kStop); }
void Shard::RequestDrain() { Post(kDrain); }

void Shard::RequestReload(std::shared_ptr<const turn::AuthConfig> auth) {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    reload_ = std::move(auth);
  }
  Post(kReload);
}

void Shard::Notify() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(notify_fd_, &one, sizeof one);
}

void Shard::Join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::ThreadMain(std::promise<absl::Status>* ready) {
  auto fail = [&](absl::Status s) {
    for (const ListeningSocket& l : setup_.sockets) ::close(l.fd);
    setup_.sockets.clear();
    run_status_ = s;
    exited_.store(true, std::memory_order_release);
    ready->set_value(std::move(s));  // `ready` is gone after this
  };
  // Created on this thread: IORING_SETUP_SINGLE_ISSUER binds a ring to it.
  absl::StatusOr<std::unique_ptr<IoDriver>> driver =
      CreateIoDriver(setup_.backend, setup_.driver);
  if (!driver.ok()) return fail(driver.status());
  (*driver)->ConfigureRelays(setup_.relay, setup_.ports.min, setup_.ports.max,
                             setup_.port_start);
  if (setup_.reservations != nullptr) {
    (*driver)->ShareReservations(setup_.reservations, setup_.index);
  }
  // Declared after the driver so it is destroyed first: the core is the
  // driver's client and may still call it while going away.
  absl::StatusOr<std::unique_ptr<turn::TurnServer>> turn =
      turn::TurnServer::Create(setup_.turn, driver->get(), setup_.seed);
  if (!turn.ok()) return fail(turn.status());
  (*driver)->SetTurnServer(turn->get());
  for (const ListeningSocket& l : setup_.sockets) {
    if (l.transport == turn::Transport::kUdp) {
      (*driver)->AddUdpSocket(l.fd, l.local);
    } else {
      (*driver)->AddTcpListener(l.fd, l.local);
    }
  }
  setup_.sockets.clear();  // the driver owns them now
  IoDriver& d = **driver;
  turn::TurnServer& t = **turn;
  d.AddWakeFd(wake_fd_, [this, &d, &t] { OnWake(d, t); });
  d.SetTurnHook([this, &d, &t] {
    if (setup_.metrics != nullptr) {
      setup_.metrics->PublishIfDue([&] {
        const DriverStats& st = d.stats();
        return MakeShardCounters(
            t.counters(),
            {st.udp_no_buffers, st.udp_truncated, st.send_pool_exhausted,
             st.tcp_dropped_backpressure, st.tcp_rejected, st.tcp_rejected_per_ip,
             st.tcp_closed_allocate_timeout, st.tcp_closed_allocation_expired,
             st.tcp_closed_idle, st.tcp_closed_backlog, st.tcp_closed_invalid});
      });
    }
    if (draining_ && !drained() && t.allocation_count() == 0) {
      drained_.store(true, std::memory_order_release);
      Log(LogLevel::kInfo, "shard_drained", {{"shard", uint64_t{setup_.index}}});
      Notify();
    }
  });
  ready->set_value(absl::OkStatus());

  run_status_ = d.Run();
  stats_ = d.stats();
  counters_ = t.counters();
  turn->reset();
  driver->reset();
  exited_.store(true, std::memory_order_release);
  Notify();
}

void Shard::OnWake(IoDriver& driver, turn::TurnServer& turn) {
  const uint32_t requests = requests_.exchange(0, std::memory_order_acquire);
  const uint64_t shard = setup_.index;
  if (requests & kReload) {
    std::shared_ptr<const turn::AuthConfig> auth;
    {
      std::lock_guard<std::mutex> lock(reload_mu_);
      auth = reload_;
    }
    if (auth != nullptr) {
      if (absl::Status s = turn.ReloadAuth(*auth); !s.ok()) {
        Log(LogLevel::kError, "reload_failed",
            {{"shard", shard}, {"error", std::string(s.message())}});
      } else {
        Log(LogLevel::kInfo, "reloaded",
            {{"shard", shard},
             {"users", uint64_t{auth->users.size()}},
             {"secrets", uint64_t{auth->rest_secrets.size()}}});
      }
    }
  }
  if ((requests & kDrain) && !draining_) {
    draining_ = true;
    turn.SetDraining(true);
    Log(LogLevel::kInfo, "shard_draining",
        {{"shard", shard}, {"allocations", uint64_t{turn.allocation_count()}}});
  }
  if (requests & kStop) driver.Stop("stop");
}

}  // namespace uturn::server
