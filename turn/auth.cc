// Long-term credential authentication (RFC 8489 §9.2, RFC 8656 §5) with
// static users, TURN REST API secrets (draft-uberti-behave-turn-rest-00 §2.2)
// and stateless nonces. See auth.h for the interface.
#include "turn/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "stun/attributes.h"
#include "stun/nonce_cookie.h"
#include "stun/utf8.h"

namespace uturn::turn {
namespace {

using stun::PasswordAlgorithm;

// ---- Nonce layout ----
// cookie "obMatJos2" + 4 feature chars (RFC 8489 §9.2), then base64 of
//   issue time (int64 Unix nanoseconds, big-endian, 8 bytes) ||
//   HMAC-SHA256(nonce key, features || time || client address) truncated to 16.
// 24 bytes make exactly 32 base64 characters, no padding and no spare bits, so
// each payload has one spelling. 13 + 32 = 45 characters, well under the
// 128-character limit of RFC 8489 §14.10.
constexpr size_t kNonceTimeSize = 8;
constexpr size_t kNonceMacSize = 16;  // 128 bits: forging needs ~2^128 tries
constexpr size_t kNoncePayloadSize = kNonceTimeSize + kNonceMacSize;
constexpr size_t kNonceSize = stun::kNonceCookiePrefixSize + kNoncePayloadSize / 3 * 4;
static_assert(kNoncePayloadSize % 3 == 0, "payload must base64-encode without padding");
static_assert(kNonceSize < 128, "RFC 8489 §14.10: NONCE MUST be fewer than 128 characters");

// Shards read their coarse clocks independently; a nonce issued a moment
// "later" by another reader of the same secret is still ours.
constexpr absl::Duration kNonceClockSkew = absl::Seconds(5);

// The host's random bytes are turned into the nonce key through HMAC with a
// fixed label, so any length >= 16 gives a full-strength 32-byte key.
constexpr std::string_view kNonceKeyLabel = "uturn nonce key v1";
constexpr size_t kMinNonceSecret = 16;

// RFC 8489 §14.11: the algorithms we offer, in order of preference. The same
// list is sent in every challenge, so §9.2.4's "PASSWORD-ALGORITHMS matches the
// value sent in the response that sent this NONCE" is a comparison with it.
constexpr PasswordAlgorithm kOfferedAlgorithms[] = {PasswordAlgorithm::kSha256,
                                                    PasswordAlgorithm::kMd5};
// Its wire form: (algorithm 16 | parameter length 16 = 0) per entry.
constexpr uint8_t kOfferedAlgorithmsWire[] = {0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};

// RFC 8489 §14.3 / §14.9: USERNAME below 513 bytes (the codec's limit), REALM
// fewer than 128 characters.
constexpr size_t kMaxUsernameBytes = 512;
constexpr long kMaxRealmChars = 127;

// coturn's key form for --user: name:0x<32 hex digits of the MD5 key>.
constexpr std::string_view kHexKeyPrefix = "0x";

void Store64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

std::span<const uint8_t> Bytes(std::string_view s) { return stun::KeyBytes(s); }
// Debian's Abseil has its own string_view type, not an alias of std's.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
absl::string_view Absl(std::span<const uint8_t> b) {
  return absl::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// Decodes "0x" + 32 hex digits; an empty optional if `text` has no "0x"
// prefix (a plain password); an error if it has the prefix but not the shape
// (refused rather than taken as a password, to catch typos in keys).
absl::StatusOr<std::optional<stun::Md5Key>> ParseHexKey(std::string_view text) {
  if (!text.starts_with(kHexKeyPrefix)) return std::optional<stun::Md5Key>();
  const std::string_view hex = text.substr(kHexKeyPrefix.size());
  stun::Md5Key key{};
  if (hex.size() != 2 * key.size() ||
      !std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return absl::InvalidArgumentError(
        "a password starting with 0x must be 32 hex digits (MD5 key)");
  }
  const std::string raw = absl::HexStringToBytes(Absl(hex));
  assert(raw.size() == key.size());
  std::copy(raw.begin(), raw.end(), key.begin());
  return std::optional<stun::Md5Key>(key);
}

// RFC 8489 §9.2.2: the key for `algorithm` from username, realm and password.
std::optional<AuthKey> DeriveKey(PasswordAlgorithm algorithm, std::string_view username,
                                 std::string_view realm, std::string_view password) {
  AuthKey key;
  key.algorithm = algorithm;
  if (algorithm == PasswordAlgorithm::kSha256) {
    absl::StatusOr<stun::Sha256Key> k = stun::LongTermKeySha256(username, realm, password);
    if (!k.ok()) return std::nullopt;
    std::copy(k->begin(), k->end(), key.bytes.begin());
  } else {
    absl::StatusOr<stun::Md5Key> k = stun::LongTermKeyMd5(username, realm, password);
    if (!k.ok()) return std::nullopt;
    std::copy(k->begin(), k->end(), key.bytes.begin());
  }
  return key;
}

// RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 when present, else MESSAGE-INTEGRITY.
bool IntegrityMatches(const stun::MessageView& m, const AuthKey& key, bool sha256_integrity) {
  const stun::IntegrityCheck check = sha256_integrity
                                         ? stun::VerifyMessageIntegritySha256(m, key.span())
                                         : stun::VerifyMessageIntegrity(m, key.span());
  return check == stun::IntegrityCheck::kOk;
}

AuthResult Result(AuthResult::Kind kind, const char* reason, bool sha256_integrity,
                  AuthFailure failure = AuthFailure::kNone) {
  // Every refusal names its reason; acceptance and challenges do not.
  assert((failure == AuthFailure::kNone) ==
         (kind == AuthResult::Kind::kOk || kind == AuthResult::Kind::kChallenge));
  AuthResult r;
  r.kind = kind;
  r.reason = reason;
  r.used_sha256 = sha256_integrity;
  r.failure = failure;
  return r;
}

// The REST password: base64(HMAC-SHA1(secret, username))
// (draft-uberti-behave-turn-rest-00 §2.2).
std::string RestPassword(std::string_view secret, std::string_view username) {
  std::array<uint8_t, 20> mac{};
  const std::span<const uint8_t> parts[] = {Bytes(username)};
  stun::HmacSha1(Bytes(secret), parts, mac);
  return absl::Base64Escape(Absl(mac));
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> ParseUserSpec(std::string_view spec) {
  // The name ends at the first colon; the password may contain colons.
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("user must be name:password (no ':' found)");
  }
  std::string_view name = spec.substr(0, colon);
  std::string_view password = spec.substr(colon + 1);
  if (name.empty()) return absl::InvalidArgumentError("user name is empty");
  if (password.empty()) return absl::InvalidArgumentError("password is empty");
  if (name.size() > kMaxUsernameBytes) {
    return absl::InvalidArgumentError("user name is longer than 512 bytes (RFC 8489 §14.3)");
  }
  if (!stun::IsValidUtf8(name) || !stun::IsValidUtf8(password)) {
    return absl::InvalidArgumentError("user name and password must be UTF-8 (RFC 8489 §14.3)");
  }
  return std::make_pair(std::string(name), std::string(password));
}

absl::StatusOr<Authenticator::Credentials> Authenticator::BuildCredentials(
    const AuthConfig& config) {
  const long realm_chars = stun::Utf8Length(config.realm);
  if (config.realm.empty() || realm_chars < 0 || realm_chars > kMaxRealmChars) {
    return absl::InvalidArgumentError(
        "realm must be 1 to 127 characters of UTF-8 (RFC 8489 §14.9)");
  }
  if (config.nonce_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("nonce lifetime must be positive");
  }
  for (const std::string& secret : config.rest_secrets) {
    if (secret.empty()) return absl::InvalidArgumentError("empty static auth secret");
  }

  Credentials creds;
  bool all_sha256 = true, all_userhash = true;
  for (const auto& [name, password] : config.users) {
    // The same checks as ParseUserSpec, for configs built in code.
    absl::StatusOr<std::pair<std::string, std::string>> parsed =
        ParseUserSpec(absl::StrCat(name, ":", password));
    if (!parsed.ok() || parsed->first != name) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user '", name, "': ", parsed.ok() ? "name contains ':'" : parsed.status().message()));
    }
    UserKeys keys{};
    absl::StatusOr<std::optional<stun::Md5Key>> hex = ParseHexKey(password);
    if (!hex.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("user '", name, "': ", hex.status().message()));
    }
    if (hex->has_value()) {
      keys.md5 = **hex;  // SHA-256 cannot be derived from the MD5 key
    } else {
      absl::StatusOr<stun::Md5Key> md5 = stun::LongTermKeyMd5(name, config.realm, password);
      absl::StatusOr<stun::Sha256Key> sha = stun::LongTermKeySha256(name, config.realm, password);
      if (!md5.ok() || !sha.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "user '", name, "': credentials refused by string preparation (RFC 8489 §9.2.2): ",
            (md5.ok() ? sha.status() : md5.status()).message()));
      }
      keys.md5 = *md5;
      keys.sha256 = *sha;
    }
    all_sha256 = all_sha256 && keys.sha256.has_value();
    if (!creds.users.emplace(name, keys).second) {
      return absl::InvalidArgumentError(absl::StrCat("user '", name, "' is given twice"));
    }
    // RFC 8489 §14.4. A name OpaqueString refuses has no USERHASH; it can
    // still log in with USERNAME.
    absl::StatusOr<stun::Sha256Key> hash = stun::ComputeUserhash(name, config.realm);
    if (hash.ok()) {
      creds.userhashes.emplace(std::string(hash->begin(), hash->end()), name);
    } else {
      all_userhash = false;
    }
  }
  // RFC 8489 §9.2: advertise "Password algorithms" and "Username anonymity"
  // only when every credential can honour them: USERHASH cannot name a REST
  // user (the name is not known in advance), and a user given as an MD5 key
  // has no SHA-256 key. Both go together so a client offered SHA-256 can also
  // hide its name, and REST deployments see plain RFC 5389 nonces.
  if (!creds.users.empty() && config.rest_secrets.empty() && all_sha256 && all_userhash) {
    creds.features = stun::kFeaturePasswordAlgorithms | stun::kFeatureUsernameAnonymity;
  }
  return creds;
}

