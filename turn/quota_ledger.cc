#include "turn/quota_ledger.h"

#include <cassert>

namespace uturn::turn {
namespace {

// Debian's Abseil has its own string_view type, not an alias of std's.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

bool LocalQuotaLedger::TryAcquire(std::string_view username, QuotaRefusal* why) {
  QuotaRefusal refusal = QuotaRefusal::kNone;
  if (limits_.total > 0 && total_ >= limits_.total) {
    refusal = QuotaRefusal::kTotal;
  } else if (limits_.user > 0 && CountFor(username) >= limits_.user) {
    refusal = QuotaRefusal::kUser;
  }
  if (why != nullptr) *why = refusal;
  if (refusal != QuotaRefusal::kNone) return false;
  ++total_;
  // Counted even without a user quota: the count must be right if a reload
  // ever sets one, and it costs one hash update per allocation.
  auto it = per_user_.find(Absl(username));
  if (it == per_user_.end()) it = per_user_.emplace(std::string(username), 0).first;
  ++it->second;
  return true;
}

void LocalQuotaLedger::Release(std::string_view username) {
  auto it = per_user_.find(Absl(username));
  assert(it != per_user_.end() && it->second > 0 && total_ > 0 &&
         "Release without a matching TryAcquire");
  if (it == per_user_.end()) return;
  if (--it->second == 0) per_user_.erase(it);
  if (total_ > 0) --total_;
}

uint32_t LocalQuotaLedger::CountFor(std::string_view username) const {
  auto it = per_user_.find(Absl(username));
  return it == per_user_.end() ? 0 : it->second;
}

}  // namespace uturn::turn
