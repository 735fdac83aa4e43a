// MESSAGE-INTEGRITY(-SHA256), keys and USERHASH (RFC 8489 §9, §14.4-14.6).
// HMAC expectations are the published RFC 2202 / RFC 4231 test cases; key
// expectations are digests computed with coreutils' md5sum / sha256sum.
#include "stun/integrity.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "stun/constants.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::stun {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

template <size_t N>
std::vector<uint8_t> Vec(const std::array<uint8_t, N>& a) {
  return {a.begin(), a.end()};
}

std::vector<uint8_t> Sha1(std::string_view key, std::vector<std::string_view> parts) {
  std::vector<std::span<const uint8_t>> spans;
  for (auto p : parts) spans.push_back(KeyBytes(p));
  std::array<uint8_t, 20> out{};
  HmacSha1(KeyBytes(key), spans, out);
  return Vec(out);
}

std::vector<uint8_t> Sha256(std::string_view key, std::vector<std::string_view> parts) {
  std::vector<std::span<const uint8_t>> spans;
  for (auto p : parts) spans.push_back(KeyBytes(p));
  std::array<uint8_t, 32> out{};
  HmacSha256(KeyBytes(key), spans, out);
  return Vec(out);
}

// ---- HMAC ----

TEST(HmacTest, Rfc2202Sha1) {
  EXPECT_EQ(Sha1("Jefe", {"what do ya want for nothing?"}),
            Hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));  // RFC 2202 §3 case 2
  const std::string key(20, '\x0b');
  EXPECT_EQ(Sha1(key, {"Hi There"}),
            Hex("b617318655057264e28bc0b6fb378c8ef146be00"));  // RFC 2202 §3 case 1
}

