// The Prometheus exporter on the real binary (issue 4, DESIGN.md
// §Observability): off unless --prometheus, its address logged, /metrics in
// the text format, and the counters move when TURN traffic flows.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;
using Clock = std::chrono::steady_clock;

// GET `path` over a plain TCP socket (HTTP/1.0: the server closes when done).
std::optional<std::string> HttpGet(const stun::SocketAddress& server, const std::string& path) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return std::nullopt;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(server.port);
  if (::inet_pton(AF_INET, server.IpString().c_str(), &sin.sin_addr) != 1) return std::nullopt;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) return std::nullopt;
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + server.ToString() + "\r\n\r\n";
  if (!SendAll(fd.get(), {reinterpret_cast<const uint8_t*>(req.data()), req.size()})) {
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  pollfd p{fd.get(), POLLIN, 0};
  while (::poll(&p, 1, 5000) == 1) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
  return std::nullopt;  // no EOF within 5 s
}

// Series (name with its label set, as printed) → value, from the text format.
std::map<std::string, double> ParseSamples(const std::string& body) {
  std::map<std::string, double> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

class MetricsTest : public TurnServerTest {
 protected:
  void StartWithMetrics(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--prometheus", "--prometheus-port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    Start(args);
    for (const std::string& line : server_.Lines()) {
      if (LogField(line, "event") != "prometheus") continue;
      const std::string a = LogField(line, "address");
      const size_t colon = a.rfind(':');
      ASSERT_NE(colon, std::string::npos) << line;
      ASSERT_EQ(a.substr(0, colon), "127.0.0.1") << line;  // --prometheus-ip default
      metrics_ = stun::SocketAddress::V4({127, 0, 0, 1},
                                         static_cast<uint16_t>(std::stoi(a.substr(colon + 1))));
    }
    ASSERT_NE(metrics_.port, 0) << server_.Log();
  }

  std::map<std::string, double> Scrape() {
    const auto reply = HttpGet(metrics_, "/metrics");
    EXPECT_TRUE(reply.has_value());
    if (!reply) return {};
    // "HTTP/1.x 200 OK"
    EXPECT_EQ(reply->substr(0, reply->find("\r\n")).find(" 200 "), 8u) << *reply;
    const size_t body = reply->find("\r\n\r\n");
    EXPECT_NE(body, std::string::npos);
    return body == std::string::npos ? std::map<std::string, double>{}
                                     : ParseSamples(reply->substr(body + 4));
  }

  stun::SocketAddress metrics_;
};

TEST_F(MetricsTest, ExposesEveryFamilyAtZeroAndTheBackend) {
  StartWithMetrics({"--relay-threads", "2"});
  auto s = Scrape();
  // The backend the server runs: the one asked for, or under auto io_uring
  // where it works and epoll where not; exactly one series either way.
  const char* asked = std::getenv("UTURN_TEST_IO_BACKEND");
  const std::string epoll = "uturn_io_backend_info{backend=\"epoll\"}";
  const std::string uring = "uturn_io_backend_info{backend=\"io_uring\"}";
  if (asked != nullptr && std::string(asked) == "epoll") {
    EXPECT_EQ(s[epoll], 1);
    EXPECT_EQ(s.count(uring), 0u);
  } else {
    EXPECT_EQ(s.count(epoll) + s.count(uring), 1u);
    EXPECT_EQ(s[epoll] + s[uring], 1);
  }
  EXPECT_EQ(s["uturn_shards"], 2);
  for (const char* series : {
           "uturn_allocations_active", "uturn_allocations_created_total",
           "uturn_allocations_expired_total", "uturn_allocations_deleted_total",
           "uturn_permissions_active", "uturn_channels_active",
           "uturn_requests_total{method=\"allocate\"}",
           "uturn_requests_total{method=\"binding\"}",
           "uturn_auth_failures_total{reason=\"bad_integrity\"}",
           "uturn_auth_failures_total{reason=\"stale_nonce\"}",
           "uturn_responses_total{method=\"allocate\",code=\"200\"}",
           "uturn_responses_total{method=\"refresh\",code=\"437\"}",
           "uturn_responses_total{method=\"channel_bind\",code=\"508\"}",
           "uturn_quota_rejections_total{quota=\"user\"}",
           "uturn_quota_rejections_total{quota=\"total\"}",
           "uturn_client_messages_total{kind=\"channel_data\"}",
           "uturn_relayed_packets_total{direction=\"to_peer\"}",
           "uturn_relayed_bytes_total{direction=\"to_client\"}",
           "uturn_dropped_packets_total{reason=\"no_permission\"}",
           "uturn_dropped_packets_total{reason=\"no_buffer\"}"}) {
    ASSERT_EQ(s.count(series), 1u) << series;
    EXPECT_EQ(s[series], 0) << series;
  }
  // Anything else is a 404, not the metrics.
  const auto other = HttpGet(metrics_, "/");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->substr(0, other->find("\r\n")).find(" 404 "), 8u) << *other;
}

