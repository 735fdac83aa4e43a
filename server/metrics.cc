#include "server/metrics.h"

#include <time.h>

#include <cassert>
#include <cstring>
#include <string>
#include <utility>

namespace uturn::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using turn::TurnCounters;

// A plain series: one value of the summed counters.
struct Row {
  std::string_view family;
  MetricType type;
  std::string_view help;  // on the first row of a family only
  std::string_view label, value;  // "" = no label
  uint64_t (*read)(const ShardCounters&);
};

#define CORE(field) [](const ShardCounters& s) { return s.core.field; }
#define DRIVER(field) [](const ShardCounters& s) { return s.driver.field; }

constexpr std::string_view kDropped = "uturn_dropped_packets_total";

// Rows of the same family are consecutive (FamilyFor relies on it).
// clang-format off
constexpr Row kRows[] = {
    {"uturn_allocations_active", MetricType::Gauge, "Allocations that exist now.", "", "",
     CORE(allocations_active)},
    {"uturn_allocations_created_total", MetricType::Counter,
     "Allocations created (successful Allocate requests).", "", "", CORE(allocations_created)},
    {"uturn_allocations_expired_total", MetricType::Counter,
     "Allocations whose lifetime ran out (RFC 8656 §7).", "", "", CORE(allocations_expired)},
    {"uturn_allocations_deleted_total", MetricType::Counter,
     "Allocations deleted by a Refresh with LIFETIME 0 (RFC 8656 §8).", "", "",
     CORE(allocations_deleted)},
    {"uturn_allocations_released_total", MetricType::Counter,
     "Allocations released because their TCP connection closed (RFC 8656 §3.1).", "reason",
     "connection_closed", CORE(allocations_released_connection_closed)},
    {"uturn_tcp_connections_refused_total", MetricType::Counter,
     "TCP connections closed on accept, by the cap reached.", "reason", "limit",
     DRIVER(tcp_refused_limit)},
    {"uturn_tcp_connections_refused_total", MetricType::Counter, "", "reason", "per_ip",
     DRIVER(tcp_refused_per_ip)},
    {"uturn_tcp_connections_closed_total", MetricType::Counter,
     "TCP connections the server closed, by reason (client closes are not counted here).",
     "reason", "allocate_timeout", DRIVER(tcp_closed_allocate_timeout)},
    {"uturn_tcp_connections_closed_total", MetricType::Counter, "", "reason",
     "allocation_expired", DRIVER(tcp_closed_allocation_expired)},
    {"uturn_tcp_connections_closed_total", MetricType::Counter, "", "reason", "idle",
     DRIVER(tcp_closed_idle)},
    {"uturn_tcp_connections_closed_total", MetricType::Counter, "", "reason", "backlog",
     DRIVER(tcp_closed_backlog)},
    {"uturn_tcp_connections_closed_total", MetricType::Counter, "", "reason", "invalid",
     DRIVER(tcp_closed_invalid)},
    {"uturn_permissions_active", MetricType::Gauge,
     "Permissions installed now, over all allocations.", "", "", CORE(permissions_active)},
    {"uturn_channels_active", MetricType::Gauge, "Channels bound now, over all allocations.",
     "", "", CORE(channels_active)},
    {"uturn_client_messages_total", MetricType::Counter,
     "Indications and ChannelData received from clients, by kind.", "kind", "send_indication",
     CORE(send_indications)},
    {"uturn_client_messages_total", MetricType::Counter, "", "kind", "channel_data",
     CORE(channel_data)},
    {"uturn_client_messages_total", MetricType::Counter, "", "kind", "binding_indication",
     CORE(binding_indications)},
    {"uturn_retransmissions_answered_total", MetricType::Counter,
     "Retransmitted requests answered from the response cache (RFC 8489 §6.3.1).", "", "",
     CORE(retransmits_answered_from_cache)},
    {"uturn_quota_rejections_total", MetricType::Counter,
     "Allocate requests refused with 486, by the quota reached (RFC 8656 §7.2).", "quota",
     "user", CORE(quota_rejections_user)},
    {"uturn_quota_rejections_total", MetricType::Counter, "", "quota", "total",
     CORE(quota_rejections_total)},
    {"uturn_relayed_packets_total", MetricType::Counter, "Packets relayed, by direction.",
     "direction", "to_peer", CORE(packets_to_peer)},
    {"uturn_relayed_packets_total", MetricType::Counter, "", "direction", "to_client",
     CORE(packets_to_client)},
    {"uturn_relayed_bytes_total", MetricType::Counter, "Payload bytes relayed, by direction.",
     "direction", "to_peer", CORE(bytes_to_peer)},
    {"uturn_relayed_bytes_total", MetricType::Counter, "", "direction", "to_client",
     CORE(bytes_to_client)},
    {kDropped, MetricType::Counter, "Packets dropped, by reason.", "reason", "no_permission",
     CORE(dropped_no_permission)},
    {kDropped, MetricType::Counter, "", "reason", "peer_policy", CORE(dropped_peer_policy)},
    {kDropped, MetricType::Counter, "", "reason", "bandwidth", CORE(dropped_bandwidth)},
    {kDropped, MetricType::Counter, "", "reason", "no_allocation", CORE(dropped_no_allocation)},
    {kDropped, MetricType::Counter, "", "reason", "malformed", CORE(dropped_malformed)},
    {kDropped, MetricType::Counter, "", "reason", "no_buffer", DRIVER(no_buffers)},
    {kDropped, MetricType::Counter, "", "reason", "truncated", DRIVER(truncated)},
    {kDropped, MetricType::Counter, "", "reason", "no_send_slot", DRIVER(no_send_slot)},
    {kDropped, MetricType::Counter, "", "reason", "tcp_backpressure", DRIVER(tcp_backpressure)},
};
// clang-format on

