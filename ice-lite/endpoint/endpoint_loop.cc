#include "ice-lite/endpoint/endpoint_loop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "ice-lite/endpoint/text.h"
#include "ice-lite/candidate.h"
#include "ice-lite/endpoint/http.h"
#include "ice-lite/endpoint/json_line.h"
#include "ice-lite/endpoint/whip.h"
#include "ice-lite/router.h"

namespace uturn::ice::endpoint {
namespace {

// Bounds of the example (unauthenticated state stays small).
constexpr size_t kMaxIceTcpConnections = 256;
constexpr size_t kMaxHttpConnections = 16;
constexpr size_t kMaxTcpOutBytes = 256 * 1024;  // per connection; beyond it, close
// RFC 6544 §7.1: an ICE-TCP connection whose first check never
// authenticates is closed; 10 s gives a slow client its retransmissions.
constexpr absl::Duration kIceTcpAuthTimeout = absl::Seconds(10);
constexpr absl::Duration kHttpRequestTimeout = absl::Seconds(10);
constexpr absl::Duration kHttpLinger = absl::Seconds(2);
constexpr int kMaxEvents = 64;
constexpr int kUdpReadsPerWakeup = 64;  // fairness with the other sockets
// Anyone can make HTTP requests: their log lines are rate-limited (DESIGN.md
// §Observability), a bucket of 20 refilled at 20 per second.
constexpr double kHttpLogBurst = 20;
constexpr double kHttpLogPerSecond = 20;

// RFC 6544 §4.2: local preference = 2^13 * direction-pref + other-pref, with
// direction-pref 4 for passive host candidates; other-pref at its maximum.
constexpr uint32_t kTcpPassiveLocalPreference = (1u << 13) * 4 + 8191;
constexpr uint32_t kUdpLocalPreference = 65535;

enum Token : uint64_t { kUdpToken = 1, kTcpListenToken, kHttpListenToken, kSignalToken,
                        kFirstConnToken = 16 };

absl::Time Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::DurationFromTimespec(ts);
}

absl::Status Errno(std::string_view what) {
  return absl::UnavailableError(Cat(what, ": ", std::strerror(errno)));
}

int Socket(const stun::SocketAddress& a, int type) {
  return socket(a.is_v4() ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

absl::StatusOr<stun::SocketAddress> BindAndName(int fd, const stun::SocketAddress& a) {
  const int one = 1;
  if (!a.is_v4()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage ss{};
  const socklen_t len = a.ToSockaddr(&ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Errno(Cat("bind ", a.ToString()));
  }
  socklen_t got = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &got) != 0) return Errno("getsockname");
  std::optional<stun::SocketAddress> local =
      stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), got);
  if (!local) return absl::InternalError("getsockname: unknown address family");
  return *local;
}

}  // namespace

struct EndpointLoop::Impl final : RouterOutput {
  struct Conn {
    enum class Kind { kIceTcp, kHttp } kind;
    enum class Phase { kReading, kWriting, kDraining } phase = Phase::kReading;
    int fd = -1;
    Tuple tuple;  // ICE-TCP: the connection's 5-tuple
    std::string in, out;
    absl::Time deadline = absl::InfiniteFuture();
    std::optional<SessionId> session;  // ICE-TCP: once a check authenticated
    bool dead = false;
    uint32_t events = 0;  // registered epoll events
  };

  Impl(Options o, DtlsIdentity id)
      : options(std::move(o)), identity(std::move(id)), router(RouterConfig{}, this) {}

  ~Impl() override {
    for (auto& [token, c] : conns) close(c->fd);
    for (int fd : {udp_fd, tcp_fd, http_fd, signal_fd, epoll_fd}) {
      if (fd >= 0) close(fd);
    }
  }

