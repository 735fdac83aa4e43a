// Allocation quotas (RFC 8656 §7.2, 486): the local ledger on its own, and
// the core's use of a ledger: acquire before a relay opens, give back on
// every way an allocation ends (expiry, Refresh 0, failed open, destruction),
// and one ledger shared by two cores (shards).
#include "turn/quota_ledger.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

TEST(LocalQuotaLedger, UnlimitedByDefaultButCounts) {
  LocalQuotaLedger ledger(QuotaLimits{});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(ledger.TryAcquire("alice", nullptr));
  EXPECT_EQ(ledger.CountFor("alice"), 100u);
  EXPECT_EQ(ledger.total(), 100u);
  for (int i = 0; i < 100; ++i) ledger.Release("alice");
  EXPECT_EQ(ledger.CountFor("alice"), 0u);
  EXPECT_EQ(ledger.total(), 0u);
}

TEST(LocalQuotaLedger, UserQuotaIsPerUsername) {
  LocalQuotaLedger ledger(QuotaLimits{.user = 2, .total = 0});
  QuotaRefusal why = QuotaRefusal::kTotal;
  EXPECT_TRUE(ledger.TryAcquire("alice", &why));
  EXPECT_EQ(why, QuotaRefusal::kNone);
  EXPECT_TRUE(ledger.TryAcquire("alice", &why));
  EXPECT_FALSE(ledger.TryAcquire("alice", &why));
  EXPECT_EQ(why, QuotaRefusal::kUser);
  EXPECT_EQ(ledger.CountFor("alice"), 2u);  // a refusal counts nothing
  EXPECT_TRUE(ledger.TryAcquire("bob", &why));
  ledger.Release("alice");
  EXPECT_TRUE(ledger.TryAcquire("alice", &why));
}

TEST(LocalQuotaLedger, TotalQuotaWinsWhenBothAreReached) {
  LocalQuotaLedger ledger(QuotaLimits{.user = 1, .total = 1});
  EXPECT_TRUE(ledger.TryAcquire("alice", nullptr));
  QuotaRefusal why = QuotaRefusal::kNone;
  EXPECT_FALSE(ledger.TryAcquire("alice", &why));
  EXPECT_EQ(why, QuotaRefusal::kTotal);
  EXPECT_FALSE(ledger.TryAcquire("bob", &why));
  EXPECT_EQ(why, QuotaRefusal::kTotal);
  ledger.Release("alice");
  EXPECT_TRUE(ledger.TryAcquire("bob", &why));
}

// A ledger that records what the core asks and can be told to refuse.
class RecordingLedger final : public QuotaLedger {
 public:
  bool TryAcquire(std::string_view username, QuotaRefusal* why) override {
    acquired.emplace_back(username);
    *why = refuse;
    if (refuse != QuotaRefusal::kNone) return false;
    ++held;
    return true;
  }
  void Release(std::string_view username) override {
    released.emplace_back(username);
    --held;
  }
  QuotaRefusal refuse = QuotaRefusal::kNone;
  std::vector<std::string> acquired, released;
  int held = 0;
};

class CoreQuotaTest : public TurnHarness {
 protected:
  void SetUp() override {
    ledger = std::make_shared<RecordingLedger>();
    TurnConfig c = DefaultConfig();
    c.quota_ledger = ledger;
    MakeServer(c);
  }
  std::shared_ptr<RecordingLedger> ledger;
};

TEST_F(CoreQuotaTest, AllocateAcquiresForTheAuthenticatedUser) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  EXPECT_EQ(ledger->acquired, std::vector<std::string>{"alice"});
  EXPECT_EQ(ledger->held, 1);
}

TEST_F(CoreQuotaTest, RefusalsAnswer486AndAreCountedByQuota) {
  ledger->refuse = QuotaRefusal::kUser;
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 486);
  ledger->refuse = QuotaRefusal::kTotal;
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 486);
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 486);
  EXPECT_EQ(server->counters().quota_rejections_user, 1u);
  EXPECT_EQ(server->counters().quota_rejections_total, 2u);
  EXPECT_EQ(host.open_requests.size(), 0u);  // refused before any relay opens
  EXPECT_TRUE(ledger->released.empty());
}

TEST_F(CoreQuotaTest, ConfiguredLimitsAreIgnoredWhenALedgerIsGiven) {
  TurnConfig c = DefaultConfig();
  c.user_quota = 1;
  c.total_quota = 1;
  c.quota_ledger = ledger;
  MakeServer(c);
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  EXPECT_TRUE(Request(Method::kAllocate, Udp(), Tuple(V4(203, 0, 113, 6, 1)))->success());
}

TEST_F(CoreQuotaTest, FailedRelayOpenGivesTheQuotaBack) {
  host.fail_v4 = TurnHost::RelayError::kInsufficientCapacity;
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 508);
  EXPECT_EQ(ledger->released, std::vector<std::string>{"alice"});
  EXPECT_EQ(ledger->held, 0);
}

TEST_F(CoreQuotaTest, ExpiryGivesTheQuotaBack) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  server->HandleTimeout(now + absl::Seconds(600));
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(ledger->released, std::vector<std::string>{"alice"});
}

TEST_F(CoreQuotaTest, RefreshZeroGivesTheQuotaBack) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  ASSERT_TRUE(Request(Method::kRefresh, [](MessageBuilder& b) {
                b.AddU32(stun::attr::kLifetime, 0);
              })->success());
  EXPECT_EQ(ledger->held, 0);
}

TEST_F(CoreQuotaTest, DestroyingTheCoreGivesBackWhatItHeld) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), Tuple(V4(203, 0, 113, 6, 1)),
                      Credentials{"bob", "builder"})
                  ->success());
  EXPECT_EQ(ledger->held, 2);
  server.reset();
  EXPECT_EQ(ledger->held, 0);
  std::vector<std::string> released = ledger->released;
  std::sort(released.begin(), released.end());
  EXPECT_EQ(released, (std::vector<std::string>{"alice", "bob"}));
}

// Two cores (two shards) handed the same ledger share the quota: alice's
// second allocation is refused on the other shard.
TEST(SharedLedger, TwoCoresShareOneUserQuota) {
  auto ledger = std::make_shared<LocalQuotaLedger>(QuotaLimits{.user = 1, .total = 0});
  class Shard : public TurnHarness {
   public:
    void TestBody() override {}
    void Make(std::shared_ptr<QuotaLedger> l) {
      TurnConfig c = DefaultConfig();
      c.quota_ledger = std::move(l);
      MakeServer(c);
    }
    int AllocateCode(SocketAddress from) {
      auto r = Request(Method::kAllocate, Udp(), Tuple(from));
      return r == nullptr ? -1 : (r->success() ? 200 : r->code());
    }
    std::unique_ptr<TurnServer>& core() { return server; }
    void ExpireAll() { server->HandleTimeout(now + absl::Hours(2)); }
  };
  Shard a, b;
  a.Make(ledger);
  b.Make(ledger);
  EXPECT_EQ(a.AllocateCode(V4(203, 0, 113, 5, 1)), 200);
  EXPECT_EQ(b.AllocateCode(V4(203, 0, 113, 5, 2)), 486);
  EXPECT_EQ(b.core()->counters().quota_rejections_user, 1u);
  EXPECT_EQ(ledger->CountFor("alice"), 1u);
  a.ExpireAll();  // shard A's allocation ends: shard B may allocate
  EXPECT_EQ(ledger->CountFor("alice"), 0u);
  EXPECT_EQ(b.AllocateCode(V4(203, 0, 113, 5, 2)), 200);
}

}  // namespace
}  // namespace uturn::turn::testing
