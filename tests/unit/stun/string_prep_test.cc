// OpaqueString (RFC 8265 §4.2), SASLprep (RFC 4013) and UTF-8 validation.
// Expected outputs come from the RFC texts and the Unicode character tables.
#include "stun/string_prep.h"

#include <gtest/gtest.h>

#include <string>

namespace uturn::stun {
namespace {

using std::string_literals::operator""s;

// ---- IsValidUtf8 (RFC 3629) ----

TEST(IsValidUtf8Test, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xe3\x83\x9e\xe3\x83\x88"));  // U+30DE U+30C8
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));          // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));          // U+10FFFF, the last one
  EXPECT_TRUE(IsValidUtf8("a\0b"s));                     // NUL is well-formed UTF-8
}

TEST(IsValidUtf8Test, RejectsIllFormed) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xff"));              // never valid
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong, 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xe3\x83"));          // truncated
  EXPECT_FALSE(IsValidUtf8("ok\xe3\x83"));        // truncated at the end
}

// ---- OpaqueString ----

TEST(OpaqueStringTest, AsciiPassesUnchanged) {
  EXPECT_EQ(OpaqueString("VOkJxbRl1RmTxUk/WvJxBt").value(), "VOkJxbRl1RmTxUk/WvJxBt");
  EXPECT_EQ(OpaqueString("with space").value(), "with space");
  EXPECT_EQ(OpaqueString(" ").value(), " ");
  EXPECT_EQ(OpaqueString("~!@#$%^&*()").value(), "~!@#$%^&*()");
}

