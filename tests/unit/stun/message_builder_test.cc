#include "stun/message_builder.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stun/integrity.h"

namespace uturn::stun {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr std::array<uint8_t, 12> kTid = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                          0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
constexpr uint16_t kBindingRequest = 0x0001;

Bytes ToBytes(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }
uint16_t Load16(std::span<const uint8_t> s, size_t at) {
  return static_cast<uint16_t>(s[at] << 8 | s[at + 1]);
}

// A buffer pre-filled with junk so that unwritten padding would show.
struct Buf {
  explicit Buf(size_t n = 1500) : data(n, 0xAA) {}
  std::vector<uint8_t> data;
};

TEST(MessageBuilderTest, WritesHeader) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  ASSERT_TRUE(b.ok());
  const Bytes expected = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 0xb7, 0xe7,
                          0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
  EXPECT_EQ(ToBytes(b.bytes()), expected);
  EXPECT_EQ(b.size(), 20u);
}

TEST(MessageBuilderTest, CustomCookieWord) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid, 0x01020304);
  EXPECT_EQ(ToBytes(b.bytes().subspan(4, 4)), (Bytes{1, 2, 3, 4}));
}

TEST(MessageBuilderTest, BufferTooSmallForHeader) {
  Buf buf(19);
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.bytes().empty());
  b.AddU32(attr::kLifetime, 1);  // no-op, no crash
  EXPECT_FALSE(b.ok());
}

TEST(MessageBuilderTest, RejectsTypeWithTopBits) {
  Buf buf;
  EXPECT_FALSE(MessageBuilder(buf.data, 0x4001, kTid).ok());
}

TEST(MessageBuilderTest, GenericAttributePaddedWithZeros) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  b.Add(0x7F00, Bytes{1, 2, 3, 4, 5});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.size(), 20u + 4 + 8);
  const Bytes expected = {0x7F, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0};
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)), expected);
  EXPECT_EQ(Load16(b.bytes(), 2), 12);
  b.AddString(attr::kSoftware, "ab");
  EXPECT_EQ(ToBytes(b.bytes().subspan(32)), (Bytes{0x80, 0x22, 0x00, 0x02, 'a', 'b', 0, 0}));
  EXPECT_EQ(Load16(b.bytes(), 2), 20);
}

TEST(MessageBuilderTest, ScalarsAndFlags) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  b.AddU32(attr::kPriority, 0x6E7F1EFF)
      .AddU64(attr::kIceControlling, 0x0102030405060708ULL)
      .AddFlag(attr::kUseCandidate);
  ASSERT_TRUE(b.ok());
  const Bytes expected = {0x00, 0x24, 0x00, 0x04, 0x6E, 0x7F, 0x1E, 0xFF,
                          0x80, 0x2A, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
                          0x00, 0x25, 0x00, 0x00};
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)), expected);
  EXPECT_EQ(Load16(b.bytes(), 2), expected.size());
}

TEST(MessageBuilderTest, AddUninitializedZeroesPaddingOnly) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  std::span<uint8_t> v = b.AddUninitialized(attr::kData, 3);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.data(), buf.data.data() + 24);
  EXPECT_EQ(buf.data[27], 0);  // padding
  EXPECT_EQ(b.size(), 28u);
}

TEST(MessageBuilderTest, XorAddressesUseRfc5769Layout) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0101, kTid);
  const std::array<uint8_t, 16> v6 = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                      0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
  b.AddXorAddress(attr::kXorMappedAddress, SocketAddress::V4({192, 0, 2, 1}, 32853))
      .AddXorAddress(attr::kXorMappedAddress, SocketAddress::V6(v6, 32853))
      .AddAddress(attr::kMappedAddress, SocketAddress::V4({192, 0, 2, 1}, 32853));
  ASSERT_TRUE(b.ok());
  const Bytes expected = {
      0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
      0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
      0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
      0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x80, 0x55, 0xc0, 0x00, 0x02, 0x01};
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)), expected);
}

TEST(MessageBuilderTest, ErrorCodeLayout) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0111, kTid);
  b.AddErrorCode(420, "Unknown");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)),
            (Bytes{0x00, 0x09, 0x00, 0x0B, 0, 0, 4, 20, 'U', 'n', 'k', 'n', 'o', 'w', 'n', 0}));
}

