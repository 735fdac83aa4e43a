// IceGatherer against a real sans-IO TURN server (turn::TurnServer): the
// relayed candidate and its failures, refreshes, the relay data path and
// deallocation. Expected priorities are written out from RFC 8445 §5.1.2.1.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "client/ice_gatherer.h"
#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/message_view.h"
#include "tests/unit/client/gatherer_test_net.h"

namespace uturn::client {
namespace {

using testing::Bytes;
using testing::GatherNet;
using testing::kRelayBase;
using testing::kStun;
using testing::kTurn;
using testing::OfKind;
using Kind = GathererEvent::Kind;

const stun::SocketAddress kBase = stun::SocketAddress::V4({192, 0, 2, 10}, 5000);
const stun::SocketAddress kMapped = stun::SocketAddress::V4({203, 0, 113, 77}, 40000);
const stun::SocketAddress kPeer = stun::SocketAddress::V4({203, 0, 113, 200}, 7000);

uint32_t Priority(uint32_t type_pref, uint32_t local_pref) {
  return (type_pref << 24) + (local_pref << 8) + 255;
}

bool IsStunMethod(const Bytes& b, stun::Method method, stun::MessageClass cls) {
  stun::MessageView m;
  return stun::MessageView::Parse(b, &m) == stun::ParseError::kNone && m.Is(method, cls);
}

bool HasIntegrity(const Bytes& b) {
  stun::MessageView m;
  return stun::MessageView::Parse(b, &m) == stun::ParseError::kNone &&
         (m.message_integrity_offset() || m.message_integrity_sha256_offset());
}

// Allocated on kTurn from kBase behind the NAT mapping to kMapped.
struct Allocated : GatherNet {
  explicit Allocated(IceGathererConfig config = DefaultConfig(),
                     turn::TurnConfig turn_config = DefaultTurnConfig())
      : GatherNet(std::move(config), std::move(turn_config)) {
    nat[kBase] = kMapped;
    std::vector<stun::SocketAddress> bases = {kBase};
    EXPECT_TRUE(gatherer.Start(bases, now).ok());
    StartAll();
    all = Events();
    for (const GathererEvent& e : all) {
      if (e.kind == Kind::kCandidate && e.candidate.relay_id) relay_id = *e.candidate.relay_id;
    }
  }
  size_t SentCount(stun::Method method, stun::MessageClass cls = stun::MessageClass::kRequest) {
    size_t n = 0;
    for (const IceTransmit& t : sent) n += IsStunMethod(t.bytes, method, cls) ? 1 : 0;
    return n;
  }
  std::vector<GathererEvent> all;
  uint32_t relay_id = 0;
};

TEST(IceGathererRelayTest, AllocateAfter401GivesRelayAndSrflxThenComplete) {
  Allocated net;
  ASSERT_EQ(net.all.size(), 4u);
  // Host first (at Start), then srflx from XOR-MAPPED-ADDRESS (RFC 8445
  // §5.1.1.2), then the relayed candidate, then complete.
  EXPECT_EQ(net.all[0].candidate.candidate.type, ice::CandidateType::kHost);
  const GatheredCandidate& srflx = net.all[1].candidate;
  EXPECT_EQ(srflx.candidate.type, ice::CandidateType::kServerReflexive);
  EXPECT_EQ(srflx.address, kMapped);
  EXPECT_EQ(srflx.base, kBase);
  EXPECT_EQ(srflx.candidate.related_address, "192.0.2.10");
  EXPECT_EQ(srflx.candidate.related_port, 5000);
  EXPECT_EQ(srflx.candidate.priority, Priority(100, 65535));
  const GatheredCandidate& relay = net.all[2].candidate;
  EXPECT_EQ(relay.candidate.type, ice::CandidateType::kRelay);
  EXPECT_EQ(relay.address, kRelayBase);
  EXPECT_EQ(relay.base, kRelayBase);
  EXPECT_EQ(relay.socket, kBase);
  ASSERT_TRUE(relay.relay_id.has_value());
  EXPECT_EQ(relay.candidate.related_address, "203.0.113.77");
  EXPECT_EQ(relay.candidate.related_port, 40000);
  EXPECT_EQ(relay.candidate.priority, Priority(0, 65535));
  EXPECT_EQ(ice::FormatCandidate(relay.candidate),
            "candidate:" + relay.candidate.foundation +
                " 1 udp 16777215 198.51.100.1 50000 typ relay raddr 203.0.113.77 rport 40000");
  EXPECT_EQ(net.all[3].kind, Kind::kComplete);
  EXPECT_TRUE(net.gatherer.complete());
  // Three types from one base: three foundations.
  EXPECT_NE(net.all[0].candidate.candidate.foundation, srflx.candidate.foundation);
  EXPECT_NE(srflx.candidate.foundation, relay.candidate.foundation);
  // The first Allocate went unauthenticated, drew the 401, and the retry was signed.
  EXPECT_EQ(net.ServerErrors(401), 1u);
  ASSERT_EQ(net.SentCount(stun::Method::kAllocate), 2u);
  EXPECT_FALSE(HasIntegrity(net.sent[0].bytes));
  EXPECT_TRUE(HasIntegrity(net.sent[1].bytes));
  for (const IceTransmit& t : net.sent) {
    EXPECT_EQ(t.source, kBase);
    EXPECT_EQ(t.destination, kTurn);
  }
  EXPECT_EQ(net.server->allocation_count(), 1u);
  // Every answer was consumed by the gatherer.
  for (const auto& in : net.incoming) EXPECT_EQ(in.kind, GathererIncoming::Kind::kConsumed);
}

TEST(IceGathererRelayTest, RelayOnlyReportsTheRelayedCandidateAlone) {
  IceGathererConfig config = GatherNet::DefaultConfig();
  config.relay_only = true;
  Allocated net(config);
  ASSERT_EQ(net.all.size(), 2u);
  EXPECT_EQ(net.all[0].candidate.candidate.type, ice::CandidateType::kRelay);
  EXPECT_EQ(net.all[1].kind, Kind::kComplete);
}

TEST(IceGathererRelayTest, WrongPasswordIsATurnErrorAndGatheringCompletes) {
  IceGathererConfig config;
  config.turn_servers.push_back({kTurn, TurnCredentials{"alice", "not-the-password"}});
  Allocated net(config);
  // RFC 8489 §9.2.5: a 401 to a signed request is final.
  ASSERT_EQ(OfKind(net.all, Kind::kTurnError).size(), 1u);
  EXPECT_NE(OfKind(net.all, Kind::kTurnError)[0].reason.find("401"), std::string::npos);
  EXPECT_EQ(OfKind(net.all, Kind::kCandidate).size(), 1u);  // the host only
  EXPECT_EQ(net.all.back().kind, Kind::kComplete);
  EXPECT_EQ(net.server->allocation_count(), 0u);
}

TEST(IceGathererRelayTest, QuotaReached486IsATurnError) {
  turn::TurnConfig tc = GatherNet::DefaultTurnConfig();
  tc.user_quota = 1;
  GatherNet net(GatherNet::DefaultConfig(), tc);
  // Two bases, one user: the second allocation exceeds the quota.
  const stun::SocketAddress second = stun::SocketAddress::V4({192, 0, 2, 11}, 5000);
  std::vector<stun::SocketAddress> bases = {kBase, second};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  std::vector<GathererEvent> ev = net.Events();
  std::vector<GathererEvent> errors = OfKind(ev, Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("486"), std::string::npos) << errors[0].reason;
  size_t relays = 0;
  for (const GathererEvent& e : OfKind(ev, Kind::kCandidate)) {
    relays += e.candidate.candidate.type == ice::CandidateType::kRelay ? 1 : 0;
  }
  EXPECT_EQ(relays, 1u);
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
}

TEST(IceGathererRelayTest, TwoBasesTwoRelaysOnOneServerIpShareAFoundation) {
  GatherNet net;
  const stun::SocketAddress second = stun::SocketAddress::V4({192, 0, 2, 11}, 5000);
  net.nat[kBase] = kMapped;
  net.nat[second] = stun::SocketAddress::V4({203, 0, 113, 78}, 40000);
  std::vector<stun::SocketAddress> bases = {kBase, second};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  std::vector<GatheredCandidate> relays, srflx;
  for (const GathererEvent& e : OfKind(net.Events(), Kind::kCandidate)) {
    if (e.candidate.candidate.type == ice::CandidateType::kRelay) relays.push_back(e.candidate);
    if (e.candidate.candidate.type == ice::CandidateType::kServerReflexive) srflx.push_back(e.candidate);
  }
  ASSERT_EQ(relays.size(), 2u);
  ASSERT_EQ(srflx.size(), 2u);
  // RFC 8445 §5.1.1.3: the relays' bases (198.51.100.1:50000 and :50002)
  // share an IP, as does the server: one foundation. The srflx candidates'
  // bases differ: two.
  EXPECT_NE(relays[0].address, relays[1].address);
  EXPECT_EQ(relays[0].candidate.foundation, relays[1].candidate.foundation);
  EXPECT_NE(srflx[0].candidate.foundation, srflx[1].candidate.foundation);
  // Unique local preferences within the type: base ranks 0 and 1, one server.
  EXPECT_EQ(relays[0].candidate.priority, Priority(0, 65535));
  EXPECT_EQ(relays[1].candidate.priority, Priority(0, 65534));
  EXPECT_NE(relays[0].relay_id, relays[1].relay_id);
}

TEST(IceGathererRelayTest, OnlyBasesOfTheServerFamilyAllocate) {
  GatherNet net;
  net.nat[kBase] = kMapped;
  const stun::SocketAddress v6 = *stun::SocketAddress::ParseIp("2001:db8::10", 6000);
  std::vector<stun::SocketAddress> bases = {v6, kBase};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  EXPECT_EQ(net.host.open.size(), 1u);
  for (const IceTransmit& t : net.sent) EXPECT_EQ(t.source, kBase);
  std::vector<GathererEvent> ev = net.Events();
  EXPECT_EQ(OfKind(ev, Kind::kCandidate).size(), 4u);  // two hosts, srflx, relay
  EXPECT_TRUE(OfKind(ev, Kind::kTurnError).empty());
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
}

TEST(IceGathererRelayTest, InsufficientCapacity508IsATurnErrorHostAndSrflxStillComplete) {
  IceGathererConfig config = GatherNet::DefaultConfig();
  config.stun_servers.push_back(kStun);
  GatherNet net(config);
  net.host.fail = turn::TurnHost::RelayError::kInsufficientCapacity;
  net.nat[kBase] = kMapped;
  std::vector<stun::SocketAddress> bases = {kBase};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  std::vector<GathererEvent> ev = net.Events();
  std::vector<GathererEvent> errors = OfKind(ev, Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("508"), std::string::npos) << errors[0].reason;
  std::vector<GathererEvent> cands = OfKind(ev, Kind::kCandidate);
  ASSERT_EQ(cands.size(), 2u);
  EXPECT_EQ(cands[0].candidate.candidate.type, ice::CandidateType::kHost);
  EXPECT_EQ(cands[1].candidate.candidate.type, ice::CandidateType::kServerReflexive);
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
}

TEST(IceGathererRelayTest, SilentTurnServerTimesOutIntoATurnError) {
  IceGathererConfig config = GatherNet::DefaultConfig();
  config.stun_servers.push_back(kStun);
  GatherNet net(config);
  net.nat[kBase] = kMapped;
  net.drop_to.insert(kTurn);
  std::vector<stun::SocketAddress> bases = {kBase};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  // The srflx arrives at once; the relay waits for the RFC 8489 §6.2.1
  // timers: Rc = 7 transmissions, the last one waited for Rm * RTO.
  EXPECT_FALSE(net.gatherer.complete());
  net.RunUntil(net.now + absl::Seconds(60));
  std::vector<GathererEvent> ev = net.Events();
  std::vector<GathererEvent> errors = OfKind(ev, Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("timed out"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(OfKind(ev, Kind::kCandidate).size(), 2u);
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
  size_t allocates = 0;
  for (const IceTransmit& t : net.sent) {
    allocates += IsStunMethod(t.bytes, stun::Method::kAllocate, stun::MessageClass::kRequest);
  }
  EXPECT_EQ(allocates, 7u);
}

TEST(IceGathererRelayTest, RefreshesBeforeExpiryAndRetriesAStaleNonce) {
  turn::TurnConfig tc = GatherNet::DefaultTurnConfig();
  // The nonce goes stale before the first refresh is due (540 s): that
  // Refresh draws 438 and is retried with the new nonce (RFC 8489 §9.2.5).
  tc.auth.nonce_lifetime = absl::Seconds(100);
  Allocated net(GatherNet::DefaultConfig(), tc);
  ASSERT_NE(net.relay_id, 0u);
  const absl::Time t0 = net.now;
  net.RunUntil(t0 + absl::Seconds(1300));
  // Allocations last 600 s (RFC 8656 §7.2 default): refreshed at 540 s
  // and 1080 s, so it is still there at 1300 s.
  EXPECT_EQ(net.server->allocation_count(), 1u);
  EXPECT_GE(net.ServerErrors(438), 1u);
  EXPECT_EQ(net.SentCount(stun::Method::kRefresh), 2u + net.ServerErrors(438));
  EXPECT_TRUE(OfKind(net.Events(), Kind::kRelayLost).empty());
}

TEST(IceGathererRelayTest, RefreshWithoutAnswerLosesTheRelay) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  net.drop_to.insert(kTurn);
  net.RunUntil(net.now + absl::Seconds(700));
  std::vector<GathererEvent> lost = OfKind(net.Events(), Kind::kRelayLost);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].relay_id, net.relay_id);
  for (const GatheredCandidate& c : net.gatherer.candidates()) EXPECT_FALSE(c.relay_id.has_value());
  EXPECT_EQ(net.gatherer.Permit(net.relay_id, kPeer, net.now).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(IceGathererRelayTest, SendIndicationBeforeTheChannelAndChannelDataAfter) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  const Bytes hello = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(net.gatherer.SendThroughRelay(net.relay_id, kPeer, hello, net.now).ok());
  net.Pump();
  // The permission went first, then a Send indication (RFC 8656 §10.1).
  ASSERT_GE(net.sent.size(), 2u);
  EXPECT_TRUE(IsStunMethod(net.sent[net.sent.size() - 2].bytes, stun::Method::kCreatePermission,
                           stun::MessageClass::kRequest));
  EXPECT_TRUE(
      IsStunMethod(net.sent.back().bytes, stun::Method::kSend, stun::MessageClass::kIndication));
  ASSERT_EQ(net.host.to_peer.size(), 1u);
  EXPECT_EQ(net.host.to_peer[0].peer, kPeer);
  EXPECT_EQ(net.host.to_peer[0].payload, hello);

  ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, kPeer, net.now).ok());
  net.Pump();
  const Bytes again = {'a', 'g', 'a', 'i', 'n'};
  ASSERT_TRUE(net.gatherer.SendThroughRelay(net.relay_id, kPeer, again, net.now).ok());
  net.Pump();
  // RFC 8656 §12.4: ChannelData starts with the channel number, 0x4000 first.
  const Bytes& last = net.sent.back().bytes;
  ASSERT_EQ(last.size(), 4u + again.size());
  EXPECT_EQ(last[0], 0x40);
  EXPECT_EQ(last[1], 0x00);
  ASSERT_EQ(net.host.to_peer.size(), 2u);
  EXPECT_EQ(net.host.to_peer[1].payload, again);
  // One permission only: the second send reused it.
  EXPECT_EQ(net.SentCount(stun::Method::kCreatePermission), 1u);
  EXPECT_EQ(net.SentCount(stun::Method::kChannelBind), 1u);
}

