#include "stun/message_view.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::stun {
namespace {

using Bytes = std::vector<uint8_t>;
struct RawAttr {
  uint16_t type;
  Bytes value;
  // Length written in the TLV header; defaults to value.size().
  int length_override = -1;
};

const Bytes kTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// Assembles a message by hand (independently of MessageBuilder) with zero
// padding and the header length computed from what follows.
Bytes Raw(uint16_t type, const std::vector<RawAttr>& attrs, uint32_t cookie = kMagicCookie) {
  Bytes m(20);
  m[0] = static_cast<uint8_t>(type >> 8);
  m[1] = static_cast<uint8_t>(type);
  m[4] = static_cast<uint8_t>(cookie >> 24);
  m[5] = static_cast<uint8_t>(cookie >> 16);
  m[6] = static_cast<uint8_t>(cookie >> 8);
  m[7] = static_cast<uint8_t>(cookie);
  std::copy(kTid.begin(), kTid.end(), m.begin() + 8);
  for (const RawAttr& a : attrs) {
    const size_t len = a.length_override >= 0 ? size_t(a.length_override) : a.value.size();
    m.push_back(static_cast<uint8_t>(a.type >> 8));
    m.push_back(static_cast<uint8_t>(a.type));
    m.push_back(static_cast<uint8_t>(len >> 8));
    m.push_back(static_cast<uint8_t>(len));
    m.insert(m.end(), a.value.begin(), a.value.end());
    while (m.size() % 4) m.push_back(0);
  }
  const size_t body = m.size() - 20;
  m[2] = static_cast<uint8_t>(body >> 8);
  m[3] = static_cast<uint8_t>(body);
  return m;
}

// FINGERPRINT computed here with zlib directly (RFC 8489 §14.7), so the
// test does not trust the code under test.
Bytes WithFingerprint(Bytes m) {
  const size_t body = m.size() - 20 + 8;
  m[2] = static_cast<uint8_t>(body >> 8);
  m[3] = static_cast<uint8_t>(body);
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, m.data(), static_cast<uInt>(m.size()))) ^
                       0x5354554eu;
  const Bytes attr = {0x80, 0x28, 0x00, 0x04, static_cast<uint8_t>(crc >> 24),
                      static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 8),
                      static_cast<uint8_t>(crc)};
  m.insert(m.end(), attr.begin(), attr.end());
  return m;
}

ParseError ParseOf(const Bytes& m, ParseOptions o = {}) {
  MessageView v;
  return MessageView::Parse(m, &v, o);
}

TEST(MessageViewTest, ParsesHeaderAndAttributes) {
  const Bytes m = Raw(0x0001, {{attr::kSoftware, {'a', 'b', 'c'}}, {0x7777, {}}, {attr::kLifetime, {0, 0, 1, 0}}});
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  EXPECT_EQ(v.type(), 0x0001);
  EXPECT_TRUE(v.Is(Method::kBinding, MessageClass::kRequest));
  EXPECT_EQ(v.method(), 0x001);
  EXPECT_EQ(v.message_class(), MessageClass::kRequest);
  EXPECT_TRUE(v.has_magic_cookie());
  EXPECT_EQ(v.cookie_word(), kMagicCookie);
  EXPECT_EQ(Bytes(v.transaction_id().begin(), v.transaction_id().end()), kTid);
  EXPECT_EQ(v.bytes().data(), m.data());
  EXPECT_EQ(v.bytes().size(), m.size());
  ASSERT_EQ(v.attribute_count(), 3u);
  EXPECT_EQ(v.attribute(0).type, attr::kSoftware);
  EXPECT_EQ(Bytes(v.attribute(0).value.begin(), v.attribute(0).value.end()),
            (Bytes{'a', 'b', 'c'}));
  EXPECT_EQ(v.attribute(0).value.data(), m.data() + 24);  // zero copy
  EXPECT_EQ(v.attribute(1).type, 0x7777);
  EXPECT_TRUE(v.attribute(1).value.empty());
  EXPECT_EQ(v.attribute(2).value.size(), 4u);
  EXPECT_TRUE(v.Has(attr::kLifetime));
  EXPECT_FALSE(v.Has(attr::kRealm));
  EXPECT_FALSE(v.message_integrity_offset());
  EXPECT_FALSE(v.fingerprint_offset());
}

