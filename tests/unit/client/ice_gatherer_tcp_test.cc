// IceGatherer with a TURN server reached over TCP (RFC 8656 §3.1) against
// the real sans-IO turn::TurnServer: both directions go through a byte
// stream cut by stun::StreamFramer, as the socket driver does, so padding
// and framing are those of a real stream. The stream's end (refused, closed
// mid-allocation, closed after the 401, closed once allocated) is the
// driver's StreamClosed call.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "client/ice_gatherer.h"
#include "stun/channel_data.h"
#include "stun/message_view.h"
#include "stun/stream_framing.h"
#include "tests/unit/client/gatherer_test_net.h"

namespace uturn::client {
namespace {

using testing::Bytes;
using testing::CountingRandom;
using testing::GatherNet;
using testing::kTurn;
using testing::OfKind;
using testing::RecordingHost;
using Kind = GathererEvent::Kind;

const stun::SocketAddress kBase = stun::SocketAddress::V4({192, 0, 2, 10}, 5000);
// The stream's own source (the driver binds the base's IP, any port).
const stun::SocketAddress kStreamSource = stun::SocketAddress::V4({192, 0, 2, 10}, 41000);
const stun::SocketAddress kPeer = stun::SocketAddress::V4({203, 0, 113, 200}, 7000);

bool IsStun(const Bytes& b, stun::Method method, stun::MessageClass cls) {
  stun::MessageView m;
  return stun::MessageView::Parse(b, &m) == stun::ParseError::kNone && m.Is(method, cls);
}

// One gatherer, one TURN server over one TCP stream.
struct TcpNet {
  static IceGathererConfig Config(bool relay_only = false) {
    IceGathererConfig c;
    c.turn_servers.push_back({kTurn, TurnCredentials{"alice", "wonderland"}, TurnTransport::kTcp});
    c.relay_only = relay_only;
    return c;
  }

  explicit TcpNet(IceGathererConfig config = Config()) : gatherer(std::move(config), CountingRandom()) {
    const std::vector<uint8_t> seed(32, 7);
    auto s = turn::TurnServer::Create(GatherNet::DefaultTurnConfig(), &host, seed);
    EXPECT_TRUE(s.ok()) << s.status();
    server = *std::move(s);
    std::vector<stun::SocketAddress> bases = {kBase};
    EXPECT_TRUE(gatherer.Start(bases, now).ok());
  }

  turn::FiveTuple Tuple() const { return {kStreamSource, kTurn, turn::Transport::kTcp}; }

  // Moves bytes both ways until quiet; `stop_after_server_frames` cuts the
  // server's side of the stream after that many frames reached us.
  void Pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (std::optional<IceTransmit> t = gatherer.PollTransmit()) {
        moved = true;
        sent.push_back(*t);
        EXPECT_EQ(t->transport, TurnTransport::kTcp);
        EXPECT_EQ(t->source, kBase);
        EXPECT_EQ(t->destination, kTurn);
        if (stream_down) continue;
        ASSERT_TRUE(to_server.Append(t->bytes));
        for (;;) {
          const stun::FrameInfo f = to_server.Peek();
          ASSERT_NE(f.status, stun::FrameInfo::Status::kInvalid);
          if (f.status != stun::FrameInfo::Status::kComplete) break;
          Bytes frame(to_server.buffered().begin(), to_server.buffered().begin() + f.size);
          to_server.Consume(f.size);
          if (!black_hole) server->OnClientPacket(Tuple(), frame, now);
        }
      }
      while (delivered < host.to_client.size()) {
        moved = true;
        const Bytes bytes = host.to_client[delivered++].second;
        if (stream_down) continue;
        ASSERT_TRUE(to_client.Append(bytes));
        for (;;) {
          const stun::FrameInfo f = to_client.Peek();
          ASSERT_NE(f.status, stun::FrameInfo::Status::kInvalid);
          if (f.status != stun::FrameInfo::Status::kComplete) break;
          Bytes frame(to_client.buffered().begin(), to_client.buffered().begin() + f.size);
          to_client.Consume(f.size);
          const GathererIncoming in = gatherer.HandlePacket(kBase, kTurn, frame, now, TurnTransport::kTcp);
          incoming.push_back({in.kind, Bytes(in.payload.begin(), in.payload.end())});
          ++frames_to_client;
          if (frames_to_client == close_after_frames) {
            CloseStream("the TURN server closed the stream");
            return;
          }
        }
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "the network does not settle";
  }

