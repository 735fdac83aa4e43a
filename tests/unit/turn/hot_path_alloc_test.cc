// DESIGN.md §The data plane: "no heap allocation per packet". Relaying
// through the core in steady state (ChannelData both ways, Send and Data
// indications, dropped packets) must not call operator new: this binary's
// global operator new counts calls while a test asks it to.
#include <vector>

#include "stun/channel_data.h"
#include "tests/unit/allocation_counter.h"
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

const SocketAddress kPeer = V4(198, 51, 100, 7, 5000);
const SocketAddress kStranger = V4(203, 0, 113, 9, 5000);

class HotPathAllocationTest : public TurnHarness {};

TEST_F(HotPathAllocationTest, RelayingAllocatesNothingPerPacket) {
  const RelayId relay = AllocateWithPermission(kPeer);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer))->success());

  // Every packet prepared before counting starts.
  Bytes channel_data(4 + 160, 0x55);
  stun::WriteChannelDataHeader(channel_data.data(), 0x4001, 160);
  Bytes send_indication = Build(
      Method::kSend,
      [&](MessageBuilder& b) {
        b.AddXorAddress(stun::attr::kXorPeerAddress, kPeer);
        b.Add(stun::attr::kData, Bytes(160, 0x66));
      },
      std::nullopt, "", NewTid(), false, MessageClass::kIndication);
  Bytes to_stranger = Build(
      Method::kSend,
      [&](MessageBuilder& b) {
        b.AddXorAddress(stun::attr::kXorPeerAddress, kStranger);
        b.Add(stun::attr::kData, Bytes(160, 0x77));
      },
      std::nullopt, "", NewTid(), false, MessageClass::kIndication);
  PeerBuffer from_bound(Bytes(160, 0x11));       // -> ChannelData to the client
  PeerBuffer from_stranger(Bytes(160, 0x22));    // no permission: dropped
  // One warm-up round: first-use growth of internal tables is not per packet.
  host.record = false;
  auto round = [&] {
    server->OnClientPacket(client, channel_data, now);
    server->OnClientPacket(client, send_indication, now);
    server->OnClientPacket(client, to_stranger, now);
    server->OnPeerPacket(relay, kPeer, from_bound.packet(), now);
    server->OnPeerPacket(relay, kStranger, from_stranger.packet(), now);
  };
  round();
  const uint64_t peer_before = host.peer_sends, client_before = host.client_sends;

  constexpr int kRounds = 1000;
  const uturn::testing::AllocationCounter counter;
  for (int i = 0; i < kRounds; ++i) round();
  const size_t allocations = counter.count();

  EXPECT_EQ(allocations, 0u) << "operator new calls while relaying";
  // And the packets really went through (2 to the peer, 1 to the client per round).
  EXPECT_EQ(host.peer_sends - peer_before, 2u * kRounds);
  EXPECT_EQ(host.client_sends - client_before, 1u * kRounds);
}

// The counter itself works (or the test above could not fail).
TEST(AllocationCounterTest, CountsOperatorNew) {
  const uturn::testing::AllocationCounter counter;
  auto* p = new std::vector<int>(100);
  const size_t n = counter.count();
  delete p;
  EXPECT_GE(n, 2u);
}

}  // namespace
}  // namespace uturn::turn::testing
