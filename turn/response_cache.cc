#include "turn/response_cache.h"

#include <cassert>

namespace uturn::turn {

ResponseCache::ResponseCache(absl::Duration lifetime, size_t max_entries)
    : lifetime_(lifetime), max_entries_(max_entries) {}

std::optional<std::span<const uint8_t>> ResponseCache::Find(const FiveTuple& tuple,
                                                            const stun::TransactionId& tid,
                                                            absl::Time now) const {
  auto it = index_.find(Key{tuple, tid});
  if (it == index_.end() || now >= it->second->expires) return std::nullopt;
  return std::span<const uint8_t>(it->second->bytes);
}

void ResponseCache::Insert(const FiveTuple& tuple, const stun::TransactionId& tid,
                           std::span<const uint8_t> response, absl::Time now) {
  if (max_entries_ == 0) return;
  Expire(now);
  while (fifo_.size() >= max_entries_) PopOldest();
  fifo_.push_back(Entry{Key{tuple, tid}, now + lifetime_,
                        std::vector<uint8_t>(response.begin(), response.end())});
  // A newer answer for the same key replaces the index entry; the old one
  // stays in the FIFO until it is popped, and popping checks ownership.
  index_.insert_or_assign(fifo_.back().key, &fifo_.back());
  assert(index_.size() <= fifo_.size());
}

void ResponseCache::PopOldest() {
  assert(!fifo_.empty());
  const Entry& oldest = fifo_.front();
  auto it = index_.find(oldest.key);
  if (it != index_.end() && it->second == &oldest) index_.erase(it);
  fifo_.pop_front();
}

void ResponseCache::Expire(absl::Time now) {
  while (!fifo_.empty() && fifo_.front().expires <= now) PopOldest();
}

absl::Time ResponseCache::NextExpiry() const {
  return fifo_.empty() ? absl::InfiniteFuture() : fifo_.front().expires;
}

}  // namespace uturn::turn