#undef CORE
#undef DRIVER

MetricFamily& FamilyFor(std::vector<MetricFamily>& families, std::string_view name,
                        MetricType type, std::string_view help) {
  if (families.empty() || families.back().name != name) {
    MetricFamily f;
    f.name = std::string(name);
    f.help = std::string(help);
    f.type = type;
    families.push_back(std::move(f));
  }
  assert(families.back().type == type);
  return families.back();
}

void AddSample(MetricFamily& family, double value,
               std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  ClientMetric m;
  for (const auto& [name, v] : labels) {
    if (!name.empty()) m.label.push_back({std::string(name), std::string(v)});
  }
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

double D(uint64_t v) { return static_cast<double>(v); }

// The tables of the core: requests and responses by method (and code),
// authentication failures by reason.
void AddTables(std::vector<MetricFamily>& families, const TurnCounters& c) {
  using turn::CountedMethod;
  MetricFamily& requests = FamilyFor(families, "uturn_requests_total", MetricType::Counter,
                                     "STUN/TURN requests received, by method.");
  for (size_t m = 0; m < turn::kCountedMethodCount; ++m) {
    const auto method = static_cast<CountedMethod>(m);
    if (method == CountedMethod::kOther) continue;  // other methods are dropped, never 0+
    AddSample(requests, D(c.requests_by_method[m]),
              {{"method", turn::CountedMethodName(method)}});
  }

  MetricFamily& responses =
      FamilyFor(families, "uturn_responses_total", MetricType::Counter,
                "Responses sent, by method and code (200: success).");
  for (size_t m = 0; m < turn::kCountedMethodCount; ++m) {
    const auto method = static_cast<CountedMethod>(m);
    const std::string_view name = turn::CountedMethodName(method);
    const auto& row = c.responses[m];
    // The "other" row and column exist for completeness; shown once used.
    const bool always = method != CountedMethod::kOther;
    if (always || row[turn::kSuccessColumn] > 0) {
      AddSample(responses, D(row[turn::kSuccessColumn]), {{"method", name}, {"code", "200"}});
    }
    for (int code : turn::kCountedErrorCodes) {
      const uint64_t v = row[turn::ResponseColumn(code)];
      if (!always && v == 0) continue;
      const std::string text = std::to_string(code);
      AddSample(responses, D(v), {{"method", name}, {"code", text}});
    }
    if (row[turn::kOtherCodeColumn] > 0) {
      AddSample(responses, D(row[turn::kOtherCodeColumn]), {{"method", name}, {"code", "other"}});
    }
  }

  MetricFamily& auth = FamilyFor(
      families, "uturn_auth_failures_total", MetricType::Counter,
      "Requests refused for their credentials, by reason (401, 400, 441; 438 for nonces:"
      " stale_nonce is routine, clients retry).");
  for (size_t r = 1; r < turn::kAuthFailureCount; ++r) {
    AddSample(auth, D(c.auth_failures_by_reason[r]),
              {{"reason", turn::AuthFailureName(static_cast<turn::AuthFailure>(r))}});
  }
}

// The struct as words, for publication.
std::array<uint64_t, kShardCounterWords> Words(const ShardCounters& s) {
  std::array<uint64_t, kShardCounterWords> w{};
  std::memcpy(w.data(), &s, sizeof s);
  return w;
}
ShardCounters FromWords(const std::array<uint64_t, kShardCounterWords>& w) {
  ShardCounters s;
  std::memcpy(static_cast<void*>(&s), w.data(), sizeof s);
  return s;
}

}  // namespace

