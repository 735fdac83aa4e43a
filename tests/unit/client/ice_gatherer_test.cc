// IceGatherer driven with an injected clock and random source. Expected
// priorities and foundations are written out from RFC 8445's formulas.
#include "client/ice_gatherer.h"

#include <gtest/gtest.h>

#include "stun/message_view.h"
#include "tests/unit/client/gatherer_test_net.h"

#include <cstdint>
#include <string>
#include <vector>

namespace uturn::client {
namespace {

using ice::CandidateType;

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);
const stun::SocketAddress kV4a = stun::SocketAddress::V4({192, 0, 2, 10}, 5000);
const stun::SocketAddress kV4b = stun::SocketAddress::V4({198, 51, 100, 10}, 5001);
const stun::SocketAddress kV6a = stun::SocketAddress::V6(
    {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 6000);

// Deterministic bytes: a counter.
RandomSource CountingRandom() {
  auto counter = std::make_shared<uint8_t>(0);
  return [counter](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = ++*counter;
  };
}

std::vector<GathererEvent> Drain(IceGatherer& g) {
  std::vector<GathererEvent> out;
  for (int i = 0; i < 1000; ++i) {
    std::optional<GathererEvent> e = g.PollEvent();
    if (!e) return out;
    out.push_back(std::move(*e));
  }
  ADD_FAILURE() << "event queue does not drain";
  return out;
}

uint32_t Priority(uint32_t type_pref, uint32_t local_pref) {
  return (type_pref << 24) + (local_pref << 8) + 255;
}

TEST(IceGathererHostTest, OneHostCandidatePerBaseThenComplete) {
  IceGatherer g({}, CountingRandom());
  std::vector<stun::SocketAddress> bases = {kV4a, kV4b, kV6a};
  ASSERT_TRUE(g.Start(bases, kT0).ok());
  std::vector<GathererEvent> ev = Drain(g);
  ASSERT_EQ(ev.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(ev[i].kind, GathererEvent::Kind::kCandidate);
    const GatheredCandidate& c = ev[i].candidate;
    EXPECT_EQ(c.address, bases[i]);
    EXPECT_EQ(c.base, bases[i]);
    EXPECT_EQ(c.socket, bases[i]);
    EXPECT_FALSE(c.relay_id.has_value());
    EXPECT_EQ(c.candidate.type, CandidateType::kHost);
    EXPECT_EQ(c.candidate.component, 1);
    EXPECT_EQ(c.candidate.transport, "udp");
    EXPECT_EQ(c.candidate.ip, bases[i]);
    EXPECT_EQ(c.candidate.port, bases[i].port);
    EXPECT_FALSE(c.candidate.related_address.has_value());
  }
  // RFC 8421 interleaving: v6a first (65535), then v4a (65534), then v4b (65533).
  EXPECT_EQ(ev[0].candidate.candidate.priority, Priority(126, 65534));
  EXPECT_EQ(ev[1].candidate.candidate.priority, Priority(126, 65533));
  EXPECT_EQ(ev[2].candidate.candidate.priority, Priority(126, 65535));
  EXPECT_EQ(ev[2].candidate.local_preference, 65535u);
  // Three base IPs: three foundations.
  EXPECT_NE(ev[0].candidate.candidate.foundation, ev[1].candidate.candidate.foundation);
  EXPECT_NE(ev[0].candidate.candidate.foundation, ev[2].candidate.candidate.foundation);
  EXPECT_NE(ev[1].candidate.candidate.foundation, ev[2].candidate.candidate.foundation);
  EXPECT_EQ(ev[3].kind, GathererEvent::Kind::kComplete);
  EXPECT_TRUE(g.complete());
  EXPECT_FALSE(g.has_pending_start());
  EXPECT_FALSE(g.PollTransmit().has_value());
  EXPECT_EQ(g.PollTimeout(), absl::InfiniteFuture());
  EXPECT_EQ(g.candidates().size(), 3u);
}

TEST(IceGathererHostTest, SameIpTwoPortsShareAFoundationButNotALocalPreference) {
  IceGatherer g({}, CountingRandom());
  stun::SocketAddress other_port = kV4a;
  other_port.port = 7000;
  std::vector<stun::SocketAddress> bases = {kV4a, other_port};
  ASSERT_TRUE(g.Start(bases, kT0).ok());
  ASSERT_EQ(g.candidates().size(), 2u);
  EXPECT_EQ(g.candidates()[0].candidate.foundation, g.candidates()[1].candidate.foundation);
  EXPECT_EQ(g.candidates()[0].candidate.priority, Priority(126, 65535));
  EXPECT_EQ(g.candidates()[1].candidate.priority, Priority(126, 65534));
}

TEST(IceGathererHostTest, RefusesNoBasesDuplicatesAndASecondStart) {
  IceGatherer g({}, CountingRandom());
  EXPECT_EQ(g.Start({}, kT0).code(), absl::StatusCode::kInvalidArgument);
  std::vector<stun::SocketAddress> dup = {kV4a, kV4a};
  EXPECT_EQ(g.Start(dup, kT0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(g.complete());
  EXPECT_FALSE(g.PollEvent().has_value());
  std::vector<stun::SocketAddress> one = {kV4a};
  ASSERT_TRUE(g.Start(one, kT0).ok());
  EXPECT_EQ(g.Start(one, kT0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IceGathererHostTest, RelayOnlyReportsNoHostCandidate) {
  IceGathererConfig config;
  config.relay_only = true;
  IceGatherer g(config, CountingRandom());
  std::vector<stun::SocketAddress> bases = {kV4a};
  ASSERT_TRUE(g.Start(bases, kT0).ok());
  std::vector<GathererEvent> ev = Drain(g);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, GathererEvent::Kind::kComplete);
  EXPECT_TRUE(g.candidates().empty());
}

TEST(IceGathererHostTest, RegatherAnnouncesTheHostCandidatesAgain) {
  IceGatherer g({}, CountingRandom());
  std::vector<stun::SocketAddress> bases = {kV4a, kV6a};
  ASSERT_TRUE(g.Start(bases, kT0).ok());
  std::vector<GathererEvent> first = Drain(g);
  g.Regather(kT0 + absl::Seconds(5));
  std::vector<GathererEvent> second = Drain(g);
  ASSERT_EQ(second.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(second[i].kind, first[i].kind);
    EXPECT_EQ(ice::FormatCandidate(second[i].candidate.candidate),
              ice::FormatCandidate(first[i].candidate.candidate));
  }
  EXPECT_EQ(g.candidates().size(), 2u);
}


// ---- Server-reflexive candidates (STUN Binding, RFC 8445 §5.1.1.1) ----

using testing::GatherNet;
using testing::kStun;
using testing::kTurn;
using testing::OfKind;

IceGathererConfig StunOnly(std::vector<stun::SocketAddress> servers) {
  IceGathererConfig c;
  c.stun_servers = std::move(servers);
  return c;
}

size_t Bindings(const std::vector<IceTransmit>& sent) {
  size_t n = 0;
  for (const IceTransmit& t : sent) {
    stun::MessageView m;
    if (stun::MessageView::Parse(t.bytes, &m) == stun::ParseError::kNone &&
        m.Is(stun::Method::kBinding, stun::MessageClass::kRequest)) {
      ++n;
    }
  }
  return n;
}

const stun::SocketAddress kMappedA = stun::SocketAddress::V4({203, 0, 113, 70}, 40000);
const stun::SocketAddress kMappedB = stun::SocketAddress::V4({203, 0, 113, 71}, 40001);

TEST(IceGathererSrflxTest, OneBindingPerStartNextPacedByTheCaller) {
  GatherNet net(StunOnly({kStun}));
  net.nat[kV4a] = kMappedA;
  net.nat[kV4b] = kMappedB;
  std::vector<stun::SocketAddress> bases = {kV4a, kV4b};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  // Host candidates need no transaction; the Bindings wait for the pacer.
  EXPECT_FALSE(net.gatherer.PollTransmit().has_value());
  EXPECT_TRUE(net.gatherer.has_pending_start());
  EXPECT_FALSE(net.gatherer.complete());
  net.gatherer.StartNext(net.now);
  std::optional<IceTransmit> first = net.gatherer.PollTransmit();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->source, kV4a);
  EXPECT_EQ(first->destination, kStun);
  EXPECT_FALSE(net.gatherer.PollTransmit().has_value());  // one per call
  EXPECT_TRUE(net.gatherer.has_pending_start());
  net.gatherer.StartNext(net.now + absl::Milliseconds(50));
  std::optional<IceTransmit> second = net.gatherer.PollTransmit();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->source, kV4b);
  EXPECT_FALSE(net.gatherer.has_pending_start());
  net.gatherer.StartNext(net.now);  // nothing left: a no-op
  EXPECT_FALSE(net.gatherer.PollTransmit().has_value());
}

TEST(IceGathererSrflxTest, TwoBasesTwoServersPrioritiesFoundationsAndRedundancy) {
  // kTurn's core also answers Binding; here it is just a second STUN server.
  GatherNet net(StunOnly({kStun, kTurn}));
  net.nat[kV4a] = kMappedA;
  net.nat[kV4b] = kMappedB;
  std::vector<stun::SocketAddress> bases = {kV4a, kV4b};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  std::vector<GathererEvent> ev = net.Events();
  EXPECT_EQ(Bindings(net.sent), 4u);
  std::vector<GathererEvent> c = OfKind(ev, GathererEvent::Kind::kCandidate);
  // Two hosts, then one srflx per base: the second server saw the same
  // mapping from the same base, a redundant candidate of lower priority
  // (RFC 8445 §5.1.3).
  ASSERT_EQ(c.size(), 4u);
  const GatheredCandidate& a = c[2].candidate;
  const GatheredCandidate& b = c[3].candidate;
  EXPECT_EQ(a.candidate.type, CandidateType::kServerReflexive);
  EXPECT_EQ(a.address, kMappedA);
  EXPECT_EQ(a.base, kV4a);
  EXPECT_EQ(a.socket, kV4a);
  EXPECT_EQ(b.address, kMappedB);
  EXPECT_EQ(b.base, kV4b);
  // Local preferences: base ranks 0 and 1, two servers each: ranks 0..3;
  // the kept ones are (base 0, server 0) and (base 1, server 0).
  EXPECT_EQ(a.candidate.priority, Priority(100, 65535));
  EXPECT_EQ(b.candidate.priority, Priority(100, 65533));
  EXPECT_EQ(a.candidate.related_address, "192.0.2.10");
  EXPECT_EQ(a.candidate.related_port, 5000);
  // Different base IPs: different foundations; none shared with the hosts.
  EXPECT_NE(a.candidate.foundation, b.candidate.foundation);
  EXPECT_NE(a.candidate.foundation, c[0].candidate.candidate.foundation);
  EXPECT_EQ(ev.back().kind, GathererEvent::Kind::kComplete);
  EXPECT_EQ(net.gatherer.candidates().size(), 4u);
}

TEST(IceGathererSrflxTest, SrflxEqualToItsHostIsDropped) {
  GatherNet net(StunOnly({kStun}));  // no NAT: the server sees the base itself
  std::vector<stun::SocketAddress> bases = {kV4a};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  std::vector<GathererEvent> ev = net.Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].candidate.candidate.type, CandidateType::kHost);
  EXPECT_EQ(ev[1].kind, GathererEvent::Kind::kComplete);
  EXPECT_EQ(Bindings(net.sent), 1u);
}

TEST(IceGathererSrflxTest, OnlyServersOfTheBaseFamilyAreAsked) {
  GatherNet net(StunOnly({kStun}));
  net.nat[kV4a] = kMappedA;
  std::vector<stun::SocketAddress> bases = {kV4a, kV6a};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  EXPECT_EQ(Bindings(net.sent), 1u);
  std::vector<GathererEvent> c = OfKind(net.Events(), GathererEvent::Kind::kCandidate);
  ASSERT_EQ(c.size(), 3u);
  // v6 first (65535), v4 second (65534); one server: srflx keeps 65534.
  EXPECT_EQ(c[2].candidate.candidate.priority, Priority(100, 65534));
}

TEST(IceGathererSrflxTest, SilentStunServerMeansNoSrflxButGatheringCompletes) {
  IceGathererConfig config = StunOnly({kStun});
  GatherNet net(config);
  net.nat[kV4a] = kMappedA;
  net.drop_to.insert(kStun);
  std::vector<stun::SocketAddress> bases = {kV4a};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  EXPECT_FALSE(net.gatherer.complete());
  // RFC 8489 §6.2.1: Rc = 7 transmissions; with RTO 500 ms the last is
  // sent at 31.5 s and given up on at 39.5 s.
  net.RunUntil(net.now + absl::Seconds(39));
  EXPECT_FALSE(net.gatherer.complete());
  net.RunUntil(net.now + absl::Seconds(2));
  EXPECT_TRUE(net.gatherer.complete());
  EXPECT_EQ(Bindings(net.sent), 7u);
  std::vector<GathererEvent> ev = net.Events();
  EXPECT_EQ(OfKind(ev, GathererEvent::Kind::kCandidate).size(), 1u);
  EXPECT_TRUE(OfKind(ev, GathererEvent::Kind::kTurnError).empty());
  EXPECT_EQ(ev.back().kind, GathererEvent::Kind::kComplete);
}

TEST(IceGathererSrflxTest, RegatherAsksTheStunServersAgain) {
  GatherNet net(StunOnly({kStun}));
  net.nat[kV4a] = kMappedA;
  std::vector<stun::SocketAddress> bases = {kV4a};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.StartAll();
  ASSERT_EQ(net.Events().size(), 3u);
  // RFC 8445 §9: after a restart the NAT may map elsewhere.
  net.nat[kV4a] = kMappedB;
  net.gatherer.Regather(net.now);
  EXPECT_TRUE(net.gatherer.has_pending_start());
  net.StartAll();
  std::vector<GathererEvent> ev = net.Events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].candidate.candidate.type, CandidateType::kHost);
  EXPECT_EQ(ev[1].candidate.address, kMappedB);
  EXPECT_EQ(ev[2].kind, GathererEvent::Kind::kComplete);
  EXPECT_EQ(Bindings(net.sent), 2u);
  ASSERT_EQ(net.gatherer.candidates().size(), 2u);
  EXPECT_EQ(net.gatherer.candidates()[1].address, kMappedB);
}