TEST(MessageViewTest, EmptyBodyIsValid) {
  MessageView v;
  ASSERT_EQ(MessageView::Parse(Raw(0x0111, {}), &v), ParseError::kNone);
  EXPECT_EQ(v.attribute_count(), 0u);
  EXPECT_TRUE(v.Is(Method::kBinding, MessageClass::kErrorResponse));
}

TEST(MessageViewTest, TooShort) {
  const Bytes m = Raw(0x0001, {});
  for (size_t n = 0; n < 20; ++n) {
    EXPECT_EQ(ParseOf(Bytes(m.begin(), m.begin() + n)), ParseError::kTooShort) << n;
  }
}

TEST(MessageViewTest, NotStunWhenTopBitsSet) {
  for (uint8_t top : {0x40, 0x80, 0xC0}) {
    Bytes m = Raw(0x0001, {});
    m[0] |= top;
    EXPECT_EQ(ParseOf(m), ParseError::kNotStun);
  }
}

TEST(MessageViewTest, LengthNotMultipleOf4) {
  Bytes m = Raw(0x0001, {{attr::kSoftware, {'a', 'b', 'c', 'd'}}});
  m[3] = 7;
  EXPECT_EQ(ParseOf(m), ParseError::kLengthNotMultipleOf4);
}

TEST(MessageViewTest, LengthMismatchEitherWay) {
  Bytes m = Raw(0x0001, {{attr::kSoftware, {'a', 'b', 'c', 'd'}}});
  Bytes longer = m;
  longer.insert(longer.end(), {0, 0, 0, 0});
  EXPECT_EQ(ParseOf(longer), ParseError::kLengthMismatch);
  Bytes shorter(m.begin(), m.end() - 4);
  EXPECT_EQ(ParseOf(shorter), ParseError::kLengthMismatch);
}

TEST(MessageViewTest, Rfc3489WithoutCookie) {
  const Bytes m = Raw(0x0001, {{attr::kSoftware, {'x'}}}, 0x01020304);
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  EXPECT_FALSE(v.has_magic_cookie());
  EXPECT_EQ(v.cookie_word(), 0x01020304u);
  EXPECT_EQ(v.attribute_count(), 1u);
  ParseOptions strict;
  strict.allow_rfc3489 = false;
  EXPECT_EQ(MessageView::Parse(m, &v, strict), ParseError::kNoMagicCookie);
}

TEST(MessageViewTest, AttributeOverrun) {
  // Declared length runs past the end.
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kSoftware, {'a', 'b', 'c', 'd'}, 5}})),
            ParseError::kAttributeOverrun);
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kSoftware, {}, 0xFFFF}})),
            ParseError::kAttributeOverrun);
  // A value that fits but whose padding does not.
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kSoftware, {'a', 'b', 'c', 'd'}},
                                 {attr::kRealm, {}, 1}})),
            ParseError::kAttributeOverrun);
}

TEST(MessageViewTest, AttributeLimit) {
  std::vector<RawAttr> attrs(MessageView::kMaxAttributes, RawAttr{0x7777, {}});
  MessageView v;
  const Bytes at_limit = Raw(0x0001, attrs);
  ASSERT_EQ(MessageView::Parse(at_limit, &v), ParseError::kNone);
  EXPECT_EQ(v.attribute_count(), MessageView::kMaxAttributes);
  attrs.push_back({0x7777, {}});
  EXPECT_EQ(ParseOf(Raw(0x0001, attrs)), ParseError::kTooManyAttributes);
}

TEST(MessageViewTest, AttributesSkippedAfterIntegrityStillCount) {
  std::vector<RawAttr> attrs = {{attr::kMessageIntegrity, Bytes(20, 0)}};
  for (size_t i = 1; i < MessageView::kMaxAttributes + 1; ++i) attrs.push_back({0x7777, {}});
  EXPECT_EQ(ParseOf(Raw(0x0001, attrs)), ParseError::kTooManyAttributes);
}

TEST(MessageViewTest, DuplicateKnownAttributeRejected) {
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kUsername, {'a'}}, {attr::kUsername, {'b'}}})),
            ParseError::kDuplicateAttribute);
  EXPECT_EQ(ParseOf(Raw(0x0003, {{attr::kLifetime, Bytes(4, 0)},
                                 {attr::kSoftware, {'s'}},
                                 {attr::kLifetime, Bytes(4, 1)}})),
            ParseError::kDuplicateAttribute);
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kXorMappedAddress, Bytes(8, 0)},
                                 {attr::kXorMappedAddress, Bytes(8, 0)}})),
            ParseError::kDuplicateAttribute);
}