absl::StatusOr<Authenticator> Authenticator::Create(AuthConfig config,
                                                    std::span<const uint8_t> nonce_secret) {
  if (nonce_secret.size() < kMinNonceSecret) {
    return absl::InvalidArgumentError("nonce secret must be at least 16 random bytes");
  }
  absl::StatusOr<Credentials> creds = BuildCredentials(config);
  if (!creds.ok()) return creds.status();
  Authenticator auth;
  auth.config_ = std::move(config);
  auth.creds_ = *std::move(creds);
  const std::span<const uint8_t> label[] = {Bytes(kNonceKeyLabel)};
  stun::HmacSha256(nonce_secret, label, auth.nonce_secret_);
  return auth;
}

absl::Status Authenticator::Reload(AuthConfig config) {
  absl::StatusOr<Credentials> creds = BuildCredentials(config);
  if (!creds.ok()) return creds.status();
  // The nonce key is kept: nonces already handed out stay valid.
  config_ = std::move(config);
  creds_ = *std::move(creds);
  return absl::OkStatus();
}

// ---- Nonces ----

void Authenticator::NonceMac(uint32_t features, uint64_t issued, const stun::SocketAddress& client,
                             std::span<uint8_t, 32> out) const {
  // Binding the client's IP and port (RFC 8489 §9.2: the nonce "MAY ... encode
  // additional information", RFC 7616 §3.3's client-specific nonce) makes a
  // nonce seen by one client useless from any other address.
  std::array<uint8_t, 3 + 8 + 1 + 16 + 2> input{};
  input[0] = static_cast<uint8_t>(features >> 16);
  input[1] = static_cast<uint8_t>(features >> 8);
  input[2] = static_cast<uint8_t>(features);
  Store64(input.data() + 3, issued);
  input[11] = static_cast<uint8_t>(client.family);
  std::copy(client.bytes.begin(), client.bytes.end(), input.begin() + 12);
  input[28] = static_cast<uint8_t>(client.port >> 8);
  input[29] = static_cast<uint8_t>(client.port);
  const std::span<const uint8_t> parts[] = {input};
  stun::HmacSha256(nonce_secret_, parts, out);
}

