// Relaying in both directions (RFC 8656 §10, §12): Send/Data indications and
// ChannelData, byte-exact frames checked with the codec, zero-copy spans,
// permission and policy checks, the bandwidth limit, and Binding requests.
#include "stun/channel_data.h"
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

const SocketAddress kPeer = V4(198, 51, 100, 7, 5000);

class RelayTest : public TurnHarness {
 protected:
  Bytes SendIndication(const SocketAddress& peer, const Bytes& data, bool df = false) {
    return Build(
        Method::kSend,
        [&](MessageBuilder& b) {
          b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
          b.Add(stun::attr::kData, data);
          if (df) b.AddFlag(stun::attr::kDontFragment);
        },
        std::nullopt, "", NewTid(), false, MessageClass::kIndication);
  }
  void FromClient(Bytes packet) { server->OnClientPacket(client, packet, now); }
  static Bytes ChannelData(uint16_t channel, const Bytes& payload) {
    Bytes b(4 + payload.size());
    stun::WriteChannelDataHeader(b.data(), channel, static_cast<uint16_t>(payload.size()));
    std::copy(payload.begin(), payload.end(), b.begin() + 4);
    return b;
  }
};

TEST_F(RelayTest, SendIndicationReachesPermittedPeer) {
  const RelayId relay = AllocateWithPermission(kPeer);
  EXPECT_EQ(Feed(client, SendIndication(kPeer, Bytes{1, 2, 3, 4, 5})), nullptr);
  ASSERT_EQ(host.to_peer.size(), 1u);
  EXPECT_EQ(host.to_peer[0].relay, relay);
  EXPECT_EQ(host.to_peer[0].peer, kPeer);
  EXPECT_EQ(host.to_peer[0].payload, (Bytes{1, 2, 3, 4, 5}));
  EXPECT_FALSE(host.to_peer[0].dont_fragment);
  EXPECT_EQ(server->counters().packets_to_peer, 1u);
  EXPECT_EQ(server->counters().bytes_to_peer, 5u);
}

TEST_F(RelayTest, SendIndicationPassesDontFragment) {
  AllocateWithPermission(kPeer);
  Feed(client, SendIndication(kPeer, Bytes{9}, /*df=*/true));
  ASSERT_EQ(host.to_peer.size(), 1u);
  EXPECT_TRUE(host.to_peer[0].dont_fragment);
}

TEST_F(RelayTest, SendIndicationPermissionIsPerIpAnyPort) {
  AllocateWithPermission(kPeer);
  Feed(client, SendIndication(V4(198, 51, 100, 7, 1234), Bytes{9}));
  EXPECT_EQ(host.to_peer.size(), 1u);
}

TEST_F(RelayTest, SendIndicationDropsAreCounted) {
  // No allocation.
  Feed(client, SendIndication(kPeer, Bytes{1}));
  EXPECT_EQ(server->counters().dropped_no_allocation, 1u);
  AllocateWithPermission(kPeer);
  // No permission for this IP.
  Feed(client, SendIndication(V4(198, 51, 100, 99, 1), Bytes{1}));
  EXPECT_EQ(server->counters().dropped_no_permission, 1u);
  // Peer policy (loopback).
  Feed(client, SendIndication(V4(127, 0, 0, 1, 1), Bytes{1}));
  EXPECT_EQ(server->counters().dropped_peer_policy, 1u);
  // Missing DATA, and an IPv6 peer on an IPv4-only allocation.
  Feed(client, Build(Method::kSend,
                     [](MessageBuilder& b) { b.AddXorAddress(stun::attr::kXorPeerAddress, kPeer); },
                     std::nullopt, "", NewTid(), false, MessageClass::kIndication));
  Feed(client, SendIndication(V6("2001:db8::5", 1), Bytes{1}));
  EXPECT_EQ(server->counters().dropped_malformed, 2u);
  EXPECT_TRUE(host.to_peer.empty());
  EXPECT_EQ(host.to_client.size(), 3u);  // 401 + Allocate + CreatePermission: no answers to drops
}

