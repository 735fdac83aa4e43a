#include "stun/string_prep.h"

#include <idn-free.h>
#include <stringprep.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <cassert>
#include <cstdlib>
#include <limits>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace uturn::stun {
namespace {

constexpr UChar32 kZwnj = 0x200C;  // ZERO WIDTH NON-JOINER
constexpr UChar32 kZwj = 0x200D;   // ZERO WIDTH JOINER
constexpr uint8_t kViramaCombiningClass = 9;

bool FitsIcuIndex(std::string_view s) {
  return s.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max());
}

bool HasCompatibilityDecomposition(UChar32 c) {
  const int type = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
  return type != U_DT_NONE && type != U_DT_CANONICAL;
}

// Why `c` is not allowed by the PRECIS FreeformClass (RFC 8264 §4.3, derived
// in the order of RFC 8264 §8), or nullptr if it is. `previous` is the code
// point before `c` (or U_SENTINEL), needed for the CONTEXTJ rules.
const char* FreeformDisallowed(UChar32 c, UChar32 previous) {
  if (U_IS_SURROGATE(c)) return "surrogate code point";
  // RFC 8264 §9.13 PrecisIgnorableProperties: noncharacters are DISALLOWED.
  if (u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT)) return "noncharacter";
  // RFC 8264 §9.4 Unassigned (general category Cn) is UNASSIGNED, i.e. not allowed.
  const int8_t category = u_charType(c);
  if (category == U_UNASSIGNED) return "unassigned code point";
  // RFC 8264 §9.6 JoinControl is CONTEXTJ: RFC 5892 Appendix A.1/A.2 allow
  // ZWNJ/ZWJ after a virama. (A.1's joining-type alternative for ZWNJ is not
  // implemented; such strings are refused. See stun/README.md.)
  if (c == kZwnj || c == kZwj) {
    if (previous != U_SENTINEL && u_getCombiningClass(previous) == kViramaCombiningClass) {
      return nullptr;
    }
    return "join control outside its context";
  }
  // RFC 8264 §9.7 OldHangulJamo: conjoining jamo are DISALLOWED.
  const int hst = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
  if (hst == U_HST_LEADING_JAMO || hst == U_HST_VOWEL_JAMO || hst == U_HST_TRAILING_JAMO) {
    return "old hangul jamo";
  }
  // RFC 8264 §9.13 PrecisIgnorableProperties: Default_Ignorable_Code_Point.
  if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    return "default-ignorable code point";
  }
  // RFC 8264 §9.12 Controls.
  if (category == U_CONTROL_CHAR) return "control character";
  // RFC 8264 §9.17 HasCompat is FREE_PVAL.
  if (HasCompatibilityDecomposition(c)) return nullptr;
  switch (category) {
    // RFC 8264 §9.1 LetterDigits, §9.18 OtherLetterDigits, §9.14 Spaces,
    // §9.15 Symbols, §9.16 Punctuation: valid in the FreeformClass.
    case U_LOWERCASE_LETTER:
    case U_UPPERCASE_LETTER:
    case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_MODIFIER_LETTER:
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_TITLECASE_LETTER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
    case U_ENCLOSING_MARK:
    case U_SPACE_SEPARATOR:
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return nullptr;
    default:
      // Zl, Zp, Cf (not ignorable), Co: DISALLOWED by RFC 8264 §8's last rule.
      return "code point outside the FreeformClass";
  }
}

absl::Status CheckFreeform(const icu::UnicodeString& s) {
  UChar32 previous = U_SENTINEL;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    if (const char* why = FreeformDisallowed(c, previous)) {
      return absl::InvalidArgumentError(absl::StrCat("OpaqueString: ", why, " U+",
                                                     absl::Hex(c, absl::kZeroPad4)));
    }
    previous = c;
    i += U16_LENGTH(c);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> OpaqueString(std::string_view utf8) {
  if (!FitsIcuIndex(utf8) || !IsValidUtf8(utf8)) {
    return absl::InvalidArgumentError("OpaqueString: not valid UTF-8");
  }
  const auto* p = reinterpret_cast<const uint8_t*>(utf8.data());
  const auto length = static_cast<int32_t>(utf8.size());

  // RFC 8265 §4.2.1 preparation: every code point must be allowed by the
  // FreeformClass. Checked while applying §4.2.2 rule 2 (additional mapping):
  // any non-ASCII space (Zs) becomes U+0020.
  icu::UnicodeString mapped;
  UChar32 previous = U_SENTINEL;
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(p, i, length, c);
    assert(c >= 0);  // validated above
    if (const char* why = FreeformDisallowed(c, previous)) {
      return absl::InvalidArgumentError(absl::StrCat("OpaqueString: ", why, " U+",
                                                     absl::Hex(c, absl::kZeroPad4)));
    }
    previous = c;
    if (c > 0x7F && u_charType(c) == U_SPACE_SEPARATOR) c = 0x20;
    mapped.append(c);
  }

  // RFC 8265 §4.2.2 rule 4: Unicode Normalization Form C. (Width mapping,
  // case mapping and directionality rules do not apply to OpaqueString.)
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) return absl::InternalError("ICU NFC normaliser unavailable");
  icu::UnicodeString normalized = nfc->normalize(mapped, status);
  if (U_FAILURE(status)) return absl::InternalError("ICU NFC normalisation failed");

  // RFC 8264 §7: the enforced result must itself be allowed by the class.
  if (absl::Status st = CheckFreeform(normalized); !st.ok()) return st;
  // RFC 8265 §4.2.2: "zero-length strings are disallowed".
  if (normalized.isEmpty()) return absl::InvalidArgumentError("OpaqueString: empty string");

  std::string out;
  normalized.toUTF8String(out);
  return out;
}

absl::StatusOr<std::string> SaslPrep(std::string_view utf8) {
  if (!FitsIcuIndex(utf8) || !IsValidUtf8(utf8)) {
    return absl::InvalidArgumentError("SASLprep: not valid UTF-8");
  }
  // libidn takes a NUL-terminated string; U+0000 is prohibited output anyway
  // (RFC 4013 §2.3, RFC 3454 Table C.2.1), so refuse it before it truncates.
  if (utf8.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("SASLprep: prohibited character U+0000");
  }
  const std::string input(utf8);
  char* raw = nullptr;
  // Credentials are "stored strings": unassigned code points are prohibited
  // (RFC 4013 §2.5, RFC 3454 §7).
  const int rc = stringprep_profile(input.c_str(), &raw, "SASLprep", STRINGPREP_NO_UNASSIGNED);
  std::unique_ptr<char, void (*)(void*)> out(raw, idn_free);
  if (rc != STRINGPREP_OK) {
    return absl::InvalidArgumentError(absl::StrCat("SASLprep: ", stringprep_strerror(
                                                                     static_cast<Stringprep_rc>(rc))));
  }
  assert(out != nullptr);
  return std::string(out.get());
}

}  // namespace uturn::stun