TEST(MessageViewTest, RepeatableAndUnknownAttributesMayRepeat) {
  MessageView v;
  const Bytes m = Raw(0x0008, {{attr::kXorPeerAddress, Bytes(8, 0)},
                               {attr::kXorPeerAddress, Bytes(8, 1)},
                               {attr::kXorRelayedAddress, Bytes(8, 0)},
                               {attr::kXorRelayedAddress, Bytes(20, 0)},
                               {0x7F01, {1}},
                               {0x7F01, {2}}});
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  EXPECT_EQ(v.attribute_count(), 6u);
  // Find returns the first occurrence.
  EXPECT_EQ(v.Find(0x7F01)->value[0], 1);
  EXPECT_EQ(v.Find(attr::kXorPeerAddress)->value[0], 0);
}

TEST(MessageViewTest, IntegrityLengths) {
  for (size_t n : {0, 16, 19, 21, 32}) {
    EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kMessageIntegrity, Bytes(n, 0)}})),
              ParseError::kBadIntegrityLength) << n;
  }
  for (size_t n : {0, 4, 12, 15, 17, 18, 30, 36}) {
    EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kMessageIntegritySha256, Bytes(n, 0)}})),
              ParseError::kBadIntegrityLength) << n;
  }
  for (size_t n : {16, 20, 24, 28, 32}) {
    MessageView v;
    ASSERT_EQ(MessageView::Parse(Raw(0x0001, {{attr::kMessageIntegritySha256, Bytes(n, 0)}}),
                                 &v),
              ParseError::kNone) << n;
    EXPECT_EQ(v.message_integrity_sha256_offset(), 20u);
  }
}

TEST(MessageViewTest, OnlyIntegrityFamilyKeptAfterMessageIntegrity) {
  Bytes m = Raw(0x0001, {{attr::kUsername, {'u'}},
                         {attr::kMessageIntegrity, Bytes(20, 0)},
                         {attr::kRealm, {'r'}},           // dropped
                         {attr::kUsername, {'x'}},        // dropped, so no duplicate
                         {attr::kMessageIntegritySha256, Bytes(32, 0)},
                         {attr::kNonce, {'n'}}});         // dropped
  m = WithFingerprint(m);
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  ASSERT_EQ(v.attribute_count(), 4u);
  EXPECT_EQ(v.attribute(0).type, attr::kUsername);
  EXPECT_EQ(v.attribute(1).type, attr::kMessageIntegrity);
  EXPECT_EQ(v.attribute(2).type, attr::kMessageIntegritySha256);
  EXPECT_EQ(v.attribute(3).type, attr::kFingerprint);
  EXPECT_FALSE(v.Has(attr::kRealm));
  EXPECT_FALSE(v.Has(attr::kNonce));
  EXPECT_EQ(v.Find(attr::kUsername)->value[0], 'u');
  EXPECT_EQ(v.message_integrity_offset(), 28u);
  EXPECT_EQ(v.message_integrity_sha256_offset(), 28u + 24 + 8 + 8);
  EXPECT_EQ(v.fingerprint_offset(), m.size() - 8);
}

TEST(MessageViewTest, OnlyFingerprintKeptAfterSha256Integrity) {
  const Bytes m = Raw(0x0001, {{attr::kMessageIntegritySha256, Bytes(32, 0)},
                               {attr::kMessageIntegrity, Bytes(20, 0)},  // dropped
                               {attr::kSoftware, {'s'}}});               // dropped
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  ASSERT_EQ(v.attribute_count(), 1u);
  EXPECT_FALSE(v.message_integrity_offset());
  EXPECT_FALSE(v.Has(attr::kSoftware));
  // A second MESSAGE-INTEGRITY-SHA256 is dropped too, not a duplicate.
  MessageView w;
  ASSERT_EQ(MessageView::Parse(Raw(0x0001, {{attr::kMessageIntegritySha256, Bytes(32, 0)},
                                            {attr::kMessageIntegritySha256, Bytes(16, 1)}}),
                               &w),
            ParseError::kNone);
  ASSERT_EQ(w.attribute_count(), 1u);
  EXPECT_EQ(w.attribute(0).value.size(), 32u);
}

TEST(MessageViewTest, SkippedAttributesAreStillBoundsChecked) {
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kMessageIntegrity, Bytes(20, 0)},
                                 {attr::kRealm, {}, 200}})),
            ParseError::kAttributeOverrun);
}