TEST(IceGathererRelayTest, DataFromPeersIsUnwrappedFromIndicationsAndChannelData) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  const turn::RelayId server_relay = net.host.open.begin()->first;
  ASSERT_TRUE(net.gatherer.Permit(net.relay_id, kPeer, net.now).ok());
  net.Pump();
  const Bytes ping = {1, 2, 3, 4, 5, 6, 7};
  net.FromPeer(server_relay, kPeer, ping);
  ASSERT_FALSE(net.incoming.empty());
  EXPECT_EQ(net.incoming.back().kind, GathererIncoming::Kind::kRelayed);
  EXPECT_EQ(net.incoming.back().relay_id, net.relay_id);
  EXPECT_EQ(net.incoming.back().peer, kPeer);
  EXPECT_EQ(net.incoming.back().payload, ping);

  ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, kPeer, net.now).ok());
  net.Pump();
  const Bytes pong = {9, 8, 7};
  const size_t before = net.host.to_client.size();
  net.FromPeer(server_relay, kPeer, pong);
  ASSERT_EQ(net.host.to_client.size(), before + 1);
  EXPECT_TRUE(stun::IsValidChannelNumber(
      static_cast<uint16_t>(net.host.to_client.back().second[0] << 8 |
                            net.host.to_client.back().second[1])));
  EXPECT_EQ(net.incoming.back().kind, GathererIncoming::Kind::kRelayed);
  EXPECT_EQ(net.incoming.back().peer, kPeer);
  EXPECT_EQ(net.incoming.back().payload, pong);
}

