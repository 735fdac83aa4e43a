#include "turn/allocation_table.h"

#include <cassert>
#include <utility>

namespace uturn::turn {

Allocation* AllocationTable::Create(const FiveTuple& tuple, std::string username) {
  assert(!by_tuple_.contains(tuple));
  auto owned = std::make_unique<Allocation>();
  Allocation* a = owned.get();
  a->id = next_id_++;
  a->timer.key = a->id;
  a->tuple = tuple;
  a->username = std::move(username);
  ++per_user_[a->username];
  by_tuple_.emplace(tuple, a);
  by_id_.emplace(a->id, std::move(owned));
  return a;
}

void AllocationTable::AddRelay(Allocation* a, stun::Family family, RelayId relay,
                               const SocketAddress& advertised) {
  RelaySlot& slot = a->relays[Allocation::SlotFor(family)];
  assert(!slot.open);
  const bool inserted = by_relay_.emplace(relay, a).second;
  assert(inserted && "the host handed out a relay id twice");
  (void)inserted;
  slot = RelaySlot{.open = true, .id = relay, .advertised = advertised};
}

void AllocationTable::RemoveRelay(Allocation* a, stun::Family family) {
  RelaySlot& slot = a->relays[Allocation::SlotFor(family)];
  if (!slot.open) return;
  by_relay_.erase(slot.id);
  slot = RelaySlot{};
}

void AllocationTable::Erase(Allocation* a) {
  assert(a != nullptr);
  for (RelaySlot& slot : a->relays) {
    if (slot.open) by_relay_.erase(slot.id);
  }
  by_tuple_.erase(a->tuple);
  auto user = per_user_.find(a->username);
  assert(user != per_user_.end() && user->second > 0);
  if (--user->second == 0) per_user_.erase(user);
  by_id_.erase(a->id);  // destroys *a
}

Allocation* AllocationTable::Find(const FiveTuple& tuple) const {
  auto it = by_tuple_.find(tuple);
  return it == by_tuple_.end() ? nullptr : it->second;
}

Allocation* AllocationTable::FindByRelay(RelayId relay) const {
  auto it = by_relay_.find(relay);
  return it == by_relay_.end() ? nullptr : it->second;
}

Allocation* AllocationTable::FindById(uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

uint32_t AllocationTable::CountForUser(const std::string& username) const {
  auto it = per_user_.find(username);
  return it == per_user_.end() ? 0 : it->second;
}

}  // namespace uturn::turn
