// String preparation for credentials: the OpaqueString profile of PRECIS
// (RFC 8265 §4.2) that RFC 8489 §9.2.2 requires, and RFC 4013 SASLprep, which
// RFC 5389 clients used.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "stun/utf8.h"  // IsValidUtf8

namespace uturn::stun {

// RFC 8265 §4.2.2: map non-ASCII spaces to U+0020, normalise to NFC, and
// refuse what the FreeformClass disallows (control characters, unassigned
// code points, ...) or an empty result. Input must be valid UTF-8.
absl::StatusOr<std::string> OpaqueString(std::string_view utf8);

// RFC 4013 SASLprep (stringprep, NFKC, prohibited output, bidi rules).
absl::StatusOr<std::string> SaslPrep(std::string_view utf8);

}  // namespace uturn::stun
