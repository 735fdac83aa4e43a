// TURN over TCP against the real binary (issue 11): the allocation belongs to
// its connection (RFC 8656 §3.1), the idle rules (--max-allocate-timeout, a
// live allocation is never idle-closed, its expiry closes the connection),
// backpressure toward a client that does not read, and the per-IP cap.
// (That an expired allocation closes its connection is not tested here:
// --max-allocate-lifetime is at least 60 s; the core's side is in
// tests/unit/turn/turn_server_connection_test.cc.)
// Every wait is on a condition (a close, a metric), bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;
using Clock = std::chrono::steady_clock;

// A TurnClient over one TCP connection (RFC 8656 §3.1, RFC 8489 §6.2.2).
class TcpTurn {
 public:
  // `rcvbuf` > 0: a small receive buffer, set before connect so the window
  // the server sees is small too.
  explicit TcpTurn(const stun::SocketAddress& server, int rcvbuf = 0) {
    fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (rcvbuf > 0) ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_storage ss{};
    const socklen_t len = server.ToSockaddr(&ss);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) fd_ = Fd();
    const int one = 1;
    if (fd_.valid()) ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    client::TurnClientConfig config = TurnConfigFor("u", "p");
    config.transport = stun::TransportKind::kReliable;
    client_ = std::make_unique<client::TurnClient>(std::move(config), TestRandom());
  }

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void Close() { fd_ = Fd(); }
  client::TurnClient& client() { return *client_; }
  uint64_t data_received() const { return data_; }

  std::optional<TurnEvent> Allocate() { return Await(client_->Allocate(absl::Now())); }
  std::optional<TurnEvent> Refresh(std::optional<uint32_t> lifetime) {
    return Await(client_->Refresh(absl::Now(), lifetime));
  }
  std::optional<TurnEvent> CreatePermission(const stun::SocketAddress& peer) {
    return Await(client_->CreatePermission(absl::Now(), std::span<const stun::SocketAddress>(&peer, 1)));
  }
  // Starts a request without reading anything (its bytes go out now).
  absl::StatusOr<client::RequestHandle> StartRefresh() {
    auto h = client_->Refresh(absl::Now(), std::nullopt);
    Flush();
    return h;
  }
  std::optional<TurnEvent> Await(absl::StatusOr<client::RequestHandle> handle,
                                 milliseconds timeout = milliseconds(20000)) {
    EXPECT_TRUE(handle.ok()) << handle.status();
    if (!handle.ok()) return std::nullopt;
    const auto until = Clock::now() + timeout;
    for (;;) {
      for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (it->request == *handle) {
          TurnEvent ev = std::move(*it);
          events_.erase(it);
          return ev;
        }
      }
      if (!PumpOnce(until)) return std::nullopt;
    }
  }

 private:
  void Flush() {
    while (auto out = client_->PollTransmit()) {
      if (!SendAll(fd_.get(), *out)) broken_ = true;
    }
  }
  // One read (or timer); false once `until` passed or the stream ended.
  bool PumpOnce(Clock::time_point until) {
    Flush();
    const auto now = Clock::now();
    if (now >= until || broken_) return false;
    int wait_ms = static_cast<int>(std::chrono::duration_cast<milliseconds>(until - now).count()) + 1;
    const absl::Time timer = client_->deadline();
    if (timer != absl::InfiniteFuture()) {
      const int64_t t = absl::ToInt64Milliseconds(timer - absl::Now()) + 1;
      wait_ms = static_cast<int>(std::clamp<int64_t>(t, 0, wait_ms));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, wait_ms) > 0) {
      std::span<uint8_t> space = framer_.WritableSpace();
      const ssize_t n = ::recv(fd_.get(), space.data(), space.size(), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        broken_ = true;
        return false;
      }
      if (n > 0) framer_.Commit(static_cast<size_t>(n));
      for (;;) {
        const stun::FrameInfo f = framer_.Peek();
        if (f.status == stun::FrameInfo::Status::kInvalid) {
          broken_ = true;
          return false;
        }
        if (f.status != stun::FrameInfo::Status::kComplete) break;
        const client::Incoming in =
            client_->HandleIncoming(framer_.buffered().subspan(0, f.size), absl::Now());
        if (in.kind == client::Incoming::Kind::kData) ++data_;
        framer_.Consume(f.size);
      }
    }
    if (absl::Now() >= client_->deadline()) client_->HandleTimeout(absl::Now());
    while (auto ev = client_->PollEvent()) events_.push_back(std::move(*ev));
    Flush();
    return true;
  }

  Fd fd_;
  std::unique_ptr<client::TurnClient> client_;
  stun::StreamFramer framer_;
  std::deque<TurnEvent> events_;
  uint64_t data_ = 0;
  bool broken_ = false;
};

