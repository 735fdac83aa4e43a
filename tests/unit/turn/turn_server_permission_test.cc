// Refresh (RFC 8656 §8), CreatePermission (§9), ChannelBind (§11) and the
// expiry of allocations, permissions and channels with an injected clock.
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

const SocketAddress kPeer = V4(198, 51, 100, 7, 5000);
const SocketAddress kPeer2 = V4(198, 51, 100, 8, 6000);

class PermissionTest : public TurnHarness {
 protected:
  void Allocate() {
    auto r = Request(Method::kAllocate, Udp());
    ASSERT_TRUE(r && r->success());
  }
};

// ---- Refresh ----

TEST_F(PermissionTest, RefreshWithoutAllocationGets437) {
  auto r = Request(Method::kRefresh, {});
  EXPECT_EQ(r->code(), 437);
  EXPECT_TRUE(SignedByAlice(*r));
}

TEST_F(PermissionTest, RefreshExtendsLifetime) {
  Allocate();
  now += absl::Seconds(500);
  auto r = Request(Method::kRefresh,
                   [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 1200); });
  ASSERT_TRUE(r->success());
  EXPECT_EQ(stun::GetLifetime(r->view).value, 1200u);
  now += absl::Seconds(1100);  // past the original 600 s, within 500 + 1200
  server->HandleTimeout(now);
  EXPECT_EQ(server->allocation_count(), 1u);
  now += absl::Seconds(101);
  server->HandleTimeout(now);
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(server->counters().allocations_expired, 1u);
  EXPECT_EQ(host.closed.size(), 1u);
}

TEST_F(PermissionTest, RefreshZeroDeletesAndAllowsImmediateReallocation) {
  Allocate();
  const RelayId relay = host.open.begin()->first;
  auto r = Request(Method::kRefresh, [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 0); });
  ASSERT_TRUE(r->success());
  EXPECT_EQ(stun::GetLifetime(r->view).value, 0u);
  EXPECT_EQ(host.closed, std::vector<RelayId>{relay});
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(server->counters().allocations_deleted, 1u);
  EXPECT_EQ(server->counters().allocations_active, 0u);
  EXPECT_TRUE(Request(Method::kAllocate, Udp())->success());
}

TEST_F(PermissionTest, RefreshByAnotherUserGets441) {
  Allocate();
  auto r = Request(Method::kRefresh, {}, std::nullopt, Credentials{"bob", "builder"});
  EXPECT_EQ(r->code(), 441);
  EXPECT_EQ(ErrorCount(441), 1u);
  EXPECT_EQ(server->allocation_count(), 1u);
}

TEST_F(PermissionTest, RefreshWithFamilyTheAllocationLacksGets443) {
  Allocate();
  auto r = Request(Method::kRefresh, [](MessageBuilder& b) {
    b.AddRequestedAddressFamily(stun::kFamilyIPv6);
  });
  EXPECT_EQ(r->code(), 443);
}

TEST_F(PermissionTest, RefreshZeroWithFamilyDropsOneSideOfDualAllocation) {
  TurnConfig c = DefaultConfig();
  c.relay_ipv6 = true;
  MakeServer(c);
  ASSERT_TRUE(Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                        b.AddAdditionalAddressFamily(stun::kFamilyIPv6);
                      }))->success());
  ASSERT_EQ(host.open.size(), 2u);
  auto r = Request(Method::kRefresh, [](MessageBuilder& b) {
    b.AddU32(stun::attr::kLifetime, 0);
    b.AddRequestedAddressFamily(stun::kFamilyIPv6);
  });
  ASSERT_TRUE(r->success());
  EXPECT_EQ(host.open.size(), 1u);
  EXPECT_EQ(host.open.begin()->second.family, Family::kIPv4);
  EXPECT_EQ(server->allocation_count(), 1u);
}

