// The allocations of one shard and the indexes the hot path needs:
// 5-tuple -> allocation (client packets), relay id -> allocation (peer
// packets), id -> allocation (timers), and allocations per username (quota).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "turn/allocation.h"
#include "turn/types.h"

namespace uturn::turn {

class AllocationTable {
 public:
  // Creates an empty allocation for `tuple`, which must not have one.
  Allocation* Create(const FiveTuple& tuple, std::string username);
  // Records that `relay` belongs to `a` (call once per opened relay).
  void AddRelay(Allocation* a, stun::Family family, RelayId relay,
                const SocketAddress& advertised);
  // Forgets one relay of `a` (the host's socket is the caller's business).
  void RemoveRelay(Allocation* a, stun::Family family);
  // Removes `a` and every index entry pointing at it; `a` is destroyed.
  void Erase(Allocation* a);

  Allocation* Find(const FiveTuple& tuple) const;
  Allocation* FindByRelay(RelayId relay) const;
  Allocation* FindById(uint64_t id) const;

  size_t size() const { return by_id_.size(); }
  uint32_t CountForUser(const std::string& username) const;

  template <typename F>
  void ForEach(F&& fn) const {
    for (const auto& [id, a] : by_id_) fn(*a);
  }

 private:
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Allocation>> by_id_;
  absl::flat_hash_map<FiveTuple, Allocation*> by_tuple_;
  absl::flat_hash_map<RelayId, Allocation*> by_relay_;
  absl::flat_hash_map<std::string, uint32_t> per_user_;
};

}  // namespace uturn::turn