std::string Authenticator::MakeNonce(const stun::SocketAddress& client, absl::Time now) const {
  const uint64_t issued = static_cast<uint64_t>(absl::ToUnixNanos(now));
  std::array<uint8_t, 32> mac{};
  NonceMac(creds_.features, issued, client, mac);
  std::array<uint8_t, kNoncePayloadSize> payload{};
  Store64(payload.data(), issued);
  std::copy_n(mac.begin(), kNonceMacSize, payload.begin() + kNonceTimeSize);
  std::string nonce = stun::EncodeNonceCookie(creds_.features);
  nonce += absl::Base64Escape(Absl(payload));
  assert(nonce.size() == kNonceSize);
  return nonce;
}

std::optional<uint32_t> Authenticator::CheckNonce(std::string_view nonce,
                                                  const stun::SocketAddress& client,
                                                  absl::Time now, const char** reason) const {
  *reason = "bad_nonce";
  if (nonce.size() != kNonceSize) return std::nullopt;
  const std::optional<uint32_t> features = stun::ParseNonceCookie(nonce);
  if (!features) return std::nullopt;
  const std::string_view encoded = nonce.substr(stun::kNonceCookiePrefixSize);
  std::string payload;
  // Re-encoding must give the same text: absl's decoder is lenient, and one
  // spelling per nonce keeps the check simple to reason about.
  if (!absl::Base64Unescape(Absl(encoded), &payload) || payload.size() != kNoncePayloadSize ||
      absl::Base64Escape(payload) != encoded) {
    return std::nullopt;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  const uint64_t issued = Load64(p);
  std::array<uint8_t, 32> mac{};
  NonceMac(*features, issued, client, mac);
  // Forged, altered, or issued to another client address: the MAC differs.
  if (CRYPTO_memcmp(mac.data(), p + kNonceTimeSize, kNonceMacSize) != 0) return std::nullopt;
  const absl::Time issued_at = absl::FromUnixNanos(static_cast<int64_t>(issued));
  if (issued_at > now + kNonceClockSkew) return std::nullopt;  // only a broken clock does this
  // RFC 8489 §9.2: the nonce is valid for a limited time; from issue time
  // + lifetime on it is stale.
  if (now >= issued_at + config_.nonce_lifetime) {
    *reason = "stale_nonce";
    return std::nullopt;
  }
  *reason = "";
  return features;
}

void Authenticator::AddChallenge(stun::MessageBuilder& response, const stun::SocketAddress& client,
                                 absl::Time now) const {
  // RFC 8489 §9.2.4: 401 and 438 carry REALM and a valid NONCE, and
  // PASSWORD-ALGORITHMS when the nonce cookie announces them (§9.2.5 compares
  // the client's copy against this value).
  const std::string nonce = MakeNonce(client, now);
  response.AddString(stun::attr::kRealm, config_.realm).AddString(stun::attr::kNonce, nonce);
  if (creds_.features & stun::kFeaturePasswordAlgorithms) {
    response.AddPasswordAlgorithms(kOfferedAlgorithms);
  }
}

void Authenticator::Sign(stun::MessageBuilder& response, const AuthResult& auth) {
  assert(auth.kind == AuthResult::Kind::kOk && "only authenticated requests get signed answers");
  // RFC 8489 §9.2.4: the response carries the integrity attribute the request
  // used, keyed with the same key.
  if (auth.used_sha256) {
    response.AddMessageIntegritySha256(auth.key.span());
  } else {
    response.AddMessageIntegrity(auth.key.span());
  }
}

// ---- The §9.2.4 decision table ----

AuthResult Authenticator::Authenticate(const stun::MessageView& request,
                                       const stun::SocketAddress& client, absl::Time now) const {
  using Kind = AuthResult::Kind;
  const bool has_mi = request.message_integrity_offset().has_value();
  const bool has_mi256 = request.message_integrity_sha256_offset().has_value();
  // RFC 8489 §9.2.4: "If the message does not contain a MESSAGE-INTEGRITY or
  // MESSAGE-INTEGRITY-SHA256 attribute, the server MUST generate an error
  // response with an error code of 401".
  if (!has_mi && !has_mi256) return Result(Kind::kChallenge, "no_integrity", false);
  // RFC 8489 §9.2.4: with both present, MESSAGE-INTEGRITY-SHA256 is the one checked.
  const bool sha256 = has_mi256;

  const stun::AttrResult<std::string_view> username = stun::GetUsername(request);
  const stun::AttrResult<stun::Userhash> userhash = stun::GetUserhash(request);
  const stun::AttrResult<std::string_view> realm = stun::GetRealm(request);
  const stun::AttrResult<std::string_view> nonce = stun::GetNonce(request);
  // RFC 8489 §9.2.4: integrity "but is missing the USERNAME or USERHASH, REALM,
  // or NONCE attribute" -> 400. A malformed one counts as missing (§6.3.1:
  // a malformed request earns 400).
  if (username.malformed() || userhash.malformed() || realm.malformed() || nonce.malformed()) {
    return Result(Kind::kBadRequest, "malformed_credentials", sha256,
                  AuthFailure::kMalformedCredentials);
  }
  if ((username.absent() && userhash.absent()) || realm.absent() || nonce.absent()) {
    return Result(Kind::kBadRequest, "missing_credentials", sha256,
                  AuthFailure::kMissingCredentials);
  }
  // RFC 8489 §9.2.4 has no row for a foreign REALM; the realm is part of the
  // key (§9.2.2), so such a request cannot carry valid integrity: 401 as for a
  // failed integrity check, with a challenge naming our realm.
  if (realm.value != config_.realm) {
    return Result(Kind::kUnauthorized, "wrong_realm", sha256, AuthFailure::kWrongRealm);
  }

  // RFC 8489 §9.2.4: "If the NONCE is no longer valid, the server MUST
  // generate an error response with an error code of 438". A nonce we never
  // issued, or issued to another address, was never valid: same answer, and
  // the 438 hands the client a good one. Checked before the key lookup (the
  // RFC lists it last) so a replayed or forged nonce costs no key derivation.
  const char* nonce_reason = "";
  const std::optional<uint32_t> features = CheckNonce(nonce.value, client, now, &nonce_reason);
  if (!features) {
    const AuthFailure failure = std::string_view(nonce_reason) == "stale_nonce"
                                    ? AuthFailure::kStaleNonce
                                    : AuthFailure::kBadNonce;
    return Result(Kind::kStaleNonce, nonce_reason, sha256, failure);
  }

  PasswordAlgorithm algorithm = PasswordAlgorithm::kMd5;
  if (*features & stun::kFeaturePasswordAlgorithms) {
    // RFC 8489 §9.2.4 / §9.2.5 (downgrade protection), in order:
    const std::optional<stun::AttributeView> algorithms =
        request.Find(stun::attr::kPasswordAlgorithms);
    const stun::AttrResult<stun::PasswordAlgorithmEntry> chosen =
        stun::GetPasswordAlgorithm(request);
    if (!algorithms && chosen.absent()) {
      // "If the request contains neither ... processed as though
      // PASSWORD-ALGORITHM were MD5."
      algorithm = PasswordAlgorithm::kMd5;
    } else {
      // "unless (1) PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS are both
      // present, (2) PASSWORD-ALGORITHMS matches the value sent in the
      // response that sent this NONCE, and (3) PASSWORD-ALGORITHM matches one
      // of the entries in PASSWORD-ALGORITHMS" -> 400.
      if (!algorithms || !chosen.ok()) {
        return Result(Kind::kBadRequest, "password_algorithm_missing", sha256,
                      AuthFailure::kBadPasswordAlgorithm);
      }
      if (!std::ranges::equal(algorithms->value, kOfferedAlgorithmsWire)) {
        return Result(Kind::kBadRequest, "password_algorithms_mismatch", sha256,
                      AuthFailure::kBadPasswordAlgorithm);
      }
      const uint16_t id = chosen.value.algorithm;
      // §14.12: MD5 and SHA-256 take no parameters.
      if (!chosen.value.parameters.empty() ||
          std::ranges::none_of(kOfferedAlgorithms, [id](PasswordAlgorithm a) {
            return static_cast<uint16_t>(a) == id;
          })) {
        return Result(Kind::kBadRequest, "password_algorithm_not_offered", sha256,
                      AuthFailure::kBadPasswordAlgorithm);
      }
      algorithm = static_cast<PasswordAlgorithm>(id);
    }
  }

  // RFC 8489 §9.2.4: "If the value of the USERNAME or USERHASH attribute is
  // not valid, the server MUST generate an error response with an error code
  // of 401". USERNAME wins if a client sends both.
  std::string_view name;
  const UserKeys* keys = nullptr;
  if (!username.absent()) {
    name = username.value;
    if (auto it = creds_.users.find(Absl(name)); it != creds_.users.end()) keys = &it->second;
  } else {
    const auto* h = reinterpret_cast<const char*>(userhash.value.data());
    auto it = creds_.userhashes.find(absl::string_view(h, userhash.value.size()));
    if (it == creds_.userhashes.end()) {
      return Result(Kind::kUnauthorized, "unknown_user", sha256, AuthFailure::kUnknownUser);
    }
    name = it->second;
    keys = &creds_.users.at(it->second);
  }
  if (keys == nullptr) {
    if (config_.rest_secrets.empty()) {
      return Result(Kind::kUnauthorized, "unknown_user", sha256, AuthFailure::kUnknownUser);
    }
    return AuthenticateRest(request, name, algorithm, sha256, now);
  }

  AuthKey key;
  key.algorithm = algorithm;
  if (algorithm == PasswordAlgorithm::kSha256) {
    if (!keys->sha256) {
      return Result(Kind::kUnauthorized, "no_sha256_key", sha256, AuthFailure::kNoSha256Key);
    }
    std::copy(keys->sha256->begin(), keys->sha256->end(), key.bytes.begin());
  } else {
    std::copy(keys->md5.begin(), keys->md5.end(), key.bytes.begin());
  }
  // RFC 8489 §9.2.4: "If the resulting value does not match ... 401".
  if (!IntegrityMatches(request, key, sha256)) {
    return Result(Kind::kUnauthorized, "bad_integrity", sha256, AuthFailure::kBadIntegrity);
  }
  AuthResult ok = Result(Kind::kOk, "ok", sha256);
  ok.username = std::string(name);
  ok.key = key;
  return ok;
}

AuthResult Authenticator::AuthenticateRest(const stun::MessageView& request,
                                           std::string_view username, PasswordAlgorithm algorithm,
                                           bool sha256_integrity, absl::Time now) const {
  using Kind = AuthResult::Kind;
  // draft-uberti-behave-turn-rest-00 §2.2: username "expiry:name" or just
  // "expiry", expiry in Unix seconds; the name may itself contain colons.
  const std::string_view expiry_text = username.substr(0, username.find(':'));
  int64_t expiry = 0;
  if (expiry_text.empty() ||
      !std::all_of(expiry_text.begin(), expiry_text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(Absl(expiry_text), &expiry)) {
    return Result(Kind::kUnauthorized, "rest_malformed", sha256_integrity,
                  AuthFailure::kRestMalformed);
  }
  // §2.2: the server refuses a username whose timestamp has passed; the
  // expiry instant itself is the last valid one.
  if (absl::FromUnixSeconds(expiry) < now) {
    return Result(Kind::kUnauthorized, "rest_expired", sha256_integrity, AuthFailure::kRestExpired);
  }
  // Several secrets for rotation: any one that verifies the request will do.
  for (const std::string& secret : config_.rest_secrets) {
    const std::string password = RestPassword(secret, username);
    const std::optional<AuthKey> key = DeriveKey(algorithm, username, config_.realm, password);
    if (!key) {
      return Result(Kind::kUnauthorized, "rest_malformed", sha256_integrity,
                    AuthFailure::kRestMalformed);
    }
    if (IntegrityMatches(request, *key, sha256_integrity)) {
      AuthResult ok = Result(Kind::kOk, "ok", sha256_integrity);
      ok.username = std::string(username);
      ok.key = *key;
      return ok;
    }
  }
  return Result(Kind::kUnauthorized, "bad_integrity", sha256_integrity, AuthFailure::kBadIntegrity);
}

}  // namespace uturn::turn