TEST_F(PermissionTest, AllocationExpiresAtDefaultLifetimeAndClosesRelay) {
  Allocate();
  EXPECT_EQ(server->NextTimeout(), now + absl::Seconds(40));  // the response cache first
  server->HandleTimeout(now + absl::Seconds(40));
  // Never later than the deadline; exact once the wheel has come close.
  EXPECT_LE(server->NextTimeout(), now + absl::Seconds(600));
  EXPECT_EQ(WakeUntil(now + absl::Seconds(600)), now + absl::Seconds(600));
  server->HandleTimeout(now + absl::Seconds(599));
  EXPECT_EQ(server->allocation_count(), 1u);
  server->HandleTimeout(now + absl::Seconds(600));
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(host.closed.size(), 1u);
  EXPECT_EQ(server->NextTimeout(), absl::InfiniteFuture());
}

// ---- CreatePermission ----

TEST_F(PermissionTest, CreatePermissionWithoutAllocationGets437) {
  EXPECT_EQ(Request(Method::kCreatePermission, Peers({kPeer}))->code(), 437);
}

TEST_F(PermissionTest, CreatePermissionWithoutPeerGets400) {
  Allocate();
  EXPECT_EQ(Request(Method::kCreatePermission, {})->code(), 400);
}

TEST_F(PermissionTest, CreatePermissionInstallsSeveralAndCounts) {
  Allocate();
  auto r = Request(Method::kCreatePermission, Peers({kPeer, kPeer2}));
  ASSERT_TRUE(r->success());
  EXPECT_TRUE(SignedByAlice(*r));
  EXPECT_EQ(server->counters().permissions_active, 2u);
}

TEST_F(PermissionTest, CreatePermissionPolicyRefusalIs403AndAllOrNothing) {
  Allocate();
  auto r = Request(Method::kCreatePermission, Peers({kPeer, V4(10, 0, 0, 1, 1)}));
  EXPECT_EQ(r->code(), 403);
  EXPECT_EQ(server->counters().permissions_active, 0u);
  EXPECT_EQ(Request(Method::kCreatePermission, Peers({V4(127, 0, 0, 1, 9)}))->code(), 403);
  EXPECT_EQ(ErrorCount(403), 2u);
}

TEST_F(PermissionTest, CreatePermissionFamilyMismatchGets443) {
  Allocate();
  auto r = Request(Method::kCreatePermission, Peers({V6("2001:db8::7", 5000)}));
  EXPECT_EQ(r->code(), 443);
  EXPECT_EQ(server->counters().permissions_active, 0u);
}

TEST_F(PermissionTest, CreatePermissionBeyondBoundGets508) {
  TurnConfig c = DefaultConfig();
  c.max_permissions = 2;
  MakeServer(c);
  Allocate();
  ASSERT_TRUE(Request(Method::kCreatePermission, Peers({kPeer, kPeer2}))->success());
  // Same IPs again (other ports): a refresh, not new state.
  ASSERT_TRUE(Request(Method::kCreatePermission,
                      Peers({V4(198, 51, 100, 7, 1), V4(198, 51, 100, 8, 2)}))
                  ->success());
  EXPECT_EQ(Request(Method::kCreatePermission, Peers({V4(198, 51, 100, 9, 1)}))->code(), 508);
}

TEST_F(PermissionTest, PermissionExpiresAfter300SecondsUnlessRefreshed) {
  Allocate();
  ASSERT_TRUE(Request(Method::kCreatePermission, Peers({kPeer, kPeer2}))->success());
  now += absl::Seconds(200);
  ASSERT_TRUE(Request(Method::kCreatePermission, Peers({kPeer}))->success());  // refresh one
  now += absl::Seconds(101);
  server->HandleTimeout(now);
  EXPECT_EQ(server->counters().permissions_active, 1u);
  // The peer whose permission lapsed can no longer reach the client.
  PeerBuffer lapsed(Bytes{1, 2, 3});
  server->OnPeerPacket(host.open.begin()->first, kPeer2, lapsed.packet(), now);
  EXPECT_EQ(server->counters().dropped_no_permission, 1u);
  now += absl::Seconds(200);
  server->HandleTimeout(now);
  EXPECT_EQ(server->counters().permissions_active, 0u);
}

// ---- ChannelBind ----

TEST_F(PermissionTest, ChannelBindWithoutAllocationGets437) {
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4000, kPeer))->code(), 437);
}

