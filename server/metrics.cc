#include "server/metrics.h"

#include <time.h>

#include <cassert>
#include <utility>

#include "stun/constants.h"

namespace uturn::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One exported series per Stat. Rows of the same family are consecutive.
struct Row {
  Stat stat;
  std::string_view family;
  MetricType type;
  std::string_view help;
  std::string_view label, value;      // "" = no label
  std::string_view label2, value2;    // "" = no second label
};

constexpr std::string_view kResponses = "uturn_responses_total";

// clang-format off
constexpr Row kRows[] = {
    {Stat::kAllocationsActive, "uturn_allocations_active", MetricType::Gauge,
     "Allocations that exist now.", "", "", "", ""},
    {Stat::kAllocationsCreated, "uturn_allocations_created_total", MetricType::Counter,
     "Allocations created (successful Allocate requests).", "", "", "", ""},
    {Stat::kAllocationsExpired, "uturn_allocations_expired_total", MetricType::Counter,
     "Allocations whose lifetime ran out (RFC 8656 §7).", "", "", "", ""},
    {Stat::kAllocationsDeleted, "uturn_allocations_deleted_total", MetricType::Counter,
     "Allocations deleted by a Refresh with LIFETIME 0 (RFC 8656 §8).", "", "", "", ""},
    {Stat::kPermissionsActive, "uturn_permissions_active", MetricType::Gauge,
     "Permissions installed now, over all allocations.", "", "", "", ""},
    {Stat::kChannelsActive, "uturn_channels_active", MetricType::Gauge,
     "Channels bound now, over all allocations.", "", "", "", ""},
    {Stat::kRequestsBinding, "uturn_requests_total", MetricType::Counter,
     "STUN requests received, by method (turn: every TURN method together).",
     "method", "binding", "", ""},
    {Stat::kRequestsTurn, "uturn_requests_total", MetricType::Counter, "",
     "method", "turn", "", ""},
    {Stat::kResponsesBindingSuccess, kResponses, MetricType::Counter,
     "Responses sent, by method and code (200: success; binding errors: 4xx).",
     "method", "binding", "code", "200"},
    {Stat::kResponsesBindingError, kResponses, MetricType::Counter, "",
     "method", "binding", "code", "4xx"},
    {Stat::kResponsesTurnSuccess, kResponses, MetricType::Counter, "",
     "method", "turn", "code", "200"},
    {Stat::kAuthFailures, "uturn_auth_failures_total", MetricType::Counter,
     "Requests refused for bad credentials (401 after a challenge, 400, 441).", "", "", "", ""},
    {Stat::kPacketsToPeer, "uturn_relayed_packets_total", MetricType::Counter,
     "Packets relayed, by direction.", "direction", "to_peer", "", ""},
    {Stat::kPacketsToClient, "uturn_relayed_packets_total", MetricType::Counter, "",
     "direction", "to_client", "", ""},
    {Stat::kBytesToPeer, "uturn_relayed_bytes_total", MetricType::Counter,
     "Payload bytes relayed, by direction.", "direction", "to_peer", "", ""},
    {Stat::kBytesToClient, "uturn_relayed_bytes_total", MetricType::Counter, "",
     "direction", "to_client", "", ""},
    {Stat::kDroppedNoPermission, "uturn_dropped_packets_total", MetricType::Counter,
     "Packets dropped, by reason.", "reason", "no_permission", "", ""},
    {Stat::kDroppedPeerPolicy, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "peer_policy", "", ""},
    {Stat::kDroppedBandwidth, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "bandwidth", "", ""},
    {Stat::kDroppedNoAllocation, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "no_allocation", "", ""},
    {Stat::kDroppedMalformed, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "malformed", "", ""},
    {Stat::kDroppedNoBuffers, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "no_buffer", "", ""},
    {Stat::kDroppedTruncated, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "truncated", "", ""},
    {Stat::kDroppedNoSendSlot, "uturn_dropped_packets_total", MetricType::Counter, "",
     "reason", "no_send_slot", "", ""},
};
// clang-format on
static_assert(std::size(kRows) == kStatCount, "one row per Stat");

