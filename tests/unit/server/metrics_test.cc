// The metrics collector: families, names, values, summing over shards; the
// per-shard slot; the exporter's start-up errors and one real scrape.
#include "server/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/check_names.h"
#include "prometheus/text_serializer.h"
#include "server/metrics_exporter.h"
#include "server/options.h"

namespace uturn::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The value of the series of `name` whose labels are exactly `labels`; -1 if absent.
double Value(const std::vector<MetricFamily>& families, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  const MetricFamily* f = Find(families, name);
  if (f == nullptr) return -1;
  for (const auto& m : f->metric) {
    std::map<std::string, std::string> got;
    for (const auto& l : m.label) got[l.name] = l.value;
    if (got != labels) continue;
    return f->type == MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  return -1;
}

// Every Stat set to a distinct value: base * (index + 1).
ShardCounters Distinct(uint64_t base) {
  ShardCounters s;
  for (size_t i = 0; i < kStatCount; ++i) s.scalar[i] = base * (i + 1);
  return s;
}

TEST(MakeShardCounters, MapsEveryCoreAndDriverField) {
  turn::TurnCounters c;
  c.allocations_active = 1;
  c.allocations_created = 2;
  c.allocations_expired = 3;
  c.allocations_deleted = 4;
  c.permissions_active = 5;
  c.channels_active = 6;
  c.requests = 7;
  c.responses_success = 8;
  c.responses_error = 9;
  c.auth_failures = 10;
  c.packets_to_peer = 11;
  c.bytes_to_peer = 12;
  c.packets_to_client = 13;
  c.bytes_to_client = 14;
  c.dropped_no_permission = 15;
  c.dropped_peer_policy = 16;
  c.dropped_bandwidth = 17;
  c.dropped_no_allocation = 18;
  c.dropped_malformed = 19;
  c.binding_success = 20;
  c.binding_errors = 21;
  c.binding_indications = 22;
  c.binding_dropped = 23;
  c.error_codes[437 - 300] = 24;
  const ShardCounters s = MakeShardCounters(c, DriverDrops{25, 26, 27});
  EXPECT_EQ(s[Stat::kAllocationsActive], 1u);
  EXPECT_EQ(s[Stat::kAllocationsCreated], 2u);
  EXPECT_EQ(s[Stat::kAllocationsExpired], 3u);
  EXPECT_EQ(s[Stat::kAllocationsDeleted], 4u);
  EXPECT_EQ(s[Stat::kPermissionsActive], 5u);
  EXPECT_EQ(s[Stat::kChannelsActive], 6u);
  EXPECT_EQ(s[Stat::kRequestsTurn], 7u);
  EXPECT_EQ(s[Stat::kResponsesTurnSuccess], 8u);
  EXPECT_EQ(s[Stat::kAuthFailures], 10u);
  EXPECT_EQ(s[Stat::kPacketsToPeer], 11u);
  EXPECT_EQ(s[Stat::kBytesToPeer], 12u);
  EXPECT_EQ(s[Stat::kPacketsToClient], 13u);
  EXPECT_EQ(s[Stat::kBytesToClient], 14u);
  EXPECT_EQ(s[Stat::kDroppedNoPermission], 15u);
  EXPECT_EQ(s[Stat::kDroppedPeerPolicy], 16u);
  EXPECT_EQ(s[Stat::kDroppedBandwidth], 17u);
  EXPECT_EQ(s[Stat::kDroppedNoAllocation], 18u);
  EXPECT_EQ(s[Stat::kDroppedMalformed], 19u);
  EXPECT_EQ(s[Stat::kResponsesBindingSuccess], 20u);
  EXPECT_EQ(s[Stat::kResponsesBindingError], 21u);
  EXPECT_EQ(s[Stat::kRequestsBinding], 41u);  // answered Binding requests: 20 + 21
  EXPECT_EQ(s.error_codes[437 - 300], 24u);
  EXPECT_EQ(s[Stat::kDroppedNoBuffers], 25u);
  EXPECT_EQ(s[Stat::kDroppedTruncated], 26u);
  EXPECT_EQ(s[Stat::kDroppedNoSendSlot], 27u);
}

TEST(CounterSlot, StartsAtZeroAndReadsBackWhatWasPublished) {
  CounterSlot slot;
  EXPECT_EQ(slot.publications(), 0u);
  EXPECT_EQ(slot.Read().scalar, ShardCounters{}.scalar);
  ShardCounters s = Distinct(3);
  s.error_codes[0] = 5;
  s.error_codes[kErrorCodeCount - 1] = 6;
  slot.Publish(s);
  slot.Publish(s);
  EXPECT_EQ(slot.publications(), 2u);
  const ShardCounters r = slot.Read();
  EXPECT_EQ(r.scalar, s.scalar);
  EXPECT_EQ(r.error_codes, s.error_codes);
}

TEST(CounterSlot, PublishIfDuePublishesAtMostOncePerInterval) {
  CounterSlot slot;
  int reads = 0;
  auto read = [&] {
    ++reads;
    ShardCounters s;
    s[Stat::kAllocationsCreated] = static_cast<uint64_t>(reads);
    return s;
  };
  constexpr int64_t kI = CounterSlot::kPublishIntervalNs;
  slot.PublishIfDue(5, read);  // the first turn publishes
  EXPECT_EQ(reads, 1);
  slot.PublishIfDue(5 + kI - 1, read);  // not yet: nothing is read either
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(slot.publications(), 1u);
  slot.PublishIfDue(5 + kI, read);
  EXPECT_EQ(reads, 2);
  EXPECT_EQ(slot.Read()[Stat::kAllocationsCreated], 2u);
  // A long idle gap publishes once, then the interval restarts from there.
  slot.PublishIfDue(100 * kI, read);
  slot.PublishIfDue(100 * kI + 1, read);
  EXPECT_EQ(slot.publications(), 3u);
}

TEST(CounterSlot, PublishIfDueWithTheRealClockPublishesTheFirstTime) {
  CounterSlot slot;
  ShardCounters s;
  s[Stat::kChannelsActive] = 8;
  slot.PublishIfDue([&] { return s; });
  EXPECT_EQ(slot.publications(), 1u);
  EXPECT_EQ(slot.Read()[Stat::kChannelsActive], 8u);
}

TEST(CounterSlot, ReaderOnAnotherThreadSeesOnlyPublishedValues) {
  // Every publication sets all fields to the same n; a reader may mix two
  // publications but never sees a value that was not published (TSan-clean).
  CounterSlot slot;
  constexpr uint64_t kLast = 2000;
  std::thread writer([&] {
    for (uint64_t n = 1; n <= kLast; ++n) {
      ShardCounters s;
      s.scalar.fill(n);
      slot.Publish(s);
    }
  });
  uint64_t previous = 0;
  while (slot.publications() < kLast) {
    const uint64_t v = slot.Read()[Stat::kPacketsToPeer];
    EXPECT_GE(v, previous);  // one writer: values never go back
    EXPECT_LE(v, kLast);
    previous = v;
  }
  writer.join();
  EXPECT_EQ(slot.Read()[Stat::kBytesToClient], kLast);
}

TEST(MetricsCollector, NamesTypesAndHelpFollowPrometheusConventions) {
  MetricsCollector collector("io_uring");
  const auto families = collector.Collect();
  std::set<std::string> names;
  for (const MetricFamily& f : families) {
    EXPECT_TRUE(prometheus::CheckMetricName(f.name)) << f.name;
    EXPECT_TRUE(f.name.rfind("uturn_", 0) == 0) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << "family twice: " << f.name;
    const bool total = f.name.size() > 6 && f.name.substr(f.name.size() - 6) == "_total";
    EXPECT_EQ(total, f.type == MetricType::Counter) << f.name;
    EXPECT_TRUE(f.type == MetricType::Counter || f.type == MetricType::Gauge) << f.name;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) EXPECT_TRUE(prometheus::CheckLabelName(l.name)) << l.name;
    }
  }
  const std::set<std::string> expected = {
      "uturn_allocations_active",        "uturn_allocations_created_total",
      "uturn_allocations_expired_total", "uturn_allocations_deleted_total",
      "uturn_permissions_active",        "uturn_channels_active",
      "uturn_requests_total",            "uturn_responses_total",
      "uturn_auth_failures_total",       "uturn_relayed_packets_total",
      "uturn_relayed_bytes_total",       "uturn_dropped_packets_total",
      "uturn_io_backend_info",           "uturn_shards",
      "uturn_metrics_publications_total"};
  EXPECT_EQ(names, expected);
}

