// Character classes and splitting shared by the candidate and SDP parsers
// (internal to uturn_ice_sdp). Pure functions over string_views.
#pragma once

#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace uturn::ice::grammar {

// Debian's Abseil has its own string_view type, distinct from std's: this
// bridges the two for StrCat.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Splits on every `sep`, keeping empty pieces.
inline std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/".
inline bool IsIceChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '+' || c == '/'; }
// RFC 8866 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 /
// %x41-5A / %x5E-7E.
inline bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2A || u == 0x2B || u == 0x2D ||
         u == 0x2E || (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5A) ||
         (u >= 0x5E && u <= 0x7E);
}

template <typename Pred>
bool All(std::string_view s, Pred p) {
  for (char c : s) {
    if (!p(c)) return false;
  }
  return true;
}

}  // namespace uturn::ice::grammar