  void Log(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  absl::Status Open();
  absl::Status Run();
  void LogHttp(const HttpRequest& request, int status, absl::Time now) {
    http_log_tokens = std::min(kHttpLogBurst, http_log_tokens + kHttpLogPerSecond *
                                                                    absl::ToDoubleSeconds(now - http_log_refill));
    http_log_refill = now;
    if (http_log_tokens < 1) {
      ++http_log_suppressed;
      return;
    }
    http_log_tokens -= 1;
    Log(JsonLine("http")
            .Str("method", request.method)
            .Str("path", request.target.substr(0, 128))
            .Num("status", static_cast<uint64_t>(status))
            .Num("suppressed_before", http_log_suppressed)
            .Done());
    http_log_suppressed = 0;
  }
  bool Watch(int fd, uint64_t token, uint32_t events, int op = EPOLL_CTL_ADD) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epoll_fd, op, fd, &ev) == 0;
  }
  void SetConnEvents(uint64_t token, Conn& c, uint32_t events) {
    if (c.events == events) return;
    c.events = events;
    if (!Watch(c.fd, token, events, EPOLL_CTL_MOD)) c.dead = true;
  }

  void ReadUdp(absl::Time now);
  void Accept(int listen_fd, Conn::Kind kind, absl::Time now);
  void OnConnEvent(uint64_t token, uint32_t events, absl::Time now);
  void ReadIceTcp(Conn& c, absl::Time now);
  void ReadHttp(uint64_t token, Conn& c, absl::Time now);
  void Flush(uint64_t token, Conn& c);
  void Sweep(absl::Time now);
  absl::Time NextDeadline() const;

  // RouterOutput.
  void Send(const Tuple& tuple, std::span<const uint8_t> bytes) override;
  void OnSessionEvent(SessionId id, const SessionEvent& event) override;
  void OnMedia(SessionId id, const Tuple&, std::span<const uint8_t>) override {
    whip->OnMedia(id);
  }

  Options options;
  DtlsIdentity identity;
  Router router;
  std::unique_ptr<WhipService> whip;
  HttpLimits http_limits;
  int epoll_fd = -1, udp_fd = -1, tcp_fd = -1, http_fd = -1, signal_fd = -1;
  stun::SocketAddress udp_local, tcp_local, http_local;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> conns;
  absl::flat_hash_map<Tuple, uint64_t> tcp_by_tuple;
  size_t ice_tcp_count = 0, http_count = 0;
  uint64_t next_token = kFirstConnToken;
  uint64_t udp_send_errors = 0, tcp_refused = 0, http_refused = 0;
  double http_log_tokens = kHttpLogBurst;
  absl::Time http_log_refill = absl::InfinitePast();
  uint64_t http_log_suppressed = 0;
  std::array<uint8_t, 65536> buffer{};
};