TEST(IceGathererSrflxTest, GarbageFromAStunServerIsNotConsumed) {
  GatherNet net(StunOnly({kStun}));
  std::vector<stun::SocketAddress> bases = {kV4a};
  ASSERT_TRUE(net.gatherer.Start(bases, net.now).ok());
  net.gatherer.StartNext(net.now);
  const std::vector<uint8_t> junk(24, 0x01);
  EXPECT_EQ(net.gatherer.HandlePacket(kV4a, kStun, junk, net.now).kind,
            GathererIncoming::Kind::kNotMine);
  EXPECT_EQ(net.gatherer.HandlePacket(kV4a, kStun, {}, net.now).kind,
            GathererIncoming::Kind::kNotMine);
  EXPECT_FALSE(net.gatherer.complete());
}

TEST(IceGathererSrflxTest, WithoutARandomSourceRequestsFailAndGatheringStillCompletes) {
  // Transaction IDs need randomness (RFC 8489 §6); a gatherer built without
  // it cannot send a request: no srflx, the TURN server reported unusable.
  IceGathererConfig config = StunOnly({kStun});
  config.turn_servers.push_back({kTurn, TurnCredentials{"alice", "wonderland"}});
  IceGatherer g(config, RandomSource{});
  std::vector<stun::SocketAddress> bases = {kV4a};
  ASSERT_TRUE(g.Start(bases, kT0).ok());
  for (int i = 0; i < 10 && g.has_pending_start(); ++i) g.StartNext(kT0);
  EXPECT_FALSE(g.has_pending_start());
  EXPECT_FALSE(g.PollTransmit().has_value());
  std::vector<GathererEvent> ev = Drain(g);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].candidate.candidate.type, CandidateType::kHost);
  EXPECT_EQ(ev[1].kind, GathererEvent::Kind::kTurnError);
  EXPECT_NE(ev[1].reason.find("could not be sent"), std::string::npos) << ev[1].reason;
  EXPECT_EQ(ev[2].kind, GathererEvent::Kind::kComplete);
  EXPECT_EQ(g.PollTimeout(), absl::InfiniteFuture());
}

}  // namespace
}  // namespace uturn::client