TEST_F(MetricsTest, CountersMoveWhenTrafficIsRelayed) {
  StartWithMetrics();
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  const auto allocated = s.Allocate();  // a 401 challenge, then success
  ASSERT_TRUE(allocated.has_value());
  ASSERT_EQ(allocated->kind, TurnEvent::Kind::kAllocated) << allocated->error_code;
  Peer peer = MakePeer();
  ASSERT_EQ(s.ChannelBind(0x4000, peer.address)->kind, TurnEvent::Kind::kChannelBound);
  const auto relayed = s.client().allocation().relayed.at(0);

  constexpr int kUp = 5, kDown = 3;
  const auto payload = RandomBytes(100, 7);
  for (int i = 0; i < kUp; ++i) {
    ASSERT_TRUE(s.SendChannelData(0x4000, payload));
    ASSERT_TRUE(RecvDatagram(peer.fd.get(), milliseconds(3000)).has_value()) << i;
  }
  for (int i = 0; i < kDown; ++i) {
    ASSERT_TRUE(SendTo(peer.fd.get(), payload, relayed));
    ASSERT_TRUE(s.WaitData().has_value()) << i;
  }
  // A peer without a permission: dropped and counted (RFC 8656 §10.3).
  Peer stranger = MakePeer({127, 0, 0, 2});
  ASSERT_TRUE(SendTo(stranger.fd.get(), payload, relayed));

  // Shards publish about once a second; poll until the last packet shows.
  std::map<std::string, double> m;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    m = Scrape();
    if (m["uturn_dropped_packets_total{reason=\"no_permission\"}"] >= 1 &&
        m["uturn_relayed_packets_total{direction=\"to_client\"}"] >= kDown) {
      break;
    }
    // Waiting for the server's next once-a-second publication, a condition
    // polled with a deadline; nothing else to block on from outside.
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(m["uturn_allocations_active"], 1);
  EXPECT_EQ(m["uturn_allocations_created_total"], 1);
  EXPECT_EQ(m["uturn_permissions_active"], 1);  // ChannelBind installs one (RFC 8656 §12)
  EXPECT_EQ(m["uturn_channels_active"], 1);
  EXPECT_EQ(m["uturn_relayed_packets_total{direction=\"to_peer\"}"], kUp);
  EXPECT_EQ(m["uturn_relayed_packets_total{direction=\"to_client\"}"], kDown);
  EXPECT_EQ(m["uturn_relayed_bytes_total{direction=\"to_peer\"}"], kUp * payload.size());
  EXPECT_EQ(m["uturn_relayed_bytes_total{direction=\"to_client\"}"], kDown * payload.size());
  EXPECT_EQ(m["uturn_dropped_packets_total{reason=\"no_permission\"}"], 1);
  // Allocate twice (challenge, then authenticated) and ChannelBind.
  EXPECT_EQ(m["uturn_requests_total{method=\"allocate\"}"], 2);
  EXPECT_EQ(m["uturn_requests_total{method=\"channel_bind\"}"], 1);
  EXPECT_EQ(m["uturn_requests_total{method=\"refresh\"}"], 0);
  EXPECT_EQ(m["uturn_responses_total{method=\"allocate\",code=\"401\"}"], 1);
  EXPECT_EQ(m["uturn_responses_total{method=\"allocate\",code=\"200\"}"], 1);
  EXPECT_EQ(m["uturn_responses_total{method=\"channel_bind\",code=\"200\"}"], 1);
  EXPECT_EQ(m["uturn_client_messages_total{kind=\"channel_data\"}"], kUp);
  // A challenge is not a failure: every reason stays at 0.
  for (const auto& [series, value] : m) {
    if (series.rfind("uturn_auth_failures_total{", 0) == 0) {
      EXPECT_EQ(value, 0) << series;
    }
  }
  EXPECT_GE(m["uturn_metrics_publications_total"], 1);
}