absl::Status EndpointLoop::Impl::Open() {
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return Errno("epoll_create1");

  // SIGTERM/SIGINT arrive as readable events, so shutdown happens between
  // loop turns; SIGPIPE is ignored (sends use MSG_NOSIGNAL as well).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return Errno("sigprocmask");
  signal(SIGPIPE, SIG_IGN);
  signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) return Errno("signalfd");

  udp_fd = Socket(options.listen, SOCK_DGRAM);
  if (udp_fd < 0) return Errno("socket(udp)");
  absl::StatusOr<stun::SocketAddress> u = BindAndName(udp_fd, options.listen);
  if (!u.ok()) return u.status();
  udp_local = *u;

  const int one = 1;
  tcp_fd = Socket(options.listen, SOCK_STREAM);
  if (tcp_fd < 0) return Errno("socket(tcp)");
  setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  absl::StatusOr<stun::SocketAddress> t = BindAndName(tcp_fd, options.listen);
  if (!t.ok()) return t.status();
  tcp_local = *t;
  if (listen(tcp_fd, 64) != 0) return Errno("listen(ice-tcp)");

  http_fd = Socket(options.http, SOCK_STREAM);
  if (http_fd < 0) return Errno("socket(http)");
  setsockopt(http_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  absl::StatusOr<stun::SocketAddress> h = BindAndName(http_fd, options.http);
  if (!h.ok()) return h.status();
  http_local = *h;
  if (listen(http_fd, 16) != 0) return Errno("listen(http)");

  if (!Watch(udp_fd, kUdpToken, EPOLLIN) || !Watch(tcp_fd, kTcpListenToken, EPOLLIN) ||
      !Watch(http_fd, kHttpListenToken, EPOLLIN) || !Watch(signal_fd, kSignalToken, EPOLLIN)) {
    return Errno("epoll_ctl");
  }

  // The answer's host candidates: UDP, and TCP passive (RFC 6544 §4.5).
  WhipConfig config;
  config.session.consent_timeout = options.consent_timeout;
  config.session.disconnected_after = options.disconnected_after;
  config.connect_timeout = options.connect_timeout;
  config.fingerprint = identity.fingerprint;
  Candidate udp;
  udp.foundation = "1";
  udp.transport = "udp";
  udp.priority = CandidatePriority(RecommendedTypePreference(CandidateType::kHost),
                                   kUdpLocalPreference, 1);
  udp.address = udp_local.IpString();
  udp.ip = udp_local;
  udp.port = udp_local.port;
  udp.type = CandidateType::kHost;
  Candidate tcp = udp;
  tcp.foundation = "2";
  tcp.transport = "tcp";
  tcp.priority = CandidatePriority(RecommendedTypePreference(CandidateType::kHost),
                                   kTcpPassiveLocalPreference, 1);
  tcp.ip = tcp_local;
  tcp.port = tcp_local.port;
  tcp.tcp_type = TcpType::kPassive;
  config.candidates = {udp, tcp};
  whip = std::make_unique<WhipService>(
      std::move(config), &router,
      [](std::span<uint8_t> out) {
        // A CSPRNG failure must not yield guessable credentials.
        if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
      },
      [this](const std::string& line) { Log(line); });

  Log(JsonLine("listening").Str("transport", "udp").Str("address", udp_local.ToString()).Done());
  Log(JsonLine("listening").Str("transport", "tcp").Str("address", tcp_local.ToString()).Done());
  Log(JsonLine("listening").Str("transport", "http").Str("address", http_local.ToString()).Done());
  Log(JsonLine("ready")
          .Str("fingerprint", identity.fingerprint)
          .Real("consent_timeout_s", absl::ToDoubleSeconds(options.consent_timeout))
          .Real("disconnected_after_s", absl::ToDoubleSeconds(options.disconnected_after))
          .Done());
  return absl::OkStatus();
}

void EndpointLoop::Impl::ReadUdp(absl::Time now) {
  for (int i = 0; i < kUdpReadsPerWakeup; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n = recvfrom(udp_fd, buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) return;  // EAGAIN, or an ICMP error reported on the socket
    std::optional<stun::SocketAddress> remote =
        stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!remote) continue;
    router.OnPacket(Tuple{*remote, udp_local, Transport::kUdp},
                    std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)), now);
  }
}

void EndpointLoop::Impl::Accept(int listen_fd, Conn::Kind kind, absl::Time now) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    const bool ice = kind == Conn::Kind::kIceTcp;
    if ((ice && ice_tcp_count >= kMaxIceTcpConnections) ||
        (!ice && http_count >= kMaxHttpConnections)) {
      ++(ice ? tcp_refused : http_refused);
      close(fd);
      continue;
    }
    std::optional<stun::SocketAddress> remote =
        stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!remote) {
      close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->kind = kind;
    c->fd = fd;
    c->tuple = Tuple{*remote, ice ? tcp_local : http_local, Transport::kTcp};
    c->deadline = now + (ice ? kIceTcpAuthTimeout : kHttpRequestTimeout);
    c->events = EPOLLIN;
    const uint64_t token = next_token++;
    if (!Watch(fd, token, EPOLLIN)) {
      close(fd);
      continue;
    }
    if (ice) {
      ++ice_tcp_count;
      tcp_by_tuple[c->tuple] = token;
    } else {
      ++http_count;
    }
    conns[token] = std::move(c);
  }
}

void EndpointLoop::Impl::OnConnEvent(uint64_t token, uint32_t events, absl::Time now) {
  auto it = conns.find(token);
  if (it == conns.end()) return;
  Conn& c = *it->second;
  if (c.dead) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (c.kind == Conn::Kind::kIceTcp) {
      ReadIceTcp(c, now);
    } else {
      ReadHttp(token, c, now);
    }
  }
  if (!c.dead && (events & EPOLLOUT)) Flush(token, c);
}

