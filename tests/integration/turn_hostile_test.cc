// 20,000 random and malformed TURN-shaped datagrams and ChannelData frames at
// the real binary; afterwards it must still relay and answer Binding.
#include <random>

#include "stun/constants.h"
#include "stun/message_builder.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

constexpr int kDatagrams = 20000;

// One hostile datagram. Shapes: pure noise; a STUN header with a TURN method
// and class and random attributes (lengths sometimes lying); ChannelData with
// random channel numbers and lengths; truncated copies of valid requests.
std::vector<uint8_t> Hostile(std::mt19937& rng, const std::vector<uint8_t>& valid_request) {
  auto byte = [&] { return static_cast<uint8_t>(rng()); };
  std::vector<uint8_t> out;
  switch (rng() % 5) {
    case 0: {
      out.resize(rng() % 600);
      for (uint8_t& b : out) b = byte();
      break;
    }
    case 1:
    case 2: {
      static constexpr stun::Method kMethods[] = {stun::Method::kAllocate, stun::Method::kRefresh,
                                                  stun::Method::kSend, stun::Method::kData,
                                                  stun::Method::kCreatePermission,
                                                  stun::Method::kChannelBind, stun::Method::kBinding};
      const auto method = kMethods[rng() % 7];
      const auto cls = static_cast<stun::MessageClass>(rng() % 4);
      const size_t body = (rng() % 40) * 4;
      out.resize(stun::kHeaderSize + body);
      const uint16_t type = stun::EncodeMessageType(method, cls);
      out[0] = static_cast<uint8_t>(type >> 8);
      out[1] = static_cast<uint8_t>(type);
      const uint16_t len = (rng() % 8 == 0) ? static_cast<uint16_t>(rng()) : static_cast<uint16_t>(body);
      out[2] = static_cast<uint8_t>(len >> 8);
      out[3] = static_cast<uint8_t>(len);
      out[4] = 0x21, out[5] = 0x12, out[6] = 0xA4, out[7] = 0x42;
      for (size_t i = 8; i < out.size(); ++i) out[i] = byte();
      // Attribute headers with real TURN types and plausible lengths.
      static constexpr uint16_t kTypes[] = {0x000C, 0x000D, 0x0012, 0x0013, 0x0016, 0x0017, 0x0018,
                                            0x0019, 0x001A, 0x0022, 0x0006, 0x0014, 0x0015, 0x0008,
                                            0x001C, 0x8028, 0x8000, 0x001D, 0x8002, 0x001E};
      for (size_t off = stun::kHeaderSize; off + 4 <= out.size();) {
        const uint16_t t = kTypes[rng() % (sizeof kTypes / sizeof kTypes[0])];
        const uint16_t l = static_cast<uint16_t>(rng() % 32);
        out[off] = static_cast<uint8_t>(t >> 8);
        out[off + 1] = static_cast<uint8_t>(t);
        out[off + 2] = static_cast<uint8_t>(l >> 8);
        out[off + 3] = static_cast<uint8_t>(l);
        off += 4 + ((l + 3u) & ~3u);
      }
      break;
    }
    case 3: {
      const size_t payload = rng() % 300;
      out.resize(4 + payload);
      const uint16_t ch = static_cast<uint16_t>(0x4000 + rng() % 0x4000);  // valid and reserved
      const uint16_t len = (rng() % 4 == 0) ? static_cast<uint16_t>(rng()) : static_cast<uint16_t>(payload);
      out[0] = static_cast<uint8_t>(ch >> 8);
      out[1] = static_cast<uint8_t>(ch);
      out[2] = static_cast<uint8_t>(len >> 8);
      out[3] = static_cast<uint8_t>(len);
      for (size_t i = 4; i < out.size(); ++i) out[i] = byte();
      break;
    }
    default: {
      out = valid_request;
      out.resize(rng() % (out.size() + 1));
      if (!out.empty()) out[rng() % out.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    }
  }
  return out;
}

class TurnHostileTest : public TurnServerTest {};

TEST_F(TurnHostileTest, SurvivesMalformedFloodAndStillRelays) {
  Start();
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(s.Allocate()->kind, TurnEvent::Kind::kAllocated);
  Peer peer = MakePeer();
  ASSERT_EQ(s.ChannelBind(0x4001, peer.address)->kind, TurnEvent::Kind::kChannelBound);
  const std::vector<uint8_t> valid = s.sent().back();  // the authenticated ChannelBind

  // Half from strangers, half from the allocated 5-tuple (where ChannelData
  // and Send indications reach the relay path). Every 500 datagrams a
  // Binding round trip paces the flood so the socket buffers do not simply
  // drop most of it.
  Fd stranger = UdpSocket();
  std::mt19937 rng(20240603);
  for (int i = 0; i < kDatagrams; ++i) {
    const auto d = Hostile(rng, valid);
    SendTo(i % 2 ? s.fd() : stranger.get(), d, udp_);
    if (i % 500 == 499) {
      Fd probe = UdpSocket();
      ASSERT_EQ(BindingOverUdp(probe.get(), udp_).status, client::BindingStatus::kSuccess)
          << "after " << i + 1 << " datagrams\n" << server_.Log();
    }
  }
  ASSERT_TRUE(server_.Alive()) << server_.Log();

  // Drain what the flood relayed to the peer (random ChannelData on 0x4001).
  while (RecvDatagram(peer.fd.get(), milliseconds(0))) {
  }
  // The Refresh answer queues behind the flood's error responses to s.fd(),
  // so waiting for it drains that socket: without this, the relayed reply
  // below could be dropped by the kernel on a full client receive buffer.
  {
    const auto r = s.Refresh(600);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->kind, TurnEvent::Kind::kRefreshed) << r->error_code << " " << r->reason;
  }
  // Still relays both ways on the same allocation.
  const auto up = RandomBytes(500, 7);
  ASSERT_TRUE(s.SendChannelData(0x4001, up));
  std::optional<std::vector<uint8_t>> got;
  while ((got = RecvDatagram(peer.fd.get(), milliseconds(3000))) && *got != up) {
  }
  ASSERT_TRUE(got.has_value()) << "relay lost after the flood";
  const auto down = RandomBytes(321, 8);
  ASSERT_TRUE(SendTo(peer.fd.get(), down, s.client().allocation().relayed[0]));
  std::optional<PeerData> data;
  while ((data = s.WaitData()) && data->payload != down) {
  }
  ASSERT_TRUE(data.has_value()) << server_.Log();
  EXPECT_EQ(data->channel, 0x4001);

  // And a new client can still allocate.
  TurnSession fresh(udp_, TurnConfigFor("u", "p"));
  EXPECT_EQ(fresh.Allocate()->kind, TurnEvent::Kind::kAllocated);
}

}  // namespace
}  // namespace uturn::testing
