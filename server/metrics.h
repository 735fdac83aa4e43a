// Prometheus metrics (DESIGN.md §Observability). Shards keep plain counters
// on their hot path; once in a while (the driver's once-a-second
// housekeeping) each shard copies them into its own CounterSlot with relaxed
// atomic stores. At scrape time the MetricsCollector, on the exposer's
// thread, reads every registered source and sums them. Nothing a shard
// touches per packet is shared with another thread.
//
// Consistency: each value is read atomically, but a scrape may see one field
// from one publication and the next field from the next one (no seqlock).
// Every value is monotonic or a gauge, so this is at most one second of skew
// between two series, which Prometheus tolerates.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "turn/turn_server.h"

namespace uturn::server {

// The driver's own drop counters and TCP connection outcomes (a subset of
// DriverStats, which lives with the drivers and is not visible to this
// library).
struct DriverDrops {
  uint64_t no_buffers = 0;
  uint64_t truncated = 0;
  uint64_t no_send_slot = 0;
  uint64_t tcp_backpressure = 0;
  uint64_t tcp_refused_limit = 0, tcp_refused_per_ip = 0;
  uint64_t tcp_closed_allocate_timeout = 0, tcp_closed_allocation_expired = 0,
           tcp_closed_idle = 0, tcp_closed_backlog = 0, tcp_closed_invalid = 0;
};

// One shard's counters, plain values: the core's and the driver's. Both are
// flat runs of uint64_t, so sums and publication go word by word (a counter
// added to turn::TurnCounters is carried without touching this file; to be
// exported it needs a line in metrics.cc).
struct ShardCounters {
  turn::TurnCounters core;
  DriverDrops driver;

  ShardCounters& operator+=(const ShardCounters& other);
};
static_assert(std::is_trivially_copyable_v<ShardCounters> &&
              std::has_unique_object_representations_v<ShardCounters> &&
              sizeof(ShardCounters) % sizeof(uint64_t) == 0,
              "ShardCounters must stay a flat run of uint64_t");
inline constexpr size_t kShardCounterWords = sizeof(ShardCounters) / sizeof(uint64_t);

ShardCounters MakeShardCounters(const turn::TurnCounters& core, const DriverDrops& driver);

// A shard's published snapshot: written by that shard's thread only, read by
// the exposer's. Relaxed atomics: there is one writer and no other memory
// that the values guard.
class CounterSlot {
 public:
  CounterSlot() = default;
  CounterSlot(const CounterSlot&) = delete;
  CounterSlot& operator=(const CounterSlot&) = delete;

  // Shard thread. Publishing is ~500 relaxed stores, so shards do it at most
  // every kPublishIntervalNs rather than per packet or per loop turn.
  void Publish(const ShardCounters& counters);
  static constexpr int64_t kPublishIntervalNs = 1'000'000'000;
  // Shard thread, once per loop turn (the loop wakes at least once a second):
  // publishes `read()` when the interval has passed since the last time.
  // `now_ns` is any monotonic clock; the overload without it reads
  // CLOCK_MONOTONIC_COARSE (vDSO, no syscall).
  template <typename Read>
  void PublishIfDue(int64_t now_ns, Read&& read) {
    if (now_ns < next_due_ns_) return;
    next_due_ns_ = now_ns + kPublishIntervalNs;
    Publish(read());
  }
  template <typename Read>
  void PublishIfDue(Read&& read) {
    PublishIfDue(CoarseMonotonicNs(), std::forward<Read>(read));
  }

  // Exposer thread (any thread).
  ShardCounters Read() const;
  uint64_t publications() const { return publications_.load(std::memory_order_relaxed); }

 private:
  static int64_t CoarseMonotonicNs();

  int64_t next_due_ns_ = 0;  // shard thread only
  std::array<std::atomic<uint64_t>, kShardCounterWords> values_{};
  std::atomic<uint64_t> publications_{0};
};

// Error codes exported even while zero (for every method), so that rate()
// queries see the series from the start: the codes RFC 8656 and RFC 8489
// have the core send (turn::kCountedErrorCodes).
std::span<const int> WellKnownErrorCodes();

// Sums the registered sources at scrape time (prometheus::Collectable).
// Families (counters in base units, `_total`; no per-user or per-allocation
// labels, every label value from a fixed list):
//   uturn_allocations_active, uturn_permissions_active, uturn_channels_active (gauges)
//   uturn_allocations_created_total, _expired_total, _deleted_total
//   uturn_requests_total{method}             binding, allocate, refresh,
//                                            create_permission, channel_bind
//   uturn_responses_total{method,code}       code "200" for success, else the error
//                                            code; method "other" for 400s to
//                                            unparsable requests of other methods;
//                                            code "other" for codes outside the list
//   uturn_client_messages_total{kind}        send_indication, channel_data,
//                                            binding_indication (received)
//   uturn_retransmissions_answered_total     answered from the response cache
//   uturn_auth_failures_total{reason}        turn::AuthFailureName values
//   uturn_quota_rejections_total{quota}      user | total (486)
//   uturn_relayed_packets_total{direction}   direction = to_peer | to_client
//   uturn_relayed_bytes_total{direction}
//   uturn_dropped_packets_total{reason}      no_permission, peer_policy, bandwidth,
//                                            no_allocation, malformed, no_buffer,
//                                            truncated, no_send_slot
//   uturn_io_backend_info{backend} 1
//   uturn_shards                             sources registered
//   uturn_metrics_publications_total         snapshots the shards have published
class MetricsCollector final : public prometheus::Collectable {
 public:
  struct Source {
    std::function<ShardCounters()> read;
    std::function<uint64_t()> publications;  // may be empty
  };

  explicit MetricsCollector(std::string backend);

  // One per shard; may be called while scrapes run.
  void AddSource(Source source);
  // The usual source: a shard's slot (which must outlive the collector's use).
  void AddSlot(const CounterSlot* slot);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string backend_;
  mutable std::mutex mutex_;
  std::vector<Source> sources_;
};

}  // namespace uturn::server