void EndpointLoop::Impl::ReadIceTcp(Conn& c, absl::Time now) {
  const ssize_t n = read(c.fd, buffer.data(), buffer.size());
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    c.dead = true;
    return;
  }
  if (n < 0) return;
  c.in.append(reinterpret_cast<const char*>(buffer.data()), static_cast<size_t>(n));
  // RFC 4571 §2 (RFC 6544 §3): each packet is preceded by a 16-bit
  // big-endian length. Frames are handed over as they complete.
  size_t pos = 0;
  while (c.in.size() - pos >= 2 && !c.dead) {
    const size_t len = (static_cast<uint8_t>(c.in[pos]) << 8) | static_cast<uint8_t>(c.in[pos + 1]);
    if (c.in.size() - pos - 2 < len) break;
    const auto* frame = reinterpret_cast<const uint8_t*>(c.in.data() + pos + 2);
    pos += 2 + len;
    if (len > 0) router.OnPacket(c.tuple, std::span<const uint8_t>(frame, len), now);
  }
  c.in.erase(0, pos);
  // At most one partial frame (2 + 65535 bytes) stays buffered.
  assert(c.in.size() < 2 + 65536);
}

void EndpointLoop::Impl::ReadHttp(uint64_t token, Conn& c, absl::Time now) {
  const ssize_t n = read(c.fd, buffer.data(), buffer.size());
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    c.dead = true;  // EOF or reset: nothing more to answer
    return;
  }
  if (c.phase != Conn::Phase::kReading) return;  // draining after the answer
  c.in.append(reinterpret_cast<const char*>(buffer.data()), static_cast<size_t>(n));
  const HttpParse p = ParseHttpRequest(c.in, http_limits);
  HttpResponse response;
  if (p.status == HttpParse::Status::kNeedMore) return;
  if (p.status == HttpParse::Status::kError) {
    response.status = p.error_status;
    response.headers = {{"Content-Type", "text/plain; charset=utf-8"},
                        {"Access-Control-Allow-Origin", "*"}};
    response.body = p.error_reason + "\n";
  } else {
    response = whip->Handle(p.request, now);
  }
  LogHttp(p.request, response.status, now);
  c.in.clear();
  c.out = SerializeResponse(response);
  c.phase = Conn::Phase::kWriting;
  c.deadline = now + kHttpRequestTimeout;
  Flush(token, c);
}

void EndpointLoop::Impl::Flush(uint64_t token, Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      c.dead = true;
      return;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  if (!c.out.empty()) {
    SetConnEvents(token, c, EPOLLIN | EPOLLOUT);
    return;
  }
  SetConnEvents(token, c, EPOLLIN);
  if (c.kind == Conn::Kind::kHttp && c.phase == Conn::Phase::kWriting) {
    // Half-close and read what the client still sends until it closes, so
    // an answer sent before the whole body (413) is not lost to a reset.
    shutdown(c.fd, SHUT_WR);
    c.phase = Conn::Phase::kDraining;
    c.deadline = std::min(c.deadline, Now() + kHttpLinger);
  }
}

void EndpointLoop::Impl::Send(const Tuple& tuple, std::span<const uint8_t> bytes) {
  if (tuple.transport == Transport::kUdp) {
    sockaddr_storage ss{};
    const socklen_t len = tuple.remote.ToSockaddr(&ss);
    if (sendto(udp_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ss),
               len) < 0) {
      ++udp_send_errors;  // UDP: a lost response is a retransmission away
    }
    return;
  }
  auto t = tcp_by_tuple.find(tuple);
  if (t == tcp_by_tuple.end()) return;
  Conn& c = *conns.at(t->second);
  if (c.dead) return;
  assert(bytes.size() <= 0xffff);
  if (c.out.size() + 2 + bytes.size() > kMaxTcpOutBytes) {
    c.dead = true;  // the peer does not read: bounded memory over delivery
    return;
  }
  // RFC 4571 §2 framing on the way out too.
  c.out.push_back(static_cast<char>(bytes.size() >> 8));
  c.out.push_back(static_cast<char>(bytes.size() & 0xff));
  c.out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  Flush(t->second, c);
}

