#include "turn/token_bucket.h"

#include "gtest/gtest.h"

namespace uturn::turn {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(TokenBucketTest, DisabledPassesEverything) {
  TokenBucket b(0, kT0);
  EXPECT_FALSE(b.enabled());
  EXPECT_TRUE(b.TryConsume(1u << 30, kT0));
}

TEST(TokenBucketTest, BurstOfOneSecondThenRefillAtRate) {
  TokenBucket b(200000, kT0);
  EXPECT_TRUE(b.TryConsume(200000, kT0));
  EXPECT_FALSE(b.TryConsume(1, kT0));
  EXPECT_FALSE(b.TryConsume(2001, kT0 + absl::Milliseconds(10)));  // 2000 refilled
  EXPECT_TRUE(b.TryConsume(2000, kT0 + absl::Milliseconds(10)));
  // Refill is capped at the burst size.
  EXPECT_TRUE(b.TryConsume(200000, kT0 + absl::Seconds(100)));
  EXPECT_FALSE(b.TryConsume(1, kT0 + absl::Seconds(100)));
}

TEST(TokenBucketTest, SmallRatesStillPassOneMaximalDatagram) {
  TokenBucket b(1000, kT0);
  EXPECT_TRUE(b.TryConsume(TokenBucket::kMinBurst, kT0));
  EXPECT_FALSE(b.TryConsume(1000, kT0 + absl::Milliseconds(999)));
  EXPECT_TRUE(b.TryConsume(1000, kT0 + absl::Seconds(1)));
}

}  // namespace
}  // namespace uturn::turn
