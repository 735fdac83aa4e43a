#include "stun/nonce_cookie.h"

#include <cassert>

namespace uturn::stun {
namespace {

// RFC 8489 §9.2: the feature set is "encoded with Base64 [RFC4648]"; the
// standard alphabet of RFC 4648 §4. 24 bits make exactly 4 characters, so
// there is never padding.
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint32_t kFeatureMask = 0xFFFFFF;

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string EncodeNonceCookie(uint32_t features) {
  assert((features & ~kFeatureMask) == 0 && "security feature set is 24 bits (RFC 8489 §9.2)");
  features &= kFeatureMask;
  std::string out;
  out.reserve(kNonceCookiePrefixSize);
  out.append(kNonceCookie);
  for (int shift = 18; shift >= 0; shift -= 6) {
    out.push_back(kAlphabet[(features >> shift) & 0x3F]);
  }
  assert(out.size() == kNonceCookiePrefixSize);
  return out;
}

std::optional<uint32_t> ParseNonceCookie(std::string_view nonce) {
  if (nonce.size() < kNonceCookiePrefixSize || !nonce.starts_with(kNonceCookie)) {
    return std::nullopt;
  }
  uint32_t features = 0;
  for (size_t i = kNonceCookie.size(); i < kNonceCookiePrefixSize; ++i) {
    const int v = DecodeChar(nonce[i]);
    if (v < 0) return std::nullopt;  // includes '=' padding, never valid for 24 bits
    features = (features << 6) | static_cast<uint32_t>(v);
  }
  return features;
}

}  // namespace uturn::stun
