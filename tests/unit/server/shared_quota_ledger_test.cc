// The quota ledger shared by shards: the same rules as the local one, and
// exact counts when several threads (shards) acquire and release at once.
#include "server/shared_quota_ledger.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

using turn::QuotaLimits;
using turn::QuotaRefusal;

TEST(SharedQuotaLedger, UserAndTotalQuotas) {
  SharedQuotaLedger ledger(QuotaLimits{.user = 2, .total = 3});
  QuotaRefusal why = QuotaRefusal::kNone;
  EXPECT_TRUE(ledger.TryAcquire("alice", &why));
  EXPECT_TRUE(ledger.TryAcquire("alice", &why));
  EXPECT_FALSE(ledger.TryAcquire("alice", &why));
  EXPECT_EQ(why, QuotaRefusal::kUser);
  EXPECT_TRUE(ledger.TryAcquire("bob", &why));
  EXPECT_FALSE(ledger.TryAcquire("carol", &why));
  EXPECT_EQ(why, QuotaRefusal::kTotal);
  EXPECT_EQ(ledger.total(), 3u);
  EXPECT_EQ(ledger.CountFor("alice"), 2u);
  ledger.Release("alice");
  EXPECT_TRUE(ledger.TryAcquire("carol", &why));
  EXPECT_EQ(why, QuotaRefusal::kNone);
}

// Eight "shards" race for one user's quota of 5: exactly 5 win at any time,
// never more, and every release frees a place for another.
TEST(SharedQuotaLedger, ConcurrentAcquireNeverExceedsTheQuota) {
  constexpr uint32_t kQuota = 5;
  constexpr int kThreads = 8, kRounds = 2000;
  SharedQuotaLedger ledger(QuotaLimits{.user = kQuota, .total = 0});
  std::atomic<int> holders{0}, max_holders{0}, granted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        QuotaRefusal why = QuotaRefusal::kNone;
        if (!ledger.TryAcquire("alice", &why)) {
          EXPECT_EQ(why, QuotaRefusal::kUser);
          refused.fetch_add(1);
          continue;
        }
        granted.fetch_add(1);
        const int now_held = holders.fetch_add(1) + 1;
        int seen = max_holders.load();
        while (now_held > seen && !max_holders.compare_exchange_weak(seen, now_held)) {
        }
        holders.fetch_sub(1);
        ledger.Release("alice");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(max_holders.load(), static_cast<int>(kQuota));
  EXPECT_EQ(granted.load() + refused.load(), kThreads * kRounds);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(ledger.CountFor("alice"), 0u);
  EXPECT_EQ(ledger.total(), 0u);
}

// Many users from many threads, all held at once: the counts add up exactly.
TEST(SharedQuotaLedger, ConcurrentCountsAreExact) {
  constexpr int kThreads = 6, kPerThread = 500;
  SharedQuotaLedger ledger(QuotaLimits{.user = 0, .total = kThreads * kPerThread});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ledger, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(ledger.TryAcquire("user" + std::to_string(i % 7), nullptr)) << t;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ledger.total(), uint64_t{kThreads * kPerThread});
  uint64_t sum = 0;
  for (int u = 0; u < 7; ++u) sum += ledger.CountFor("user" + std::to_string(u));
  EXPECT_EQ(sum, uint64_t{kThreads * kPerThread});
  // Full now: the next one is refused for the total.
  QuotaRefusal why = QuotaRefusal::kNone;
  EXPECT_FALSE(ledger.TryAcquire("user0", &why));
  EXPECT_EQ(why, QuotaRefusal::kTotal);
}

}  // namespace
}  // namespace uturn::server
