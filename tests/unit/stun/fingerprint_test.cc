// FINGERPRINT (RFC 8489 §14.7). Expected CRCs are the published CRC-32
// (ISO-HDLC) check values, not outputs of this code.
#include "stun/fingerprint.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "stun/constants.h"

namespace uturn::stun {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(FingerprintTest, XorConstantIsFromRfc8489) {
  // RFC 8489 §14.7: "XOR'ed with the 32-bit value 0x5354554e".
  EXPECT_EQ(kFingerprintXor, 0x5354554eu);
}

TEST(FingerprintTest, Crc32CheckValue) {
  // The CRC-32/ISO-HDLC check value: CRC of "123456789" is 0xCBF43926.
  EXPECT_EQ(ComputeFingerprint(Bytes("123456789")), 0xCBF43926u ^ 0x5354554eu);
}

TEST(FingerprintTest, EmptyInputIsJustTheXor) {
  // CRC-32 of nothing is 0.
  EXPECT_EQ(ComputeFingerprint({}), 0x5354554eu);
}

TEST(FingerprintTest, Rfc5769SampleRequestPrefix) {
  // RFC 5769 §2.1, everything before the FINGERPRINT attribute; its value
  // there is e5 7a 3b cf.
  const std::vector<uint8_t> prefix = {
      0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
      0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
      0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
      0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
      0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
      0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
      0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
      0x71, 0xa2};
  EXPECT_EQ(ComputeFingerprint(prefix), 0xe57a3bcfu);
}

TEST(FingerprintTest, EveryBitFlipChangesTheValue) {
  std::vector<uint8_t> data(64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 + 11);
  const uint32_t original = ComputeFingerprint(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(ComputeFingerprint(data), original) << "bit " << bit;
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
  EXPECT_EQ(ComputeFingerprint(data), original);
}

}  // namespace
}  // namespace uturn::stun