TEST(OpaqueStringTest, KeepsCaseAndCompatibilityCharacters) {
  // Unlike SASLprep there is no case folding and no NFKC: U+2168 ROMAN
  // NUMERAL NINE, U+00AA and U+FF21 FULLWIDTH A stay what they are.
  EXPECT_EQ(OpaqueString("MiXeD").value(), "MiXeD");
  EXPECT_EQ(OpaqueString("\xe2\x85\xa8").value(), "\xe2\x85\xa8");
  EXPECT_EQ(OpaqueString("M\xc2\xaa").value(), "M\xc2\xaa");
  EXPECT_EQ(OpaqueString("\xef\xbc\xa1").value(), "\xef\xbc\xa1");
  EXPECT_EQ(OpaqueString("\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9")
                .value(),
            "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
}

TEST(OpaqueStringTest, MapsNonAsciiSpacesToSpace) {
  // RFC 8265 §4.2.2 rule 2: any instance of a non-ASCII space becomes U+0020.
  EXPECT_EQ(OpaqueString("a\xc2\xa0" "b").value(), "a b");          // U+00A0 NO-BREAK SPACE
  EXPECT_EQ(OpaqueString("a\xe3\x80\x80" "b").value(), "a b");      // U+3000 IDEOGRAPHIC SPACE
  EXPECT_EQ(OpaqueString("a\xe2\x80\x83" "b").value(), "a b");      // U+2003 EM SPACE
  EXPECT_EQ(OpaqueString("\xe2\x80\xaf").value(), " ");             // U+202F NARROW NBSP
}

TEST(OpaqueStringTest, NormalizesToNfc) {
  // "e" + U+0301 COMBINING ACUTE ACCENT composes to U+00E9.
  EXPECT_EQ(OpaqueString("caf" "e\xcc\x81").value(), "caf\xc3\xa9");
  EXPECT_EQ(OpaqueString("caf\xc3\xa9").value(), "caf\xc3\xa9");
  // U+212B ANGSTROM SIGN has a canonical (singleton) decomposition to U+00C5.
  EXPECT_EQ(OpaqueString("\xe2\x84\xab").value(), "\xc3\x85");
  // Hangul syllable from conjoining jamo is refused before composition
  // (old hangul jamo are disallowed), but the precomposed syllable is fine.
  EXPECT_EQ(OpaqueString("\xea\xb0\x80").value(), "\xea\xb0\x80");  // U+AC00
}

TEST(OpaqueStringTest, RejectsInvalidUtf8) {
  EXPECT_FALSE(OpaqueString("\xc0\xaf").ok());
  EXPECT_FALSE(OpaqueString("abc\xff").ok());
  EXPECT_FALSE(OpaqueString("\xed\xa0\x80").ok());
}

TEST(OpaqueStringTest, RejectsEmpty) {
  EXPECT_FALSE(OpaqueString("").ok());  // RFC 8265 §4.2.2
}

TEST(OpaqueStringTest, RejectsControlCharacters) {
  EXPECT_FALSE(OpaqueString("a\tb").ok());
  EXPECT_FALSE(OpaqueString("line\n").ok());
  EXPECT_FALSE(OpaqueString("\x7f").ok());            // DEL
  EXPECT_FALSE(OpaqueString("a\0b"s).ok());           // NUL
  EXPECT_FALSE(OpaqueString("x\xc2\x85").ok());       // U+0085 NEL (C1 control)
}

TEST(OpaqueStringTest, RejectsUnassignedNoncharactersAndPrivateUse) {
  EXPECT_FALSE(OpaqueString("\xcd\xb8").ok());          // U+0378, unassigned
  EXPECT_FALSE(OpaqueString("\xef\xb7\x90").ok());      // U+FDD0, noncharacter
  EXPECT_FALSE(OpaqueString("\xef\xbf\xbe").ok());      // U+FFFE, noncharacter
  EXPECT_FALSE(OpaqueString("\xf4\x8f\xbf\xbf").ok());  // U+10FFFF, noncharacter
  EXPECT_FALSE(OpaqueString("\xee\x80\x80").ok());      // U+E000, private use
}

TEST(OpaqueStringTest, RejectsIgnorablesAndSeparators) {
  // U+00AD SOFT HYPHEN is Default_Ignorable_Code_Point, hence DISALLOWED by
  // RFC 8264 §9.13 -- which is why RFC 8489 Appendix B's password is not a
  // valid OpaqueString at all.
  EXPECT_FALSE(OpaqueString("The\xc2\xad" "M\xc2\xaatr\xe2\x85\xa8").ok());
  EXPECT_FALSE(OpaqueString("a\xe2\x81\xa0" "b").ok());  // U+2060 WORD JOINER
  EXPECT_FALSE(OpaqueString("\xef\xbb\xbf" "a").ok());  // U+FEFF BOM
  EXPECT_FALSE(OpaqueString("a\xe2\x80\xa8" "b").ok());  // U+2028 LINE SEPARATOR (Zl)
  EXPECT_FALSE(OpaqueString("\xe1\x84\x80").ok());       // U+1100, old hangul jamo
}

TEST(OpaqueStringTest, JoinControlsOnlyAfterVirama) {
  // RFC 5892 Appendix A.2: ZWJ is allowed after a virama (U+094D).
  EXPECT_TRUE(OpaqueString("\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8d\xe0\xa4\xb7").ok());
  EXPECT_TRUE(OpaqueString("\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8c").ok());  // ZWNJ too
  EXPECT_FALSE(OpaqueString("\xe2\x80\x8d" "a").ok());  // ZWJ at the start
  EXPECT_FALSE(OpaqueString("a\xe2\x80\x8c" "b").ok()); // ZWNJ after a letter
}

// ---- SASLprep (RFC 4013) ----

TEST(SaslPrepTest, Rfc4013Examples) {
  // RFC 4013 §3 examples.
  EXPECT_EQ(SaslPrep("I\xc2\xad" "X").value(), "IX");    // SOFT HYPHEN mapped to nothing
  EXPECT_EQ(SaslPrep("user").value(), "user");           // no transformation
  EXPECT_EQ(SaslPrep("USER").value(), "USER");           // case preserved
  EXPECT_EQ(SaslPrep("\xc2\xaa").value(), "a");          // U+00AA, NFKC
  EXPECT_EQ(SaslPrep("\xe2\x85\xa8").value(), "IX");     // U+2168, NFKC
  EXPECT_FALSE(SaslPrep("\x07").ok());                   // prohibited character
  EXPECT_FALSE(SaslPrep("\xd8\xa7" "1").ok());           // bidi rule (RandALCat then L/EN)
}

TEST(SaslPrepTest, Rfc5769Password) {
  // RFC 5769 §2.4: "The<U+00AD>M<U+00AA>tr<U+2168>" and "TheMatrIX" before
  // and after SASLprep.
  EXPECT_EQ(SaslPrep("The\xc2\xad" "M\xc2\xaatr\xe2\x85\xa8").value(), "TheMatrIX");
}

TEST(SaslPrepTest, MapsNonAsciiSpace) {
  EXPECT_EQ(SaslPrep("a\xc2\xa0" "b").value(), "a b");  // RFC 4013 §2.1
}

TEST(SaslPrepTest, Rejects) {
  EXPECT_FALSE(SaslPrep("a\0b"s).ok());                 // NUL
  EXPECT_FALSE(SaslPrep("\xc0\xaf").ok());              // not UTF-8
  EXPECT_FALSE(SaslPrep("\xee\x80\x80").ok());          // private use (C.3)
  EXPECT_FALSE(SaslPrep("\xc8\xa1").ok());              // U+0221, unassigned in Unicode 3.2
}

}  // namespace
}  // namespace uturn::stun