// GET /metrics (HTTP/1.0) and parse the text format: series -> value.
std::optional<std::map<std::string, double>> ScrapeMetrics(const stun::SocketAddress& at) {
  Fd fd = TcpConnect(at);
  if (!fd.valid()) return std::nullopt;
  const std::string req = "GET /metrics HTTP/1.0\r\n\r\n";
  if (!SendAll(fd.get(), {reinterpret_cast<const uint8_t*>(req.data()), req.size()})) {
    return std::nullopt;
  }
  std::string body;
  char buf[8192];
  pollfd p{fd.get(), POLLIN, 0};
  for (;;) {
    if (::poll(&p, 1, 5000) != 1) return std::nullopt;
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    body.append(buf, static_cast<size_t>(n));
  }
  std::map<std::string, double> out;
  size_t pos = body.find("\r\n\r\n");
  if (pos == std::string::npos) return std::nullopt;
  pos += 4;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space != std::string::npos) {
      out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
  }
  return out;
}

// A UDP port free on 127.0.0.1 right now, for a one-port relay range.
uint16_t FreeUdpPort() {
  Fd fd = UdpSocket();
  return LocalAddress(fd.get()).port;
}

class TcpAllocationTest : public TurnServerTest {
 protected:
  void StartTcp(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--prometheus", "--prometheus-port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    Start(args);
    ASSERT_TRUE(server_.Tcp().has_value()) << server_.Log();
    tcp_ = *server_.Tcp();
    for (const std::string& line : server_.Lines()) {
      if (LogField(line, "event") != "prometheus") continue;
      const std::string a = LogField(line, "address");
      metrics_ = *stun::SocketAddress::Parse(a);
    }
    ASSERT_NE(metrics_.port, 0) << server_.Log();
  }

  // Waits (bounded) until series `name` equals `value`; the shards publish
  // about once a second.
  bool WaitMetric(const std::string& name, double value, milliseconds timeout = milliseconds(15000)) {
    const auto until = Clock::now() + timeout;
    double last = -1;
    while (Clock::now() < until) {
      auto m = ScrapeMetrics(metrics_);
      if (m) {
        last = (*m)[name];
        if (last == value) return true;
      }
      // Paces the scrapes; the condition, not this wait, ends the loop.
      ::poll(nullptr, 0, 50);
    }
    ADD_FAILURE() << name << " is " << last << ", want " << value;
    return false;
  }
  double Metric(const std::string& name) {
    auto m = ScrapeMetrics(metrics_);
    EXPECT_TRUE(m.has_value());
    return m ? (*m)[name] : -1;
  }

  stun::SocketAddress tcp_;
  stun::SocketAddress metrics_;
};

TEST_F(TcpAllocationTest, ClosingTheConnectionReleasesTheAllocationAndItsPort) {
  const uint16_t port = FreeUdpPort();
  const std::string p = std::to_string(port);
  ASSERT_NO_FATAL_FAILURE(StartTcp({"--relay-threads", "1", "--min-port", p, "--max-port", p}));
  {
    TcpTurn a(tcp_);
    ASSERT_TRUE(a.valid());
    auto ev = a.Allocate();
    ASSERT_TRUE(ev && ev->kind == TurnEvent::Kind::kAllocated) << (ev ? ev->reason : "timeout");
    ASSERT_EQ(ev->allocation.relayed.at(0).port, port);
    Peer peer = MakePeer();
    ASSERT_TRUE(a.CreatePermission(peer.address).has_value());
    ASSERT_TRUE(WaitMetric("uturn_allocations_active", 1));
    ASSERT_EQ(Metric("uturn_permissions_active"), 1);
    a.Close();  // FIN from the client
  }
  EXPECT_TRUE(WaitMetric("uturn_allocations_active", 0));
  EXPECT_EQ(Metric("uturn_allocations_released_total{reason=\"connection_closed\"}"), 1);
  EXPECT_EQ(Metric("uturn_permissions_active"), 0);
  EXPECT_EQ(Metric("uturn_allocations_expired_total"), 0);
  // The one relay port is free again: a new connection's allocation gets it
  // (with the allocation lingering it would get 508).
  TcpTurn b(tcp_);
  auto ev = b.Allocate();
  ASSERT_TRUE(ev && ev->kind == TurnEvent::Kind::kAllocated)
      << (ev ? std::to_string(ev->error_code) + " " + ev->reason : "timeout");
  EXPECT_EQ(ev->allocation.relayed.at(0).port, port);
}

