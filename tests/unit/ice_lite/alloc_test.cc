// Answering a check in steady state allocates nothing: counted by replacing
// the global operator new for this test binary.
#include <vector>

#include "gtest/gtest.h"
#include "ice-lite/router.h"
#include "ice_test_util.h"
#include "tests/unit/allocation_counter.h"

namespace uturn::ice {
namespace {

using namespace uturn::ice::testing;  // NOLINT: test helpers

// Counts without allocating.
class CountingOutput : public RouterOutput {
 public:
  void Send(const Tuple&, std::span<const uint8_t> bytes) override {
    ++sent;
    last_size = bytes.size();
  }
  void OnSessionEvent(SessionId, const SessionEvent&) override { ++events; }
  void OnMedia(SessionId, const Tuple&, std::span<const uint8_t>) override { ++media; }
  size_t sent = 0, events = 0, media = 0, last_size = 0;
};

TEST(IceRouterSteadyState, AnsweredChecksAndMediaAllocateNothing) {
  CountingOutput out;
  Router router(RouterConfig{}, &out);
  std::vector<SessionId> ids;
  for (int i = 0; i < 16; ++i) {
    auto id = router.AddSession({}, Creds("sess" + std::to_string(100 + i)), std::nullopt);
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  const Tuple t = UdpTuple(V4(9, 9999));
  const Tuple t6 = UdpTuple(V6(9, 9999), ServerV6());
  const Packet nominate = BuildCheck(ChromeCheck(Creds("sess107"), "clnt", true));
  const Packet keepalive = BuildCheck(ChromeCheck(Creds("sess107"), "clnt", true));
  const Packet nominate6 = BuildCheck(FirefoxCheck(Creds("sess107"), "clnt", 1));
  const std::vector<uint8_t> rtp = {0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  absl::Time now = T0();
  router.OnPacket(t, nominate.bytes(), now);  // joins, selects: may allocate
  router.OnPacket(t6, nominate6.bytes(), now);
  ASSERT_EQ(out.sent, 2u);
  ASSERT_EQ(router.tuple_count(), 2u);

  const uturn::testing::AllocationCounter counter;
  // 1 ms apart: within one timer period, so this measures the check path
  // alone (a timer entry that moves may cost a btree node; that happens at
  // most once per session per disconnected_after).
  for (int i = 0; i < 1000; ++i) {
    now += absl::Milliseconds(1);
    router.OnPacket(t, keepalive.bytes(), now);
    router.OnPacket(t6, nominate6.bytes(), now);
    router.OnPacket(t, rtp, now);
  }
  const size_t allocations = counter.count();
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(out.sent, 2002u);
  EXPECT_EQ(out.media, 1000u);
  EXPECT_EQ(router.counters().checks_answered, 2002u);
}

}  // namespace
}  // namespace uturn::ice