ShardCounters& ShardCounters::operator+=(const ShardCounters& other) {
  std::array<uint64_t, kShardCounterWords> a = Words(*this);
  const std::array<uint64_t, kShardCounterWords> b = Words(other);
  for (size_t i = 0; i < kShardCounterWords; ++i) a[i] += b[i];
  *this = FromWords(a);
  return *this;
}

ShardCounters MakeShardCounters(const turn::TurnCounters& core, const DriverDrops& driver) {
  return ShardCounters{core, driver};
}

void CounterSlot::Publish(const ShardCounters& counters) {
  const std::array<uint64_t, kShardCounterWords> w = Words(counters);
  for (size_t i = 0; i < kShardCounterWords; ++i) {
    values_[i].store(w[i], std::memory_order_relaxed);
  }
  // Single writer: a load and a store, no read-modify-write needed.
  publications_.store(publications_.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
}

int64_t CounterSlot::CoarseMonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

ShardCounters CounterSlot::Read() const {
  std::array<uint64_t, kShardCounterWords> w{};
  for (size_t i = 0; i < kShardCounterWords; ++i) {
    w[i] = values_[i].load(std::memory_order_relaxed);
  }
  return FromWords(w);
}

std::span<const int> WellKnownErrorCodes() { return turn::kCountedErrorCodes; }

MetricsCollector::MetricsCollector(std::string backend) : backend_(std::move(backend)) {}

void MetricsCollector::AddSource(Source source) {
  assert(source.read);
  std::lock_guard<std::mutex> lock(mutex_);
  sources_.push_back(std::move(source));
}

void MetricsCollector::AddSlot(const CounterSlot* slot) {
  assert(slot != nullptr);
  AddSource({[slot] { return slot->Read(); }, [slot] { return slot->publications(); }});
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  ShardCounters sum;
  uint64_t publications = 0;
  size_t shards = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shards = sources_.size();
    for (const Source& source : sources_) {
      sum += source.read();
      if (source.publications) publications += source.publications();
    }
  }

  std::vector<MetricFamily> families;
  for (const Row& row : kRows) {
    MetricFamily& f = FamilyFor(families, row.family, row.type, row.help);
    AddSample(f, D(row.read(sum)), {{row.label, row.value}});
  }
  AddTables(families, sum.core);

  AddSample(FamilyFor(families, "uturn_io_backend_info", MetricType::Gauge,
                      "The I/O backend in use (value always 1)."),
            1, {{"backend", backend_}});
  AddSample(FamilyFor(families, "uturn_shards", MetricType::Gauge,
                      "Shards whose counters are summed here."),
            static_cast<double>(shards), {});
  AddSample(FamilyFor(families, "uturn_metrics_publications_total", MetricType::Counter,
                      "Counter snapshots published by the shards (about one per shard per"
                      " second; stalls if a shard's loop stalls)."),
            static_cast<double>(publications), {});
  return families;
}

}  // namespace uturn::server
