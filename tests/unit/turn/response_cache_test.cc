#include "turn/response_cache.h"

#include <vector>

#include "gtest/gtest.h"

namespace uturn::turn {
namespace {

FiveTuple Tuple(uint16_t port) {
  return FiveTuple{stun::SocketAddress::V4({203, 0, 113, 1}, port),
                   stun::SocketAddress::V4({192, 0, 2, 1}, 3478), Transport::kUdp};
}
stun::TransactionId Tid(uint8_t n) {
  stun::TransactionId t{};
  t[0] = n;
  return t;
}
std::vector<uint8_t> Bytes(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(ResponseCacheTest, FindsByTupleAndTransactionUntilExpiry) {
  ResponseCache c(absl::Seconds(40), 10);
  const std::vector<uint8_t> r = {1, 2, 3};
  c.Insert(Tuple(1), Tid(1), r, kT0);
  ASSERT_TRUE(c.Find(Tuple(1), Tid(1), kT0).has_value());
  EXPECT_EQ(Bytes(*c.Find(Tuple(1), Tid(1), kT0)), r);
  EXPECT_FALSE(c.Find(Tuple(2), Tid(1), kT0).has_value());
  EXPECT_FALSE(c.Find(Tuple(1), Tid(2), kT0).has_value());
  EXPECT_TRUE(c.Find(Tuple(1), Tid(1), kT0 + absl::Seconds(39)).has_value());
  EXPECT_FALSE(c.Find(Tuple(1), Tid(1), kT0 + absl::Seconds(40)).has_value());
  EXPECT_EQ(c.NextExpiry(), kT0 + absl::Seconds(40));
  c.Expire(kT0 + absl::Seconds(40));
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.NextExpiry(), absl::InfiniteFuture());
}

TEST(ResponseCacheTest, EvictsOldestWhenFull) {
  ResponseCache c(absl::Seconds(40), 2);
  const std::vector<uint8_t> r = {9};
  c.Insert(Tuple(1), Tid(1), r, kT0);
  c.Insert(Tuple(1), Tid(2), r, kT0 + absl::Seconds(1));
  c.Insert(Tuple(1), Tid(3), r, kT0 + absl::Seconds(2));
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.Find(Tuple(1), Tid(1), kT0 + absl::Seconds(2)).has_value());
  EXPECT_TRUE(c.Find(Tuple(1), Tid(2), kT0 + absl::Seconds(2)).has_value());
  EXPECT_TRUE(c.Find(Tuple(1), Tid(3), kT0 + absl::Seconds(2)).has_value());
}

TEST(ResponseCacheTest, ReinsertReplacesAndOldCopyDoesNotEvictNewOne) {
  ResponseCache c(absl::Seconds(40), 4);
  c.Insert(Tuple(1), Tid(1), std::vector<uint8_t>{1}, kT0);
  c.Insert(Tuple(1), Tid(1), std::vector<uint8_t>{2}, kT0 + absl::Seconds(10));
  EXPECT_EQ(Bytes(*c.Find(Tuple(1), Tid(1), kT0 + absl::Seconds(10))), std::vector<uint8_t>{2});
  c.Expire(kT0 + absl::Seconds(40));  // the first copy's time
  ASSERT_TRUE(c.Find(Tuple(1), Tid(1), kT0 + absl::Seconds(40)).has_value());
  EXPECT_EQ(c.size(), 1u);
}

TEST(ResponseCacheTest, ZeroEntriesDisablesIt) {
  ResponseCache c(absl::Seconds(40), 0);
  c.Insert(Tuple(1), Tid(1), std::vector<uint8_t>{1}, kT0);
  EXPECT_FALSE(c.Find(Tuple(1), Tid(1), kT0).has_value());
}

}  // namespace
}  // namespace uturn::turn
