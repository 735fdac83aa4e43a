// RFC 8489 §9.2: a server supporting the security features of RFC 8489
// starts NONCE with the "nonce cookie" "obMatJos2" followed by the 24-bit
// security feature set encoded as 4 base64 characters (§18.1 registry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uturn::stun {

inline constexpr std::string_view kNonceCookie = "obMatJos2";
inline constexpr size_t kNonceCookiePrefixSize = 13;  // cookie + 4 base64 chars

// Security feature bits (RFC 8489 §18.1): bit 0 is the most significant bit of
// the 24-bit field.
inline constexpr uint32_t kFeaturePasswordAlgorithms = 1u << 23;
inline constexpr uint32_t kFeatureUsernameAnonymity = 1u << 22;

// "obMatJos2" + base64 of the 3-byte feature set (exactly 13 characters).
std::string EncodeNonceCookie(uint32_t features);
// The feature set if `nonce` begins with a well-formed nonce cookie.
std::optional<uint32_t> ParseNonceCookie(std::string_view nonce);

}  // namespace uturn::stun