  void CloseStream(std::string_view reason) {
    stream_down = true;
    EXPECT_TRUE(gatherer.StreamClosed(kBase, kTurn, TurnTransport::kTcp, reason));
  }

  void StartAll() {
    for (int i = 0; i < 100 && gatherer.has_pending_start(); ++i) {
      gatherer.StartNext(now);
      Pump();
      now += absl::Milliseconds(50);
    }
  }

  void RunUntil(absl::Time until) {
    for (int step = 0; step < 100000 && now < until; ++step) {
      now = std::min(std::max(now, std::min(gatherer.PollTimeout(), server->NextTimeout())), until);
      if (now >= gatherer.PollTimeout()) gatherer.HandleTimeout(now);
      if (now >= server->NextTimeout()) server->HandleTimeout(now);
      Pump();
      if (gatherer.PollTimeout() > until && server->NextTimeout() > until) now = until;
    }
  }

  std::vector<GathererEvent> Events() {
    std::vector<GathererEvent> out;
    for (int i = 0; i < 1000; ++i) {
      std::optional<GathererEvent> e = gatherer.PollEvent();
      if (!e) break;
      out.push_back(std::move(*e));
    }
    return out;
  }

  size_t Sent(stun::Method m, stun::MessageClass c = stun::MessageClass::kRequest) const {
    size_t n = 0;
    for (const IceTransmit& t : sent) n += IsStun(t.bytes, m, c) ? 1 : 0;
    return n;
  }

  uint32_t Allocate() {
    StartAll();
    uint32_t relay = 0;
    for (const GathererEvent& e : Events()) {
      if (e.kind == Kind::kCandidate && e.candidate.relay_id) relay = *e.candidate.relay_id;
    }
    return relay;
  }

  absl::Time now = absl::FromUnixSeconds(1'000'000);
  RecordingHost host;
  std::unique_ptr<turn::TurnServer> server;
  IceGatherer gatherer;
  stun::StreamFramer to_server, to_client;
  std::vector<IceTransmit> sent;
  struct Received {
    GathererIncoming::Kind kind;
    Bytes payload;
  };
  std::vector<Received> incoming;
  size_t delivered = 0;
  size_t frames_to_client = 0;
  size_t close_after_frames = 0;  // 0: never
  bool stream_down = false;
  bool black_hole = false;  // the server reads nothing (a stalled connection)
};

TEST(IceGathererTcpTest, RelayedUdpCandidateOverTcpWithoutATcpSrflx) {
  TcpNet net;
  net.StartAll();
  const std::vector<GathererEvent> ev = net.Events();
  // Host, relay, complete: the allocation's XOR-MAPPED-ADDRESS is the TCP
  // stream's mapping, no srflx for UDP checks (RFC 8445 §5.1.1.2 is about UDP).
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].candidate.candidate.type, ice::CandidateType::kHost);
  const GatheredCandidate& relay = ev[1].candidate;
  EXPECT_EQ(relay.candidate.type, ice::CandidateType::kRelay);
  EXPECT_EQ(relay.candidate.transport, "udp");  // the relay itself is UDP (REQUESTED-TRANSPORT 17)
  EXPECT_EQ(relay.socket, kBase);
  EXPECT_EQ(relay.candidate.related_address, "192.0.2.10");
  EXPECT_EQ(relay.candidate.related_port, kStreamSource.port);
  EXPECT_EQ(ev[2].kind, Kind::kComplete);
  // 401 then the authenticated Allocate, each sent once.
  EXPECT_EQ(net.Sent(stun::Method::kAllocate), 2u);
  ASSERT_EQ(net.host.open.size(), 1u);
}

