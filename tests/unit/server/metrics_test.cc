// The metrics collector: families, names, values, summing over shards; the
// per-shard slot; the exporter's start-up errors and one real scrape.
#include "server/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
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

using turn::AuthFailure;
using turn::CountedMethod;
using turn::ResponseColumn;

std::array<uint64_t, kShardCounterWords> Words(const ShardCounters& s) {
  std::array<uint64_t, kShardCounterWords> w{};
  std::memcpy(w.data(), &s, sizeof s);
  return w;
}

// Every word of the struct set to base * (index + 1).
ShardCounters Distinct(uint64_t base) {
  std::array<uint64_t, kShardCounterWords> w{};
  for (size_t i = 0; i < w.size(); ++i) w[i] = base * (i + 1);
  ShardCounters s;
  std::memcpy(static_cast<void*>(&s), w.data(), sizeof s);
  return s;
}

std::set<std::string> LabelValues(const std::vector<MetricFamily>& f, const std::string& family,
                                  const std::string& label) {
  std::set<std::string> out;
  const MetricFamily* fam = Find(f, family);
  if (fam == nullptr) return out;
  for (const auto& m : fam->metric) {
    for (const auto& l : m.label) {
      if (l.name == label) out.insert(l.value);
    }
  }
  return out;
}

TEST(MakeShardCounters, CarriesTheCoreAndTheDriverCounters) {
  turn::TurnCounters c;
  c.allocations_created = 2;
  c.error_codes[437 - 300] = 24;
  c.requests_by_method[static_cast<size_t>(CountedMethod::kRefresh)] = 5;
  c.auth_failures_by_reason[static_cast<size_t>(AuthFailure::kBadIntegrity)] = 6;
  c.quota_rejections_user = 7;
  const ShardCounters s = MakeShardCounters(c, DriverDrops{25, 26, 27});
  EXPECT_EQ(s.core.allocations_created, 2u);
  EXPECT_EQ(s.core.error_codes[437 - 300], 24u);
  EXPECT_EQ(s.core.requests_by_method[static_cast<size_t>(CountedMethod::kRefresh)], 5u);
  EXPECT_EQ(s.core.auth_failures_by_reason[static_cast<size_t>(AuthFailure::kBadIntegrity)], 6u);
  EXPECT_EQ(s.core.quota_rejections_user, 7u);
  EXPECT_EQ(s.driver.no_buffers, 25u);
  EXPECT_EQ(s.driver.truncated, 26u);
  EXPECT_EQ(s.driver.no_send_slot, 27u);
}

TEST(ShardCounters, SumAddsEveryWord) {
  ShardCounters a = Distinct(1);
  a += Distinct(10);
  const auto w = Words(a);
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], 11 * (i + 1)) << i;
  // Spot checks through the named fields, at both ends of the struct.
  EXPECT_EQ(a.core.allocations_active, 11u);
  EXPECT_EQ(a.driver.tcp_closed_invalid, 11u * kShardCounterWords);
}

TEST(CounterSlot, StartsAtZeroAndReadsBackWhatWasPublished) {
  CounterSlot slot;
  EXPECT_EQ(slot.publications(), 0u);
  EXPECT_EQ(Words(slot.Read()), Words(ShardCounters{}));
  const ShardCounters s = Distinct(3);
  slot.Publish(s);
  slot.Publish(s);
  EXPECT_EQ(slot.publications(), 2u);
  EXPECT_EQ(Words(slot.Read()), Words(s));
}

