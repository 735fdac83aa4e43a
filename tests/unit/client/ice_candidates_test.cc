// Local preferences, priorities, foundations, redundancy and formatting of
// the gatherer's candidates (client/ice_candidates.h). Expected values are
// written out from the RFC formulas, not taken from the code under test.
#include "client/ice_candidates.h"

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace uturn::client {
namespace {

using ice::CandidateType;

const stun::SocketAddress kV4a = stun::SocketAddress::V4({192, 0, 2, 10}, 5000);
const stun::SocketAddress kV4b = stun::SocketAddress::V4({198, 51, 100, 10}, 5001);
const stun::SocketAddress kV6a = stun::SocketAddress::V6(
    {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 6000);
const stun::SocketAddress kV6b = stun::SocketAddress::V6(
    {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 6001);
const stun::SocketAddress kStun1 = stun::SocketAddress::V4({203, 0, 113, 1}, 3478);
const stun::SocketAddress kStun2 = stun::SocketAddress::V4({203, 0, 113, 2}, 3478);

TEST(LocalPreferencesTest, SingleBaseGets65535) {
  std::vector<stun::SocketAddress> bases = {kV4a};
  EXPECT_EQ(LocalPreferences(bases), std::vector<uint32_t>({65535}));
}

TEST(LocalPreferencesTest, EmptyIsEmpty) {
  EXPECT_TRUE(LocalPreferences({}).empty());
}

TEST(LocalPreferencesTest, Ipv6FirstThenInterleaved) {
  // Driver order v4a, v4b, v6a, v6b. Ranks: v6a 0, v4a 1, v6b 2, v4b 3.
  std::vector<stun::SocketAddress> bases = {kV4a, kV4b, kV6a, kV6b};
  EXPECT_EQ(LocalPreferences(bases), std::vector<uint32_t>({65534, 65532, 65535, 65533}));
}

TEST(LocalPreferencesTest, LeftoverFamilyFollowsInOrder) {
  std::vector<stun::SocketAddress> bases = {kV4a, kV6a, kV4b,
                                            stun::SocketAddress::V4({192, 0, 2, 11}, 1)};
  // v6a 0, v4a 1, v4b 2, 192.0.2.11 3.
  EXPECT_EQ(LocalPreferences(bases), std::vector<uint32_t>({65534, 65535, 65533, 65532}));
}

TEST(LocalPreferencesTest, UniqueAndNeverBelowZeroForManyBases) {
  std::vector<stun::SocketAddress> bases;
  for (int i = 0; i < 300; ++i) {
    bases.push_back(stun::SocketAddress::V4({192, 0, 2, static_cast<uint8_t>(i % 256)},
                                            static_cast<uint16_t>(1000 + i)));
  }
  std::vector<uint32_t> prefs = LocalPreferences(bases);
  ASSERT_EQ(prefs.size(), bases.size());
  std::set<uint32_t> unique(prefs.begin(), prefs.end());
  EXPECT_EQ(unique.size(), prefs.size());
  EXPECT_EQ(*unique.rbegin(), 65535u);
  EXPECT_EQ(*unique.begin(), 65535u - 299u);
}

TEST(ServerLocalPreferenceTest, UniquePerBaseAndServer) {
  // Two bases (65535, 65534), three servers: ranks 0..5.
  EXPECT_EQ(ServerLocalPreference(65535, 0, 3), 65535u);
  EXPECT_EQ(ServerLocalPreference(65535, 2, 3), 65533u);
  EXPECT_EQ(ServerLocalPreference(65534, 0, 3), 65532u);
  EXPECT_EQ(ServerLocalPreference(65534, 2, 3), 65530u);
  // Far down, the value floors at 0 instead of wrapping.
  EXPECT_EQ(ServerLocalPreference(0, 1, 2), 0u);
}

TEST(LocalPriorityTest, RecommendedTypePreferencesAndComponentOne) {
  // RFC 8445 §5.1.2.1: 2^24*type + 2^8*local + (256 - 1).
  EXPECT_EQ(LocalPriority(CandidateType::kHost, 65535), (126u << 24) + (65535u << 8) + 255u);
  EXPECT_EQ(LocalPriority(CandidateType::kHost, 65535), 2130706431u);
  EXPECT_EQ(LocalPriority(CandidateType::kPeerReflexive, 65535), (110u << 24) + (65535u << 8) + 255u);
  EXPECT_EQ(LocalPriority(CandidateType::kServerReflexive, 100),
            (100u << 24) + (100u << 8) + 255u);
  EXPECT_EQ(LocalPriority(CandidateType::kRelay, 0), 255u);
}

TEST(FoundationTableTest, SameTypeBaseIpServerIpTransportShareAFoundation) {
  FoundationTable t;
  stun::SocketAddress other_port = kV4a;
  other_port.port = 9999;
  std::string host = t.Get(CandidateType::kHost, kV4a, nullptr, "udp");
  // Same base IP, another port: same foundation (§5.1.1.3 compares IPs).
  EXPECT_EQ(t.Get(CandidateType::kHost, other_port, nullptr, "udp"), host);
  // Another base IP, another type, another server, another transport: new ones.
  std::string host_b = t.Get(CandidateType::kHost, kV4b, nullptr, "udp");
  std::string srflx1 = t.Get(CandidateType::kServerReflexive, kV4a, &kStun1, "udp");
  std::string srflx2 = t.Get(CandidateType::kServerReflexive, kV4a, &kStun2, "udp");
  std::string host_tcp = t.Get(CandidateType::kHost, kV4a, nullptr, "tcp");
  std::set<std::string> all = {host, host_b, srflx1, srflx2, host_tcp};
  EXPECT_EQ(all.size(), 5u);
  // Same server IP on another port: same foundation.
  stun::SocketAddress stun1_other_port = kStun1;
  stun1_other_port.port = 3479;
  EXPECT_EQ(t.Get(CandidateType::kServerReflexive, kV4a, &stun1_other_port, "udp"), srflx1);
  EXPECT_EQ(t.size(), 5u);
  for (const std::string& f : all) {
    ASSERT_FALSE(f.empty());
    EXPECT_LE(f.size(), 32u);
    for (char ch : f) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '/');
  }
}

// Built in one expression: assigning short literals to a member string trips
// GCC 12's -Wrestrict false positive.
CandidateSpec Spec(CandidateType type, const stun::SocketAddress& address,
                   const stun::SocketAddress& base, std::optional<stun::SocketAddress> related,
                   std::string foundation, uint32_t local_preference) {
  return CandidateSpec{type, address, base, related, std::move(foundation), local_preference};
}

TEST(MakeCandidateTest, HostHasNoRelatedAddress) {
  ice::Candidate c = MakeCandidate(Spec(CandidateType::kHost, kV4a, kV4a, std::nullopt, "1", 65535));
  EXPECT_EQ(ice::FormatCandidate(c), "candidate:1 1 udp 2130706431 192.0.2.10 5000 typ host");
}

TEST(MakeCandidateTest, SrflxAndRelayCarryRaddrRport) {
  const stun::SocketAddress mapped = stun::SocketAddress::V4({203, 0, 113, 50}, 40000);
  EXPECT_EQ(ice::FormatCandidate(MakeCandidate(
                Spec(CandidateType::kServerReflexive, mapped, kV4a, kV4a, "2", 65535))),
            "candidate:2 1 udp 1694498815 203.0.113.50 40000 typ srflx raddr 192.0.2.10 rport "
            "5000");
  EXPECT_EQ(ice::FormatCandidate(
                MakeCandidate(Spec(CandidateType::kRelay, kV6a, kV6a, mapped, "3", 1))),
            "candidate:3 1 udp 511 2001:db8::1 6000 typ relay raddr 203.0.113.50 rport 40000");
}

TEST(RedundancyTest, SameAddressAndBaseWithHigherPriorityWins) {
  const uint32_t host = LocalPriority(CandidateType::kHost, 65535);
  const uint32_t srflx = LocalPriority(CandidateType::kServerReflexive, 65535);
  std::vector<KnownCandidate> known = {{kV4a, kV4a, host}};
  // A srflx equal to its host (no NAT) is dropped.
  EXPECT_TRUE(IsRedundant(known, kV4a, kV4a, srflx));
  // Same address, other base: not redundant.
  EXPECT_FALSE(IsRedundant(known, kV4a, kV4b, srflx));
  // Same base, other address: not redundant.
  EXPECT_FALSE(IsRedundant(known, kV4b, kV4a, srflx));
  // The higher-priority newcomer is kept (the existing one is the lower).
  std::vector<KnownCandidate> low = {{kV4a, kV4a, srflx}};
  EXPECT_FALSE(IsRedundant(low, kV4a, kV4a, host));
  EXPECT_FALSE(IsRedundant({}, kV4a, kV4a, host));
}

}  // namespace
}  // namespace uturn::client
