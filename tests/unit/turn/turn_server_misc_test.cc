// Auth reload, timer bookkeeping and counters of the TURN core.
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

class MiscTest : public TurnHarness {};

TEST_F(MiscTest, ReloadAuthChangesWhoMayAllocate) {
  AuthConfig next = config_.auth;
  next.users = {{"carol", "pw"}};
  ASSERT_TRUE(server->ReloadAuth(next).ok());
  config_.auth = next;
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 401);  // alice is gone
  EXPECT_TRUE(Request(Method::kAllocate, Udp(), std::nullopt, Credentials{"carol", "pw"})
                  ->success());
}

TEST_F(MiscTest, RepeatedRefreshesKeepTheTimerHeapSmallAndCorrect) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  // Many refreshes that only push the deadline later queue nothing new; the
  // allocation still expires exactly at the last deadline.
  for (int i = 0; i < 50; ++i) {
    now += absl::Seconds(10);
    ASSERT_TRUE(Request(Method::kRefresh, {})->success());
  }
  const absl::Time deadline = now + absl::Seconds(600);
  for (absl::Time t = server->NextTimeout(); t < deadline; t = server->NextTimeout()) {
    ASSERT_GT(t, now - absl::Seconds(1000));
    server->HandleTimeout(t);
    now = t;
    ASSERT_EQ(server->allocation_count(), 1u);
  }
  server->HandleTimeout(deadline);
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(server->counters().allocations_expired, 1u);
}

TEST_F(MiscTest, RefreshToShorterLifetimeExpiresEarlier) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                        b.AddU32(stun::attr::kLifetime, 3600);
                      }))->success());
  ASSERT_TRUE(Request(Method::kRefresh, {})->success());  // back to the 600 s default
  server->HandleTimeout(now + absl::Seconds(600));
  EXPECT_EQ(server->allocation_count(), 0u);
}

TEST_F(MiscTest, ResponseCountersByCode) {
  Request(Method::kAllocate, Udp());
  Request(Method::kAllocate, Udp());  // 437
  Request(Method::kCreatePermission, {});  // 400
  const TurnCounters& c = server->counters();
  EXPECT_EQ(c.responses_success, 1u);
  EXPECT_EQ(c.responses_error, 3u);  // + the 401 that fetched the nonce
  EXPECT_EQ(ErrorCount(401), 1u);
  EXPECT_EQ(ErrorCount(437), 1u);
  EXPECT_EQ(ErrorCount(400), 1u);
  EXPECT_EQ(c.requests, 4u);
}

TEST_F(MiscTest, NoTimeoutWhenIdle) {
  EXPECT_EQ(server->NextTimeout(), absl::InfiniteFuture());
  server->HandleTimeout(now);  // harmless
  EXPECT_EQ(server->allocation_count(), 0u);
}

}  // namespace
}  // namespace uturn::turn::testing