TEST(MessageBuilderTest, ErrorCodeDefaultReason) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0111, kTid);
  b.AddErrorCode(438);
  ASSERT_TRUE(b.ok());
  const std::string reason = "Stale Nonce";
  Bytes expected = {0x00, 0x09, 0x00, static_cast<uint8_t>(4 + reason.size()), 0, 0, 4, 38};
  // push_back, not insert(): GCC 12 -O3 reports a bogus -Warray-bounds for
  // vector::insert of a string range here.
  for (char c : reason) expected.push_back(static_cast<uint8_t>(c));
  while (expected.size() % 4) expected.push_back(0);
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)), expected);
}

TEST(DefaultReasonPhraseTest, EveryDefinedCode) {
  // Phrases as the RFCs print them (RFC 8489 §14.8, RFC 8656 §19, RFC 8445 §7.3.1.1).
  const std::vector<std::pair<int, std::string>> expected = {
      {300, "Try Alternate"},
      {400, "Bad Request"},
      {401, "Unauthenticated"},
      {403, "Forbidden"},
      {420, "Unknown Attribute"},
      {437, "Allocation Mismatch"},
      {438, "Stale Nonce"},
      {440, "Address Family not Supported"},
      {441, "Wrong Credentials"},
      {442, "Unsupported Transport Protocol"},
      {443, "Peer Address Family Mismatch"},
      {486, "Allocation Quota Reached"},
      {487, "Role Conflict"},
      {500, "Server Error"},
      {508, "Insufficient Capacity"}};
  for (const auto& [code, phrase] : expected) EXPECT_EQ(DefaultReasonPhrase(code), phrase);
  for (int code : {0, 299, 402, 499, 600, 699}) EXPECT_STREQ(DefaultReasonPhrase(code), "");
}

TEST(MessageBuilderTest, ErrorCodeRejectsBadCodesAndReasons) {
  for (int code : {-1, 0, 299, 700, 1000}) {
    Buf buf;
    MessageBuilder b(buf.data, 0x0111, kTid);
    EXPECT_FALSE(b.AddErrorCode(code, "x").ok()) << code;
  }
  {
    Buf buf;  // RFC 8489 §14.8: fewer than 128 characters
    MessageBuilder b(buf.data, 0x0111, kTid);
    EXPECT_FALSE(b.AddErrorCode(400, std::string(128, 'a')).ok());
  }
  {
    Buf buf;
    MessageBuilder b(buf.data, 0x0111, kTid);
    EXPECT_TRUE(b.AddErrorCode(400, std::string(127, 'a')).ok());
  }
  {
    Buf buf;  // 127 three-byte characters: 381 bytes, still fine
    std::string s;
    for (int i = 0; i < 127; ++i) s += "\xE2\x82\xAC";
    MessageBuilder b(buf.data, 0x0111, kTid);
    EXPECT_TRUE(b.AddErrorCode(400, s).ok());
  }
  for (const char* bad : {"\xFF", "\xC0\x80", "\xE2\x82", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    Buf buf;
    MessageBuilder b(buf.data, 0x0111, kTid);
    EXPECT_FALSE(b.AddErrorCode(400, bad).ok());
  }
}

TEST(MessageBuilderTest, UnknownAttributesOddCountPadded) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0111, kTid);
  const uint16_t types[] = {0x0031, 0x0032, 0x0033};
  b.AddUnknownAttributes(types);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)),
            (Bytes{0x00, 0x0A, 0x00, 0x06, 0x00, 0x31, 0x00, 0x32, 0x00, 0x33, 0, 0}));
}

TEST(MessageBuilderTest, PasswordAlgorithms) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0111, kTid);
  const PasswordAlgorithm algs[] = {PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5};
  b.AddPasswordAlgorithms(algs).AddPasswordAlgorithm(PasswordAlgorithm::kSha256);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)),
            (Bytes{0x80, 0x02, 0x00, 0x08, 0, 2, 0, 0, 0, 1, 0, 0,
                   0x00, 0x1D, 0x00, 0x04, 0, 2, 0, 0}));
}