TEST(IceGathererRelayTest, PermissionsAndChannelsAreRefreshedBeforeTheyLapse) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  const turn::RelayId server_relay = net.host.open.begin()->first;
  const stun::SocketAddress other = stun::SocketAddress::V4({203, 0, 113, 201}, 9000);
  ASSERT_TRUE(net.gatherer.Permit(net.relay_id, kPeer, net.now).ok());
  // Same IP, another port: the same permission (RFC 8656 §9), no request.
  stun::SocketAddress same_ip = kPeer;
  same_ip.port = 7001;
  ASSERT_TRUE(net.gatherer.Permit(net.relay_id, same_ip, net.now).ok());
  ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, other, net.now).ok());
  net.Pump();
  EXPECT_EQ(net.SentCount(stun::Method::kCreatePermission), 1u);
  const absl::Time t0 = net.now;
  // Past the 300 s permission and the 600 s channel lifetimes, twice over.
  net.RunUntil(t0 + absl::Seconds(1250));
  EXPECT_GE(net.SentCount(stun::Method::kCreatePermission), 5u);  // at 240, 480, 720, 960, 1200 s
  EXPECT_GE(net.SentCount(stun::Method::kChannelBind), 3u);       // at 0, 540, 1080 s
  // Both still work at the server.
  const size_t before = net.host.to_client.size();
  net.FromPeer(server_relay, kPeer, {1});
  net.FromPeer(server_relay, other, {2});
  EXPECT_EQ(net.host.to_client.size(), before + 2);
  ASSERT_GE(net.incoming.size(), 2u);
  EXPECT_EQ(net.incoming[net.incoming.size() - 2].payload, Bytes{1});
  EXPECT_EQ(net.incoming.back().payload, Bytes{2});
  EXPECT_TRUE(OfKind(net.Events(), Kind::kTurnError).empty());
}

