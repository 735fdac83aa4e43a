// The uturn daemon: options, the shards (each with its TURN core, sockets and
// event loop: io_uring or epoll), signals, drain. Contract with the tests: see server/README.md.
#include <sys/random.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/listeners.h"
#include "server/log.h"
#include "server/metrics_exporter.h"
#include "server/options.h"
#include "server/shard.h"
#include "server/shard_plan.h"
#include "server/tcp_ip_limiter.h"
#include "server/turn_config.h"
#include "server/io_driver.h"
#include "turn/turn_server.h"

namespace uturn::server {
namespace {

constexpr int kExitUsage = 2;  // bad options (the contract)
constexpr int kExitFailure = 1;
constexpr int kTcpBacklog = 1024;

void FillRandom(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n > 0) done += static_cast<size_t>(n);
  }
}

// SIGHUP: the options are read again (command line and file) and the users
// and secrets handed to every shard's core, which applies them between loop
// turns. Everything else needs a restart.
void Reload(const std::vector<std::string_view>& args, const std::string* generated_secret,
            std::vector<std::unique_ptr<Shard>>& shards) {
  absl::StatusOr<Config> config = ParseOptions(args);
  if (!config.ok()) {
    Log(LogLevel::kError, "reload_failed", {{"error", std::string(config.status().message())}});
    return;
  }
  if (NeedsGeneratedSecret(*config) && generated_secret == nullptr) {
    Log(LogLevel::kError, "reload_failed",
        {{"error", "no credentials left; restart to change the authentication mode"}});
    return;
  }
  if (config->no_auth) {
    Log(LogLevel::kWarning, "reload_ignored", {{"reason", "--no-auth needs a restart"}});
    return;
  }
  auto auth = std::make_shared<const turn::AuthConfig>(BuildAuthConfig(*config, generated_secret));
  for (auto& shard : shards) shard->RequestReload(auth);
}