TEST(HmacTest, Rfc4231Sha256) {
  EXPECT_EQ(Sha256("Jefe", {"what do ya want for nothing?"}),
            Hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
  const std::string key(20, '\x0b');
  EXPECT_EQ(Sha256(key, {"Hi There"}),
            Hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
}

TEST(HmacTest, PartsAreConcatenated) {
  EXPECT_EQ(Sha1("Jefe", {"what do ya ", "", "want for nothing?"}),
            Hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
  EXPECT_EQ(Sha256("Jefe", {"w", "hat do ya want for nothing", "?", ""}),
            Hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST(HmacTest, EmptyKeyDoesNotReusePreviousKey) {
  // A null key would make OpenSSL keep the last one; the thread-local context
  // was just keyed with "Jefe".
  Sha1("Jefe", {"x"});
  EXPECT_EQ(Sha1("", {}), Hex("fbdb1d1b18aa6c08324b7d64b71fb76370690e1d"));
  Sha256("Jefe", {"x"});
  EXPECT_EQ(Sha256("", {}),
            Hex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
}

// ---- Keys ----

TEST(KeyTest, ShortTermKeyIsOpaqueString) {
  EXPECT_EQ(ShortTermKey("VOkJxbRl1RmTxUk/WvJxBt").value(), "VOkJxbRl1RmTxUk/WvJxBt");
  EXPECT_EQ(ShortTermKey("a\xc2\xa0" "b").value(), "a b");
  EXPECT_FALSE(ShortTermKey("").ok());
  EXPECT_FALSE(ShortTermKey("bad\x01").ok());
  EXPECT_FALSE(ShortTermKey("\xff").ok());
}

TEST(KeyTest, LongTermMd5) {
  // md5sum of "user:realm:pass" and "panda:raspberry:panda".
  EXPECT_EQ(Vec(LongTermKeyMd5("user", "realm", "pass").value()),
            Hex("8493fbc53ba582fb4c044c456bdc40eb"));
  EXPECT_EQ(Vec(LongTermKeyMd5("panda", "raspberry", "panda").value()),
            Hex("3e2f791e1f14d173fc91ff2f59b50fd1"));
}

TEST(KeyTest, LongTermSha256) {
  EXPECT_EQ(Vec(LongTermKeySha256("user", "realm", "pass").value()),
            Hex("07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b"));
}

TEST(KeyTest, OpaqueStringInputIsNotFolded) {
  // U+2168 is a valid OpaqueString, so it is keyed as itself (RFC 8489),
  // not as SASLprep's "IX": md5sum of "u:r:<U+2168>" vs of "u:r:IX".
  EXPECT_EQ(Vec(LongTermKeyMd5("u", "r", "\xe2\x85\xa8").value()),
            Hex("8997667d013b68f25652d479c49e1b79"));
  EXPECT_EQ(Vec(LongTermKeyMd5("u", "r", "IX").value()), Hex("66bdd50ac785637c3a403b388baa54f8"));
}

TEST(KeyTest, SaslPrepFallbackForWhatOpaqueStringRefuses) {
  // RFC 5769 §2.4 / RFC 8489 B.1 password: OpaqueString refuses U+00AD, so
  // the SASLprep form "TheMatrIX" is keyed (see stun/README.md).
  const std::string user = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
  const std::string pw = "The\xc2\xad" "M\xc2\xaatr\xe2\x85\xa8";
  EXPECT_EQ(Vec(LongTermKeyMd5(user, "example.org", pw).value()),
            Hex("e8ca7ad59d5eb0518e312911d2dab2a9"));
  EXPECT_EQ(Vec(LongTermKeySha256(user, "example.org", pw).value()),
            Hex("dd295a613b9058c3c23d6dc7165bda072304d989c9d0af3a8c7e184b4f9bb4a1"));
}

TEST(KeyTest, NonAsciiSpaceInPasswordIsMapped) {
  EXPECT_EQ(LongTermKeyMd5("user", "realm", "pa\xc2\xa0ss").value(),
            LongTermKeyMd5("user", "realm", "pa ss").value());
}

TEST(KeyTest, LongTermRejectsBadRealmOrPassword) {
  EXPECT_FALSE(LongTermKeyMd5("user", "", "pass").ok());
  EXPECT_FALSE(LongTermKeyMd5("user", "realm", "").ok());
  EXPECT_FALSE(LongTermKeyMd5("user", "realm", "pa\x01ss").ok());  // control: both profiles refuse
  EXPECT_FALSE(LongTermKeyMd5("user", "re\xffm", "pass").ok());    // not UTF-8
  EXPECT_FALSE(LongTermKeySha256("user", "realm", "\xee\x80\x80").ok());  // private use
  EXPECT_FALSE(LongTermKeySha256("user", "\n", "pass").ok());
  // Only the soft hyphen: SASLprep maps it to nothing, and empty is refused.
  EXPECT_FALSE(LongTermKeyMd5("user", "realm", "\xc2\xad").ok());
}

TEST(UserhashTest, Rfc8489AppendixB) {
  // RFC 8489 Appendix B.1 USERHASH value.
  const std::string user = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
  EXPECT_EQ(Vec(ComputeUserhash(user, "example.org").value()),
            Hex("4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704"));
}

TEST(UserhashTest, RejectsInvalidInput) {
  EXPECT_FALSE(ComputeUserhash("", "example.org").ok());
  EXPECT_FALSE(ComputeUserhash("user", "").ok());
  EXPECT_FALSE(ComputeUserhash("us\x01er", "example.org").ok());
  EXPECT_FALSE(ComputeUserhash("user", "\xc0\xaf").ok());
}

// ---- Verification on built messages ----

constexpr std::array<uint8_t, 12> kTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

std::vector<uint8_t> BuildWith(void (*finish)(MessageBuilder&)) {
  std::vector<uint8_t> buf(512);
  MessageBuilder b(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
  b.AddString(attr::kUsername, "alice").AddU32(attr::kPriority, 0x6e0001ff);
  finish(b);
  EXPECT_TRUE(b.ok());
  return {b.bytes().begin(), b.bytes().end()};
}

MessageView Parse(const std::vector<uint8_t>& bytes, ParseError* error = nullptr) {
  MessageView m;
  const ParseError e = MessageView::Parse(bytes, &m, ParseOptions{.verify_fingerprint = false});
  if (error != nullptr) *error = e;
  else EXPECT_EQ(e, ParseError::kNone) << ToString(e);
  return m;
}

const std::string kKey = "a-short-term-key";

TEST(VerifyTest, AbsentAttribute) {
  const auto msg = BuildWith([](MessageBuilder&) {});
  const MessageView m = Parse(msg);
  EXPECT_EQ(VerifyMessageIntegrity(m, KeyBytes(kKey)), IntegrityCheck::kAbsent);
  EXPECT_EQ(VerifyMessageIntegritySha256(m, KeyBytes(kKey)), IntegrityCheck::kAbsent);
}

TEST(VerifyTest, Sha1OkWrongKeyAndOnlyItsOwnAttribute) {
  const auto msg = BuildWith([](MessageBuilder& b) { b.AddMessageIntegrity(KeyBytes(kKey)); });
  const MessageView m = Parse(msg);
  EXPECT_EQ(VerifyMessageIntegrity(m, KeyBytes(kKey)), IntegrityCheck::kOk);
  EXPECT_EQ(VerifyMessageIntegrity(m, KeyBytes("a-short-term-kez")), IntegrityCheck::kMismatch);
  EXPECT_EQ(VerifyMessageIntegrity(m, {}), IntegrityCheck::kMismatch);
  EXPECT_EQ(VerifyMessageIntegritySha256(m, KeyBytes(kKey)), IntegrityCheck::kAbsent);
}

TEST(VerifyTest, Sha1MatchesIndependentHmacOverPatchedHeader) {
  const auto msg = BuildWith([](MessageBuilder& b) { b.AddMessageIntegrity(KeyBytes(kKey)); });
  // The builder put MESSAGE-INTEGRITY last, so the length needs no patching
  // and the HMAC covers everything before its 24 bytes.
  std::array<uint8_t, 20> expected{};
  const std::span<const uint8_t> parts[] = {std::span(msg).first(msg.size() - 24)};
  HmacSha1(KeyBytes(kKey), parts, expected);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), msg.end() - 20));
}

TEST(VerifyTest, Sha256FullAndTruncated) {
  for (size_t length : {16u, 20u, 24u, 28u, 32u}) {
    std::vector<uint8_t> buf(512);
    MessageBuilder b(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
    b.AddString(attr::kUsername, "alice").AddMessageIntegritySha256(KeyBytes(kKey), length);
    ASSERT_TRUE(b.ok());
    const std::vector<uint8_t> msg(b.bytes().begin(), b.bytes().end());
    ASSERT_EQ(msg.size(), 20 + 12 + 4 + length);
    const MessageView m = Parse(msg);
    EXPECT_EQ(VerifyMessageIntegritySha256(m, KeyBytes(kKey)), IntegrityCheck::kOk) << length;
    EXPECT_EQ(VerifyMessageIntegritySha256(m, KeyBytes("other")), IntegrityCheck::kMismatch);
    // The value is the first `length` bytes of the full HMAC.
    std::array<uint8_t, 32> full{};
    const std::span<const uint8_t> parts[] = {std::span(msg).first(msg.size() - 4 - length)};
    HmacSha256(KeyBytes(kKey), parts, full);
    EXPECT_TRUE(std::equal(full.begin(), full.begin() + length, msg.end() - length)) << length;
    // A flipped last byte of the truncated value is caught.
    std::vector<uint8_t> bad = msg;
    bad.back() ^= 0x01;
    EXPECT_EQ(VerifyMessageIntegritySha256(Parse(bad), KeyBytes(kKey)), IntegrityCheck::kMismatch);
  }
}

TEST(VerifyTest, BothIntegrityAttributesAndFingerprint) {
  const auto msg = BuildWith([](MessageBuilder& b) {
    b.AddMessageIntegrity(KeyBytes(kKey)).AddMessageIntegritySha256(KeyBytes(kKey)).AddFingerprint();
  });
  const MessageView m = Parse(msg);
  EXPECT_EQ(VerifyMessageIntegrity(m, KeyBytes(kKey)), IntegrityCheck::kOk);
  EXPECT_EQ(VerifyMessageIntegritySha256(m, KeyBytes(kKey)), IntegrityCheck::kOk);
}

TEST(VerifyTest, EveryBitFlipIsDetected) {
  const auto msg = BuildWith([](MessageBuilder& b) {
    b.AddMessageIntegrity(KeyBytes(kKey)).AddMessageIntegritySha256(KeyBytes(kKey), 16);
  });
  const size_t sha1_covered_bits = (msg.size() - (4 + 16)) * 8;
  for (size_t bit = 0; bit < msg.size() * 8; ++bit) {
    std::vector<uint8_t> bad = msg;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ParseError e;
    const MessageView m = Parse(bad, &e);
    if (e != ParseError::kNone) continue;  // rejected by the parser: also fine
    // MESSAGE-INTEGRITY covers only what precedes it (RFC 8489 §14.5).
    if (bit < sha1_covered_bits) {
      EXPECT_NE(VerifyMessageIntegrity(m, KeyBytes(kKey)), IntegrityCheck::kOk) << "bit " << bit;
    } else {
      EXPECT_EQ(VerifyMessageIntegrity(m, KeyBytes(kKey)), IntegrityCheck::kOk) << "bit " << bit;
    }
    EXPECT_NE(VerifyMessageIntegritySha256(m, KeyBytes(kKey)), IntegrityCheck::kOk) << "bit " << bit;
  }
}

}  // namespace
}  // namespace uturn::stun
