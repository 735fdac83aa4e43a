#include "server/port_pool.h"

#include <set>

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

TEST(PortPoolTest, HandsOutEveryPortOnceThenRunsOut) {
  PortPool pool(50000, 50009, 7);
  EXPECT_EQ(pool.size(), 10u);
  std::set<uint16_t> seen;
  for (int i = 0; i < 10; ++i) {
    std::optional<uint16_t> p = pool.Take(false, false);
    ASSERT_TRUE(p.has_value());
    EXPECT_GE(*p, 50000);
    EXPECT_LE(*p, 50009);
    EXPECT_TRUE(seen.insert(*p).second) << *p;
    EXPECT_TRUE(pool.in_use(*p));
  }
  EXPECT_EQ(pool.free_count(), 0u);
  EXPECT_FALSE(pool.Take(false, false).has_value());
  pool.Release(50003);
  EXPECT_FALSE(pool.in_use(50003));
  EXPECT_EQ(pool.Take(false, false), 50003);
}

TEST(PortPoolTest, RandomStartDecidesTheFirstPort) {
  EXPECT_EQ(PortPool(50000, 50009, 7).Take(false, false), 50007);
  EXPECT_EQ(PortPool(50000, 50009, 13).Take(false, false), 50003);  // wraps modulo the size
}

TEST(PortPoolTest, ScanMovesOnAfterAReleasedPort) {
  // A caller whose bind failed releases the port; the next Take must not
  // return the same port again at once.
  PortPool pool(50000, 50003, 0);
  const auto first = pool.Take(false, false);
  ASSERT_TRUE(first.has_value());
  pool.Release(*first);
  const auto second = pool.Take(false, false);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*first, *second);
}

TEST(PortPoolTest, EvenPortsAndPairs) {
  PortPool pool(50001, 50006, 0);  // 50001..50006
  EXPECT_EQ(pool.Take(true, false), 50002);
  // A pair needs an even port with port+1 free and inside the range.
  EXPECT_EQ(pool.Take(true, true), 50004);
  EXPECT_TRUE(pool.in_use(50005));
  // 50006's partner 50007 is outside the range.
  EXPECT_FALSE(pool.Take(true, true).has_value());
  EXPECT_EQ(pool.Take(true, false), 50006);
  EXPECT_FALSE(pool.Take(true, false).has_value());
  EXPECT_EQ(pool.Take(false, false), 50001);
  EXPECT_EQ(pool.Take(false, false), 50003);
  EXPECT_FALSE(pool.Take(false, false).has_value());
}

TEST(PortPoolTest, PairSkipsEvenPortWhosePartnerIsTaken) {
  PortPool pool(50000, 50003, 1);
  EXPECT_EQ(pool.Take(false, false), 50001);  // blocks the pair 50000/50001
  EXPECT_EQ(pool.Take(true, true), 50002);
}

TEST(PortPoolTest, SinglePortRange) {
  PortPool pool(60000, 60000, 12345);
  EXPECT_EQ(pool.Take(false, false), 60000);
  EXPECT_FALSE(pool.Take(false, false).has_value());
  EXPECT_FALSE(pool.in_use(59999));
  EXPECT_FALSE(pool.in_use(60001));
}

TEST(ReservationsTest, ClaimOnceWithTheRightToken) {
  Reservations r;
  r.Add({42, stun::Family::kIPv6, 50001, 7, 1000});
  EXPECT_FALSE(r.Claim(41, 0).has_value());  // unknown token
  EXPECT_EQ(r.size(), 1u);
  auto e = r.Claim(42, 999);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->port, 50001);
  EXPECT_EQ(e->fd, 7);
  EXPECT_EQ(e->family, stun::Family::kIPv6);  // the reservation's, not asked for
  EXPECT_FALSE(r.Claim(42, 999).has_value());  // used up
  EXPECT_EQ(r.size(), 0u);
}

TEST(ReservationsTest, ExpiredReservationsCannotBeClaimedAndAreCollected) {
  Reservations r;
  r.Add({1, stun::Family::kIPv4, 50001, 5, 1000});
  r.Add({2, stun::Family::kIPv4, 50003, 6, 2000});
  EXPECT_FALSE(r.Claim(1, 1000).has_value());  // expires at 1000
  EXPECT_TRUE(r.TakeExpired(999).empty());
  auto expired = r.TakeExpired(1000);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].token, 1u);
  EXPECT_EQ(r.size(), 1u);
  auto all = r.TakeAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].fd, 6);
  EXPECT_EQ(r.size(), 0u);
}

TEST(ReservationsTest, LifetimeIsThirtySeconds) {
  // RFC 8656 §7.2: reserved "for approximately 30 seconds".
  EXPECT_EQ(Reservations::kLifetimeNs, 30'000'000'000);
}

}  // namespace
}  // namespace uturn::server
