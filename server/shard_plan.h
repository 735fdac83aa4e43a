// How many shards to run and which relay ports each owns (DESIGN.md §The
// data plane: "its own slice of the relay port range"). Sans-IO: the CPU
// count comes in as an argument.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/options.h"

namespace uturn::server {

struct PortSlice {
  uint16_t min = 0;
  uint16_t max = 0;
};

// Splits [min_port, max_port] into `shards` contiguous, disjoint slices that
// cover it, sizes differing by at most 2. When every slice can hold two ports,
// slices after the first start on an even port so EVEN-PORT with the R bit
// (RFC 8656 §7.2: an even port and the next one) fits inside one slice.
// Fails if there are fewer ports than shards.
absl::StatusOr<std::vector<PortSlice>> SlicePortRange(uint16_t min_port, uint16_t max_port,
                                                      uint32_t shards);

struct ShardCount {
  uint32_t count = 1;
  // Why `count` differs from what was asked (or from the CPU count), or a
  // caveat of the choice; empty when there is nothing to say.
  std::string note;
};

// --relay-threads N > 0: N, refused if the port range is smaller.
// 0 (auto): `cpus` (at least 1), at most one per relay port, and 1 when a
// quota is set (quotas are counted by each shard's core on its own).
absl::StatusOr<ShardCount> ResolveShardCount(const Config& config, uint32_t cpus);

}  // namespace uturn::server