TEST(IceGathererRelayTest, RelayCallsOnUnknownRelayFail) {
  Allocated net;
  const Bytes x = {1};
  EXPECT_EQ(net.gatherer.Permit(999, kPeer, net.now).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(net.gatherer.BindChannel(999, kPeer, net.now).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(net.gatherer.SendThroughRelay(999, kPeer, x, net.now).code(),
            absl::StatusCode::kNotFound);
}

TEST(IceGathererRelayTest, RejectedPermissionIsATurnErrorAndTheRelayLives) {
  turn::TurnConfig tc = GatherNet::DefaultTurnConfig();
  Allocated net(GatherNet::DefaultConfig(), tc);
  ASSERT_NE(net.relay_id, 0u);
  // RFC 8656 §9.1: a permission for an address of another family than the
  // relayed one is refused (443 Peer Address Family Mismatch).
  const stun::SocketAddress v6_peer = *stun::SocketAddress::ParseIp("2001:db8::99", 7000);
  ASSERT_TRUE(net.gatherer.Permit(net.relay_id, v6_peer, net.now).ok());
  net.Pump();
  std::vector<GathererEvent> errors = OfKind(net.Events(), Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("CreatePermission"), std::string::npos) << errors[0].reason;
  // The refusal is remembered: checks towards that peer do not ask again
  // each time...
  EXPECT_EQ(net.gatherer.Permit(net.relay_id, v6_peer, net.now).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(net.gatherer.SendThroughRelay(net.relay_id, v6_peer, Bytes{1}, net.now).code(),
            absl::StatusCode::kFailedPrecondition);
  net.Pump();
  EXPECT_EQ(net.SentCount(stun::Method::kCreatePermission), 1u);
  EXPECT_TRUE(net.Events().empty());
  // ...until a permission lifetime (300 s) has passed.
  net.RunUntil(net.now + absl::Seconds(301));
  ASSERT_TRUE(net.gatherer.Permit(net.relay_id, v6_peer, net.now).ok());
  net.Pump();
  EXPECT_EQ(net.SentCount(stun::Method::kCreatePermission), 2u);
  // The allocation works for others all along.
  EXPECT_TRUE(net.gatherer.Permit(net.relay_id, kPeer, net.now).ok());
}

TEST(IceGathererRelayTest, CloseDeallocatesWithLifetimeZero) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  ASSERT_EQ(net.host.open.size(), 1u);
  net.gatherer.Close(net.now);
  net.Pump();
  // RFC 8656 §8: Refresh with LIFETIME 0 removes the allocation at once.
  EXPECT_EQ(net.server->allocation_count(), 0u);
  EXPECT_TRUE(net.host.open.empty());
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(net.sent.back().bytes, &m), stun::ParseError::kNone);
  EXPECT_TRUE(m.Is(stun::Method::kRefresh, stun::MessageClass::kRequest));
  auto lifetime = stun::GetLifetime(m);
  ASSERT_TRUE(lifetime.ok());
  EXPECT_EQ(lifetime.value, 0u);
  EXPECT_TRUE(OfKind(net.Events(), Kind::kRelayLost).empty());
  EXPECT_EQ(net.gatherer.SendThroughRelay(net.relay_id, kPeer, Bytes{1}, net.now).code(),
            absl::StatusCode::kFailedPrecondition);
  // Nothing more to do: no timer left.
  net.RunUntil(net.now + absl::Seconds(900));
  EXPECT_EQ(net.gatherer.PollTimeout(), absl::InfiniteFuture());
}

TEST(IceGathererRelayTest, GarbageFromTheServerIsDroppedAndChangesNothing) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  const std::vector<Bytes> junk = {
      {},
      {0x00},
      {0x40, 0x00, 0x00, 0x10, 1, 2},                       // ChannelData, short, unbound channel
      {0x00, 0x17, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42},      // truncated Data indication
      Bytes(20, 0xFF),
      {0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
  };
  for (const Bytes& j : junk) {
    const GathererIncoming in = net.gatherer.HandlePacket(kBase, kTurn, j, net.now);
    EXPECT_NE(in.kind, GathererIncoming::Kind::kRelayed);
  }
  EXPECT_TRUE(net.Events().empty());
  EXPECT_FALSE(net.gatherer.PollTransmit().has_value());
  // From elsewhere it is the agent's.
  const stun::SocketAddress stranger = stun::SocketAddress::V4({203, 0, 113, 9}, 1);
  EXPECT_EQ(net.gatherer.HandlePacket(kBase, stranger, junk[4], net.now).kind,
            GathererIncoming::Kind::kNotMine);
  // The allocation still relays.
  ASSERT_TRUE(net.gatherer.SendThroughRelay(net.relay_id, kPeer, Bytes{5}, net.now).ok());
  net.Pump();
  EXPECT_EQ(net.host.to_peer.size(), 1u);
}

TEST(IceGathererRelayTest, RegatherKeepsTheAllocationAndAnnouncesItAgain) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  net.gatherer.Regather(net.now);
  net.StartAll();
  std::vector<GathererEvent> ev = net.Events();
  std::vector<GathererEvent> cands = OfKind(ev, Kind::kCandidate);
  ASSERT_EQ(cands.size(), 3u);
  EXPECT_EQ(cands[2].candidate.relay_id, net.relay_id);
  EXPECT_EQ(ev.back().kind, Kind::kComplete);
  EXPECT_EQ(net.SentCount(stun::Method::kAllocate), 2u);  // none new
  EXPECT_EQ(net.server->allocation_count(), 1u);
}

