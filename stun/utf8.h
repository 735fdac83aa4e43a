// UTF-8 well-formedness and length in code points (RFC 3629). Hand-rolled
// and small so the codec's hot paths need no ICU call; string_prep.cc uses
// ICU for the PRECIS work that really needs Unicode tables.
#pragma once

#include <string_view>

namespace uturn::stun {

// Number of code points in well-formed UTF-8 (RFC 3629 §4: no overlong
// forms, no surrogates, nothing above U+10FFFF), or -1 if malformed.
long Utf8Length(std::string_view s);

inline bool IsValidUtf8(std::string_view s) { return Utf8Length(s) >= 0; }

}  // namespace uturn::stun