TEST(CounterSlot, PublishIfDuePublishesAtMostOncePerInterval) {
  CounterSlot slot;
  int reads = 0;
  auto read = [&] {
    ++reads;
    ShardCounters s;
    s.core.allocations_created = static_cast<uint64_t>(reads);
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
  EXPECT_EQ(slot.Read().core.allocations_created, 2u);
  // A long idle gap publishes once, then the interval restarts from there.
  slot.PublishIfDue(100 * kI, read);
  slot.PublishIfDue(100 * kI + 1, read);
  EXPECT_EQ(slot.publications(), 3u);
}

TEST(CounterSlot, PublishIfDueWithTheRealClockPublishesTheFirstTime) {
  CounterSlot slot;
  ShardCounters s;
  s.core.channels_active = 8;
  slot.PublishIfDue([&] { return s; });
  EXPECT_EQ(slot.publications(), 1u);
  EXPECT_EQ(slot.Read().core.channels_active, 8u);
}

TEST(CounterSlot, ReaderOnAnotherThreadSeesOnlyPublishedValues) {
  // Every publication sets all fields to the same n; a reader may mix two
  // publications but never sees a value that was not published (TSan-clean).
  CounterSlot slot;
  constexpr uint64_t kLast = 2000;
  std::thread writer([&] {
    for (uint64_t n = 1; n <= kLast; ++n) {
      std::array<uint64_t, kShardCounterWords> w;
      w.fill(n);
      ShardCounters s;
      std::memcpy(static_cast<void*>(&s), w.data(), sizeof s);
      slot.Publish(s);
    }
  });
  uint64_t previous = 0;
  while (slot.publications() < kLast) {
    const uint64_t v = slot.Read().core.packets_to_peer;
    EXPECT_GE(v, previous);  // one writer: values never go back
    EXPECT_LE(v, kLast);
    previous = v;
  }
  writer.join();
  EXPECT_EQ(slot.Read().driver.no_send_slot, kLast);
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
    std::set<std::vector<std::pair<std::string, std::string>>> label_sets;
    for (const auto& m : f.metric) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (const auto& l : m.label) {
        EXPECT_TRUE(prometheus::CheckLabelName(l.name)) << l.name;
        EXPECT_FALSE(l.value.empty()) << f.name << " " << l.name;
        labels.emplace_back(l.name, l.value);
      }
      EXPECT_TRUE(label_sets.insert(labels).second) << "series twice in " << f.name;
    }
  }
  const std::set<std::string> expected = {
      "uturn_allocations_active",        "uturn_allocations_created_total",
      "uturn_allocations_expired_total", "uturn_allocations_deleted_total",
      "uturn_permissions_active",        "uturn_channels_active",
      "uturn_requests_total",            "uturn_responses_total",
      "uturn_client_messages_total",     "uturn_retransmissions_answered_total",
      "uturn_auth_failures_total",       "uturn_quota_rejections_total",
      "uturn_relayed_packets_total",     "uturn_relayed_bytes_total",
      "uturn_dropped_packets_total",     "uturn_io_backend_info",
      "uturn_shards",                    "uturn_metrics_publications_total",
      "uturn_allocations_released_total", "uturn_tcp_connections_refused_total",
      "uturn_tcp_connections_closed_total"};
  EXPECT_EQ(names, expected);
}

TEST(MetricsCollector, NoSourcesGivesZerosTheBackendAndNoShards) {
  MetricsCollector collector("epoll");
  const auto f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_shards"), 0);
  EXPECT_EQ(Value(f, "uturn_io_backend_info", {{"backend", "epoll"}}), 1);
  EXPECT_EQ(Value(f, "uturn_allocations_active"), 0);
  EXPECT_EQ(Value(f, "uturn_relayed_packets_total", {{"direction", "to_peer"}}), 0);
  EXPECT_EQ(Value(f, "uturn_requests_total", {{"method", "allocate"}}), 0);
  EXPECT_EQ(Value(f, "uturn_auth_failures_total", {{"reason", "bad_integrity"}}), 0);
  EXPECT_EQ(Value(f, "uturn_quota_rejections_total", {{"quota", "user"}}), 0);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 0);
}

TEST(MetricsCollector, LabelValuesAreExactlyTheDocumentedOnes) {
  MetricsCollector collector("io_uring");
  const auto f = collector.Collect();
  EXPECT_EQ(LabelValues(f, "uturn_dropped_packets_total", "reason"),
            (std::set<std::string>{"no_permission", "peer_policy", "bandwidth", "no_allocation",
                                   "malformed", "no_buffer", "truncated", "no_send_slot",
                                   "tcp_backpressure"}));
  EXPECT_EQ(LabelValues(f, "uturn_allocations_released_total", "reason"),
            (std::set<std::string>{"connection_closed"}));
  EXPECT_EQ(LabelValues(f, "uturn_tcp_connections_refused_total", "reason"),
            (std::set<std::string>{"limit", "per_ip"}));
  EXPECT_EQ(LabelValues(f, "uturn_tcp_connections_closed_total", "reason"),
            (std::set<std::string>{"allocate_timeout", "allocation_expired", "idle", "backlog",
                                   "invalid"}));
  EXPECT_EQ(LabelValues(f, "uturn_relayed_bytes_total", "direction"),
            (std::set<std::string>{"to_peer", "to_client"}));
  EXPECT_EQ(LabelValues(f, "uturn_requests_total", "method"),
            (std::set<std::string>{"binding", "allocate", "refresh", "create_permission",
                                   "channel_bind"}));
  EXPECT_EQ(LabelValues(f, "uturn_responses_total", "method"),
            (std::set<std::string>{"binding", "allocate", "refresh", "create_permission",
                                   "channel_bind"}));
  std::set<std::string> codes = {"200"};
  for (int code : WellKnownErrorCodes()) codes.insert(std::to_string(code));
  EXPECT_EQ(LabelValues(f, "uturn_responses_total", "code"), codes);
  EXPECT_EQ(LabelValues(f, "uturn_auth_failures_total", "reason"),
            (std::set<std::string>{"missing_credentials", "malformed_credentials",
                                   "bad_password_algorithm", "wrong_realm", "bad_nonce",
                                   "stale_nonce", "unknown_user", "bad_integrity",
                                   "no_sha256_key", "rest_expired", "rest_malformed",
                                   "wrong_credentials"}));
  EXPECT_EQ(LabelValues(f, "uturn_quota_rejections_total", "quota"),
            (std::set<std::string>{"user", "total"}));
  EXPECT_EQ(LabelValues(f, "uturn_client_messages_total", "kind"),
            (std::set<std::string>{"send_indication", "channel_data", "binding_indication"}));
}

