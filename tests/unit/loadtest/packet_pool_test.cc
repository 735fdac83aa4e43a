#include "loadtest/packet_pool.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>
#include <set>

namespace uturn::loadtest {
namespace {

TEST(PacketPool, HandsOutEverySlotOnceThenRunsDry) {
  PacketPool pool(4, 64);
  EXPECT_EQ(pool.capacity(), 4u);
  EXPECT_EQ(pool.slot_size(), 64u);
  std::set<uint32_t> ids;
  for (int i = 0; i < 4; ++i) {
    const auto id = pool.Acquire();
    ASSERT_TRUE(id.has_value());
    EXPECT_LT(*id, 4u);
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(pool.in_use(), 4u);
  EXPECT_FALSE(pool.Acquire().has_value());
  pool.Release(2);
  EXPECT_EQ(pool.in_use(), 3u);
  EXPECT_EQ(pool.Acquire(), 2u);  // the slot just released
  EXPECT_FALSE(pool.Acquire().has_value());
}

TEST(PacketPool, SlotsAreDisjoint) {
  PacketPool pool(3, 16);
  for (uint32_t id = 0; id < 3; ++id) {
    auto b = pool.buffer(id);
    ASSERT_EQ(b.size(), 16u);
    std::fill(b.begin(), b.end(), static_cast<uint8_t>(id + 1));
  }
  for (uint32_t id = 0; id < 3; ++id) {
    auto b = pool.buffer(id);
    EXPECT_TRUE(std::all_of(b.begin(), b.end(), [&](uint8_t x) { return x == id + 1; })) << id;
  }
}

TEST(PacketPool, PrepareAddressesTheSlot) {
  PacketPool pool(2, 32);
  const uint32_t id = *pool.Acquire();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(4242);
  to.sin_addr.s_addr = htonl(0x7f000001);
  const msghdr& m = pool.Prepare(id, 20, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ASSERT_EQ(m.msg_iovlen, 1u);
  EXPECT_EQ(m.msg_iov->iov_base, pool.buffer(id).data());
  EXPECT_EQ(m.msg_iov->iov_len, 20u);
  ASSERT_NE(m.msg_name, nullptr);
  EXPECT_EQ(m.msg_namelen, sizeof to);
  const auto* copied = static_cast<const sockaddr_in*>(m.msg_name);
  EXPECT_EQ(copied->sin_port, htons(4242));
  EXPECT_EQ(copied->sin_addr.s_addr, htonl(0x7f000001));
  EXPECT_NE(m.msg_name, static_cast<const void*>(&to));  // a copy that outlives `to`

  // Re-preparing for a connected socket drops the address.
  const msghdr& m2 = pool.Prepare(id, 8, nullptr, 0);
  EXPECT_EQ(m2.msg_name, nullptr);
  EXPECT_EQ(m2.msg_namelen, 0u);
  EXPECT_EQ(m2.msg_iov->iov_len, 8u);
}

}  // namespace
}  // namespace uturn::loadtest
