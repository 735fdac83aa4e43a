// Message integrity (RFC 8489 §9, §14.5, §14.6): key derivation for short-
// and long-term credentials, HMAC-SHA1 / HMAC-SHA256 through OpenSSL's EVP
// interface, constant-time verification, and USERHASH (§14.4).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "stun/message_view.h"

namespace uturn::stun {

using Md5Key = std::array<uint8_t, 16>;
using Sha256Key = std::array<uint8_t, 32>;

// RFC 8489 §9.1.1: the short-term key is the OpaqueString-prepared password.
absl::StatusOr<std::string> ShortTermKey(std::string_view password);

// RFC 8489 §9.2.2 long-term keys:
//   MD5(username ":" OpaqueString(realm) ":" OpaqueString(password))
//   SHA-256(username ":" OpaqueString(realm) ":" OpaqueString(password))
// Fails if a string is not acceptable to the string preparation profile.
// (See stun/README.md for how RFC 5389's SASLprep is accommodated.)
absl::StatusOr<Md5Key> LongTermKeyMd5(std::string_view username, std::string_view realm,
                                      std::string_view password);
absl::StatusOr<Sha256Key> LongTermKeySha256(std::string_view username, std::string_view realm,
                                            std::string_view password);

// RFC 8489 §14.4: USERHASH = SHA-256(OpaqueString(username) ":" OpaqueString(realm)).
absl::StatusOr<Sha256Key> ComputeUserhash(std::string_view username, std::string_view realm);

// HMACs over a sequence of byte ranges (so a patched header and the body can
// be hashed without copying). `out` must be 20 / 32 bytes.
void HmacSha1(std::span<const uint8_t> key, std::span<const std::span<const uint8_t>> parts,
              std::span<uint8_t, 20> out);
void HmacSha256(std::span<const uint8_t> key, std::span<const std::span<const uint8_t>> parts,
                std::span<uint8_t, 32> out);

enum class IntegrityCheck : uint8_t {
  kOk,
  kAbsent,     // the attribute is not in the message
  kMismatch,   // present, HMAC differs
};

// Verifies MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 of a parsed message,
// hashing the header with its length patched to end at the attribute, as
// RFC 8489 §14.5 requires. Comparison is constant-time (CRYPTO_memcmp).
IntegrityCheck VerifyMessageIntegrity(const MessageView& m, std::span<const uint8_t> key);
IntegrityCheck VerifyMessageIntegritySha256(const MessageView& m, std::span<const uint8_t> key);

// Convenience: bytes of a string key.
inline std::span<const uint8_t> KeyBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace uturn::stun
