// The uturn daemon: options, the TURN core, relay and listening sockets, one
// io_uring shard, signals. Contract with the tests: see server/README.md.
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "server/listeners.h"
#include "server/log.h"
#include "server/options.h"
#include "server/turn_config.h"
#include "server/uring_driver.h"
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
// and secrets handed to the core. Everything else needs a restart.
void Reload(const std::vector<std::string_view>& args, const std::string* generated_secret,
            turn::TurnServer* turn) {
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
  turn::AuthConfig auth = BuildAuthConfig(*config, generated_secret);
  const size_t users = auth.users.size();
  const size_t secrets = auth.rest_secrets.size();
  if (absl::Status s = turn->ReloadAuth(std::move(auth)); !s.ok()) {
    Log(LogLevel::kError, "reload_failed", {{"error", std::string(s.message())}});
    return;
  }
  Log(LogLevel::kInfo, "reloaded", {{"users", uint64_t{users}}, {"secrets", uint64_t{secrets}}});
}

int Main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  absl::StatusOr<Config> config = ParseOptions(args);
  if (!config.ok()) {
    std::fprintf(stderr, "uturn: %s\nTry 'uturn --help'.\n",
                 std::string(config.status().message()).c_str());
    return kExitUsage;
  }
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
  if (!setup.ok()) {
    std::fprintf(stderr, "uturn: %s\nTry 'uturn --help'.\n",
                 std::string(setup.status().message()).c_str());
    return kExitUsage;
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

  // Blocked before any thread exists so that every thread inherits the mask
  // and the signals are only ever read from the signalfd, on the ring.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // sends use MSG_NOSIGNAL; this is belt and braces
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    Log(LogLevel::kError, "signalfd_failed", {{"error", std::strerror(errno)}});
    return kExitFailure;
  }

  DriverOptions options;
  options.max_tcp_connections = config->max_tcp_connections;
  options.tcp_idle_timeout_ns = int64_t{config->tcp_idle_timeout_seconds} * 1'000'000'000;
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::Create(options);
  if (!driver.ok()) {
    Log(LogLevel::kError, "io_uring_unavailable",
        {{"error", std::string(driver.status().message())}});
    ::close(signal_fd);
    return kExitFailure;
  }
  if ((*driver)->reduced_setup_flags()) {
    Log(LogLevel::kInfo, "io_uring_setup",
        {{"flags", "basic"}, {"reason", "SINGLE_ISSUER|DEFER_TASKRUN refused by the kernel"}});
  }
  uint32_t port_start = 0;
  FillRandom({reinterpret_cast<uint8_t*>(&port_start), sizeof port_start});
  (*driver)->ConfigureRelays(setup->relay, setup->min_port, setup->max_port, port_start);

  std::array<uint8_t, 64> seed;
  FillRandom(seed);
  // Declared after the driver so it is destroyed first: the core is the
  // driver's client and may still call it while going away.
  absl::StatusOr<std::unique_ptr<turn::TurnServer>> turn =
      turn::TurnServer::Create(setup->turn, driver->get(), seed);
  if (!turn.ok()) {
    std::fprintf(stderr, "uturn: %s\nTry 'uturn --help'.\n",
                 std::string(turn.status().message()).c_str());
    ::close(signal_fd);
    return kExitUsage;
  }
  (*driver)->SetTurnServer(turn->get());
  const std::string* generated =
      setup->generated.has_value() ? &setup->generated->secret : nullptr;
  (*driver)->AddSignalFd(signal_fd, [&args, generated, t = turn->get()] {
    Reload(args, generated, t);
  });

  for (const stun::SocketAddress& ip : config->listening_ips) {
    stun::SocketAddress address = ip;
    address.port = config->listening_port;
    for (turn::Transport t : {turn::Transport::kUdp, turn::Transport::kTcp}) {
      if (t == turn::Transport::kUdp ? config->no_udp : config->no_tcp) continue;
      const char* name = t == turn::Transport::kUdp ? "udp" : "tcp";
      absl::StatusOr<ListeningSocket> s = t == turn::Transport::kUdp
                                              ? OpenUdpSocket(address)
                                              : OpenTcpListener(address, kTcpBacklog);
      if (!s.ok()) {
        Log(LogLevel::kError, "listen_failed",
            {{"transport", name}, {"error", std::string(s.status().message())}});
        return kExitFailure;
      }
      if (t == turn::Transport::kUdp) {
        (*driver)->AddUdpSocket(s->fd, s->local);
      } else {
        (*driver)->AddTcpListener(s->fd, s->local);
      }
      Log(LogLevel::kInfo, "listening", {{"transport", name}, {"address", s->local.ToString()}});
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
  Log(LogLevel::kInfo, "ready", {{"version", Version()}, {"io_backend", "io_uring"}});

  const absl::Status run = (*driver)->Run();
  if (!run.ok()) {
    Log(LogLevel::kError, "io_uring_failed", {{"error", std::string(run.message())}});
    return kExitFailure;
  }
  const DriverStats& st = (*driver)->stats();
  const turn::TurnCounters& tc = (*turn)->counters();
  Log(LogLevel::kInfo, "stopped",
      {{"signal", (*driver)->stop_signal()},
       {"udp_received", st.udp_received},
       {"udp_truncated", st.udp_truncated},
       {"udp_no_buffers", st.udp_no_buffers},
       {"udp_send_errors", st.udp_send_errors},
       {"send_pool_exhausted", st.send_pool_exhausted},
       {"tcp_accepted", st.tcp_accepted},
       {"tcp_rejected", st.tcp_rejected},
       {"tcp_closed_invalid", st.tcp_closed_invalid},
       {"tcp_closed_idle", st.tcp_closed_idle},
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