TEST(MetricsCollector, NoSourcesGivesZerosTheBackendAndNoShards) {
  MetricsCollector collector("epoll");
  const auto f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_shards"), 0);
  EXPECT_EQ(Value(f, "uturn_io_backend_info", {{"backend", "epoll"}}), 1);
  EXPECT_EQ(Value(f, "uturn_allocations_active"), 0);
  EXPECT_EQ(Value(f, "uturn_relayed_packets_total", {{"direction", "to_peer"}}), 0);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 0);
}

TEST(MetricsCollector, DropReasonsAndDirectionsAreExactlyTheDocumentedOnes) {
  MetricsCollector collector("io_uring");
  const auto f = collector.Collect();
  auto label_values = [&](const std::string& family, const std::string& label) {
    std::set<std::string> out;
    for (const auto& m : Find(f, family)->metric) {
      for (const auto& l : m.label) {
        if (l.name == label) out.insert(l.value);
      }
    }
    return out;
  };
  EXPECT_EQ(label_values("uturn_dropped_packets_total", "reason"),
            (std::set<std::string>{"no_permission", "peer_policy", "bandwidth", "no_allocation",
                                   "malformed", "no_buffer", "truncated", "no_send_slot"}));
  EXPECT_EQ(label_values("uturn_relayed_bytes_total", "direction"),
            (std::set<std::string>{"to_peer", "to_client"}));
  EXPECT_EQ(label_values("uturn_requests_total", "method"),
            (std::set<std::string>{"binding", "turn"}));
}