TEST(IceGathererRelayTest, ServerThatForgotTheAllocationLosesItOnRefresh) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  // A restarted server: no allocation, no nonce. The Refresh draws 401, is
  // signed again, and then 437 Allocation Mismatch (RFC 8656 §8.2).
  net.host.open.clear();
  auto s = turn::TurnServer::Create(GatherNet::DefaultTurnConfig(), &net.host,
                                    std::vector<uint8_t>(32, 9));
  ASSERT_TRUE(s.ok());
  net.server = *std::move(s);
  net.RunUntil(net.now + absl::Seconds(600));
  std::vector<GathererEvent> lost = OfKind(net.Events(), Kind::kRelayLost);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_NE(lost[0].reason.find("437"), std::string::npos) << lost[0].reason;
  EXPECT_EQ(lost[0].relay_id, net.relay_id);
}

TEST(IceGathererRelayTest, RejectedChannelBindIsATurnErrorAndSendsStayIndications) {
  turn::TurnConfig tc = GatherNet::DefaultTurnConfig();
  tc.max_channels = 1;
  Allocated net(GatherNet::DefaultConfig(), tc);
  ASSERT_NE(net.relay_id, 0u);
  const stun::SocketAddress other = stun::SocketAddress::V4({203, 0, 113, 201}, 9000);
  ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, kPeer, net.now).ok());
  ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, other, net.now).ok());
  net.Pump();
  std::vector<GathererEvent> errors = OfKind(net.Events(), Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("ChannelBind"), std::string::npos) << errors[0].reason;
  ASSERT_TRUE(net.gatherer.SendThroughRelay(net.relay_id, other, Bytes{7}, net.now).ok());
  net.Pump();
  EXPECT_TRUE(
      IsStunMethod(net.sent.back().bytes, stun::Method::kSend, stun::MessageClass::kIndication));
  EXPECT_EQ(net.host.to_peer.back().payload, Bytes{7});
}