TEST_F(RelayTest, PeerDataBecomesDataIndicationBuiltInPlace) {
  const RelayId relay = AllocateWithPermission(kPeer);
  const Bytes payload = {0xDE, 0xAD, 0xBE, 0xEF, 0x01};  // odd length: DATA needs padding
  PeerBuffer buf(payload);
  server->OnPeerPacket(relay, V4(198, 51, 100, 7, 7777), buf.packet(), now);
  ASSERT_EQ(host.to_client.size(), 4u);
  // Sent straight from the host's buffer, starting in the headroom.
  EXPECT_GE(host.last_client_span.data(), buf.storage.data());
  EXPECT_LT(host.last_client_span.data(), buf.packet().data());
  Response r(host.to_client.back().bytes);
  ASSERT_EQ(r.parse_error, stun::ParseError::kNone);
  EXPECT_TRUE(r.view.Is(Method::kData, MessageClass::kIndication));
  EXPECT_EQ(stun::GetXorPeerAddress(r.view).value, V4(198, 51, 100, 7, 7777));
  auto data = stun::GetData(r.view);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(Bytes(data.value.begin(), data.value.end()), payload);
  EXPECT_EQ(r.bytes.size(), 20u + 12u + 4u + 8u);  // header, peer, DATA + padding
  EXPECT_EQ(r.view.attribute_count(), 2u);
  EXPECT_EQ(server->counters().packets_to_client, 1u);
  EXPECT_EQ(server->counters().bytes_to_client, payload.size());
}

TEST_F(RelayTest, EmptyPeerDatagramBecomesEmptyDataIndication) {
  const RelayId relay = AllocateWithPermission(kPeer);
  PeerBuffer buf(Bytes{});
  server->OnPeerPacket(relay, kPeer, buf.packet(), now);
  Response r(host.to_client.back().bytes);
  ASSERT_EQ(r.parse_error, stun::ParseError::kNone);
  auto data = stun::GetData(r.view);
  ASSERT_TRUE(data.ok());
  EXPECT_TRUE(data.value.empty());
}

TEST_F(RelayTest, SendIndicationPayloadIsNotCopied) {
  AllocateWithPermission(kPeer);
  Bytes ind = SendIndication(kPeer, Bytes{1, 2, 3});
  server->OnClientPacket(client, ind, now);
  ASSERT_EQ(host.to_peer.size(), 1u);
  EXPECT_GT(host.to_peer[0].data, ind.data());
  EXPECT_LT(host.to_peer[0].data, ind.data() + ind.size());
}

TEST_F(RelayTest, DataIndicationsGetDistinctTransactionIds) {
  const RelayId relay = AllocateWithPermission(kPeer);
  PeerBuffer a(Bytes{1}), b(Bytes{2});
  server->OnPeerPacket(relay, kPeer, a.packet(), now);
  server->OnPeerPacket(relay, kPeer, b.packet(), now);
  Response ra(host.to_client[host.to_client.size() - 2].bytes);
  Response rb(host.to_client.back().bytes);
  EXPECT_FALSE(std::equal(ra.view.transaction_id().begin(), ra.view.transaction_id().end(),
                          rb.view.transaction_id().begin()));
}

TEST_F(RelayTest, Ipv6PeerDataIndicationFitsHeadroom) {
  TurnConfig c = DefaultConfig();
  c.relay_ipv6 = true;
  MakeServer(c);
  const SocketAddress peer6 = V6("2001:db8:1::7", 9000);
  ASSERT_TRUE(Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                        b.AddRequestedAddressFamily(stun::kFamilyIPv6);
                      }))->success());
  ASSERT_TRUE(Request(Method::kCreatePermission, Peers({peer6}))->success());
  PeerBuffer buf(Bytes{7, 7, 7, 7});
  server->OnPeerPacket(host.open.begin()->first, peer6, buf.packet(), now);
  Response r(host.to_client.back().bytes);
  ASSERT_EQ(r.parse_error, stun::ParseError::kNone);
  EXPECT_EQ(stun::GetXorPeerAddress(r.view).value, peer6);
  EXPECT_EQ(r.bytes.size(), 20u + 24u + 4u + 4u);
}

TEST_F(RelayTest, PeerDataWithoutPermissionNeverReachesClient) {
  const RelayId relay = AllocateWithPermission(kPeer);
  const size_t before = host.to_client.size();
  PeerBuffer buf(Bytes{1, 2});
  server->OnPeerPacket(relay, V4(198, 51, 100, 50, 1), buf.packet(), now);
  server->OnPeerPacket(relay + 1000, kPeer, buf.packet(), now);  // unknown relay
  EXPECT_EQ(host.to_client.size(), before);
  EXPECT_EQ(server->counters().dropped_no_permission, 1u);
  EXPECT_EQ(server->counters().dropped_no_allocation, 1u);
}

