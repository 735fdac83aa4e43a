// One quota ledger for every shard (RFC 8656 §7.2 quotas, 486): with one
// shard per CPU, a user's allocations land on several shards, and
// --user-quota / --total-quota must count them all. Allocation creation and
// deletion are control plane (once per allocation, never per packet), so a
// plain mutex around the counts is enough.
#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>

#include "turn/quota_ledger.h"

namespace uturn::server {

class SharedQuotaLedger final : public turn::QuotaLedger {
 public:
  explicit SharedQuotaLedger(turn::QuotaLimits limits) : counts_(limits) {}

  // Thread-safe.
  bool TryAcquire(std::string_view username, turn::QuotaRefusal* why) override;
  void Release(std::string_view username) override;

  // Snapshots, for tests and logs.
  uint32_t CountFor(std::string_view username) const;
  uint64_t total() const;

 private:
  mutable std::mutex mutex_;
  turn::LocalQuotaLedger counts_;  // guarded by mutex_
};

}  // namespace uturn::server