TEST_F(TcpAllocationTest, ResetConnectionReleasesToo) {
  ASSERT_NO_FATAL_FAILURE(StartTcp({"--relay-threads", "1"}));
  TcpTurn a(tcp_);
  auto ev = a.Allocate();
  ASSERT_TRUE(ev && ev->kind == TurnEvent::Kind::kAllocated);
  // SO_LINGER 0: close() sends RST instead of FIN.
  const linger l{1, 0};
  ASSERT_EQ(::setsockopt(a.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  a.Close();
  EXPECT_TRUE(WaitMetric("uturn_allocations_released_total{reason=\"connection_closed\"}", 1));
  EXPECT_EQ(Metric("uturn_allocations_active"), 0);
}

TEST_F(TcpAllocationTest, ConnectionWithoutAllocationIsClosedOneWithIsNot) {
  ASSERT_NO_FATAL_FAILURE(StartTcp({"--max-allocate-timeout", "1"}));
  TcpTurn allocated(tcp_);
  auto ev = allocated.Allocate();
  ASSERT_TRUE(ev && ev->kind == TurnEvent::Kind::kAllocated);
  TcpTurn idle(tcp_);  // connected after, so its timeout ends later
  ASSERT_TRUE(idle.valid());
  EXPECT_EQ(WaitForClose(idle.fd(), milliseconds(10000)), StreamEnd::kClosed);
  EXPECT_TRUE(
      WaitMetric("uturn_tcp_connections_closed_total{reason=\"allocate_timeout\"}", 1));
  // The one holding an allocation outlived the timeout and still works.
  auto r = allocated.Refresh(std::nullopt);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, TurnEvent::Kind::kRefreshed) << r->reason;
  EXPECT_EQ(Metric("uturn_allocations_active"), 1);
}

// A client that stops reading while a peer floods its relay: relayed data is
// dropped and counted, the connection stays, and the answer to its own
// Refresh is queued and arrives once it reads again.
TEST_F(TcpAllocationTest, SlowReaderLosesDataNotItsConnection) {
  ASSERT_NO_FATAL_FAILURE(StartTcp({"--relay-threads", "1"}));
  TcpTurn a(tcp_, /*rcvbuf=*/4096);
  auto ev = a.Allocate();
  ASSERT_TRUE(ev && ev->kind == TurnEvent::Kind::kAllocated);
  const stun::SocketAddress relay = ev->allocation.relayed.at(0);
  Peer peer = MakePeer();
  ASSERT_TRUE(a.CreatePermission(peer.address).has_value());

  const std::string dropped = "uturn_dropped_packets_total{reason=\"tcp_backpressure\"}";
  std::vector<std::vector<uint8_t>> burst(256, RandomBytes(1000, 1));
  const auto until = Clock::now() + std::chrono::seconds(40);
  bool dropping = false;
  while (!dropping && Clock::now() < until) {
    ASSERT_TRUE(SendBurst(peer.fd.get(), burst, relay));
    auto m = ScrapeMetrics(metrics_);
    dropping = m && (*m)[dropped] > 0;
  }
  ASSERT_TRUE(dropping) << "no backpressure drop counted";
  EXPECT_EQ(Metric("uturn_tcp_connections_closed_total{reason=\"backlog\"}"), 0);

  // Still not reading: the Refresh goes out, its answer waits behind data.
  auto handle = a.StartRefresh();
  ASSERT_TRUE(handle.ok());
  auto r = a.Await(handle);  // reads everything queued, then the answer
  ASSERT_TRUE(r.has_value()) << "no Refresh answer";
  EXPECT_EQ(r->kind, TurnEvent::Kind::kRefreshed) << r->reason;
  EXPECT_GT(a.data_received(), 0u);
  EXPECT_EQ(Metric("uturn_allocations_active"), 1);
}

TEST_F(TcpAllocationTest, ConnectionsPerIpAreCapped) {
  // Two shards: the cap counts over both (a client's connections spread).
  ASSERT_NO_FATAL_FAILURE(
      StartTcp({"--relay-threads", "2", "--max-tcp-connections-per-ip", "2"}));
  Fd a = TcpConnect(tcp_), b = TcpConnect(tcp_);
  ASSERT_EQ(BindingOverTcp(a.get()).status, client::BindingStatus::kSuccess);
  ASSERT_EQ(BindingOverTcp(b.get()).status, client::BindingStatus::kSuccess);
  Fd c = TcpConnect(tcp_);  // the kernel completes the handshake; uturn closes it
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(WaitForClose(c.get(), milliseconds(10000)), StreamEnd::kClosed);
  EXPECT_TRUE(WaitMetric("uturn_tcp_connections_refused_total{reason=\"per_ip\"}", 1));
  // The first two still work; closing one makes room.
  EXPECT_EQ(BindingOverTcp(a.get()).status, client::BindingStatus::kSuccess);
  b = Fd();
  // The server sees the FIN in its own time: retry until one is admitted.
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    Fd d = TcpConnect(tcp_);
    admitted = BindingOverTcp(d.get()).status == client::BindingStatus::kSuccess;
  }
  EXPECT_TRUE(admitted);
}

}  // namespace
}  // namespace uturn::testing
