// The uturn daemon: options, listening sockets, one io_uring shard, signals.
// Contract with the tests: see server/README.md.
#include <sys/signalfd.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "server/listeners.h"
#include "server/log.h"
#include "server/options.h"
#include "server/stun_responder.h"
#include "server/uring_driver.h"

namespace uturn::server {
namespace {

constexpr int kExitUsage = 2;  // bad options (the contract)
constexpr int kExitFailure = 1;
constexpr int kTcpBacklog = 1024;

int Main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
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

  StunResponder responder(ResponderOptions{.software = config->software_name});
  DriverOptions options;
  options.max_tcp_connections = config->max_tcp_connections;
  options.tcp_idle_timeout_ns = int64_t{config->tcp_idle_timeout_seconds} * 1'000'000'000;
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::Create(options, &responder);
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
  (*driver)->AddSignalFd(signal_fd);

  for (const stun::SocketAddress& ip : config->listening_ips) {
    stun::SocketAddress address = ip;
    address.port = config->listening_port;
    for (Transport t : {Transport::kUdp, Transport::kTcp}) {
      if (t == Transport::kUdp ? config->no_udp : config->no_tcp) continue;
      const char* name = t == Transport::kUdp ? "udp" : "tcp";
      absl::StatusOr<ListeningSocket> s = t == Transport::kUdp
                                              ? OpenUdpSocket(address)
                                              : OpenTcpListener(address, kTcpBacklog);
      if (!s.ok()) {
        Log(LogLevel::kError, "listen_failed",
            {{"transport", name}, {"error", std::string(s.status().message())}});
        return kExitFailure;
      }
      if (t == Transport::kUdp) {
        (*driver)->AddUdpSocket(s->fd);
      } else {
        (*driver)->AddTcpListener(s->fd);
      }
      Log(LogLevel::kInfo, "listening", {{"transport", name}, {"address", s->local.ToString()}});
    }
  }
  Log(LogLevel::kInfo, "ready", {{"version", Version()}, {"io_backend", "io_uring"}});

  const absl::Status run = (*driver)->Run();
  if (!run.ok()) {
    Log(LogLevel::kError, "io_uring_failed", {{"error", std::string(run.message())}});
    return kExitFailure;
  }
  const DriverStats& st = (*driver)->stats();
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
       {"binding_success", responder.count(Outcome::kSuccess)},
       {"bad_request", responder.count(Outcome::kBadRequest)},
       {"unknown_attribute", responder.count(Outcome::kUnknownAttribute)},
       {"dropped_not_stun", responder.count(Outcome::kNotStun)}});
  return 0;
}

}  // namespace
}  // namespace uturn::server

int main(int argc, char** argv) { return uturn::server::Main(argc, argv); }