TEST_F(PermissionTest, ChannelBindInstallsChannelAndPermission) {
  Allocate();
  auto r = Request(Method::kChannelBind, Bind(0x4000, kPeer));
  ASSERT_TRUE(r->success());
  EXPECT_EQ(server->counters().channels_active, 1u);
  EXPECT_EQ(server->counters().permissions_active, 1u);
}

TEST_F(PermissionTest, ChannelNumberOutOfRangeGets400) {
  Allocate();
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x3FFF, kPeer))->code(), 400);
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x5000, kPeer))->code(), 400);  // RFC 8656 §12
  EXPECT_EQ(server->counters().channels_active, 0u);
}

TEST_F(PermissionTest, ChannelBindMissingAttributesGets400) {
  Allocate();
  EXPECT_EQ(Request(Method::kChannelBind,
                    [](MessageBuilder& b) { b.AddChannelNumber(0x4000); })->code(),
            400);
  EXPECT_EQ(Request(Method::kChannelBind,
                    [](MessageBuilder& b) {
                      b.AddXorAddress(stun::attr::kXorPeerAddress, kPeer);
                    })->code(),
            400);
}

TEST_F(PermissionTest, ChannelNumberBoundToOtherPeerGets400) {
  Allocate();
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4000, kPeer2))->code(), 400);
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4001, kPeer))->code(), 400);
  // Same pair again: a refresh.
  EXPECT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  EXPECT_EQ(server->counters().channels_active, 1u);
}

TEST_F(PermissionTest, ChannelBindPolicyAndFamilyChecks) {
  Allocate();
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4000, V4(192, 168, 1, 1, 1)))->code(), 403);
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4000, V6("2001:db8::1", 1)))->code(), 443);
}

TEST_F(PermissionTest, ChannelBindBeyondBoundGets508) {
  TurnConfig c = DefaultConfig();
  c.max_channels = 1;
  MakeServer(c);
  Allocate();
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4001, kPeer2))->code(), 508);
}

TEST_F(PermissionTest, ChannelBindBeyondPermissionBoundGets508) {
  TurnConfig c = DefaultConfig();
  c.max_permissions = 1;
  MakeServer(c);
  Allocate();
  ASSERT_TRUE(Request(Method::kCreatePermission, Peers({kPeer}))->success());
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4001, kPeer2))->code(), 508);
}

TEST_F(PermissionTest, ChannelExpiresThenCoolsDownForFiveMinutes) {
  Allocate();
  ASSERT_TRUE(Request(Method::kRefresh,
                      [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 3600); })
                  ->success());
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  now += absl::Seconds(600);
  server->HandleTimeout(now);
  EXPECT_EQ(server->counters().channels_active, 0u);
  // RFC 8656 §12: during the cooldown neither the number nor the peer can
  // be bound to something else ...
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4000, kPeer2))->code(), 400);
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4001, kPeer))->code(), 400);
  now += absl::Seconds(299);
  server->HandleTimeout(now);
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x4000, kPeer2))->code(), 400);
  // ... and afterwards both are free.
  now += absl::Seconds(1);
  server->HandleTimeout(now);
  EXPECT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer2))->success());
  EXPECT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer))->success());
  EXPECT_EQ(server->counters().channels_active, 2u);
}

TEST_F(PermissionTest, AllocationExpiryClearsChannelsAndPermissions) {
  Allocate();
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  now += absl::Seconds(601);
  server->HandleTimeout(now);  // the allocation (600 s) expired as well
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(server->counters().channels_active, 0u);
  EXPECT_EQ(server->counters().permissions_active, 0u);
}

TEST_F(PermissionTest, RebindingSamePairAfterExpiryReactivates) {
  Allocate();
  ASSERT_TRUE(Request(Method::kRefresh,
                      [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 3600); })
                  ->success());
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  now += absl::Seconds(700);
  server->HandleTimeout(now);
  EXPECT_EQ(server->counters().channels_active, 0u);
  EXPECT_TRUE(Request(Method::kChannelBind, Bind(0x4000, kPeer))->success());
  EXPECT_EQ(server->counters().channels_active, 1u);
}

}  // namespace
}  // namespace uturn::turn::testing