constexpr int kWellKnownErrorCodes[] = {
    stun::error::kBadRequest,                     // RFC 8489 §14.8
    stun::error::kUnauthorized,
    stun::error::kForbidden,                      // RFC 8656 §17: peer policy
    stun::error::kUnknownAttribute,
    stun::error::kAllocationMismatch,             // RFC 8656 §17
    stun::error::kStaleNonce,
    stun::error::kAddressFamilyNotSupported,
    stun::error::kWrongCredentials,
    stun::error::kUnsupportedTransportProtocol,
    stun::error::kPeerAddressFamilyMismatch,
    stun::error::kAllocationQuotaReached,
    stun::error::kServerError,
    stun::error::kInsufficientCapacity,
};

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

}  // namespace

ShardCounters& ShardCounters::operator+=(const ShardCounters& other) {
  for (size_t i = 0; i < kStatCount; ++i) scalar[i] += other.scalar[i];
  for (size_t i = 0; i < kErrorCodeCount; ++i) error_codes[i] += other.error_codes[i];
  return *this;
}

ShardCounters MakeShardCounters(const turn::TurnCounters& core, const DriverDrops& driver) {
  static_assert(std::tuple_size_v<decltype(core.error_codes)> == kErrorCodeCount);
  ShardCounters s;
  s[Stat::kAllocationsActive] = core.allocations_active;
  s[Stat::kAllocationsCreated] = core.allocations_created;
  s[Stat::kAllocationsExpired] = core.allocations_expired;
  s[Stat::kAllocationsDeleted] = core.allocations_deleted;
  s[Stat::kPermissionsActive] = core.permissions_active;
  s[Stat::kChannelsActive] = core.channels_active;
  s[Stat::kRequestsBinding] = core.binding_success + core.binding_errors;
  s[Stat::kRequestsTurn] = core.requests;
  s[Stat::kResponsesBindingSuccess] = core.binding_success;
  s[Stat::kResponsesBindingError] = core.binding_errors;
  s[Stat::kResponsesTurnSuccess] = core.responses_success;
  s[Stat::kAuthFailures] = core.auth_failures;
  s[Stat::kPacketsToPeer] = core.packets_to_peer;
  s[Stat::kBytesToPeer] = core.bytes_to_peer;
  s[Stat::kPacketsToClient] = core.packets_to_client;
  s[Stat::kBytesToClient] = core.bytes_to_client;
  s[Stat::kDroppedNoPermission] = core.dropped_no_permission;
  s[Stat::kDroppedPeerPolicy] = core.dropped_peer_policy;
  s[Stat::kDroppedBandwidth] = core.dropped_bandwidth;
  s[Stat::kDroppedNoAllocation] = core.dropped_no_allocation;
  s[Stat::kDroppedMalformed] = core.dropped_malformed;
  s[Stat::kDroppedNoBuffers] = driver.no_buffers;
  s[Stat::kDroppedTruncated] = driver.truncated;
  s[Stat::kDroppedNoSendSlot] = driver.no_send_slot;
  s.error_codes = core.error_codes;
  return s;
}

void CounterSlot::Publish(const ShardCounters& counters) {
  for (size_t i = 0; i < kStatCount; ++i) {
    values_[i].store(counters.scalar[i], std::memory_order_relaxed);
  }
  for (size_t i = 0; i < kErrorCodeCount; ++i) {
    values_[kStatCount + i].store(counters.error_codes[i], std::memory_order_relaxed);
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
  ShardCounters s;
  for (size_t i = 0; i < kStatCount; ++i) {
    s.scalar[i] = values_[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < kErrorCodeCount; ++i) {
    s.error_codes[i] = values_[kStatCount + i].load(std::memory_order_relaxed);
  }
  return s;
}

std::span<const int> WellKnownErrorCodes() { return kWellKnownErrorCodes; }

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
    AddSample(f, static_cast<double>(sum[row.stat]),
              {{row.label, row.value}, {row.label2, row.value2}});
  }
  // TURN error responses: the well-known codes always, any other once sent.
  MetricFamily* responses = nullptr;
  for (MetricFamily& f : families) {
    if (f.name == kResponses) responses = &f;
  }
  assert(responses != nullptr);
  for (size_t i = 0; i < kErrorCodeCount; ++i) {
    const int code = kFirstErrorCode + static_cast<int>(i);
    bool well_known = false;
    for (int k : kWellKnownErrorCodes) well_known = well_known || k == code;
    if (!well_known && sum.error_codes[i] == 0) continue;
    AddSample(*responses, static_cast<double>(sum.error_codes[i]),
              {{"method", "turn"}, {"code", std::to_string(code)}});
  }

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