// Three fake shards with every word distinct (1x, 10x, 100x): each series
// is the sum of its own field.
TEST(MetricsCollector, SumsEverySeriesOverSeveralShards) {
  MetricsCollector collector("io_uring");
  for (uint64_t base : {1u, 10u, 100u}) {
    collector.AddSource({[base] { return Distinct(base); }, [base] { return base; }});
  }
  const auto f = collector.Collect();
  ShardCounters sum = Distinct(1);
  sum += Distinct(10);
  sum += Distinct(100);
  const turn::TurnCounters& c = sum.core;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  EXPECT_EQ(Value(f, "uturn_shards"), 3);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 111);
  EXPECT_EQ(Value(f, "uturn_allocations_active"), d(c.allocations_active));
  EXPECT_EQ(Value(f, "uturn_allocations_created_total"), d(c.allocations_created));
  EXPECT_EQ(Value(f, "uturn_allocations_expired_total"), d(c.allocations_expired));
  EXPECT_EQ(Value(f, "uturn_allocations_deleted_total"), d(c.allocations_deleted));
  EXPECT_EQ(Value(f, "uturn_permissions_active"), d(c.permissions_active));
  EXPECT_EQ(Value(f, "uturn_channels_active"), d(c.channels_active));
  EXPECT_EQ(Value(f, "uturn_retransmissions_answered_total"),
            d(c.retransmits_answered_from_cache));
  EXPECT_EQ(Value(f, "uturn_client_messages_total", {{"kind", "send_indication"}}),
            d(c.send_indications));
  EXPECT_EQ(Value(f, "uturn_client_messages_total", {{"kind", "channel_data"}}),
            d(c.channel_data));
  EXPECT_EQ(Value(f, "uturn_client_messages_total", {{"kind", "binding_indication"}}),
            d(c.binding_indications));
  EXPECT_EQ(Value(f, "uturn_quota_rejections_total", {{"quota", "user"}}),
            d(c.quota_rejections_user));
  EXPECT_EQ(Value(f, "uturn_quota_rejections_total", {{"quota", "total"}}),
            d(c.quota_rejections_total));
  EXPECT_EQ(Value(f, "uturn_relayed_packets_total", {{"direction", "to_peer"}}),
            d(c.packets_to_peer));
  EXPECT_EQ(Value(f, "uturn_relayed_packets_total", {{"direction", "to_client"}}),
            d(c.packets_to_client));
  EXPECT_EQ(Value(f, "uturn_relayed_bytes_total", {{"direction", "to_peer"}}),
            d(c.bytes_to_peer));
  EXPECT_EQ(Value(f, "uturn_relayed_bytes_total", {{"direction", "to_client"}}),
            d(c.bytes_to_client));
  const std::pair<const char*, uint64_t> drops[] = {
      {"no_permission", c.dropped_no_permission}, {"peer_policy", c.dropped_peer_policy},
      {"bandwidth", c.dropped_bandwidth},         {"no_allocation", c.dropped_no_allocation},
      {"malformed", c.dropped_malformed},         {"no_buffer", sum.driver.no_buffers},
      {"truncated", sum.driver.truncated},        {"no_send_slot", sum.driver.no_send_slot},
      {"tcp_backpressure", sum.driver.tcp_backpressure}};
  for (const auto& [reason, v] : drops) {
    EXPECT_EQ(Value(f, "uturn_dropped_packets_total", {{"reason", reason}}), d(v)) << reason;
  }
  EXPECT_EQ(Value(f, "uturn_allocations_released_total", {{"reason", "connection_closed"}}),
            d(c.allocations_released_connection_closed));
  EXPECT_EQ(Value(f, "uturn_tcp_connections_refused_total", {{"reason", "limit"}}),
            d(sum.driver.tcp_refused_limit));
  EXPECT_EQ(Value(f, "uturn_tcp_connections_refused_total", {{"reason", "per_ip"}}),
            d(sum.driver.tcp_refused_per_ip));
  const std::pair<const char*, uint64_t> closes[] = {
      {"allocate_timeout", sum.driver.tcp_closed_allocate_timeout},
      {"allocation_expired", sum.driver.tcp_closed_allocation_expired},
      {"idle", sum.driver.tcp_closed_idle},
      {"backlog", sum.driver.tcp_closed_backlog},
      {"invalid", sum.driver.tcp_closed_invalid}};
  for (const auto& [reason, v] : closes) {
    EXPECT_EQ(Value(f, "uturn_tcp_connections_closed_total", {{"reason", reason}}), d(v))
        << reason;
  }
  for (size_t m = 0; m < turn::kCountedMethodCount; ++m) {
    const auto method = static_cast<CountedMethod>(m);
    const std::string name(turn::CountedMethodName(method));
    if (method != CountedMethod::kOther) {
      EXPECT_EQ(Value(f, "uturn_requests_total", {{"method", name}}), d(c.requests_by_method[m]))
          << name;
    }
    EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", name}, {"code", "200"}}),
              d(c.responses[m][turn::kSuccessColumn]))
        << name;
    for (int code : WellKnownErrorCodes()) {
      EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", name}, {"code", std::to_string(code)}}),
                d(c.responses[m][ResponseColumn(code)]))
          << name << " " << code;
    }
    EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", name}, {"code", "other"}}),
              d(c.responses[m][turn::kOtherCodeColumn]))
        << name;
  }
  for (size_t r = 1; r < turn::kAuthFailureCount; ++r) {
    const std::string reason(turn::AuthFailureName(static_cast<AuthFailure>(r)));
    EXPECT_EQ(Value(f, "uturn_auth_failures_total", {{"reason", reason}}),
              d(c.auth_failures_by_reason[r]))
        << reason;
  }
}