TEST(MetricsCollector, SumsEverySeriesOverSeveralShards) {
  MetricsCollector collector("io_uring");
  // Three fake shards with values 1x, 10x and 100x the Stat's index + 1.
  for (uint64_t base : {1u, 10u, 100u}) {
    collector.AddSource({[base] { return Distinct(base); }, [base] { return base; }});
  }
  const auto f = collector.Collect();
  auto expect = [](Stat s) { return static_cast<double>(111 * (static_cast<size_t>(s) + 1)); };
  EXPECT_EQ(Value(f, "uturn_shards"), 3);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 111);
  EXPECT_EQ(Value(f, "uturn_allocations_active"), expect(Stat::kAllocationsActive));
  EXPECT_EQ(Value(f, "uturn_allocations_created_total"), expect(Stat::kAllocationsCreated));
  EXPECT_EQ(Value(f, "uturn_allocations_expired_total"), expect(Stat::kAllocationsExpired));
  EXPECT_EQ(Value(f, "uturn_allocations_deleted_total"), expect(Stat::kAllocationsDeleted));
  EXPECT_EQ(Value(f, "uturn_permissions_active"), expect(Stat::kPermissionsActive));
  EXPECT_EQ(Value(f, "uturn_channels_active"), expect(Stat::kChannelsActive));
  EXPECT_EQ(Value(f, "uturn_requests_total", {{"method", "binding"}}),
            expect(Stat::kRequestsBinding));
  EXPECT_EQ(Value(f, "uturn_requests_total", {{"method", "turn"}}), expect(Stat::kRequestsTurn));
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "binding"}, {"code", "200"}}),
            expect(Stat::kResponsesBindingSuccess));
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "binding"}, {"code", "4xx"}}),
            expect(Stat::kResponsesBindingError));
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "turn"}, {"code", "200"}}),
            expect(Stat::kResponsesTurnSuccess));
  EXPECT_EQ(Value(f, "uturn_auth_failures_total"), expect(Stat::kAuthFailures));
  EXPECT_EQ(Value(f, "uturn_relayed_packets_total", {{"direction", "to_peer"}}),
            expect(Stat::kPacketsToPeer));
  EXPECT_EQ(Value(f, "uturn_relayed_packets_total", {{"direction", "to_client"}}),
            expect(Stat::kPacketsToClient));
  EXPECT_EQ(Value(f, "uturn_relayed_bytes_total", {{"direction", "to_peer"}}),
            expect(Stat::kBytesToPeer));
  EXPECT_EQ(Value(f, "uturn_relayed_bytes_total", {{"direction", "to_client"}}),
            expect(Stat::kBytesToClient));
  const std::pair<const char*, Stat> drops[] = {
      {"no_permission", Stat::kDroppedNoPermission}, {"peer_policy", Stat::kDroppedPeerPolicy},
      {"bandwidth", Stat::kDroppedBandwidth},        {"no_allocation", Stat::kDroppedNoAllocation},
      {"malformed", Stat::kDroppedMalformed},        {"no_buffer", Stat::kDroppedNoBuffers},
      {"truncated", Stat::kDroppedTruncated},        {"no_send_slot", Stat::kDroppedNoSendSlot}};
  for (const auto& [reason, stat] : drops) {
    EXPECT_EQ(Value(f, "uturn_dropped_packets_total", {{"reason", reason}}), expect(stat))
        << reason;
  }
}

