// IceGatherer driven with an injected clock and random source. Expected
// priorities and foundations are written out from RFC 8445's formulas.
#include "client/ice_gatherer.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace uturn::client
