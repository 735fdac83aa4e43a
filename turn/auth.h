// Long-term credential authentication for TURN (RFC 8489 §9.2, RFC 8656 §5):
// static users, TURN REST API shared secrets, stateless nonces bound to the
// client address with the RFC 8489 security-feature bits, PASSWORD-ALGORITHMS
// negotiation and USERHASH. Sans-IO: time comes in, random bytes come in.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "stun/address.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "turn/auth_failure.h"

namespace uturn::turn {

struct AuthConfig {
  std::string realm = "uturn";
  // --user name:password (repeatable). Also accepts coturn's key form
  // name:0x<32 hex digits> (the MD5 long-term key itself).
  std::vector<std::pair<std::string, std::string>> users;
  // --use-auth-secret with --static-auth-secret (repeatable, for rotation):
  // username "expiry:name" (or "expiry"), password
  // base64(HMAC-SHA1(secret, username)); expiry in Unix seconds.
  std::vector<std::string> rest_secrets;
  // RFC 8489 §9.2: how long a nonce stays valid before 438 Stale Nonce.
  absl::Duration nonce_lifetime = absl::Minutes(10);
};

// Parses "name:password" (for --user); the error names what is wrong.
absl::StatusOr<std::pair<std::string, std::string>> ParseUserSpec(std::string_view spec);

// The key negotiated for a request, used to sign the response.
struct AuthKey {
  stun::PasswordAlgorithm algorithm = stun::PasswordAlgorithm::kMd5;
  std::array<uint8_t, 32> bytes{};  // 16 used for MD5
  std::span<const uint8_t> span() const {
    return {bytes.data(), algorithm == stun::PasswordAlgorithm::kMd5 ? size_t{16} : size_t{32}};
  }
  friend bool operator==(const AuthKey&, const AuthKey&) = default;
};

struct AuthResult {
  enum class Kind : uint8_t {
    kOk,
    kChallenge,         // 401 + REALM + NONCE (+ PASSWORD-ALGORITHMS): no credentials yet
    kUnauthorized,      // 401 + challenge: unknown user, bad integrity, expired REST name
    kStaleNonce,        // 438 + REALM + new NONCE (RFC 8489 §9.2.4)
    kBadRequest,        // 400: integrity without USERNAME/REALM/NONCE, algorithm mismatch
  };
  Kind kind = Kind::kChallenge;
  std::string username;   // on kOk: the authenticated username
  AuthKey key;            // on kOk: the key that verified the request
  // Which integrity attribute the client used (responses use the same, §9.2.4).
  bool used_sha256 = false;
  const char* reason = "";  // short, for logs (finer than `failure`)
  // For metrics: why authentication failed; kNone on kOk and kChallenge.
  AuthFailure failure = AuthFailure::kNone;
};

class Authenticator {
 public:
  // `nonce_secret`: random bytes from the host (at least 16), used to make
  // nonces unforgeable. Fails if a user spec or a key is invalid.
  static absl::StatusOr<Authenticator> Create(AuthConfig config,
                                              std::span<const uint8_t> nonce_secret);

  // RFC 8489 §9.2.4 server behaviour for a request from `client` at `now`.
  AuthResult Authenticate(const stun::MessageView& request, const stun::SocketAddress& client,
                          absl::Time now) const;

  // Adds REALM, a fresh NONCE for `client` and PASSWORD-ALGORITHMS (when the
  // nonce advertises them) to an error response (401 or 438).
  void AddChallenge(stun::MessageBuilder& response, const stun::SocketAddress& client,
                    absl::Time now) const;

  // Signs a response with the request's integrity flavour (RFC 8489 §9.2.4:
  // "the response MUST include the same integrity attribute").
  static void Sign(stun::MessageBuilder& response, const AuthResult& auth);

  // SIGHUP: new users and secrets; nonces already issued stay valid.
  absl::Status Reload(AuthConfig config);

  const std::string& realm() const { return config_.realm; }

 private:
  Authenticator() = default;
  // Private members may change freely; the implementer owns them.

  // Static users and the features their nonces advertise, rebuilt as a whole
  // by Create and Reload so a failed Reload changes nothing.
  struct UserKeys {
    stun::Md5Key md5;
    std::optional<stun::Sha256Key> sha256;  // absent if configured by MD5 key
  };
  struct Credentials {
    // username -> MD5 and SHA-256 keys for static users.
    absl::flat_hash_map<std::string, UserKeys> users;
    // USERHASH (RFC 8489 §14.4, 32 raw bytes as a string) -> username.
    absl::flat_hash_map<std::string, std::string> userhashes;
    // RFC 8489 §9.2 security feature bits put in new nonces.
    uint32_t features = 0;
  };
  static absl::StatusOr<Credentials> BuildCredentials(const AuthConfig& config);

  std::string MakeNonce(const stun::SocketAddress& client, absl::Time now) const;
  // The feature bits of `nonce` if it is one of ours, for `client`, and fresh;
  // otherwise nullopt and `*reason` says why.
  std::optional<uint32_t> CheckNonce(std::string_view nonce, const stun::SocketAddress& client,
                                     absl::Time now, const char** reason) const;
  void NonceMac(uint32_t features, uint64_t issued, const stun::SocketAddress& client,
                std::span<uint8_t, 32> out) const;
  AuthResult AuthenticateRest(const stun::MessageView& request, std::string_view username,
                              stun::PasswordAlgorithm algorithm, bool sha256_integrity,
                              absl::Time now) const;

  AuthConfig config_;
  std::array<uint8_t, 32> nonce_secret_{};  // derived from the host's random bytes
  Credentials creds_;
};

}  // namespace uturn::turn
