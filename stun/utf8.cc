#include "stun/utf8.h"

#include <cstddef>
#include <cstdint>

namespace uturn::stun {

long Utf8Length(std::string_view s) {
  long chars = 0;
  for (size_t i = 0; i < s.size(); ++chars) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) { ++i; continue; }
    size_t n;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) { n = 2; cp = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { n = 3; cp = b & 0x0F; }
    else if (b >= 0xF0 && b <= 0xF4) { n = 4; cp = b & 0x07; }
    else return -1;
    if (s.size() - i < n) return -1;
    for (size_t k = 1; k < n; ++k) {
      const uint8_t c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return -1;
      cp = cp << 6 | (c & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return -1;
    }
    i += n;
  }
  return chars;
}

}  // namespace uturn::stun
