// Allocation quotas (RFC 8656 §7.2: "the server MAY ... reject with 486
// (Allocation Quota Reached)" when a user or the server has too many
// allocations): --user-quota per username and --total-quota in all.
//
// The core asks the ledger before it opens a relay and gives the count back
// when the allocation goes. With one shard per CPU a user's allocations land
// on several shards, so the server can hand every core the same thread-safe
// ledger (server/shared_quota_ledger.h); without one each core keeps a
// LocalQuotaLedger of its own (quotas per shard). Allocation creation is
// control plane: a ledger may lock, it is never called per packet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace uturn::turn {

enum class QuotaRefusal : uint8_t {
  kNone,
  kUser,   // the username has user_quota allocations already
  kTotal,  // the server (or this ledger's scope) has total_quota allocations
};

struct QuotaLimits {
  uint32_t user = 0;   // 0 = unlimited
  uint32_t total = 0;  // 0 = unlimited
};

class QuotaLedger {
 public:
  virtual ~QuotaLedger() = default;
  // Counts one more allocation for `username` and returns true, or returns
  // false with the reason in `*why` (if non-null) and counts nothing. The
  // total quota is checked first: when both are reached, kTotal.
  virtual bool TryAcquire(std::string_view username, QuotaRefusal* why) = 0;
  // Gives back one allocation acquired for `username` (exactly once per
  // successful TryAcquire; asserted).
  virtual void Release(std::string_view username) = 0;
};

// The counting itself, not thread-safe: the ledger of a core that has no
// shared one, and the state a shared ledger guards with its mutex.
class LocalQuotaLedger final : public QuotaLedger {
 public:
  explicit LocalQuotaLedger(QuotaLimits limits) : limits_(limits) {}

  bool TryAcquire(std::string_view username, QuotaRefusal* why) override;
  void Release(std::string_view username) override;

  uint32_t CountFor(std::string_view username) const;
  uint64_t total() const { return total_; }
  const QuotaLimits& limits() const { return limits_; }

 private:
  QuotaLimits limits_;
  uint64_t total_ = 0;
  // Only users with at least one allocation have an entry.
  absl::flat_hash_map<std::string, uint32_t> per_user_;
};

}  // namespace uturn::turn