TEST_F(MetricsTest, WrongPasswordCountsAnAuthFailure) {
  StartWithMetrics();
  TurnSession s(udp_, TurnConfigFor("u", "wrong"));
  const auto ev = s.Allocate();
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->kind, TurnEvent::Kind::kError);
  ASSERT_EQ(ev->error_code, 401);
  std::map<std::string, double> m;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    m = Scrape();
    if (m["uturn_auth_failures_total{reason=\"bad_integrity\"}"] >= 1) break;
    std::this_thread::sleep_for(milliseconds(100));  // next publication, polled
  }
  EXPECT_EQ(m["uturn_auth_failures_total{reason=\"bad_integrity\"}"], 1);
  EXPECT_EQ(m["uturn_auth_failures_total{reason=\"unknown_user\"}"], 0);
  EXPECT_EQ(m["uturn_allocations_created_total"], 0);
  // The challenge and the refusal.
  EXPECT_EQ(m["uturn_responses_total{method=\"allocate\",code=\"401\"}"], 2);
  EXPECT_EQ(m["uturn_responses_total{method=\"allocate\",code=\"200\"}"], 0);
}

TEST_F(MetricsTest, QuotaRefusalsAreCountedByQuota) {
  StartWithMetrics({"--user-quota", "1"});
  TurnSession first(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(first.Allocate()->kind, TurnEvent::Kind::kAllocated);
  TurnSession second(udp_, TurnConfigFor("u", "p"));
  const auto ev = second.Allocate();
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->error_code, 486);
  std::map<std::string, double> m;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    m = Scrape();
    if (m["uturn_quota_rejections_total{quota=\"user\"}"] >= 1) break;
    std::this_thread::sleep_for(milliseconds(100));  // next publication, polled
  }
  EXPECT_EQ(m["uturn_quota_rejections_total{quota=\"user\"}"], 1);
  EXPECT_EQ(m["uturn_quota_rejections_total{quota=\"total\"}"], 0);
  EXPECT_EQ(m["uturn_responses_total{method=\"allocate\",code=\"486\"}"], 1);
}

TEST(MetricsOff, NoExporterWithoutTheFlag) {
  ServerProcess server;
  std::string error;
  std::vector<std::string> args = BaseTurnArgs();
  args.push_back("--prometheus-port");
  args.push_back("0");
  ASSERT_TRUE(server.StartAndWaitReady(args, &error)) << error;
  for (const std::string& line : server.Lines()) {
    EXPECT_NE(LogField(line, "event"), "prometheus") << line;
  }
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(), 0) << server.Log();
}

TEST(MetricsOff, PortInUseExitsWithAnError) {
  // Hold a listening TCP socket on a port, then ask uturn for the same one.
  Fd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(holder.valid());
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::listen(holder.get(), 1), 0);
  const uint16_t port = LocalAddress(holder.get()).port;
  std::vector<std::string> args = BaseTurnArgs();
  args.insert(args.end(), {"--prometheus", "--prometheus-port", std::to_string(port)});
  const RunResult r = RunToCompletion(args);
  EXPECT_EQ(r.exit_status, 1) << r.err;
  EXPECT_NE(r.err.find("event=prometheus_failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.err;
}

}  // namespace
}  // namespace uturn::testing
