#include "stun/channel_data.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::stun {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(ChannelDataTest, ParsesUdpFrame) {
  const Bytes d = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c'};
  ChannelDataView v;
  ASSERT_EQ(ParseChannelData(d, false, &v), ChannelDataError::kNone);
  EXPECT_EQ(v.channel, 0x4001);
  EXPECT_EQ(Bytes(v.payload.begin(), v.payload.end()), (Bytes{'a', 'b', 'c'}));
  EXPECT_EQ(v.payload.data(), d.data() + 4);
}

TEST(ChannelDataTest, UdpIgnoresTrailingPadding) {
  const Bytes d = {0x4F, 0xFF, 0x00, 0x01, 'z', 0, 0, 0};
  ChannelDataView v;
  ASSERT_EQ(ParseChannelData(d, false, &v), ChannelDataError::kNone);
  EXPECT_EQ(v.channel, 0x4FFF);
  EXPECT_EQ(v.payload.size(), 1u);
}

TEST(ChannelDataTest, EmptyPayload) {
  const Bytes d = {0x40, 0x00, 0x00, 0x00};
  ChannelDataView v;
  ASSERT_EQ(ParseChannelData(d, true, &v), ChannelDataError::kNone);
  EXPECT_TRUE(v.payload.empty());
}

TEST(ChannelDataTest, StreamRequiresPadding) {
  const Bytes unpadded = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c'};
  ChannelDataView v;
  EXPECT_EQ(ParseChannelData(unpadded, true, &v), ChannelDataError::kMissingPadding);
  Bytes padded = unpadded;
  padded.push_back(0);
  ASSERT_EQ(ParseChannelData(padded, true, &v), ChannelDataError::kNone);
  EXPECT_EQ(v.payload.size(), 3u);
  // Already a multiple of 4: no padding needed.
  const Bytes four = {0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4};
  EXPECT_EQ(ParseChannelData(four, true, &v), ChannelDataError::kNone);
}

TEST(ChannelDataTest, TooShort) {
  const Bytes d = {0x40, 0x01, 0x00};
  ChannelDataView v;
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_EQ(ParseChannelData(std::span(d.data(), n), false, &v), ChannelDataError::kTooShort);
  }
}

TEST(ChannelDataTest, BadChannelOutsideRfc8656Range) {
  ChannelDataView v;
  for (uint16_t ch : {0x0000, 0x3FFF, 0x5000, 0x7FFF, 0x8000, 0xFFFF}) {
    const Bytes d = {static_cast<uint8_t>(ch >> 8), static_cast<uint8_t>(ch), 0, 0};
    EXPECT_EQ(ParseChannelData(d, false, &v), ChannelDataError::kBadChannel) << ch;
  }
}

TEST(ChannelDataTest, LengthOverrun) {
  const Bytes d = {0x40, 0x01, 0x00, 0x05, 'a', 'b', 'c', 'd'};
  ChannelDataView v;
  EXPECT_EQ(ParseChannelData(d, false, &v), ChannelDataError::kLengthOverrun);
  EXPECT_EQ(ParseChannelData(d, true, &v), ChannelDataError::kLengthOverrun);
  const Bytes max = {0x40, 0x01, 0xFF, 0xFF};
  EXPECT_EQ(ParseChannelData(max, false, &v), ChannelDataError::kLengthOverrun);
}

TEST(ChannelDataTest, WriteHeaderAndFrameSize) {
  uint8_t h[4];
  WriteChannelDataHeader(h, 0x4123, 0x0506);
  EXPECT_EQ(Bytes(h, h + 4), (Bytes{0x41, 0x23, 0x05, 0x06}));
  EXPECT_EQ(ChannelDataFrameSize(0, true), 4u);
  EXPECT_EQ(ChannelDataFrameSize(1, true), 8u);
  EXPECT_EQ(ChannelDataFrameSize(4, true), 8u);
  EXPECT_EQ(ChannelDataFrameSize(5, true), 12u);
  EXPECT_EQ(ChannelDataFrameSize(5, false), 9u);
  EXPECT_EQ(ChannelDataFrameSize(65535, true), 65540u);
}

TEST(ChannelDataTest, ValidChannelNumbers) {
  EXPECT_FALSE(IsValidChannelNumber(0x3FFF));
  EXPECT_TRUE(IsValidChannelNumber(0x4000));
  EXPECT_TRUE(IsValidChannelNumber(0x4FFF));
  EXPECT_FALSE(IsValidChannelNumber(0x5000));
}

TEST(ChannelDataTest, ErrorNamesAreDistinct) {
  std::vector<std::string> names;
  for (int e = 0; e <= static_cast<int>(ChannelDataError::kMissingPadding); ++e) {
    names.push_back(ToString(static_cast<ChannelDataError>(e)));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_FALSE(names[i].empty());
    for (size_t j = i + 1; j < names.size(); ++j) EXPECT_NE(names[i], names[j]);
  }
}

}  // namespace
}  // namespace uturn::stun

namespace uturn::stun {
namespace {

TEST(ChannelDataRfc5766Test, OldRangeAcceptedOnlyWhenAsked) {
  const std::vector<uint8_t> frame = {0x7F, 0xFF, 0x00, 0x01, 0xAB};
  ChannelDataView cd;
  EXPECT_EQ(ParseChannelData(frame, false, &cd), ChannelDataError::kBadChannel);
  ASSERT_EQ(ParseChannelData(frame, false, &cd, true), ChannelDataError::kNone);
  EXPECT_EQ(cd.channel, 0x7FFF);
  EXPECT_TRUE(IsValidChannelNumber(0x5000, true));
  EXPECT_FALSE(IsValidChannelNumber(0x5000));
  EXPECT_FALSE(IsValidChannelNumber(0x8000, true));
  EXPECT_FALSE(IsValidChannelNumber(0x3FFF, true));
}

}  // namespace
}  // namespace uturn::stun
