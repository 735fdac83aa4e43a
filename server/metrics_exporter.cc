#include "server/metrics_exporter.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "prometheus/exposer.h"

namespace uturn::server {

MetricsExporter::~MetricsExporter() = default;

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(
    const stun::SocketAddress& address, std::shared_ptr<MetricsCollector> collector) {
  // civetweb's listening_ports syntax: "1.2.3.4:9641" or "[::1]:9641".
  const std::string ip = address.IpString();
  const std::string bind = address.family == stun::Family::kIPv6
                               ? "[" + ip + "]:" + std::to_string(address.port)
                               : ip + ":" + std::to_string(address.port);
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  e->collector_ = std::move(collector);
  try {
    // One worker thread: scrapes are rare and each takes microseconds.
    e->exposer_ = std::make_unique<prometheus::Exposer>(bind, 1);
  } catch (const std::exception& ex) {
    return absl::UnavailableError("cannot listen on " + bind + ": " + ex.what());
  }
  const std::vector<int> ports = e->exposer_->GetListeningPorts();
  if (ports.size() != 1 || ports[0] <= 0 || ports[0] > 65535) {
    return absl::InternalError("metrics exporter on " + bind + " reports no listening port");
  }
  e->exposer_->RegisterCollectable(e->collector_);
  e->address_ = address;
  e->address_.port = static_cast<uint16_t>(ports[0]);
  return e;
}

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const stun::SocketAddress& address,
                                                         size_t shards, std::string backend) {
  std::unique_ptr<Metrics> m(new Metrics());
  auto collector = std::make_shared<MetricsCollector>(std::move(backend));
  for (size_t i = 0; i < shards; ++i) {
    m->slots_.push_back(std::make_unique<CounterSlot>());
    collector->AddSlot(m->slots_.back().get());
  }
  absl::StatusOr<std::unique_ptr<MetricsExporter>> e =
      MetricsExporter::Start(address, std::move(collector));
  if (!e.ok()) return e.status();
  m->exporter_ = std::move(*e);
  return m;
}

}  // namespace uturn::server
