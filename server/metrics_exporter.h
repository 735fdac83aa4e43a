// The HTTP side of the metrics: prometheus-cpp's pull exposer (civetweb, its
// own threads) serving GET /metrics from a MetricsCollector.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/metrics.h"
#include "stun/address.h"

namespace prometheus {
class Exposer;
}

namespace uturn::server {

class MetricsExporter {
 public:
  // Binds `address` (port 0: the kernel picks one) and serves `collector`
  // at /metrics. Fails with the reason if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(
      const stun::SocketAddress& address, std::shared_ptr<MetricsCollector> collector);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // The bound address, with the real port.
  const stun::SocketAddress& address() const { return address_; }

 private:
  MetricsExporter() = default;
  std::shared_ptr<MetricsCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  stun::SocketAddress address_;
};

// What the daemon holds when --prometheus is given: one CounterSlot per
// shard, the collector summing them, and the exporter serving it.
class Metrics {
 public:
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(const stun::SocketAddress& address,
                                                        size_t shards, std::string backend);
  // The slot shard `index` publishes into (ShardSetup::metrics).
  CounterSlot* slot(size_t index) { return slots_.at(index).get(); }
  const stun::SocketAddress& address() const { return exporter_->address(); }

 private:
  Metrics() = default;
  // Members go away in reverse order: the exporter's threads stop before
  // the collector and the slots it reads.
  std::vector<std::unique_ptr<CounterSlot>> slots_;
  std::unique_ptr<MetricsExporter> exporter_;
};

}  // namespace uturn::server
