// TCP allocations belong to their connection (RFC 8656 §3.1 / §2): the core
// releases one when the host reports its connection closed, tells the host
// when one expires, and hands relayed data to the host as droppable.
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

const SocketAddress kPeer = V4(198, 51, 100, 7, 5000);

class ConnectionTest : public TurnHarness {
 protected:
  FiveTuple Tcp(SocketAddress c = V4(203, 0, 113, 5, 40000)) {
    return FiveTuple{c, V4(192, 0, 2, 1, 3478), Transport::kTcp};
  }
  // An allocation on `t` with a permission and channel 0x4001 to kPeer.
  RelayId AllocateWithChannel(const FiveTuple& t) {
    auto a = Request(Method::kAllocate, Udp(), t);
    EXPECT_TRUE(a && a->success());
    EXPECT_TRUE(Request(Method::kCreatePermission, Peers({kPeer}), t)->success());
    EXPECT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer), t)->success());
    return host.open.rbegin()->first;  // the newest relay (ids grow)
  }
};

TEST_F(ConnectionTest, ClosingTheConnectionReleasesEverything) {
  const FiveTuple t = Tcp();
  const RelayId relay = AllocateWithChannel(t);
  ASSERT_TRUE(server->HasAllocation(t));
  ASSERT_EQ(server->counters().permissions_active, 1u);
  ASSERT_EQ(server->counters().channels_active, 1u);

  server->OnConnectionClosed(t, now);

  EXPECT_FALSE(server->HasAllocation(t));
  EXPECT_EQ(server->allocation_count(), 0u);
  EXPECT_EQ(host.closed, std::vector<RelayId>{relay});
  EXPECT_TRUE(host.open.empty());
  const TurnCounters& c = server->counters();
  EXPECT_EQ(c.allocations_active, 0u);
  EXPECT_EQ(c.permissions_active, 0u);
  EXPECT_EQ(c.channels_active, 0u);
  EXPECT_EQ(c.allocations_released_connection_closed, 1u);
  EXPECT_EQ(c.allocations_expired, 0u);
  EXPECT_EQ(c.allocations_deleted, 0u);
  EXPECT_TRUE(host.expired.empty());  // the host closed it; nothing to tell
  // Nothing of it is left to relay to: a peer's packet is dropped.
  PeerBuffer buf(Bytes{1, 2, 3});
  const size_t sent = host.to_client.size();
  server->OnPeerPacket(relay, kPeer, buf.packet(), now);
  EXPECT_EQ(host.to_client.size(), sent);
  // Nor does a timer fire for it later.
  now += absl::Seconds(4000);
  server->HandleTimeout(now);
  EXPECT_EQ(server->counters().allocations_expired, 0u);
}

TEST_F(ConnectionTest, QuotaIsGivenBackOnClose) {
  TurnConfig config = DefaultConfig();
  config.user_quota = 1;
  MakeServer(config);
  const FiveTuple first = Tcp(V4(203, 0, 113, 5, 40000));
  const FiveTuple second = Tcp(V4(203, 0, 113, 5, 40001));
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), first)->success());
  EXPECT_EQ(Request(Method::kAllocate, Udp(), second)->code(), 486);
  server->OnConnectionClosed(first, now);
  EXPECT_TRUE(Request(Method::kAllocate, Udp(), second)->success());
}

TEST_F(ConnectionTest, ClosingOneConnectionLeavesTheOthers) {
  const FiveTuple a = Tcp(V4(203, 0, 113, 5, 40000));
  const FiveTuple b = Tcp(V4(203, 0, 113, 5, 40001));
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), a)->success());
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), b)->success());
  server->OnConnectionClosed(a, now);
  EXPECT_FALSE(server->HasAllocation(a));
  EXPECT_TRUE(server->HasAllocation(b));
  EXPECT_EQ(host.open.size(), 1u);
}

TEST_F(ConnectionTest, CloseWithoutAllocationIsANoOp) {
  const FiveTuple t = Tcp();
  server->OnConnectionClosed(t, now);  // never allocated
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), t)->success());
  server->OnConnectionClosed(t, now);
  server->OnConnectionClosed(t, now);  // twice: the second finds nothing
  EXPECT_EQ(server->counters().allocations_released_connection_closed, 1u);
  EXPECT_EQ(host.closed.size(), 1u);
}

TEST_F(ConnectionTest, ExpiryIsReportedToTheHost) {
  const FiveTuple t = Tcp();
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), t)->success());
  now += absl::Seconds(601);  // RFC 8656 §7.2: 600 s by default
  server->HandleTimeout(now);
  EXPECT_FALSE(server->HasAllocation(t));
  ASSERT_EQ(host.expired.size(), 1u);
  EXPECT_EQ(host.expired[0], t);
  EXPECT_EQ(server->counters().allocations_released_connection_closed, 0u);
}

TEST_F(ConnectionTest, RefreshZeroIsNotReportedAsExpiry) {
  const FiveTuple t = Tcp();
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), t)->success());
  ASSERT_TRUE(Request(Method::kRefresh,
                      [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 0); }, t)
                  ->success());
  EXPECT_FALSE(server->HasAllocation(t));
  EXPECT_TRUE(host.expired.empty());
}

TEST_F(ConnectionTest, RelayedDataGoesThroughTheDroppablePath) {
  const FiveTuple t = Tcp();
  const RelayId relay = AllocateWithChannel(t);
  const uint64_t responses = host.client_sends;
  PeerBuffer on_channel(Bytes{1, 2, 3});
  server->OnPeerPacket(relay, kPeer, on_channel.packet(), now);  // ChannelData
  PeerBuffer indication(Bytes{4});
  server->OnPeerPacket(relay, V4(198, 51, 100, 7, 5001), indication.packet(), now);  // Data ind.
  EXPECT_EQ(host.data_sends, 2u);
  EXPECT_EQ(host.client_sends, responses + 2);
  // A response is not relayed data.
  ASSERT_TRUE(Request(Method::kRefresh, {}, t)->success());
  EXPECT_EQ(host.data_sends, 2u);
}

}  // namespace
}  // namespace uturn::turn::testing
