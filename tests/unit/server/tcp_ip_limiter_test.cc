#include "server/tcp_ip_limiter.h"

#include <gtest/gtest.h>

namespace uturn::server {
namespace {

using stun::SocketAddress;

TEST(TcpIpLimiter, CapsEachIpAndIgnoresPorts) {
  TcpIpLimiter limiter(2);
  const SocketAddress a1 = SocketAddress::V4({192, 0, 2, 1}, 1000);
  const SocketAddress a2 = SocketAddress::V4({192, 0, 2, 1}, 2000);
  const SocketAddress b = SocketAddress::V4({192, 0, 2, 2}, 1000);
  EXPECT_TRUE(limiter.Acquire(a1));
  EXPECT_TRUE(limiter.Acquire(a2));
  EXPECT_FALSE(limiter.Acquire(a1));  // the third from 192.0.2.1
  EXPECT_EQ(limiter.count(a1), 2u);   // the refusal counted nothing
  EXPECT_TRUE(limiter.Acquire(b));    // another IP has its own cap
  limiter.Release(a2);
  EXPECT_TRUE(limiter.Acquire(a1));
  EXPECT_FALSE(limiter.Acquire(a2));
}

TEST(TcpIpLimiter, FamiliesAreDistinct) {
  TcpIpLimiter limiter(1);
  EXPECT_TRUE(limiter.Acquire(*SocketAddress::ParseIp("::1", 5)));
  EXPECT_TRUE(limiter.Acquire(SocketAddress::V4({127, 0, 0, 1}, 5)));
  EXPECT_FALSE(limiter.Acquire(*SocketAddress::ParseIp("::1", 6)));
}

TEST(TcpIpLimiter, ReleasingTheLastForgetsTheIp) {
  TcpIpLimiter limiter(1);
  const SocketAddress a = SocketAddress::V4({192, 0, 2, 1}, 1000);
  ASSERT_TRUE(limiter.Acquire(a));
  limiter.Release(a);
  EXPECT_EQ(limiter.count(a), 0u);
  EXPECT_TRUE(limiter.Acquire(a));
}

TEST(TcpIpLimiter, ZeroMeansNoCap) {
  TcpIpLimiter limiter(0);
  const SocketAddress a = SocketAddress::V4({192, 0, 2, 1}, 1000);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Acquire(a));
  EXPECT_EQ(limiter.count(a), 0u);  // nothing tracked
}

}  // namespace
}  // namespace uturn::server
