#include "turn/allocation_table.h"

#include "gtest/gtest.h"

namespace uturn::turn {
namespace {

FiveTuple Tuple(uint16_t port) {
  return FiveTuple{stun::SocketAddress::V4({203, 0, 113, 1}, port),
                   stun::SocketAddress::V4({192, 0, 2, 1}, 3478), Transport::kUdp};
}

TEST(AllocationTableTest, IndexesByTupleRelayAndId) {
  AllocationTable t;
  Allocation* a = t.Create(Tuple(1), "alice");
  t.AddRelay(a, stun::Family::kIPv4, 7, stun::SocketAddress::V4({192, 0, 2, 9}, 50000));
  t.AddRelay(a, stun::Family::kIPv6, 8, *stun::SocketAddress::ParseIp("2001:db8::9", 50000));
  EXPECT_EQ(t.Find(Tuple(1)), a);
  EXPECT_EQ(t.Find(Tuple(2)), nullptr);
  EXPECT_EQ(t.FindByRelay(7), a);
  EXPECT_EQ(t.FindByRelay(8), a);
  EXPECT_EQ(t.FindById(a->id), a);
  EXPECT_TRUE(a->HasRelay(stun::Family::kIPv6));
  t.RemoveRelay(a, stun::Family::kIPv6);
  EXPECT_EQ(t.FindByRelay(8), nullptr);
  EXPECT_FALSE(a->HasRelay(stun::Family::kIPv6));
}

TEST(AllocationTableTest, CountsPerUserAndForgetsOnErase) {
  AllocationTable t;
  Allocation* a = t.Create(Tuple(1), "alice");
  t.AddRelay(a, stun::Family::kIPv4, 7, {});
  Allocation* b = t.Create(Tuple(2), "alice");
  t.Create(Tuple(3), "bob");
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(t.CountForUser("alice"), 2u);
  EXPECT_EQ(t.CountForUser("bob"), 1u);
  EXPECT_EQ(t.CountForUser("carol"), 0u);
  EXPECT_EQ(t.size(), 3u);
  const uint64_t id = a->id;
  t.Erase(a);
  EXPECT_EQ(t.CountForUser("alice"), 1u);
  EXPECT_EQ(t.Find(Tuple(1)), nullptr);
  EXPECT_EQ(t.FindByRelay(7), nullptr);
  EXPECT_EQ(t.FindById(id), nullptr);
  EXPECT_EQ(t.size(), 2u);
}

TEST(AllocationTest, PermissionsIgnorePortChannelsNeedExactPeer) {
  Allocation a;
  const absl::Time now = absl::FromUnixSeconds(100);
  const auto peer = stun::SocketAddress::V4({198, 51, 100, 1}, 5000);
  a.permissions[PermissionKey(peer)] = now + absl::Seconds(10);
  EXPECT_TRUE(a.HasPermission(stun::SocketAddress::V4({198, 51, 100, 1}, 1), now));
  EXPECT_FALSE(a.HasPermission(stun::SocketAddress::V4({198, 51, 100, 2}, 5000), now));
  EXPECT_FALSE(a.HasPermission(peer, now + absl::Seconds(10)));  // expiry is exclusive
  a.channels[0x4000] = ChannelBinding{peer, now + absl::Seconds(5), true};
  a.channel_by_peer[peer] = 0x4000;
  uint16_t n = 0;
  EXPECT_NE(a.ActiveChannelFor(peer, now, &n), nullptr);
  EXPECT_EQ(n, 0x4000);
  EXPECT_EQ(a.ActiveChannelFor(stun::SocketAddress::V4({198, 51, 100, 1}, 5001), now, &n),
            nullptr);
  EXPECT_EQ(a.ActiveChannelFor(peer, now + absl::Seconds(5), &n), nullptr);
}

}  // namespace
}  // namespace uturn::turn
