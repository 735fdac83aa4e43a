// Why a request failed authentication: what the Authenticator can tell
// apart, counted per reason by the core (uturn_auth_failures_total{reason}).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uturn::turn {

enum class AuthFailure : uint8_t {
  kNone,                   // authenticated, or a plain 401 challenge (no credentials yet)
  kMissingCredentials,     // 400: integrity without USERNAME/USERHASH, REALM or NONCE
  kMalformedCredentials,   // 400: one of them malformed (RFC 8489 §6.3.1)
  kBadPasswordAlgorithm,   // 400: RFC 8489 §9.2.4 / §9.2.5 algorithm checks
  kWrongRealm,             // 401
  kBadNonce,               // 438: not one of ours, or issued to another address
  kStaleNonce,             // 438: ours but expired (routine: clients retry)
  kUnknownUser,            // 401: no such USERNAME / USERHASH
  kBadIntegrity,           // 401: wrong password (MESSAGE-INTEGRITY mismatch)
  kNoSha256Key,            // 401: SHA-256 asked of a user configured by MD5 key
  kRestExpired,            // 401: REST username past its expiry
  kRestMalformed,          // 401: REST username without a valid expiry
  kWrongCredentials,       // 441: another user than the allocation's (RFC 8656 §5)
  kCount,
};
inline constexpr size_t kAuthFailureCount = static_cast<size_t>(AuthFailure::kCount);

// The metric label value ("bad_integrity", ...); "" for kNone.
constexpr std::string_view AuthFailureName(AuthFailure f) {
  switch (f) {
    case AuthFailure::kNone: return "";
    case AuthFailure::kMissingCredentials: return "missing_credentials";
    case AuthFailure::kMalformedCredentials: return "malformed_credentials";
    case AuthFailure::kBadPasswordAlgorithm: return "bad_password_algorithm";
    case AuthFailure::kWrongRealm: return "wrong_realm";
    case AuthFailure::kBadNonce: return "bad_nonce";
    case AuthFailure::kStaleNonce: return "stale_nonce";
    case AuthFailure::kUnknownUser: return "unknown_user";
    case AuthFailure::kBadIntegrity: return "bad_integrity";
    case AuthFailure::kNoSha256Key: return "no_sha256_key";
    case AuthFailure::kRestExpired: return "rest_expired";
    case AuthFailure::kRestMalformed: return "rest_malformed";
    case AuthFailure::kWrongCredentials: return "wrong_credentials";
    case AuthFailure::kCount: break;
  }
  return "";
}

}  // namespace uturn::turn
