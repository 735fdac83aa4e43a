// uturn-stunclient: asks a STUN server for this host's reflexive address.
//   uturn-stunclient [--tcp] [--no-fingerprint] [--timeout-ms N] HOST PORT
// Prints "mapped-address=IP:PORT" and exits 0; otherwise prints why on
// stderr and exits 1 (no answer, error answer, network error) or 2 (usage).
// The protocol is BindingClient's; this file only owns the socket and clock.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "client/binding_client.h"
#include "stun/stream_framing.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kDefaultTimeoutMs = 5000;

constexpr const char* kUsage =
    "usage: uturn-stunclient [--tcp] [--no-fingerprint] [--timeout-ms N] HOST PORT\n"
    "  Sends a STUN Binding request (RFC 8489) and prints mapped-address=IP:PORT.\n"
    "  --tcp             use TCP (RFC 8489 stream framing) instead of UDP\n"
    "  --no-fingerprint  do not add FINGERPRINT to the request\n"
    "  --timeout-ms N    give up after N milliseconds (default 5000)\n";

struct Args {
  bool tcp = false;
  bool fingerprint = true;
  int timeout_ms = kDefaultTimeoutMs;
  std::string host;
  std::string port;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "uturn-stunclient: error: %s\n", message.c_str());
  return kExitFailure;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "uturn-stunclient: %s\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

bool ParseInt(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Returns 0 on success, or the exit status to use.
int ParseArgs(int argc, char** argv, Args* args) {
  std::vector<std::string_view> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--tcp") {
      args->tcp = true;
    } else if (a == "--no-fingerprint") {
      args->fingerprint = false;
    } else if (a == "--timeout-ms") {
      if (i + 1 >= argc) return Usage("--timeout-ms: missing value");
      if (!ParseInt(argv[++i], 1, 3'600'000, &args->timeout_ms)) {
        return Usage(std::string("--timeout-ms: \"") + argv[i] +
                     "\" is not a number of milliseconds (1-3600000)");
      }
    } else if (a.size() > 1 && a[0] == '-') {
      return Usage("unknown option " + std::string(a));
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) return Usage("expected HOST and PORT");
  int port = 0;
  if (!ParseInt(positional[1], 1, 65535, &port)) {
    return Usage("PORT: \"" + std::string(positional[1]) + "\" is not a port number (1-65535)");
  }
  args->host = positional[0];
  args->port = positional[1];
  return 0;
}

void RandomBytes(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "uturn-stunclient: error: getrandom: %s\n", std::strerror(errno));
      std::exit(kExitFailure);
    }
    done += static_cast<size_t>(n);
  }
}

int PollMs(absl::Time now, absl::Time until) {
  if (until <= now) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(until - now) + 1;  // round up
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
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

// Connects `fd` (blocking mode) within the overall deadline.
bool ConnectBefore(int fd, const addrinfo* ai, absl::Time deadline, std::string* error) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
    *error = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  pollfd p{fd, POLLOUT, 0};
  const int r = ::poll(&p, 1, PollMs(absl::Now(), deadline));
  if (r == 0) {
    *error = "connect: timed out";
    return false;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (r < 0 || so_error != 0) {
    *error = std::string("connect: ") + std::strerror(r < 0 ? errno : so_error);
    return false;
  }
  fcntl(fd, F_SETFL, flags);
  return true;
}

int Report(const uturn::client::BindingResult& r) {
  using uturn::client::BindingStatus;
  switch (r.status) {
    case BindingStatus::kSuccess:
      std::printf("mapped-address=%s\n", r.mapped.ToString().c_str());
      return 0;
    case BindingStatus::kErrorResponse:
      return Fail("server answered " + std::to_string(r.error_code) + " " + r.error_reason);
    case BindingStatus::kMalformed:
      return Fail("unusable response: " + r.malformed_reason);
    case BindingStatus::kTimeout:
      return Fail("no response (timeout)");
    default:
      return Fail("no response");
  }
}

int Run(const Args& args) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(args.timeout_ms);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = args.tcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  if (const int rc = ::getaddrinfo(args.host.c_str(), args.port.c_str(), &hints, &ai); rc != 0) {
    return Fail("cannot resolve " + args.host + ": " + gai_strerror(rc));
  }
  const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(ai);
    return Fail(std::string("socket: ") + std::strerror(errno));
  }
  std::string error;
  bool connected = false;
  if (args.tcp) {
    connected = ConnectBefore(fd, ai, deadline, &error);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  } else {
    // A connected UDP socket only receives from the server and reports ICMP
    // port unreachable as ECONNREFUSED.
    connected = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    if (!connected) error = std::string("connect: ") + std::strerror(errno);
  }
  ::freeaddrinfo(ai);
  if (!connected) {
    ::close(fd);
    return Fail(error);
  }

  uturn::client::BindingClientConfig config;
  config.fingerprint = args.fingerprint;
  config.software = "uturn-stunclient";
  config.transport =
      args.tcp ? uturn::stun::TransportKind::kReliable : uturn::stun::TransportKind::kUnreliable;
  uturn::client::BindingClient client(config, RandomBytes);
  if (absl::Status st = client.Start(absl::Now()); !st.ok()) {
    ::close(fd);
    return Fail(std::string(st.message()));
  }
  if (!SendAll(fd, client.request())) {
    ::close(fd);
    return Fail(std::string("send: ") + std::strerror(errno));
  }

  uturn::stun::StreamFramer framer;
  std::vector<uint8_t> datagram(65536);
  while (!client.done()) {
    absl::Time now = absl::Now();
    if (now >= deadline) break;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, PollMs(now, std::min(deadline, client.deadline())));
    if (r < 0 && errno != EINTR) {
      error = std::string("poll: ") + std::strerror(errno);
      break;
    }
    now = absl::Now();
    if (r <= 0) {
      if (client.HandleTimeout(now) && !SendAll(fd, client.request())) {
        error = std::string("send: ") + std::strerror(errno);
        break;
      }
      continue;
    }
    if (!args.tcp) {
      const ssize_t n = ::recv(fd, datagram.data(), datagram.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        error = std::string("recv: ") + std::strerror(errno);
        break;
      }
      client.HandleMessage(std::span<const uint8_t>(datagram.data(), static_cast<size_t>(n)), now);
      continue;
    }
    std::span<uint8_t> space = framer.WritableSpace();
    if (space.empty()) {
      error = "response too large";
      break;
    }
    const ssize_t n = ::recv(fd, space.data(), space.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? "the server closed the connection" : std::string("recv: ") + std::strerror(errno);
      break;
    }
    framer.Commit(static_cast<size_t>(n));
    for (;;) {
      const uturn::stun::FrameInfo info = framer.Peek();
      if (info.status == uturn::stun::FrameInfo::Status::kNeedMore) break;
      if (info.status == uturn::stun::FrameInfo::Status::kInvalid) {
        error = "the server sent a stream that is not STUN";
        break;
      }
      client.HandleMessage(framer.buffered().first(info.size), now);
      framer.Consume(info.size);
    }
    if (!error.empty()) break;
  }
  ::close(fd);
  if (client.done()) return Report(client.result());
  if (!error.empty()) return Fail(error);
  return Fail("no response within " + std::to_string(args.timeout_ms) + " ms");
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (const int rc = ParseArgs(argc, argv, &args); rc != 0) return rc;
  return Run(args);
}