TEST_F(RelayTest, ChannelDataBothDirections) {
  const RelayId relay = AllocateWithPermission(kPeer);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer))->success());

  // Client → peer: the payload span points into the client's packet.
  Bytes frame = ChannelData(0x4001, Bytes{5, 6, 7});
  frame.push_back(0);  // UDP padding is allowed and ignored
  server->OnClientPacket(client, frame, now);
  ASSERT_EQ(host.to_peer.size(), 1u);
  EXPECT_EQ(host.to_peer[0].payload, (Bytes{5, 6, 7}));
  EXPECT_EQ(host.to_peer[0].peer, kPeer);
  EXPECT_EQ(host.to_peer[0].relay, relay);
  EXPECT_EQ(host.to_peer[0].data, frame.data() + 4);

  // Peer → client: 4-byte header written in the headroom, no padding on UDP.
  PeerBuffer buf(Bytes{9, 8, 7});
  server->OnPeerPacket(relay, kPeer, buf.packet(), now);
  const Bytes& out = host.to_client.back().bytes;
  EXPECT_EQ(host.last_client_span.data(), buf.packet().data() - 4);
  stun::ChannelDataView cd;
  ASSERT_EQ(stun::ParseChannelData(out, false, &cd), stun::ChannelDataError::kNone);
  EXPECT_EQ(cd.channel, 0x4001);
  EXPECT_EQ(Bytes(cd.payload.begin(), cd.payload.end()), (Bytes{9, 8, 7}));
  EXPECT_EQ(out.size(), 7u);
}

// --allow-rfc5766-channel-numbers: RFC 5766 §11 numbers 0x5000-0x7FFF are
// refused by default (RFC 8656 §12) and relayed both ways when enabled.
TEST_F(RelayTest, Rfc5766ChannelNumbersRefusedByDefault) {
  AllocateWithPermission(kPeer);
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x7ABC, kPeer))->code(), 400);
  FromClient(ChannelData(0x7ABC, Bytes{1}));
  EXPECT_TRUE(host.to_peer.empty());
}

TEST_F(RelayTest, Rfc5766ChannelNumbersRelayBothWaysWhenEnabled) {
  TurnConfig legacy = DefaultConfig();
  legacy.allow_rfc5766_channel_numbers = true;
  MakeServer(legacy);
  const RelayId relay = AllocateWithPermission(kPeer);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x7ABC, kPeer))->success());
  // 0x8000 is outside even the old range (its first two bits are 0b10).
  EXPECT_EQ(Request(Method::kChannelBind, Bind(0x8000, kPeer))->code(), 400);
  Bytes frame = ChannelData(0x7ABC, Bytes{5, 6});
  server->OnClientPacket(client, frame, now);
  ASSERT_EQ(host.to_peer.size(), 1u);
  EXPECT_EQ(host.to_peer[0].payload, (Bytes{5, 6}));
  PeerBuffer buf(Bytes{9});
  server->OnPeerPacket(relay, kPeer, buf.packet(), now);
  stun::ChannelDataView cd;
  ASSERT_EQ(stun::ParseChannelData(host.to_client.back().bytes, false, &cd, true),
            stun::ChannelDataError::kNone);
  EXPECT_EQ(cd.channel, 0x7ABC);
}

TEST_F(RelayTest, ChannelOnlyForItsExactPeerAddress) {
  const RelayId relay = AllocateWithPermission(kPeer);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer))->success());
  // Same IP, other port: permitted, but not the channel's peer → Data indication.
  PeerBuffer buf(Bytes{1});
  server->OnPeerPacket(relay, V4(198, 51, 100, 7, 5001), buf.packet(), now);
  Response r(host.to_client.back().bytes);
  EXPECT_TRUE(r.view.Is(Method::kData, MessageClass::kIndication));
}

TEST_F(RelayTest, TcpClientGetsPaddedChannelData) {
  FiveTuple tcp = client;
  tcp.transport = Transport::kTcp;
  ASSERT_TRUE(Request(Method::kAllocate, Udp(), tcp)->success());
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4002, kPeer), tcp)->success());
  PeerBuffer buf(Bytes{1, 2, 3, 4, 5});
  server->OnPeerPacket(host.open.begin()->first, kPeer, buf.packet(), now);
  const Bytes& out = host.to_client.back().bytes;
  ASSERT_EQ(out.size(), 12u);  // 4 + 5, padded to 12 (RFC 8656 §12.5)
  stun::ChannelDataView cd;
  EXPECT_EQ(stun::ParseChannelData(out, true, &cd), stun::ChannelDataError::kNone);
  EXPECT_EQ(out[9], 0);
}

