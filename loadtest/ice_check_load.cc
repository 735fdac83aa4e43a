// ice-check-load: drives a STUN server with Binding requests and counts the
// answers, for the ICE-lite benchmark (issue 5): ICE connectivity checks
// (USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, short-term
// MESSAGE-INTEGRITY, FINGERPRINT) against ice-lite-endpoint sessions, or
// plain Binding requests (FINGERPRINT only) against any STUN server such as
// coturn, with the same sockets, pacing and accounting.
//
//   ice-check-load --server IP:PORT [--credentials FILE] [--sockets N]
//                  [--rate PPS] [--duration S] [--server-pid PID] [--json]
//
// FILE has one line per session: "<server ufrag> <client ufrag> <server pwd>";
// socket k checks session k % lines. Without it, plain Binding requests.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "loadtest/report.h"
#include "stun/address.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::loadtest {
namespace {

struct Session {
  std::string username;  // "server:client" as the server reads it (RFC 8445 §7.2.2)
  std::string key;       // short-term key = the server's pwd (RFC 8489 §9.1.1)
};

struct Options {
  stun::SocketAddress server;
  std::vector<Session> sessions;  // empty: plain Binding
  uint32_t sockets = 64;
  double rate = 100'000;
  double duration = 5;
  int server_pid = 0;
  bool json = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "ice-check-load: %s\nusage: ice-check-load --server IP:PORT [--credentials FILE]"
               " [--sockets N] [--rate PPS] [--duration S] [--server-pid PID] [--json]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  bool have_server = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--server") {
      auto s = stun::SocketAddress::Parse(value());
      if (!s) Usage("--server: not IP:PORT");
      o.server = *s;
      have_server = true;
    } else if (a == "--credentials") {
      std::ifstream in(value());
      if (!in) Usage("--credentials: cannot read the file");
      std::string server_ufrag, client_ufrag, pwd;
      while (in >> server_ufrag >> client_ufrag >> pwd) {
        auto key = stun::ShortTermKey(pwd);
        if (!key.ok()) Usage("--credentials: a pwd fails OpaqueString");
        o.sessions.push_back({server_ufrag + ":" + client_ufrag, *key});
      }
      if (o.sessions.empty()) Usage("--credentials: no sessions in the file");
    } else if (a == "--sockets") {
      if (!absl::SimpleAtoi(value(), &o.sockets) || o.sockets == 0 || o.sockets > 4096) {
        Usage("--sockets: 1 to 4096");
      }
    } else if (a == "--rate") {
      if (!absl::SimpleAtod(value(), &o.rate) || o.rate <= 0) Usage("--rate: packets/s > 0");
    } else if (a == "--duration") {
      if (!absl::SimpleAtod(value(), &o.duration) || o.duration <= 0) Usage("--duration: s > 0");
    } else if (a == "--server-pid") {
      if (!absl::SimpleAtoi(value(), &o.server_pid)) Usage("--server-pid: a pid");
    } else if (a == "--json") {
      o.json = true;
    } else {
      Usage(("unknown option " + a).c_str());
    }
  }
  if (!have_server) Usage("--server is required");
  return o;
}

// One request into `buf`; the transaction ID carries the socket and a
// sequence number so answers can be matched without state.
size_t BuildRequest(const Options& o, uint32_t socket, uint64_t seq, std::span<uint8_t> buf) {
  std::array<uint8_t, stun::kTransactionIdSize> id{};
  std::memcpy(id.data(), &socket, sizeof socket);
  std::memcpy(id.data() + 4, &seq, sizeof seq);
  stun::MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kBinding,
                                                      stun::MessageClass::kRequest),
                         id);
  if (!o.sessions.empty()) {
    const Session& s = o.sessions[socket % o.sessions.size()];
    b.AddString(stun::attr::kUsername, s.username);
    // RFC 8445 §7.1.1: PRIORITY of a peer-reflexive candidate; the
    // controlling agent's tie-breaker; USE-CANDIDATE as an aggressive
    // nominator sends it.
    b.AddU32(stun::attr::kPriority, 1845501695);
    b.AddU64(stun::attr::kIceControlling, 0x0123456789abcdefULL + socket);
    b.AddFlag(stun::attr::kUseCandidate);
    b.AddMessageIntegrity(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(s.key.data()), s.key.size()));
  }
  b.AddFingerprint();
  return b.size();
}