TEST(IceGathererTcpTest, FoundationDiffersFromTheSameServerOverUdp) {
  IceGathererConfig c = TcpNet::Config();
  c.turn_servers.push_back({kTurn, TurnCredentials{"alice", "wonderland"}, TurnTransport::kUdp});
  IceGatherer g(c, CountingRandom());
  std::vector<stun::SocketAddress> bases = {kBase};
  ASSERT_TRUE(g.Start(bases, absl::UnixEpoch()).ok());
  g.StartNext(absl::UnixEpoch());
  g.StartNext(absl::UnixEpoch());
  std::vector<IceTransmit> t;
  while (std::optional<IceTransmit> x = g.PollTransmit()) t.push_back(*x);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].transport, TurnTransport::kTcp);
  EXPECT_EQ(t[1].transport, TurnTransport::kUdp);
  // A UDP answer does not reach the TCP allocation and the reverse: a
  // message on the stream is only the stream's.
  EXPECT_FALSE(g.StreamClosed(kBase, kTurn, TurnTransport::kUdp, "x"));
  EXPECT_FALSE(g.StreamClosed(kBase, kPeer, TurnTransport::kTcp, "x"));  // no such stream
}

TEST(IceGathererTcpTest, RequestsAreNotRetransmittedAndFailAfterTi) {
  TcpNet net;
  net.black_hole = true;
  const absl::Time start = net.now;
  net.StartAll();
  // RFC 8489 §6.2.2: over TCP one transmission, failure after Ti = 39.5 s.
  net.RunUntil(start + absl::Seconds(39));
  EXPECT_EQ(net.Sent(stun::Method::kAllocate), 1u);
  EXPECT_TRUE(OfKind(net.Events(), Kind::kTurnError).empty());
  net.RunUntil(start + absl::Seconds(41));
  EXPECT_EQ(net.Sent(stun::Method::kAllocate), 1u);
  const std::vector<GathererEvent> ev = net.Events();
  const std::vector<GathererEvent> errors = OfKind(ev, Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("timed out"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
}

TEST(IceGathererTcpTest, ChannelDataIsPaddedBothWaysAndSendIndicationsComeFirst) {
  TcpNet net;
  const uint32_t relay = net.Allocate();
  ASSERT_NE(relay, 0u);
  const turn::RelayId server_relay = net.host.open.begin()->first;
  const Bytes five = {1, 2, 3, 4, 5};
  // Before the channel: a Send indication (RFC 8656 §10.1) on the stream.
  ASSERT_TRUE(net.gatherer.SendThroughRelay(relay, kPeer, five, net.now).ok());
  net.Pump();
  EXPECT_TRUE(IsStun(net.sent.back().bytes, stun::Method::kSend, stun::MessageClass::kIndication));
  ASSERT_EQ(net.host.to_peer.size(), 1u);
  EXPECT_EQ(net.host.to_peer[0].payload, five);

  ASSERT_TRUE(net.gatherer.BindChannel(relay, kPeer, net.now).ok());
  net.Pump();
  ASSERT_TRUE(net.gatherer.SendThroughRelay(relay, kPeer, five, net.now).ok());
  net.Pump();
  // RFC 8656 §12.5: 4 header + 5 payload + 3 padding.
  const Bytes& cd = net.sent.back().bytes;
  ASSERT_EQ(cd.size(), 12u);
  EXPECT_EQ(cd[0], 0x40);
  EXPECT_EQ(cd[3], 5);
  ASSERT_EQ(net.host.to_peer.size(), 2u);
  EXPECT_EQ(net.host.to_peer[1].payload, five);

  // From the peer: the server pads its ChannelData on the stream too, and
  // the payload handed up has the padding stripped.
  const Bytes three = {9, 8, 7};
  Bytes storage(turn::kPacketHeadroom + three.size() + turn::kPacketTailroom, 0);
  std::copy(three.begin(), three.end(), storage.begin() + turn::kPacketHeadroom);
  net.server->OnPeerPacket(server_relay, kPeer,
                           std::span<uint8_t>(storage.data() + turn::kPacketHeadroom, three.size()),
                           net.now);
  ASSERT_FALSE(net.host.to_client.empty());
  EXPECT_EQ(net.host.to_client.back().second.size(), 8u);
  net.Pump();
  ASSERT_FALSE(net.incoming.empty());
  EXPECT_EQ(net.incoming.back().kind, GathererIncoming::Kind::kRelayed);
  EXPECT_EQ(net.incoming.back().payload, three);
}

TEST(IceGathererTcpTest, StreamClosedMidAllocationIsATurnErrorAndNothingMoreIsSent) {
  TcpNet net;
  net.black_hole = true;
  net.StartAll();
  ASSERT_EQ(net.Sent(stun::Method::kAllocate), 1u);
  EXPECT_FALSE(net.gatherer.complete());
  net.CloseStream("connection reset");
  const std::vector<GathererEvent> ev = net.Events();
  const std::vector<GathererEvent> errors = OfKind(ev, Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("over tcp: connection reset"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
  // No timer left, nothing queued (a transmit would open a new stream).
  EXPECT_EQ(net.gatherer.PollTimeout(), absl::InfiniteFuture());
  EXPECT_FALSE(net.gatherer.PollTransmit().has_value());
  // A second report of the same stream changes nothing.
  EXPECT_TRUE(net.gatherer.StreamClosed(kBase, kTurn, TurnTransport::kTcp, "again"));
  EXPECT_TRUE(net.Events().empty());
}

TEST(IceGathererTcpTest, ServerClosingAfterThe401IsATurnError) {
  TcpNet net;
  net.close_after_frames = 1;  // the 401, then the server hangs up
  net.StartAll();
  // The retry with credentials was queued when the stream ended: dropped,
  // not written on a stream that is gone.
  EXPECT_EQ(net.Sent(stun::Method::kAllocate), 1u);
  const std::vector<GathererEvent> ev = net.Events();
  const std::vector<GathererEvent> errors = OfKind(ev, Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("closed the stream"), std::string::npos) << errors[0].reason;
  EXPECT_TRUE(OfKind(ev, Kind::kRelayLost).empty());
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
  EXPECT_EQ(net.gatherer.PollTimeout(), absl::InfiniteFuture());
}

TEST(IceGathererTcpTest, StreamClosedOnceAllocatedLosesTheRelay) {
  TcpNet net;
  const uint32_t relay = net.Allocate();
  ASSERT_NE(relay, 0u);
  ASSERT_EQ(net.gatherer.candidates().size(), 2u);
  net.CloseStream("the TURN server closed the stream");
  const std::vector<GathererEvent> ev = net.Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::kTurnError);
  EXPECT_NE(ev[0].reason.find("closed the stream"), std::string::npos);
  EXPECT_EQ(ev[1].kind, Kind::kRelayLost);
  EXPECT_EQ(ev[1].relay_id, relay);
  EXPECT_EQ(net.gatherer.candidates().size(), 1u);  // the host stays
  EXPECT_FALSE(net.gatherer.SendThroughRelay(relay, kPeer, Bytes{1}, net.now).ok());
  EXPECT_EQ(net.gatherer.PollTimeout(), absl::InfiniteFuture());  // no refresh on a dead stream
  // Close sends no Refresh on a stream that is gone.
  const size_t before = net.sent.size();
  net.gatherer.Close(net.now);
  net.Pump();
  EXPECT_EQ(net.sent.size(), before);
}

TEST(IceGathererTcpTest, CloseDeallocatesOnTheStreamAndItsEndThenIsSilent) {
  TcpNet net;
  ASSERT_NE(net.Allocate(), 0u);
  net.gatherer.Close(net.now);
  net.Pump();
  EXPECT_EQ(net.Sent(stun::Method::kRefresh), 1u);
  EXPECT_TRUE(net.host.open.empty());
  net.CloseStream("closed by the driver");
  EXPECT_TRUE(net.Events().empty());
}

TEST(IceGathererTcpTest, GarbageFramesOnTheStreamAreDroppedAndChangeNothing) {
  TcpNet net;
  const uint32_t relay = net.Allocate();
  ASSERT_NE(relay, 0u);
  // Well framed but meaningless: a STUN-looking header with a bad cookie,
  // ChannelData on a channel never bound.
  const Bytes bad_stun = {0x01, 0x01, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  const Bytes unbound = {0x4f, 0xff, 0x00, 0x01, 0xaa, 0, 0, 0};
  for (const Bytes& b : {bad_stun, unbound}) {
    const GathererIncoming in = net.gatherer.HandlePacket(kBase, kTurn, b, net.now, TurnTransport::kTcp);
    EXPECT_EQ(in.kind, GathererIncoming::Kind::kConsumed);
  }
  // Not on the stream (UDP from the same address): not this allocation's.
  EXPECT_EQ(net.gatherer.HandlePacket(kBase, kTurn, unbound, net.now).kind,
            GathererIncoming::Kind::kNotMine);
  EXPECT_TRUE(net.Events().empty());
  EXPECT_TRUE(net.gatherer.SendThroughRelay(relay, kPeer, Bytes{1}, net.now).ok());
}

}  // namespace
}  // namespace uturn::client
