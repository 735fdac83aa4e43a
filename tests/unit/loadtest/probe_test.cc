#include "loadtest/probe.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace uturn::loadtest {
namespace {

TEST(Probe, RoundTripsAndIsLittleEndian) {
  std::array<uint8_t, 40> buf{};
  const Probe p{0x01020304, 0x1122334455667788ull, 0xa0b0c0d0e0f00102ull};
  WriteProbe(p, buf);
  // Layout written out by hand: magic "DOLU" little-endian, then the fields.
  const std::array<uint8_t, 24> want = {0x44, 0x4f, 0x4c, 0x55, 0x04, 0x03, 0x02, 0x01,
                                        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
                                        0x02, 0x01, 0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0};
  EXPECT_TRUE(std::equal(want.begin(), want.end(), buf.begin()));
  EXPECT_EQ(buf[24], 0);  // nothing written past the header
  const auto back = ReadProbe(buf);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
}

TEST(Probe, RejectsShortOrForeign) {
  std::array<uint8_t, 24> buf{};
  WriteProbe(Probe{1, 2, 3}, buf);
  EXPECT_FALSE(ReadProbe(std::span<const uint8_t>(buf.data(), 23)).has_value());
  buf[0] ^= 1;
  EXPECT_FALSE(ReadProbe(buf).has_value());
}

TEST(Pacer, DueFollowsRate) {
  const Pacer p(1000, 4, 1);
  EXPECT_EQ(p.Due(0), 0u);
  EXPECT_EQ(p.Due(-1), 0u);
  EXPECT_EQ(p.Due(0.0005), 0u);
  EXPECT_EQ(p.Due(0.001), 1u);
  EXPECT_EQ(p.Due(2.5), 2500u);
}

TEST(Pacer, UnpacedIsAlwaysDue) { EXPECT_EQ(Pacer(0, 1, 1).Due(0), UINT64_MAX); }

TEST(Pacer, InterleavedVisitsEachAllocationInTurn) {
  const Pacer p(1, 3, 1);
  std::vector<uint32_t> got;
  for (uint64_t k = 0; k < 7; ++k) got.push_back(p.AllocationOf(k));
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_EQ(p.RunLength(0, 64), 1u);
}

TEST(Pacer, BurstyGroupsPackets) {
  const Pacer p(1, 2, 3);
  std::vector<uint32_t> got;
  for (uint64_t k = 0; k < 8; ++k) got.push_back(p.AllocationOf(k));
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 0, 0, 1, 1, 1, 0, 0}));
  EXPECT_EQ(p.RunLength(0, 64), 3u);
  EXPECT_EQ(p.RunLength(1, 64), 2u);  // two left in this burst
  EXPECT_EQ(p.RunLength(3, 2), 2u);   // capped by the caller's limit
}

TEST(Pacer, SingleAllocationRunsUpToTheLimit) {
  const Pacer p(1, 1, 3);
  EXPECT_EQ(p.RunLength(1, 64), 64u);
  EXPECT_EQ(p.AllocationOf(12345), 0u);
}

}  // namespace
}  // namespace uturn::loadtest