int Main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::vector<int> fds;
  for (uint32_t k = 0; k < o.sockets; ++k) {
    const int fd = ::socket(o.server.is_v4() ? AF_INET : AF_INET6,
                            SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    const socklen_t len = o.server.ToSockaddr(&ss);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      std::perror("ice-check-load: socket");
      return 1;
    }
    const int big = 1 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    }
    fds.push_back(fd);
  }
  std::vector<pollfd> pfds;
  for (int fd : fds) pfds.push_back(pollfd{fd, POLLIN, 0});

  using Clock = std::chrono::steady_clock;
  const std::optional<double> cpu0 = o.server_pid > 0 ? ReadCpuSeconds(o.server_pid) : std::nullopt;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(o.duration));
  uint64_t sent = 0, answered = 0, errors = 0, malformed = 0;
  constexpr unsigned kRun = 16;
  uint64_t next_socket = 0;
  std::array<std::array<uint8_t, 256>, kRun> out{};
  std::array<iovec, kRun> iov{};
  std::array<mmsghdr, kRun> msgs{};
  std::array<uint8_t, 2048> in{};
  auto read_all = [&] {
    for (size_t k = 0; k < pfds.size(); ++k) {
      if ((pfds[k].revents & POLLIN) == 0) continue;
      for (;;) {
        const ssize_t r = ::recv(fds[k], in.data(), in.size(), 0);
        if (r < 0) break;
        stun::MessageView m;
        if (stun::MessageView::Parse(std::span<const uint8_t>(in.data(), static_cast<size_t>(r)),
                                     &m) == stun::ParseError::kNone &&
            m.Is(stun::Method::kBinding, stun::MessageClass::kSuccessResponse)) {
          ++answered;
        } else {
          ++malformed;  // error responses included: a benchmark run must have none
        }
      }
    }
  };
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (now >= end) break;
    // Paced: what is due by now goes out, in runs of up to kRun per socket
    // (one sendmmsg each), round robin over the sockets.
    const auto due = static_cast<uint64_t>(std::chrono::duration<double>(now - start).count() *
                                           o.rate);
    while (sent < due) {
      const auto k = static_cast<uint32_t>(next_socket++ % fds.size());
      const auto n = static_cast<unsigned>(std::min<uint64_t>(kRun, due - sent));
      for (unsigned j = 0; j < n; ++j) {
        const size_t len = BuildRequest(o, k, sent + j, out[j]);
        iov[j] = iovec{out[j].data(), len};
        msgs[j] = mmsghdr{};
        msgs[j].msg_hdr.msg_iov = &iov[j];
        msgs[j].msg_hdr.msg_iovlen = 1;
      }
      const int r = ::sendmmsg(fds[k], msgs.data(), n, 0);
      if (r < static_cast<int>(n)) errors += n - static_cast<unsigned>(std::max(r, 0));
      sent += n;
    }
    // Then read what arrived, waiting at most 1 ms.
    if (::poll(pfds.data(), pfds.size(), 1) > 0) read_all();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  // Answers still in flight when sending stops are read for a short while.
  const Clock::time_point drain_end = Clock::now() + std::chrono::milliseconds(300);
  while (Clock::now() < drain_end && ::poll(pfds.data(), pfds.size(), 50) > 0) read_all();
  std::optional<double> cpu;
  if (cpu0) {
    if (auto c1 = ReadCpuSeconds(o.server_pid)) cpu = *c1 - *cpu0;
  }
  const double per_cpu = cpu && *cpu > 0 ? static_cast<double>(answered) / *cpu : 0;
  if (o.json) {
    std::printf(
        "{\"mode\":\"%s\",\"sent\":%llu,\"answered\":%llu,\"send_errors\":%llu,"
        "\"not_success\":%llu,\"seconds\":%.3f,\"answered_per_second\":%.1f,"
        "\"server_cpu_seconds\":%.3f,\"answered_per_server_cpu_second\":%.1f}\n",
        o.sessions.empty() ? "binding" : "ice", static_cast<unsigned long long>(sent),
        static_cast<unsigned long long>(answered), static_cast<unsigned long long>(errors),
        static_cast<unsigned long long>(malformed), elapsed, answered / elapsed,
        cpu.value_or(0), per_cpu);
  } else {
    std::printf("%s checks: sent %llu, answered %llu (%.0f/s), not success %llu\n",
                o.sessions.empty() ? "binding" : "ice", static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(answered), answered / elapsed,
                static_cast<unsigned long long>(malformed));
    if (cpu) std::printf("server CPU %.2f s = %.0f answered per CPU-s\n", *cpu, per_cpu);
  }
  for (int fd : fds) ::close(fd);
  return 0;
}

}  // namespace
}  // namespace uturn::loadtest

int main(int argc, char** argv) { return uturn::loadtest::Main(argc, argv); }
