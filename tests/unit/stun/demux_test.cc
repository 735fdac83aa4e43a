#include "stun/demux.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::stun {
namespace {

// RFC 7983 §7 ranges, written out independently of ClassifyFirstByte.
PacketKind Expected(int b) {
  if (b >= 0 && b <= 3) return PacketKind::kStun;
  if (b >= 16 && b <= 19) return PacketKind::kZrtp;
  if (b >= 20 && b <= 63) return PacketKind::kDtls;
  if (b >= 64 && b <= 79) return PacketKind::kChannelData;
  if (b >= 128 && b <= 191) return PacketKind::kRtpRtcp;
  return PacketKind::kUnknown;
}

TEST(DemuxTest, BoundaryBytes) {
  const std::vector<std::pair<int, PacketKind>> cases = {
      {0, PacketKind::kStun},          {3, PacketKind::kStun},
      {4, PacketKind::kUnknown},       {15, PacketKind::kUnknown},
      {16, PacketKind::kZrtp},         {19, PacketKind::kZrtp},
      {20, PacketKind::kDtls},         {63, PacketKind::kDtls},
      {64, PacketKind::kChannelData},  {79, PacketKind::kChannelData},
      {80, PacketKind::kUnknown},      {127, PacketKind::kUnknown},
      {128, PacketKind::kRtpRtcp},     {191, PacketKind::kRtpRtcp},
      {192, PacketKind::kUnknown},     {255, PacketKind::kUnknown}};
  for (auto [b, kind] : cases) {
    const uint8_t p[] = {static_cast<uint8_t>(b), 0xFF};
    EXPECT_EQ(Classify(p), kind) << b;
  }
}

TEST(DemuxTest, EveryFirstByte) {
  for (int b = 0; b < 256; ++b) {
    const uint8_t p[] = {static_cast<uint8_t>(b)};
    EXPECT_EQ(Classify(p), Expected(b)) << b;
  }
}

TEST(DemuxTest, EmptyIsUnknown) { EXPECT_EQ(Classify({}), PacketKind::kUnknown); }

TEST(DemuxTest, Names) {
  std::set<std::string> names;
  for (PacketKind k : {PacketKind::kStun, PacketKind::kZrtp, PacketKind::kDtls,
                       PacketKind::kChannelData, PacketKind::kRtpRtcp, PacketKind::kUnknown}) {
    names.insert(ToString(k));
  }
  EXPECT_EQ(names.size(), 6u);
  EXPECT_STREQ(ToString(PacketKind::kStun), "stun");
}

}  // namespace
}  // namespace uturn::stun