TEST(MetricsCollector, ErrorCodesWellKnownAlwaysOthersOnceSeenSummed) {
  MetricsCollector collector("io_uring");
  ShardCounters a, b;
  a.error_codes[401 - 300] = 2;
  b.error_codes[401 - 300] = 3;
  b.error_codes[599 - 300] = 7;  // not a code the core sends today
  collector.AddSource({[a] { return a; }, {}});
  collector.AddSource({[b] { return b; }, {}});
  auto f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "turn"}, {"code", "401"}}), 5);
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "turn"}, {"code", "599"}}), 7);
  for (int code : WellKnownErrorCodes()) {
    if (code == 401) continue;
    EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "turn"}, {"code", std::to_string(code)}}),
              0)
        << code;
  }
  // A code never sent and not well known has no series.
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "turn"}, {"code", "598"}}), -1);
  // Sources without a publication count add nothing to it.
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 0);
}

TEST(MetricsCollector, ReadsSlotsAtScrapeTime) {
  MetricsCollector collector("io_uring");
  CounterSlot s1, s2;
  collector.AddSlot(&s1);
  collector.AddSlot(&s2);
  EXPECT_EQ(Value(collector.Collect(), "uturn_allocations_created_total"), 0);
  ShardCounters c;
  c[Stat::kAllocationsCreated] = 4;
  s1.Publish(c);
  c[Stat::kAllocationsCreated] = 9;
  s2.Publish(c);
  s2.Publish(c);
  const auto f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_allocations_created_total"), 13);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 3);
}

TEST(MetricsCollector, TextFormatHasTypesAndSeries) {
  MetricsCollector collector("io_uring");
  ShardCounters c;
  c[Stat::kPacketsToPeer] = 42;
  collector.AddSource({[c] { return c; }, {}});
  const std::string text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_NE(text.find("# TYPE uturn_relayed_packets_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("uturn_relayed_packets_total{direction=\"to_peer\"} 42\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE uturn_allocations_active gauge\n"), std::string::npos);
  EXPECT_NE(text.find("uturn_io_backend_info{backend=\"io_uring\"} 1\n"), std::string::npos);
}

// ---- options ----

TEST(PrometheusOptions, OffByDefaultOnLoopbackPort9641) {
  const std::vector<std::string_view> none;
  auto c = ParseOptions(none);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->prometheus);
  EXPECT_EQ(c->prometheus_port, 9641);
  EXPECT_EQ(c->prometheus_ip, stun::SocketAddress::V4({127, 0, 0, 1}, 0));
}