TEST(IceGathererRelayTest, ChannelNumbersRunOutAt0x4FFF) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  // RFC 8656 §12: 0x4000 through 0x4FFF, 4096 numbers. Not pumped: the
  // requests just queue.
  for (uint32_t i = 0; i < 4096; ++i) {
    const stun::SocketAddress peer = stun::SocketAddress::V4(
        {203, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i & 0xFF)}, 7000);
    ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, peer, net.now).ok()) << i;
  }
  const stun::SocketAddress one_more = stun::SocketAddress::V4({198, 18, 0, 1}, 7000);
  EXPECT_EQ(net.gatherer.BindChannel(net.relay_id, one_more, net.now).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(IceGathererRelayTest, CloseWhileAllocatingDeletesTheAllocationWhenItArrives) {
  GatherNet net;
  net.nat[kBase] = kMapped;
  std::vector<stun::SocketAddress> bases = {kBase};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.drop_to.insert(kTurn);
  net.StartAll();
  net.gatherer.Close(net.now);
  EXPECT_FALSE(net.gatherer.has_pending_start());
  // The Allocate's retransmission gets through after all.
  net.drop_to.clear();
  net.RunUntil(net.now + absl::Seconds(5));
  EXPECT_EQ(net.host.closed.size(), 1u);
  EXPECT_EQ(net.server->allocation_count(), 0u);
  for (const GathererEvent& e : net.Events()) {
    EXPECT_NE(e.kind, Kind::kRelayLost);
    if (e.kind == Kind::kCandidate) {
      EXPECT_NE(e.candidate.candidate.type, ice::CandidateType::kRelay);
    }
  }
}

TEST(IceGathererRelayTest, MutatedServerMessagesNeverCrashOrPointOutsideTheInput) {
  Allocated net;
  ASSERT_NE(net.relay_id, 0u);
  const turn::RelayId server_relay = net.host.open.begin()->first;
  ASSERT_TRUE(net.gatherer.BindChannel(net.relay_id, kPeer, net.now).ok());
  net.Pump();
  net.FromPeer(server_relay, kPeer, Bytes{1, 2, 3});  // one ChannelData in the record
  std::vector<Bytes> seeds;
  for (const auto& [tuple, bytes] : net.host.to_client) seeds.push_back(bytes);
  ASSERT_FALSE(seeds.empty());
  std::mt19937 rng(1234);  // seeded: the same inputs every run
  for (int i = 0; i < 5000; ++i) {
    Bytes b = seeds[rng() % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips && !b.empty(); ++f) b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    const GathererIncoming in = net.gatherer.HandlePacket(kBase, kTurn, b, net.now);
    if (in.kind == GathererIncoming::Kind::kRelayed) {
      ASSERT_GE(in.payload.data(), b.data());
      ASSERT_LE(in.payload.data() + in.payload.size(), b.data() + b.size());
    }
  }
  // Still a working allocation.
  (void)net.Events();
  for (int i = 0; i < 1000 && net.gatherer.PollTransmit(); ++i) {
  }
  ASSERT_TRUE(net.gatherer.SendThroughRelay(net.relay_id, kPeer, Bytes{5}, net.now).ok());
  net.Pump();
  EXPECT_EQ(net.host.to_peer.back().payload, Bytes{5});
}

}  // namespace
}  // namespace uturn::client
