#include "server/shard_plan.h"

#include <algorithm>
#include <cassert>

#include "stun/text.h"

namespace uturn::server {

absl::StatusOr<std::vector<PortSlice>> SlicePortRange(uint16_t min_port, uint16_t max_port,
                                                      uint32_t shards) {
  if (min_port > max_port) {
    return absl::InvalidArgumentError(text::Cat("port range ", min_port, "-", max_port, " is empty"));
  }
  const uint32_t size = uint32_t{max_port} - min_port + 1;
  if (shards == 0 || shards > size) {
    return absl::InvalidArgumentError(text::Cat("--relay-threads: ", shards, " shards need at least ",
                                          shards, " relay ports; --min-port ", min_port,
                                          " to --max-port ", max_port, " has ", size));
  }
  const bool align_even = size >= 2 * shards;
  std::vector<uint32_t> starts(shards + 1);
  for (uint32_t k = 0; k <= shards; ++k) {
    uint32_t s = min_port + static_cast<uint32_t>(uint64_t{k} * size / shards);
    // Interior boundaries only; rounding up by one keeps every slice
    // non-empty because each would have held at least two ports.
    if (align_even && k > 0 && k < shards && s % 2 != 0) ++s;
    starts[k] = s;
  }
  std::vector<PortSlice> out;
  out.reserve(shards);
  for (uint32_t k = 0; k < shards; ++k) {
    assert(starts[k] < starts[k + 1]);
    out.push_back({static_cast<uint16_t>(starts[k]), static_cast<uint16_t>(starts[k + 1] - 1)});
  }
  assert(out.front().min == min_port && out.back().max == max_port);
  return out;
}

absl::StatusOr<ShardCount> ResolveShardCount(const Config& config, uint32_t cpus) {
  const uint32_t ports = config.min_port <= config.max_port
                             ? uint32_t{config.max_port} - config.min_port + 1
                             : 0;
  ShardCount out;
  if (config.relay_threads > 0) {
    out.count = config.relay_threads;
    if (out.count > ports) {
      return absl::InvalidArgumentError(text::Cat(
          "--relay-threads: ", out.count, " shards need at least ", out.count,
          " relay ports; --min-port ", config.min_port, " to --max-port ", config.max_port,
          " has ", ports));
    }
    return out;
  }
  out.count = std::max<uint32_t>(cpus, 1);
  if (out.count > ports) {
    out.count = std::max<uint32_t>(ports, 1);
    out.note = "no more shards than relay ports";
  }
  return out;
}

}  // namespace uturn::server
