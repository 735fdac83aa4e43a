// RFC 8489 §9.2 nonce cookie. Expected strings are worked out by hand from
// the RFC 4648 §4 base64 alphabet.
#include "stun/nonce_cookie.h"

#include <gtest/gtest.h>

namespace uturn::stun {
namespace {

TEST(NonceCookieTest, Constants) {
  EXPECT_EQ(kNonceCookie, "obMatJos2");  // RFC 8489 §9.2
  EXPECT_EQ(kNonceCookiePrefixSize, kNonceCookie.size() + 4);
  // RFC 8489 §18.1: bit 0 (password algorithms) and bit 1 (username
  // anonymity), counted from the most significant bit of 24.
  EXPECT_EQ(kFeaturePasswordAlgorithms, 0x800000u);
  EXPECT_EQ(kFeatureUsernameAnonymity, 0x400000u);
}

TEST(NonceCookieTest, Encode) {
  EXPECT_EQ(EncodeNonceCookie(0), "obMatJos2AAAA");
  // 1000 0000 0000 ... -> 6-bit groups 32,0,0,0 -> "gAAA".
  EXPECT_EQ(EncodeNonceCookie(kFeaturePasswordAlgorithms), "obMatJos2gAAA");
  // 1100 0000 ... -> 48,0,0,0 -> "wAAA".
  EXPECT_EQ(EncodeNonceCookie(kFeaturePasswordAlgorithms | kFeatureUsernameAnonymity),
            "obMatJos2wAAA");
  EXPECT_EQ(EncodeNonceCookie(kFeatureUsernameAnonymity), "obMatJos2QAAA");
  EXPECT_EQ(EncodeNonceCookie(0xFFFFFF), "obMatJos2////");
  // 0xFBEF3E: 111110 111110 111100 111110 -> 62,62,60,62 -> "++8+".
  EXPECT_EQ(EncodeNonceCookie(0xFBEF3E), "obMatJos2++8+");
  EXPECT_EQ(EncodeNonceCookie(1).size(), kNonceCookiePrefixSize);
}

TEST(NonceCookieTest, EncodeRefusesMoreThan24Bits) {
  // Debug builds assert; release builds keep the low 24 bits.
  EXPECT_DEBUG_DEATH(
      { EXPECT_EQ(EncodeNonceCookie(0x1000001), "obMatJos2AAAB"); }, "24 bits");
}

TEST(NonceCookieTest, ParseRfc8489AppendixBNonce) {
  // RFC 8489 Appendix B.1 NONCE: "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
  // "AAAC" is 0,0,0,2 -> 0x000002.
  EXPECT_EQ(ParseNonceCookie("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"), 0x000002u);
}

TEST(NonceCookieTest, ParseExactlyThePrefix) {
  EXPECT_EQ(ParseNonceCookie("obMatJos2gAAA"), kFeaturePasswordAlgorithms);
  EXPECT_EQ(ParseNonceCookie("obMatJos2////"), 0xFFFFFFu);
  EXPECT_EQ(ParseNonceCookie("obMatJos2z9+/rest"), (51u << 18) | (61u << 12) | (62u << 6) | 63u);
}

TEST(NonceCookieTest, RoundTrip) {
  for (uint32_t f : {0u, 1u, 2u, 0x3Fu, 0x40u, 0x123456u, 0xABCDEFu, 0x800001u, 0xFFFFFFu}) {
    EXPECT_EQ(ParseNonceCookie(EncodeNonceCookie(f) + "opaque-server-part"), f) << f;
  }
}

TEST(NonceCookieTest, ParseRejectsNonCookieNonces) {
  EXPECT_EQ(ParseNonceCookie(""), std::nullopt);
  // RFC 5769 §2.4's nonce predates the cookie.
  EXPECT_EQ(ParseNonceCookie("f//499k954d6OL34oL9FSTvy64sA"), std::nullopt);
  EXPECT_EQ(ParseNonceCookie("obMatJos2"), std::nullopt);      // no feature bits
  EXPECT_EQ(ParseNonceCookie("obMatJos2AAA"), std::nullopt);   // 3 of 4 characters
  EXPECT_EQ(ParseNonceCookie("obMatJos3AAAA"), std::nullopt);  // wrong cookie
  EXPECT_EQ(ParseNonceCookie("OBMATJOS2AAAA"), std::nullopt);  // cookie is case-sensitive
  EXPECT_EQ(ParseNonceCookie("xobMatJos2AAAA"), std::nullopt); // not at the start
}

TEST(NonceCookieTest, ParseRejectsCharactersOutsideTheAlphabet) {
  EXPECT_EQ(ParseNonceCookie("obMatJos2AA=A"), std::nullopt);  // padding
  EXPECT_EQ(ParseNonceCookie("obMatJos2AAA="), std::nullopt);
  EXPECT_EQ(ParseNonceCookie("obMatJos2AA-A"), std::nullopt);  // base64url, not base64
  EXPECT_EQ(ParseNonceCookie("obMatJos2AA_A"), std::nullopt);
  EXPECT_EQ(ParseNonceCookie("obMatJos2 AAA"), std::nullopt);
  EXPECT_EQ(ParseNonceCookie(std::string_view("obMatJos2A\0AA", 13)), std::nullopt);
}

}  // namespace
}  // namespace uturn::stun