TEST(MessageViewTest, FingerprintVerified) {
  const Bytes m = WithFingerprint(Raw(0x0001, {{attr::kSoftware, {'a', 'b', 'c'}}}));
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  EXPECT_EQ(v.fingerprint_offset(), 28u);
  // Any corrupted byte ahead of the CRC, or in it, is caught.
  for (size_t i = 4; i < m.size(); ++i) {
    if (i >= 20 && i < 24) continue;  // SOFTWARE's TLV header: would change structure
    if (i >= 28 && i < 32) continue;  // FINGERPRINT's TLV header
    Bytes bad = m;
    bad[i] ^= 0x01;
    EXPECT_EQ(ParseOf(bad), ParseError::kFingerprintMismatch) << i;
    ParseOptions no_check;
    no_check.verify_fingerprint = false;
    EXPECT_EQ(ParseOf(bad, no_check), ParseError::kNone) << i;
  }
}

TEST(MessageViewTest, FingerprintMustBeLast) {
  Bytes m = WithFingerprint(Raw(0x0001, {}));
  const Bytes tail = {0x80, 0x22, 0x00, 0x01, 's', 0, 0, 0};
  m.insert(m.end(), tail.begin(), tail.end());
  m[3] = static_cast<uint8_t>(m.size() - 20);
  EXPECT_EQ(ParseOf(m), ParseError::kFingerprintNotLast);
  // Two FINGERPRINTs: the first is not last.
  EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kFingerprint, Bytes(4, 0)},
                                 {attr::kFingerprint, Bytes(4, 0)}})),
            ParseError::kFingerprintNotLast);
}

TEST(MessageViewTest, FingerprintLength) {
  for (size_t n : {0, 3, 5, 8}) {
    EXPECT_EQ(ParseOf(Raw(0x0001, {{attr::kFingerprint, Bytes(n, 0)}})),
              ParseError::kBadFingerprintLength) << n;
  }
}

TEST(MessageViewTest, ErrorNamesAreDistinct) {
  std::vector<std::string> names;
  for (int e = 0; e <= static_cast<int>(ParseError::kFingerprintMismatch); ++e) {
    names.push_back(ToString(static_cast<ParseError>(e)));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_FALSE(names[i].empty());
    for (size_t j = i + 1; j < names.size(); ++j) EXPECT_NE(names[i], names[j]);
  }
  EXPECT_STREQ(ToString(ParseError::kNone), "none");
}

TEST(LooksLikeStunTest, Boundaries) {
  const Bytes m = Raw(0x0001, {{attr::kSoftware, {'a'}}});
  EXPECT_TRUE(LooksLikeStun(m));
  EXPECT_FALSE(LooksLikeStun(Bytes(m.begin(), m.begin() + 19)));
  EXPECT_FALSE(LooksLikeStun(Bytes(m.begin(), m.end() - 4)));
  Bytes b = m;
  b[0] = 0x40;
  EXPECT_FALSE(LooksLikeStun(b));
  b = m;
  b[4] ^= 1;
  EXPECT_FALSE(LooksLikeStun(b));
  b = m;
  b[3] = 5;
  b.resize(25);
  EXPECT_FALSE(LooksLikeStun(b));
  EXPECT_FALSE(LooksLikeStun({}));
}

}  // namespace
}  // namespace uturn::stun

namespace uturn::stun {
namespace {

// RFC 8489 §6.3: header and FINGERPRINT failures are discarded silently;
// attribute-level failures of a sound header may still earn a 400.
TEST(ParseErrorTest, SilentDiscardFollowsRfc8489Section6_3) {
  for (ParseError e : {ParseError::kTooShort, ParseError::kNotStun, ParseError::kNoMagicCookie,
                       ParseError::kLengthNotMultipleOf4, ParseError::kLengthMismatch,
                       ParseError::kFingerprintNotLast, ParseError::kBadFingerprintLength,
                       ParseError::kFingerprintMismatch}) {
    EXPECT_TRUE(IsSilentlyDiscarded(e)) << ToString(e);
  }
  for (ParseError e : {ParseError::kNone, ParseError::kAttributeOverrun,
                       ParseError::kTooManyAttributes, ParseError::kDuplicateAttribute,
                       ParseError::kBadIntegrityLength}) {
    EXPECT_FALSE(IsSilentlyDiscarded(e)) << ToString(e);
  }
}

}  // namespace
}  // namespace uturn::stun