void EndpointLoop::Impl::OnSessionEvent(SessionId id, const SessionEvent& event) {
  if (event.tuple.transport == Transport::kTcp) {
    if (auto t = tcp_by_tuple.find(event.tuple); t != tcp_by_tuple.end()) {
      Conn& c = *conns.at(t->second);
      if (event.kind == SessionEvent::Kind::kTupleAdded) {
        c.session = id;  // authenticated: no more auth deadline
        c.deadline = absl::InfiniteFuture();
      } else if (event.kind == SessionEvent::Kind::kTupleRemoved) {
        c.dead = true;
      }
    }
  }
  whip->OnSessionEvent(id, event);
}

void EndpointLoop::Impl::Sweep(absl::Time now) {
  whip->Reap(now);
  std::vector<uint64_t> closing;
  for (auto& [token, c] : conns) {
    // ICE-TCP connections of sessions that ended go with them.
    if (c->session && router.session(*c->session) == nullptr) c->dead = true;
    if (c->dead || now >= c->deadline) closing.push_back(token);
  }
  for (uint64_t token : closing) {
    auto it = conns.find(token);
    Conn& c = *it->second;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    if (c.kind == Conn::Kind::kIceTcp) {
      tcp_by_tuple.erase(c.tuple);
      --ice_tcp_count;
    } else {
      --http_count;
    }
    conns.erase(it);
  }
}

absl::Time EndpointLoop::Impl::NextDeadline() const {
  absl::Time next = std::min(router.NextTimeout(), whip->NextDeadline());
  for (const auto& [token, c] : conns) next = std::min(next, c->deadline);
  return next;
}

absl::Status EndpointLoop::Impl::Run() {
  std::array<epoll_event, kMaxEvents> events{};
  bool stop = false;
  int stop_signal = 0;
  while (!stop) {
    absl::Time now = Now();
    // Round up so the loop never wakes just before a deadline; at most a
    // second between turns as a backstop.
    const absl::Duration wait =
        std::clamp(NextDeadline() - now, absl::ZeroDuration(), absl::Seconds(1));
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(wait + absl::Microseconds(999)));
    const int n = epoll_wait(epoll_fd, events.data(), kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) return Errno("epoll_wait");
    now = Now();
    for (int i = 0; i < n; ++i) {
      const uint64_t token = events[i].data.u64;
      switch (token) {
        case kUdpToken: ReadUdp(now); break;
        case kTcpListenToken: Accept(tcp_fd, Conn::Kind::kIceTcp, now); break;
        case kHttpListenToken: Accept(http_fd, Conn::Kind::kHttp, now); break;
        case kSignalToken: {
          signalfd_siginfo si{};
          if (read(signal_fd, &si, sizeof si) == sizeof si) {
            stop = true;
            stop_signal = static_cast<int>(si.ssi_signo);
          }
          break;
        }
        default: OnConnEvent(token, events[i].events, now);
      }
    }
    if (router.NextTimeout() <= now) router.HandleTimeout(now);
    Sweep(now);
  }
  const RouterCounters& k = router.counters();
  Log(JsonLine("stopped")
          .Str("signal", stop_signal == SIGINT ? "SIGINT" : "SIGTERM")
          .Num("sessions", whip->session_count())
          .Num("stun_in", k.stun_in)
          .Num("checks_answered", k.checks_answered)
          .Num("checks_rejected", k.checks_rejected)
          .Num("checks_discarded", k.checks_discarded)
          .Num("unknown_ufrag", k.unknown_ufrag)
          .Num("media_in", k.media_in)
          .Num("media_unknown_tuple", k.media_unknown_tuple)
          .Num("udp_send_errors", udp_send_errors)
          .Num("tcp_refused", tcp_refused)
          .Num("http_refused", http_refused)
          .Done());
  return absl::OkStatus();
}

EndpointLoop::EndpointLoop(Options options, DtlsIdentity identity)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(identity))) {}
EndpointLoop::~EndpointLoop() = default;
absl::Status EndpointLoop::Open() { return impl_->Open(); }
absl::Status EndpointLoop::Run() { return impl_->Run(); }

}  // namespace uturn::ice::endpoint