TEST(PrometheusOptions, FlagPortAndIpAreParsed) {
  const std::vector<std::string_view> args = {"--prometheus", "--prometheus-port", "0",
                                              "--prometheus-ip", "::1"};
  auto c = ParseOptions(args);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->prometheus);
  EXPECT_EQ(c->prometheus_port, 0);
  EXPECT_EQ(c->prometheus_ip.family, stun::Family::kIPv6);
  EXPECT_EQ(c->prometheus_ip.IpString(), "::1");
}

TEST(PrometheusOptions, BadValuesNameTheOption) {
  const std::vector<std::string_view> port = {"--prometheus-port", "65536"};
  auto c = ParseOptions(port);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--prometheus-port"), std::string::npos) << c.status();
  const std::vector<std::string_view> ip = {"--prometheus-ip", "localhost"};
  c = ParseOptions(ip);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--prometheus-ip"), std::string::npos) << c.status();
}

// ---- exporter ----

std::string HttpGet(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, 5000) == 1) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return out;
}

TEST(MetricsExporter, ServesTheCollectorOnAnEphemeralPort) {
  auto collector = std::make_shared<MetricsCollector>("io_uring");
  ShardCounters c;
  c[Stat::kAllocationsCreated] = 17;
  collector->AddSource({[c] { return c; }, {}});
  auto e = MetricsExporter::Start(stun::SocketAddress::V4({127, 0, 0, 1}, 0), collector);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_NE((*e)->address().port, 0);
  EXPECT_EQ((*e)->address().IpString(), "127.0.0.1");
  const std::string reply = HttpGet((*e)->address().port, "/metrics");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("\nuturn_allocations_created_total 17\n"), std::string::npos) << reply;
}

TEST(Metrics, OneSlotPerShardSummedAndServed) {
  auto m = Metrics::Start(stun::SocketAddress::V4({127, 0, 0, 1}, 0), 2, "io_uring");
  ASSERT_TRUE(m.ok()) << m.status();
  ShardCounters c;
  c[Stat::kPacketsToClient] = 5;
  (*m)->slot(0)->Publish(c);
  c[Stat::kPacketsToClient] = 6;
  (*m)->slot(1)->Publish(c);
  const std::string reply = HttpGet((*m)->address().port, "/metrics");
  EXPECT_NE(reply.find("\nuturn_relayed_packets_total{direction=\"to_client\"} 11\n"),
            std::string::npos)
      << reply;
  EXPECT_NE(reply.find("\nuturn_shards 2\n"), std::string::npos) << reply;
  EXPECT_THROW((*m)->slot(2), std::out_of_range);
}

TEST(Metrics, StartFailsWhenTheAddressCannotBeBound) {
  auto m = Metrics::Start(stun::SocketAddress::V4({192, 0, 2, 1}, 0), 1, "io_uring");
  EXPECT_FALSE(m.ok());
}

TEST(MetricsExporter, PortInUseIsAnErrorNamingTheAddress) {
  auto collector = std::make_shared<MetricsCollector>("io_uring");
  auto first = MetricsExporter::Start(stun::SocketAddress::V4({127, 0, 0, 1}, 0), collector);
  ASSERT_TRUE(first.ok()) << first.status();
  const uint16_t port = (*first)->address().port;
  auto second = MetricsExporter::Start(stun::SocketAddress::V4({127, 0, 0, 1}, port), collector);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << second.status();
}

TEST(MetricsExporter, AddressNotOnThisHostIsAnError) {
  auto collector = std::make_shared<MetricsCollector>("io_uring");
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
  auto e = MetricsExporter::Start(stun::SocketAddress::V4({192, 0, 2, 1}, 0), collector);
  EXPECT_FALSE(e.ok());
}

}  // namespace
}  // namespace uturn::server