TEST(MessageBuilderTest, TurnAttributes) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0003, kTid);
  b.AddChannelNumber(0x4001)
      .AddRequestedTransport(kTransportUdp)
      .AddRequestedAddressFamily(kFamilyIPv6)
      .AddAdditionalAddressFamily(kFamilyIPv6)
      .AddEvenPort(true)
      .AddEvenPort(false)
      .AddAddressErrorCode(kFamilyIPv6, 440, "No")
      .AddIcmp(3, 1, 0xDEADBEEF);
  ASSERT_TRUE(b.ok());
  const Bytes expected = {
      0x00, 0x0C, 0x00, 0x04, 0x40, 0x01, 0x00, 0x00,            // CHANNEL-NUMBER
      0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0,                       // REQUESTED-TRANSPORT
      0x00, 0x17, 0x00, 0x04, 2, 0, 0, 0,                        // REQUESTED-ADDRESS-FAMILY
      0x80, 0x00, 0x00, 0x04, 2, 0, 0, 0,                        // ADDITIONAL-ADDRESS-FAMILY
      0x00, 0x18, 0x00, 0x01, 0x80, 0, 0, 0,                     // EVEN-PORT R=1
      0x00, 0x18, 0x00, 0x01, 0x00, 0, 0, 0,                     // EVEN-PORT R=0
      0x80, 0x01, 0x00, 0x06, 2, 0, 4, 40, 'N', 'o', 0, 0,       // ADDRESS-ERROR-CODE
      0x80, 0x04, 0x00, 0x08, 0, 0, 3, 1, 0xDE, 0xAD, 0xBE, 0xEF};  // ICMP
  EXPECT_EQ(ToBytes(b.bytes().subspan(20)), expected);
}

TEST(MessageBuilderTest, AddressErrorCodeRejectsBadCode) {
  Buf buf;
  MessageBuilder b(buf.data, 0x0113, kTid);
  EXPECT_FALSE(b.AddAddressErrorCode(kFamilyIPv4, 200).ok());
  Buf buf2;
  MessageBuilder b2(buf2.data, 0x0113, kTid);
  EXPECT_FALSE(b2.AddAddressErrorCode(kFamilyIPv4, 440, "\xFF").ok());
  Buf buf3;
  MessageBuilder b3(buf3.data, 0x0113, kTid);
  ASSERT_TRUE(b3.AddAddressErrorCode(kFamilyIPv4, 440).ok());  // default reason
  EXPECT_EQ(Load16(b3.bytes(), 22), 4 + std::string(DefaultReasonPhrase(440)).size());
}

TEST(MessageBuilderTest, OverflowFailsAndStaysFailed) {
  Buf buf(20 + 8 + 4);
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  b.AddU32(attr::kLifetime, 1);
  ASSERT_TRUE(b.ok());
  b.AddU32(attr::kLifetime, 2);  // needs 8, 4 left
  EXPECT_FALSE(b.ok());
  EXPECT_TRUE(b.bytes().empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.AddUninitialized(attr::kData, 0).empty());
  b.AddFlag(attr::kUseCandidate);  // would fit, but the builder has failed
  EXPECT_FALSE(b.ok());
}

TEST(MessageBuilderTest, ExactFitSucceeds) {
  Buf buf(20 + 8);
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  EXPECT_TRUE(b.AddU32(attr::kLifetime, 1).ok());
  EXPECT_EQ(b.size(), 28u);
}

TEST(MessageBuilderTest, MessageLengthFieldLimit) {
  Buf buf(70000);
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  // 4 + 65528 = 65532, the largest multiple-of-4 body.
  ASSERT_FALSE(b.AddUninitialized(attr::kData, 65528).empty());
  EXPECT_EQ(Load16(b.bytes(), 2), 65532);
  b.AddFlag(attr::kUseCandidate);  // would make the body 65536
  EXPECT_FALSE(b.ok());
  Buf buf2(70000);
  MessageBuilder b2(buf2.data, kBindingRequest, kTid);
  EXPECT_TRUE(b2.AddUninitialized(attr::kData, 65536).empty());  // value too long for u16
  EXPECT_FALSE(b2.ok());
}