TEST(MetricsCollector, ResponsesWellKnownAlwaysOthersOnceSeenSummed) {
  MetricsCollector collector("io_uring");
  ShardCounters a, b;
  const size_t allocate = static_cast<size_t>(CountedMethod::kAllocate);
  const size_t other = static_cast<size_t>(CountedMethod::kOther);
  a.core.responses[allocate][ResponseColumn(401)] = 2;
  b.core.responses[allocate][ResponseColumn(401)] = 3;
  b.core.responses[allocate][turn::kOtherCodeColumn] = 7;  // a code outside the list
  collector.AddSource({[a] { return a; }, {}});
  collector.AddSource({[b] { return b; }, {}});
  auto f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "allocate"}, {"code", "401"}}), 5);
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "allocate"}, {"code", "other"}}), 7);
  for (int code : WellKnownErrorCodes()) {
    if (code == 401) continue;
    EXPECT_EQ(
        Value(f, "uturn_responses_total", {{"method", "refresh"}, {"code", std::to_string(code)}}),
        0)
        << code;
  }
  // Unused "other" column or method row: no series.
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "refresh"}, {"code", "other"}}), -1);
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "other"}, {"code", "400"}}), -1);
  // Once used, the "other" method row shows what it has.
  ShardCounters c;
  c.core.responses[other][ResponseColumn(400)] = 4;
  collector.AddSource({[c] { return c; }, {}});
  f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "other"}, {"code", "400"}}), 4);
  EXPECT_EQ(Value(f, "uturn_responses_total", {{"method", "other"}, {"code", "401"}}), -1);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 0);
}

TEST(MetricsCollector, ReadsSlotsAtScrapeTime) {
  MetricsCollector collector("io_uring");
  CounterSlot s1, s2;
  collector.AddSlot(&s1);
  collector.AddSlot(&s2);
  EXPECT_EQ(Value(collector.Collect(), "uturn_allocations_created_total"), 0);
  ShardCounters c;
  c.core.allocations_created = 4;
  s1.Publish(c);
  c.core.allocations_created = 9;
  s2.Publish(c);
  s2.Publish(c);
  const auto f = collector.Collect();
  EXPECT_EQ(Value(f, "uturn_allocations_created_total"), 13);
  EXPECT_EQ(Value(f, "uturn_metrics_publications_total"), 3);
}

TEST(MetricsCollector, TextFormatHasTypesAndSeries) {
  MetricsCollector collector("io_uring");
  ShardCounters c;
  c.core.packets_to_peer = 42;
  c.core.auth_failures_by_reason[static_cast<size_t>(AuthFailure::kBadIntegrity)] = 3;
  collector.AddSource({[c] { return c; }, {}});
  const std::string text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_NE(text.find("# TYPE uturn_relayed_packets_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("uturn_relayed_packets_total{direction=\"to_peer\"} 42\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("uturn_auth_failures_total{reason=\"bad_integrity\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("uturn_responses_total{method=\"allocate\",code=\"200\"} 0\n"),
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
  c.core.allocations_created = 17;
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
  c.core.packets_to_client = 5;
  (*m)->slot(0)->Publish(c);
  c.core.packets_to_client = 6;
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
