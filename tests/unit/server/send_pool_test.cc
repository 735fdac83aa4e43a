#include "server/send_pool.h"

#include <netinet/in.h>

#include <set>

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

TEST(SendPoolTest, HandsOutEachSlotOnceThenRunsDry) {
  SendPool pool(3, 64);
  std::set<SendSlot*> got;
  for (int i = 0; i < 3; ++i) {
    SendSlot* s = pool.Acquire();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->buffer.size(), 64u);
    EXPECT_TRUE(got.insert(s).second);
  }
  EXPECT_EQ(pool.Acquire(), nullptr);
  EXPECT_EQ(pool.in_use(), 3u);
  SendSlot* back = *got.begin();
  pool.Release(back);
  EXPECT_EQ(pool.Acquire(), back);
}

TEST(SendPoolTest, BuffersDoNotOverlap) {
  SendPool pool(2, 16);
  SendSlot* a = pool.Acquire();
  SendSlot* b = pool.Acquire();
  ASSERT_TRUE(a && b);
  const bool disjoint = a->buffer.data() + 16 <= b->buffer.data() ||
                        b->buffer.data() + 16 <= a->buffer.data();
  EXPECT_TRUE(disjoint);
}

TEST(SendPoolTest, PrepareFillsTheMessageHeader) {
  SendPool pool(1, 32);
  SendSlot* s = pool.Acquire();
  s->Prepare(20, stun::SocketAddress::V4({127, 0, 0, 1}, 5000));
  EXPECT_EQ(s->msg.msg_iovlen, 1u);
  EXPECT_EQ(s->iov.iov_base, s->buffer.data());
  EXPECT_EQ(s->iov.iov_len, 20u);
  ASSERT_EQ(s->msg.msg_namelen, sizeof(sockaddr_in));
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&s->addr);
  EXPECT_EQ(sin->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin->sin_port), 5000);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x7F000001u);
}

TEST(SendPoolTest, PrepareExternalPointsOutsideTheSlot) {
  SendPool pool(1, 32);
  SendSlot* s = pool.Acquire();
  const uint8_t outside[100] = {};
  s->PrepareExternal(std::span<const uint8_t>(outside + 10, 70),
                     stun::SocketAddress::V6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 9));
  EXPECT_EQ(s->iov.iov_base, outside + 10);
  EXPECT_EQ(s->iov.iov_len, 70u);  // larger than the slot: nothing is copied
  EXPECT_EQ(s->msg.msg_iov, &s->iov);
  ASSERT_EQ(s->msg.msg_namelen, sizeof(sockaddr_in6));
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&s->addr);
  EXPECT_EQ(sin6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6->sin6_port), 9);
}

}  // namespace
}  // namespace uturn::server