TEST(MessageBuilderTest, ResponseToCopiesIdAndCookie) {
  Buf req_buf;
  MessageBuilder req(req_buf.data, 0x0003, kTid, 0x11223344);  // RFC 3489 style
  MessageView view;
  ParseOptions o;
  ASSERT_EQ(MessageView::Parse(req.bytes(), &view, o), ParseError::kNone);
  Buf buf;
  MessageBuilder r = MessageBuilder::ResponseTo(view, MessageClass::kErrorResponse, buf.data);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Load16(r.bytes(), 0), 0x0113);  // Allocate error response
  EXPECT_EQ(ToBytes(r.bytes().subspan(4, 4)), (Bytes{0x11, 0x22, 0x33, 0x44}));
  EXPECT_EQ(ToBytes(r.bytes().subspan(8, 12)), Bytes(kTid.begin(), kTid.end()));
}

Bytes Hmac(const EVP_MD* md, std::string_view key, std::span<const uint8_t> data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out, &len);
  return Bytes(out, out + len);
}

TEST(MessageBuilderTest, MessageIntegrityCoversPatchedHeader) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  b.AddString(attr::kUsername, "user").AddMessageIntegrity(KeyBytes("secret"));
  ASSERT_TRUE(b.ok());
  const Bytes m = ToBytes(b.bytes());
  ASSERT_EQ(m.size(), 20u + 8 + 24);
  EXPECT_EQ(Load16(m, 2), 32);  // covers MESSAGE-INTEGRITY
  EXPECT_EQ(Load16(m, 28), attr::kMessageIntegrity);
  EXPECT_EQ(Load16(m, 30), 20);
  const Bytes mac = Hmac(EVP_sha1(), "secret", std::span<const uint8_t>(m).first(28));
  EXPECT_EQ(Bytes(m.begin() + 32, m.end()), mac);
}

TEST(MessageBuilderTest, IntegrityFamilyAndFingerprintChain) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  b.AddString(attr::kUsername, "u")
      .AddMessageIntegrity(KeyBytes("k"))
      .AddMessageIntegritySha256(KeyBytes("k"))
      .AddFingerprint();
  ASSERT_TRUE(b.ok());
  Bytes m = ToBytes(b.bytes());
  ASSERT_EQ(m.size(), 20u + 8 + 24 + 36 + 8);
  EXPECT_EQ(Load16(m, 2), m.size() - 20);
  // HMAC-SHA1 was computed with the length ending after MESSAGE-INTEGRITY.
  Bytes prefix(m.begin(), m.begin() + 28);
  prefix[2] = 0;
  prefix[3] = 8 + 24;
  EXPECT_EQ(Bytes(m.begin() + 32, m.begin() + 52), Hmac(EVP_sha1(), "k", prefix));
  // HMAC-SHA256 with the length ending after MESSAGE-INTEGRITY-SHA256.
  Bytes prefix256(m.begin(), m.begin() + 52);
  prefix256[3] = 8 + 24 + 36;
  EXPECT_EQ(Bytes(m.begin() + 56, m.begin() + 88), Hmac(EVP_sha256(), "k", prefix256));
  // CRC-32 (zlib, RFC 8489 §14.7) over everything before FINGERPRINT.
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, m.data(), 88)) ^ 0x5354554eu;
  EXPECT_EQ(Bytes(m.begin() + 92, m.end()),
            (Bytes{static_cast<uint8_t>(crc >> 24), static_cast<uint8_t>(crc >> 16),
                   static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc)}));

  // And the parser agrees.
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  EXPECT_EQ(v.message_integrity_offset(), 28u);
  EXPECT_EQ(v.message_integrity_sha256_offset(), 52u);
  EXPECT_EQ(v.fingerprint_offset(), 88u);
}

TEST(MessageBuilderTest, Sha256Truncation) {
  for (size_t n : {16, 20, 24, 28, 32}) {
    Buf buf;
    MessageBuilder b(buf.data, kBindingRequest, kTid);
    b.AddMessageIntegritySha256(KeyBytes("k"), n);
    ASSERT_TRUE(b.ok()) << n;
    const Bytes m = ToBytes(b.bytes());
    ASSERT_EQ(m.size(), 24u + n);
    const Bytes full = Hmac(EVP_sha256(), "k", std::span<const uint8_t>(m).first(20));
    EXPECT_EQ(Bytes(m.begin() + 24, m.end()), Bytes(full.begin(), full.begin() + n)) << n;
  }
  for (size_t n : {0, 4, 12, 15, 17, 18, 33, 36, 64}) {
    Buf buf;
    MessageBuilder b(buf.data, kBindingRequest, kTid);
    EXPECT_FALSE(b.AddMessageIntegritySha256(KeyBytes("k"), n).ok()) << n;
  }
}

