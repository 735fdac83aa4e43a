#include "server/shared_quota_ledger.h"

namespace uturn::server {

bool SharedQuotaLedger::TryAcquire(std::string_view username, turn::QuotaRefusal* why) {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_.TryAcquire(username, why);
}

void SharedQuotaLedger::Release(std::string_view username) {
  std::lock_guard<std::mutex> lock(mutex_);
  counts_.Release(username);
}

uint32_t SharedQuotaLedger::CountFor(std::string_view username) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_.CountFor(username);
}

uint64_t SharedQuotaLedger::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_.total();
}

}  // namespace uturn::server