uint32_t UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<uint32_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Only for checking the TURN configuration before any shard starts (a bad
// one is a usage error, exit 2); never sent anything.
class NullHost final : public turn::TurnHost {
 public:
  std::variant<Relay, RelayError> OpenRelay(const RelayRequest&) override {
    return RelayError::kInsufficientCapacity;
  }
  void CloseRelay(turn::RelayId) override {}
  void SendToClient(const turn::FiveTuple&, std::span<const uint8_t>) override {}
  void SendToPeer(turn::RelayId, const stun::SocketAddress&, std::span<const uint8_t>,
                  bool) override {}
};

int UsageError(const absl::Status& status) {
  std::fprintf(stderr, "uturn: %s\nTry 'uturn --help'.\n", std::string(status.message()).c_str());
  return kExitUsage;
}

// One listening socket per shard on `address` (SO_REUSEPORT when several):
// the first binds the configured port (maybe 0), the others its real port.
absl::Status OpenListeners(stun::SocketAddress address, turn::Transport transport,
                           std::vector<ShardSetup>& setups) {
  const bool reuse_port = setups.size() > 1;
  for (ShardSetup& setup : setups) {
    absl::StatusOr<ListeningSocket> s = transport == turn::Transport::kUdp
                                            ? OpenUdpSocket(address, reuse_port)
                                            : OpenTcpListener(address, kTcpBacklog, reuse_port);
    if (!s.ok()) return s.status();
    address.port = s->local.port;
    setup.sockets.push_back(*s);
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  absl::StatusOr<Config> config = ParseOptions(args);
  if (!config.ok()) return UsageError(config.status());
  if (config->help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (config->version) {
    std::printf("uturn %s\n", std::string(Version()).c_str());
    return 0;
  }

  std::array<uint8_t, 32> secret_random;
  FillRandom(secret_random);
  absl::StatusOr<TurnSetup> setup = BuildTurnSetup(
      *config, config->relay_ips.empty() ? FirstNonLoopbackIpv4() : std::nullopt, secret_random,
      static_cast<int64_t>(std::time(nullptr)));
  if (!setup.ok()) return UsageError(setup.status());
  absl::StatusOr<ShardCount> count = ResolveShardCount(*config, UsableCpus());
  if (!count.ok()) return UsageError(count.status());
  const uint32_t n = count->count;
  absl::StatusOr<std::vector<PortSlice>> slices =
      SlicePortRange(setup->min_port, setup->max_port, n);
  if (!slices.ok()) return UsageError(slices.status());
  std::array<uint8_t, 64> seed;
  FillRandom(seed);
  {
    NullHost host;
    absl::StatusOr<std::unique_ptr<turn::TurnServer>> check =
        turn::TurnServer::Create(setup->turn, &host, seed);
    if (!check.ok()) return UsageError(check.status());
  }
  if (setup->generated.has_value()) {
    Log(LogLevel::kWarning, "generated_auth_secret",
        {{"secret", setup->generated->secret},
         {"example_username", setup->generated->example_username},
         {"example_password", setup->generated->example_password},
         {"hint", "set --static-auth-secret or --user to choose credentials"}});
  }
  if (config->no_auth) {
    Log(LogLevel::kWarning, "no_auth",
        {{"warning", "--no-auth: ANYONE can relay through this server; use only for tests"}});
  }
  if (!count->note.empty()) {
    Log(LogLevel::kInfo, "relay_threads", {{"shards", n}, {"note", count->note}});
  }
  // Once for the process, before any socket: every shard runs the same one.
  absl::StatusOr<BackendChoice> backend = ProbeIoBackend(config->io_backend);
  if (!backend.ok()) {
    Log(LogLevel::kError, "io_backend_unavailable",
        {{"requested", IoBackendName(config->io_backend)},
         {"error", std::string(backend.status().message())}});
    return kExitFailure;
  }
  const char* backend_name = IoBackendName(backend->backend);
  Log(LogLevel::kInfo, "io_backend", {{"backend", backend_name}, {"reason", backend->reason}});

  // Blocked before any thread exists so that every thread inherits the mask
  // and the signals are only ever read from the signalfd, by this thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // sends use MSG_NOSIGNAL; this is belt and braces
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  // Shards write here when they have drained or stopped.
  const int notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (signal_fd < 0 || notify_fd < 0) {
    Log(LogLevel::kError, "signalfd_failed", {{"error", std::strerror(errno)}});
    return kExitFailure;
  }
  struct CloseFds {
    int a, b;
    ~CloseFds() { ::close(a), ::close(b); }
  } close_fds{signal_fd, notify_fd};

  // Outlives the shards (declared before them): it closes the sockets of
  // reservations never redeemed.
  SharedReservations reservations(n);
  // --max-tcp-connections-per-ip counts over all shards.
  auto ip_limiter = config->max_tcp_connections_per_ip > 0
                        ? std::make_shared<TcpIpLimiter>(config->max_tcp_connections_per_ip)
                        : nullptr;
  std::vector<ShardSetup> setups(n);
  for (uint32_t k = 0; k < n; ++k) {
    ShardSetup& s = setups[k];
    s.index = k;
    s.backend = backend->backend;
    s.driver.max_tcp_connections = (config->max_tcp_connections + n - 1) / n;
    s.driver.udp_gso = !config->no_udp_gso;
    s.driver.receive_buffers = config->udp_receive_buffers;
    s.driver.tcp_idle_timeout_ns = int64_t{config->tcp_idle_timeout_seconds} * 1'000'000'000;
    s.driver.max_allocate_timeout_ns =
        int64_t{config->max_allocate_timeout_seconds} * 1'000'000'000;
    s.driver.ip_limiter = ip_limiter;
    s.relay = setup->relay;
    s.ports = (*slices)[k];
    FillRandom({reinterpret_cast<uint8_t*>(&s.port_start), sizeof s.port_start});
    s.turn = setup->turn;
    s.seed = seed;  // the same for all: nonces verify on every shard
    s.reservations = &reservations;
  }
  for (const stun::SocketAddress& ip : config->listening_ips) {
    stun::SocketAddress address = ip;
    address.port = config->listening_port;
    for (turn::Transport t : {turn::Transport::kUdp, turn::Transport::kTcp}) {
      if (t == turn::Transport::kUdp ? config->no_udp : config->no_tcp) continue;
      const char* name = t == turn::Transport::kUdp ? "udp" : "tcp";
      if (absl::Status s = OpenListeners(address, t, setups); !s.ok()) {
        Log(LogLevel::kError, "listen_failed",
            {{"transport", name}, {"error", std::string(s.message())}});
        for (const ShardSetup& ss : setups) {
          for (const ListeningSocket& l : ss.sockets) ::close(l.fd);
        }
        return kExitFailure;
      }
      Log(LogLevel::kInfo, "listening",
          {{"transport", name}, {"address", setups[0].sockets.back().local.ToString()}});
    }
  }

  // --prometheus: one counter slot per shard, summed at scrape time. Made
  // before the shards so it outlives them (they publish into the slots).
  std::unique_ptr<Metrics> metrics;
  if (config->prometheus) {
    stun::SocketAddress bind = config->prometheus_ip;
    bind.port = config->prometheus_port;
    absl::StatusOr<std::unique_ptr<Metrics>> m = Metrics::Start(bind, n, backend_name);
    if (!m.ok()) {
      Log(LogLevel::kError, "prometheus_failed", {{"error", std::string(m.status().message())}});
      for (const ShardSetup& ss : setups) {
        for (const ListeningSocket& l : ss.sockets) ::close(l.fd);
      }
      return kExitFailure;
    }
    metrics = std::move(*m);
    Log(LogLevel::kInfo, "prometheus", {{"address", metrics->address().ToString()}});
    for (ShardSetup& s : setups) s.metrics = metrics->slot(s.index);
  }

  std::vector<std::unique_ptr<Shard>> shards;
  for (ShardSetup& s : setups) {
    shards.push_back(std::make_unique<Shard>(std::move(s), notify_fd));
    if (absl::Status st = shards.back()->Start(); !st.ok()) {
      Log(LogLevel::kError, "shard_start_failed",
          {{"shard", uint64_t{shards.back()->index()}},
           {"backend", backend_name},
           {"error", std::string(st.message())}});
      shards.pop_back();  // its sockets are closed; those of the shards after it:
      for (size_t k = shards.size() + 1; k < setups.size(); ++k) {
        for (const ListeningSocket& l : setups[k].sockets) ::close(l.fd);
      }
      return kExitFailure;  // ~Shard stops and joins the others
    }
  }

  const std::string ports = std::to_string(setup->min_port) + "-" + std::to_string(setup->max_port);
  for (const auto& [bind, advertised] :
       {std::pair{setup->relay.ipv4, setup->relay.advertised_ipv4},
        std::pair{setup->relay.ipv6, setup->relay.advertised_ipv6}}) {
    if (!bind.has_value()) continue;
    if (advertised.has_value() && *advertised != *bind) {
      Log(LogLevel::kInfo, "relay",
          {{"address", bind->IpString()}, {"ports", ports}, {"external", advertised->IpString()}});
    } else {
      Log(LogLevel::kInfo, "relay", {{"address", bind->IpString()}, {"ports", ports}});
    }
  }
  for (const auto& shard : shards) {
    Log(LogLevel::kInfo, "shard",
        {{"shard", uint64_t{shard->index()}},
         {"ports", std::to_string(shard->ports().min) + "-" + std::to_string(shard->ports().max)}});
  }
  Log(LogLevel::kInfo, "ready",
      {{"version", Version()}, {"io_backend", backend_name}, {"shards", n}});

  const std::string* generated =
      setup->generated.has_value() ? &setup->generated->secret : nullptr;
  const char* stop_reason = nullptr;
  const char* drain_outcome = nullptr;
  bool failed = false;
  std::optional<std::chrono::steady_clock::time_point> drain_deadline;
  while (stop_reason == nullptr) {
    int timeout_ms = -1;
    if (drain_deadline.has_value()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          *drain_deadline - std::chrono::steady_clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
    }
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {notify_fd, POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
      Log(LogLevel::kError, "poll_failed", {{"error", std::strerror(errno)}});
      stop_reason = "error";
      failed = true;
      break;
    }
    signalfd_siginfo si{};
    while (stop_reason == nullptr && ::read(signal_fd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGHUP) {
        Reload(args, generated, shards);
      } else if (si.ssi_signo == SIGINT) {
        stop_reason = "SIGINT";
      } else if (si.ssi_signo == SIGTERM && config->drain_seconds > 0 && !drain_deadline) {
        drain_deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(config->drain_seconds);
        Log(LogLevel::kInfo, "draining", {{"seconds", config->drain_seconds}});
        for (auto& shard : shards) shard->RequestDrain();
      } else if (si.ssi_signo == SIGTERM) {
        stop_reason = "SIGTERM";  // no drain, or the second SIGTERM: at once
        if (drain_deadline) drain_outcome = "interrupted";
      }
    }
    uint64_t ignored = 0;
    [[maybe_unused]] const ssize_t r = ::read(notify_fd, &ignored, sizeof ignored);
    bool all_drained = true;
    for (const auto& shard : shards) {
      if (shard->exited()) failed = true;  // only a failing loop ends a shard unasked
      all_drained = all_drained && shard->drained();
    }
    if (failed) {
      stop_reason = "error";
    } else if (stop_reason == nullptr && drain_deadline.has_value()) {
      if (all_drained) {
        stop_reason = "SIGTERM";
        drain_outcome = "done";
      } else if (std::chrono::steady_clock::now() >= *drain_deadline) {
        stop_reason = "SIGTERM";
        drain_outcome = "deadline";
      }
    }
  }
  for (auto& shard : shards) shard->RequestStop();
  DriverStats st;
  turn::TurnCounters tc;
  for (auto& shard : shards) {
    shard->Join();
    if (!shard->run_status().ok()) {
      failed = true;
      Log(LogLevel::kError, "io_loop_failed",
          {{"shard", uint64_t{shard->index()}},
           {"backend", backend_name},
           {"error", std::string(shard->run_status().message())}});
    }
    AddStats(st, shard->stats());
    AddCounters(tc, shard->counters());
    if (n > 1) {
      // Per shard too: who served what (shard ownership is observable).
      const turn::TurnCounters& c = shard->counters();
      Log(LogLevel::kInfo, "shard_stopped",
          {{"shard", uint64_t{shard->index()}},
           {"udp_received", shard->stats().udp_received},
           {"relay_received", shard->stats().relay_received},
           {"allocations_created", c.allocations_created},
           {"packets_to_peer", c.packets_to_peer},
           {"packets_to_client", c.packets_to_client}});
    }
  }
  if (failed) return kExitFailure;
  Log(LogLevel::kInfo, "stopped",
      {{"signal", stop_reason},
       {"drain", drain_outcome != nullptr ? drain_outcome : "none"},
       {"shards", n},
       {"udp_received", st.udp_received},
       {"udp_truncated", st.udp_truncated},
       {"udp_no_buffers", st.udp_no_buffers},
       {"udp_rearms", st.udp_rearms},
       {"udp_send_errors", st.udp_send_errors},
       {"udp_send_would_block", st.udp_send_would_block},
       {"send_pool_exhausted", st.send_pool_exhausted},
       {"sends_in_place", st.sends_in_place},
       {"gso_sends", st.gso_sends},
       {"gso_datagrams", st.gso_datagrams},
       {"gso_refused", st.gso_refused},
       {"tcp_accepted", st.tcp_accepted},
       {"tcp_rejected", st.tcp_rejected},
       {"tcp_closed_invalid", st.tcp_closed_invalid},
       {"tcp_closed_idle", st.tcp_closed_idle},
       {"tcp_rejected_per_ip", st.tcp_rejected_per_ip},
       {"tcp_closed_allocate_timeout", st.tcp_closed_allocate_timeout},
       {"tcp_closed_allocation_expired", st.tcp_closed_allocation_expired},
       {"tcp_dropped_backpressure", st.tcp_dropped_backpressure},
       {"binding_success", st.binding_success},
       {"relay_received", st.relay_received},
       {"relays_opened", st.relays_opened},
       {"relay_capacity_exhausted", st.relay_capacity_exhausted},
       {"allocations_created", tc.allocations_created},
       {"allocations_active", tc.allocations_active},
       {"requests", tc.requests},
       {"responses_error", tc.responses_error},
       {"auth_failures", tc.auth_failures},
       {"packets_to_peer", tc.packets_to_peer},
       {"packets_to_client", tc.packets_to_client},
       {"dropped_no_permission", tc.dropped_no_permission},
       {"dropped_peer_policy", tc.dropped_peer_policy}});
  return 0;
}

}  // namespace
}  // namespace uturn::server

int main(int argc, char** argv) { return uturn::server::Main(argc, argv); }