TEST_F(RelayTest, ChannelDataDrops) {
  // Unknown allocation.
  FromClient(ChannelData(0x4000, Bytes{1}));
  EXPECT_EQ(server->counters().dropped_no_allocation, 1u);
  AllocateWithPermission(kPeer);
  // Unbound channel.
  Bytes unbound = ChannelData(0x4005, Bytes{1});
  server->OnClientPacket(client, unbound, now);
  EXPECT_EQ(server->counters().dropped_no_permission, 1u);
  // Truncated frame (length says 10, 1 byte present).
  Bytes bad = ChannelData(0x4000, Bytes{1});
  bad[3] = 10;
  server->OnClientPacket(client, bad, now);
  // Neither STUN nor ChannelData (RFC 7983: first byte 128+ is RTP).
  Bytes rtp = {0x80, 0, 0, 0};
  server->OnClientPacket(client, rtp, now);
  EXPECT_EQ(server->counters().dropped_malformed, 2u);
  EXPECT_TRUE(host.to_peer.empty());
}

TEST_F(RelayTest, ChannelStopsRelayingWhenItsPermissionLapses) {
  const RelayId relay = AllocateWithPermission(kPeer);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer))->success());
  now += absl::Seconds(301);  // permission (300 s) gone, channel (600 s) not
  server->HandleTimeout(now);
  FromClient(ChannelData(0x4001, Bytes{1}));
  PeerBuffer buf(Bytes{1});
  server->OnPeerPacket(relay, kPeer, buf.packet(), now);
  EXPECT_TRUE(host.to_peer.empty());
  EXPECT_EQ(server->counters().dropped_no_permission, 2u);
}

TEST_F(RelayTest, BandwidthLimitDropsExcessBothDirections) {
  TurnConfig c = DefaultConfig();
  c.max_bps = 100000;  // bucket of 100 kB, refilled at 100 kB/s
  MakeServer(c);
  const RelayId relay = AllocateWithPermission(kPeer);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4001, kPeer))->success());
  const Bytes payload(1000, 0x55);
  for (int i = 0; i < 100; ++i) FromClient(ChannelData(0x4001, payload));
  EXPECT_EQ(host.to_peer.size(), 100u);
  FromClient(ChannelData(0x4001, payload));
  PeerBuffer buf(payload);
  server->OnPeerPacket(relay, kPeer, buf.packet(), now);
  EXPECT_EQ(server->counters().dropped_bandwidth, 2u);
  EXPECT_EQ(host.to_peer.size(), 100u);
  // 10 ms later there is room for exactly one more 1000-byte packet.
  now += absl::Milliseconds(10);
  FromClient(ChannelData(0x4001, payload));
  FromClient(ChannelData(0x4001, payload));
  EXPECT_EQ(host.to_peer.size(), 101u);
  EXPECT_EQ(server->counters().dropped_bandwidth, 3u);
}

TEST_F(RelayTest, BindingRequestIsAnsweredWithoutAuthentication) {
  auto r = Feed(client, Build(Method::kBinding, {}, std::nullopt, "", NewTid(), true));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->success());
  EXPECT_EQ(stun::GetXorMappedAddress(r->view).value, client.client);
  EXPECT_EQ(stun::GetSoftware(r->view).value, "uturn-test");
  EXPECT_EQ(server->counters().binding_success, 1u);
  Feed(client, Build(Method::kBinding, {}, std::nullopt, "", NewTid(), false,
                     MessageClass::kIndication));
  EXPECT_EQ(server->counters().binding_indications, 1u);
  auto bad = Feed(client, Build(Method::kBinding,
                                [](MessageBuilder& b) {
                                  const uint8_t v[4] = {};
                                  b.Add(0x7F02, v);
                                },
                                std::nullopt, "", NewTid(), false));
  EXPECT_EQ(bad->code(), 420);
  EXPECT_EQ(server->counters().binding_errors, 1u);
  EXPECT_EQ(server->counters().requests, 0u);  // TURN requests only
}

}  // namespace
}  // namespace uturn::turn::testing
