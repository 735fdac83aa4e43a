// Answers to requests, kept for retransmissions (RFC 8489 §6.3.1: a server
// should answer a retransmitted request with the same response rather than
// process it twice; RFC 8656 §7.2 relies on it for Allocate over UDP).
// Entries all live the same time, so they expire in insertion order: a FIFO
// plus an index. Bounded: the oldest entry makes room for a new one.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "stun/message_view.h"
#include "turn/types.h"

namespace uturn::turn {

class ResponseCache {
 public:
  ResponseCache(absl::Duration lifetime, size_t max_entries);

  // The cached response for this request, if any and still fresh.
  std::optional<std::span<const uint8_t>> Find(const FiveTuple& tuple,
                                               const stun::TransactionId& tid,
                                               absl::Time now) const;
  void Insert(const FiveTuple& tuple, const stun::TransactionId& tid,
              std::span<const uint8_t> response, absl::Time now);
  void Expire(absl::Time now);
  // When the oldest entry expires (InfiniteFuture if empty).
  absl::Time NextExpiry() const;
  size_t size() const { return index_.size(); }

 private:
  struct Key {
    FiveTuple tuple;
    stun::TransactionId tid;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.tuple, k.tid);
    }
  };
  struct Entry {
    Key key;
    absl::Time expires;
    std::vector<uint8_t> bytes;
  };
  void PopOldest();

  absl::Duration lifetime_;
  size_t max_entries_;
  // std::deque keeps element addresses stable under push_back/pop_front.
  std::deque<Entry> fifo_;
  absl::flat_hash_map<Key, const Entry*> index_;
};

}  // namespace uturn::turn