TEST(MessageBuilderTest, IntegrityAndFingerprintFailOnOverflow) {
  for (int which = 0; which < 3; ++which) {
    Buf buf(20 + 7);
    MessageBuilder b(buf.data, kBindingRequest, kTid);
    if (which == 0) b.AddMessageIntegrity(KeyBytes("k"));
    if (which == 1) b.AddMessageIntegritySha256(KeyBytes("k"));
    if (which == 2) b.AddFingerprint();
    EXPECT_FALSE(b.ok()) << which;
  }
}

TEST(MessageBuilderTest, IntegrityRoundTripsThroughVerify) {
  Buf buf;
  MessageBuilder b(buf.data, kBindingRequest, kTid);
  b.AddString(attr::kUsername, "user")
      .AddMessageIntegrity(KeyBytes("pw"))
      .AddMessageIntegritySha256(KeyBytes("pw"), 24)
      .AddFingerprint();
  ASSERT_TRUE(b.ok());
  MessageView v;
  ASSERT_EQ(MessageView::Parse(b.bytes(), &v), ParseError::kNone);
  EXPECT_EQ(VerifyMessageIntegrity(v, KeyBytes("pw")), IntegrityCheck::kOk);
  EXPECT_EQ(VerifyMessageIntegrity(v, KeyBytes("px")), IntegrityCheck::kMismatch);
  EXPECT_EQ(VerifyMessageIntegritySha256(v, KeyBytes("pw")), IntegrityCheck::kOk);
  EXPECT_EQ(VerifyMessageIntegritySha256(v, KeyBytes("px")), IntegrityCheck::kMismatch);
}

}  // namespace
}  // namespace uturn::stun

// RFC 8489 §14.5-§14.7 ordering: the builder refuses attributes that a
// receiver would ignore or reject because of where they stand.
namespace uturn::stun {
namespace {

constexpr std::array<uint8_t, 12> kOrderTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
constexpr std::array<uint8_t, 16> kOrderKey = {'k', 'e', 'y'};

MessageBuilder OrderBuilder(std::span<uint8_t> buf) {
  return MessageBuilder(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest),
                        kOrderTid);
}

TEST(MessageBuilderOrderTest, NothingAfterFingerprint) {
  std::array<uint8_t, 256> buf{};
  MessageBuilder b = OrderBuilder(buf);
  b.AddFingerprint();
  ASSERT_TRUE(b.ok());
  b.AddString(attr::kSoftware, "late");
  EXPECT_FALSE(b.ok());
  EXPECT_TRUE(b.bytes().empty());
}

TEST(MessageBuilderOrderTest, OnlySha256OrFingerprintAfterIntegrity) {
  std::array<uint8_t, 256> buf{};
  MessageBuilder ok_chain = OrderBuilder(buf);
  ok_chain.AddMessageIntegrity(kOrderKey).AddMessageIntegritySha256(kOrderKey).AddFingerprint();
  EXPECT_TRUE(ok_chain.ok());
  MessageView view;
  EXPECT_EQ(MessageView::Parse(ok_chain.bytes(), &view), ParseError::kNone);

  std::array<uint8_t, 256> buf2{};
  MessageBuilder bad = OrderBuilder(buf2);
  bad.AddMessageIntegrity(kOrderKey).AddString(attr::kUsername, "late");
  EXPECT_FALSE(bad.ok());
}

TEST(MessageBuilderOrderTest, OnlyFingerprintAfterIntegritySha256) {
  std::array<uint8_t, 256> buf{};
  MessageBuilder b = OrderBuilder(buf);
  b.AddMessageIntegritySha256(kOrderKey).AddMessageIntegrity(kOrderKey);
  EXPECT_FALSE(b.ok());
}

}  // namespace
}  // namespace uturn::stun
