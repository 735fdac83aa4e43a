// TURN REST API credentials (draft-uberti-behave-turn-rest-00 §2.2), user
// specs, configuration errors and Reload. Expected keys were computed outside
// the code under test, e.g. for username U and secret S:
//   pw=$(printf '%s' U | openssl dgst -sha1 -hmac S -binary | base64)
//   printf '%s:example.org:%s' U "$pw" | md5sum
#include <gtest/gtest.h>

#include "tests/unit/turn/auth_test_util.h"
#include "turn/auth.h"

namespace uturn::turn {
namespace {

using namespace uturn::turn::testing;  // NOLINT: test helpers
using Kind = AuthResult::Kind;

constexpr int64_t kExpiry = 1'700'000'600;  // kT0 + 10 minutes
const absl::Time kExpiryTime = absl::FromUnixSeconds(kExpiry);
constexpr std::string_view kBob = "1700000600:bob";
constexpr std::string_view kBobS3cretMd5 = "cc6fad11343060a8b35ee76023b552fe";
constexpr std::string_view kBobRotatedMd5 = "6e093ce248b478a9e12b009f343ba27e";
constexpr std::string_view kBareS3cretMd5 = "c8a839336f6aafa23b8d81bae16119ec";      // "1700000600"
constexpr std::string_view kColonsS3cretMd5 = "03fad3b4fca4f850215a829c25c439bd";    // with colons
constexpr std::string_view kAliceMd5 = "543e1aec5d3614f03141652d6ada51b2";  // alice:secret

AuthConfig RestConfig(std::vector<std::string> secrets = {"s3cret"}) {
  AuthConfig config;
  config.realm = std::string(kRealm);
  config.rest_secrets = std::move(secrets);
  return config;
}

AuthResult RunRest(const Authenticator& auth, std::string_view username, std::string_view key_hex,
                   absl::Time now = kT0) {
  Creds c;
  c.username = std::string(username);
  c.nonce = NonceFor(auth, kClient, now);
  c.key = Hex(key_hex);
  Request req(c);
  return auth.Authenticate(req.view(), kClient, now);
}

TEST(AuthRestTest, ValidUsernameIsAccepted) {
  const Authenticator auth = MakeAuth(RestConfig());
  const AuthResult r = RunRest(auth, kBob, kBobS3cretMd5);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.username, kBob);
  EXPECT_EQ(KeyBytes(r.key), Hex(kBobS3cretMd5));
}

TEST(AuthRestTest, BareExpiryUsername) {
  const Authenticator auth = MakeAuth(RestConfig());
  const AuthResult r = RunRest(auth, "1700000600", kBareS3cretMd5);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.username, "1700000600");
}

TEST(AuthRestTest, NameWithColons) {
  // The expiry ends at the first colon; the HMAC covers the whole username.
  const Authenticator auth = MakeAuth(RestConfig());
  const AuthResult r = RunRest(auth, "1700000600:bob:with:colons", kColonsS3cretMd5);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.username, "1700000600:bob:with:colons");
}

TEST(AuthRestTest, ExpiryBoundary) {
  const Authenticator auth = MakeAuth(RestConfig());
  EXPECT_EQ(RunRest(auth, kBob, kBobS3cretMd5, kExpiryTime).kind, Kind::kOk);
  const AuthResult r = RunRest(auth, kBob, kBobS3cretMd5, kExpiryTime + absl::Nanoseconds(1));
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "rest_expired");
  EXPECT_EQ(r.failure, AuthFailure::kRestExpired);
  EXPECT_EQ(RunRest(auth, kBob, kBobS3cretMd5, kExpiryTime + absl::Hours(1)).kind,
            Kind::kUnauthorized);
}

TEST(AuthRestTest, WrongSecretIsUnauthorized) {
  const Authenticator auth = MakeAuth(RestConfig({"not-the-secret"}));
  const AuthResult r = RunRest(auth, kBob, kBobS3cretMd5);
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "bad_integrity");
  EXPECT_EQ(r.failure, AuthFailure::kBadIntegrity);
}

TEST(AuthRestTest, EverySecretIsTriedForRotation) {
  const Authenticator auth = MakeAuth(RestConfig({"s3cret", "rotated"}));
  const AuthResult old_secret = RunRest(auth, kBob, kBobS3cretMd5);
  ASSERT_EQ(old_secret.kind, Kind::kOk) << old_secret.reason;
  const AuthResult new_secret = RunRest(auth, kBob, kBobRotatedMd5);
  ASSERT_EQ(new_secret.kind, Kind::kOk) << new_secret.reason;
  EXPECT_EQ(KeyBytes(new_secret.key), Hex(kBobRotatedMd5));
  // A password made with neither is still refused.
  EXPECT_EQ(RunRest(auth, kBob, kAliceMd5).kind, Kind::kUnauthorized);
}

TEST(AuthRestTest, MalformedUsernamesAreUnauthorized) {
  const Authenticator auth = MakeAuth(RestConfig());
  for (std::string_view name :
       {"bob", ":bob", "abc:bob", "-5:bob", "+1700000600:bob", " 1700000600:bob",
        "99999999999999999999999:bob"}) {
    const AuthResult r = RunRest(auth, name, kBobS3cretMd5);
    EXPECT_EQ(r.kind, Kind::kUnauthorized) << name;
    EXPECT_STREQ(r.reason, "rest_malformed") << name;
    EXPECT_EQ(r.failure, AuthFailure::kRestMalformed) << name;
  }
}

TEST(AuthRestTest, AlgorithmAttributeIgnoredWithoutTheNonceBit) {
  // REST nonces carry no security features (USERHASH cannot name a REST
  // user), so PASSWORD-ALGORITHM is ignored and MD5 is used.
  const Authenticator auth = MakeAuth(RestConfig());
  Creds c;
  c.username = std::string(kBob);
  c.nonce = NonceFor(auth);
  EXPECT_EQ(stun::ParseNonceCookie(*c.nonce), 0u);
  EXPECT_FALSE(ReadChallenge(auth, kClient, kT0).password_algorithms.has_value());
  c.password_algorithm = AlgorithmList({0x0002});
  c.key = Hex(kBobS3cretMd5);
  c.integrity = Integrity::kMi256;
  Request req(c);
  const AuthResult r = auth.Authenticate(req.view(), kClient, kT0);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.key.algorithm, stun::PasswordAlgorithm::kMd5);
  EXPECT_TRUE(r.used_sha256);
}

TEST(AuthRestTest, StaticUsersAndSecretsTogether) {
  AuthConfig config = RestConfig();
  config.users = {{"alice", "secret"}};
  const Authenticator auth = MakeAuth(config);
  EXPECT_EQ(RunRest(auth, "alice", kAliceMd5).kind, Kind::kOk);
  EXPECT_EQ(RunRest(auth, kBob, kBobS3cretMd5).kind, Kind::kOk);
}

// ---- ParseUserSpec ----

TEST(ParseUserSpecTest, SplitsAtTheFirstColon) {
  absl::StatusOr<std::pair<std::string, std::string>> r = ParseUserSpec("alice:pa:ss");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first, "alice");
  EXPECT_EQ(r->second, "pa:ss");
}

TEST(ParseUserSpecTest, Errors) {
  EXPECT_FALSE(ParseUserSpec("alice").ok());
  EXPECT_FALSE(ParseUserSpec("").ok());
  EXPECT_FALSE(ParseUserSpec(":secret").ok());
  EXPECT_FALSE(ParseUserSpec("alice:").ok());
  EXPECT_FALSE(ParseUserSpec("alice:\xff\xfe").ok());   // password not UTF-8
  EXPECT_FALSE(ParseUserSpec("al\xc3:secret").ok());    // name not UTF-8
  EXPECT_TRUE(ParseUserSpec(std::string(512, 'a') + ":pw").ok());
  const absl::Status too_long = ParseUserSpec(std::string(513, 'a') + ":pw").status();
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.message().find("512"), std::string_view::npos) << too_long;
}

// ---- Create errors ----

absl::Status CreateStatus(const AuthConfig& config) {
  return Authenticator::Create(config, kNonceSecret).status();
}

AuthConfig WithUser(std::string name, std::string password) {
  AuthConfig config;
  config.users = {{std::move(name), std::move(password)}};
  return config;
}

TEST(AuthCreateTest, ShortNonceSecretIsRefused) {
  EXPECT_FALSE(
      Authenticator::Create(AuthConfig(), std::span<const uint8_t>(kNonceSecret.data(), 15)).ok());
  EXPECT_TRUE(
      Authenticator::Create(AuthConfig(), std::span<const uint8_t>(kNonceSecret.data(), 16)).ok());
}

TEST(AuthCreateTest, RealmMustBeShortUtf8) {
  AuthConfig config;
  config.realm = "";
  EXPECT_FALSE(CreateStatus(config).ok());
  config.realm = std::string(128, 'r');  // RFC 8489 §14.9: fewer than 128 characters
  EXPECT_FALSE(CreateStatus(config).ok());
  config.realm = std::string(127, 'r');
  EXPECT_TRUE(CreateStatus(config).ok());
  config.realm = "bad\xff";
  EXPECT_FALSE(CreateStatus(config).ok());
}

TEST(AuthCreateTest, NonceLifetimeMustBePositive) {
  AuthConfig config;
  config.nonce_lifetime = absl::ZeroDuration();
  EXPECT_FALSE(CreateStatus(config).ok());
}

TEST(AuthCreateTest, EmptySecretIsRefused) {
  EXPECT_FALSE(CreateStatus(RestConfig({"good", ""})).ok());
}

TEST(AuthCreateTest, BadHexKeysAreRefused) {
  EXPECT_TRUE(CreateStatus(WithUser("alice", "0x543e1aec5d3614f03141652d6ada51b2")).ok());
  EXPECT_TRUE(CreateStatus(WithUser("alice", "0x543E1AEC5D3614F03141652D6ADA51B2")).ok());
  EXPECT_FALSE(CreateStatus(WithUser("alice", "0x543e1aec5d3614f03141652d6ada51b")).ok());
  EXPECT_FALSE(CreateStatus(WithUser("alice", "0x543e1aec5d3614f03141652d6ada51b2aa")).ok());
  EXPECT_FALSE(CreateStatus(WithUser("alice", "0xzz3e1aec5d3614f03141652d6ada51b2")).ok());
}

TEST(AuthCreateTest, BadUsersAreRefused) {
  EXPECT_FALSE(CreateStatus(WithUser("", "pw")).ok());
  EXPECT_FALSE(CreateStatus(WithUser("alice", "")).ok());
  EXPECT_FALSE(CreateStatus(WithUser("a:b", "pw")).ok());
  // OpaqueString (RFC 8265 §4.2) refuses control characters.
  const absl::Status prep = CreateStatus(WithUser("alice", "pass\x01word"));
  EXPECT_FALSE(prep.ok());
  EXPECT_NE(prep.message().find("alice"), std::string_view::npos) << prep;
  AuthConfig twice;
  twice.users = {{"alice", "one"}, {"alice", "two"}};
  EXPECT_FALSE(CreateStatus(twice).ok());
}

// ---- Reload ----

TEST(AuthReloadTest, KeepsNoncesAndReplacesUsers) {
  AuthConfig before;
  before.realm = std::string(kRealm);
  before.users = {{"alice", "secret"}};
  Authenticator auth = MakeAuth(before);
  const std::string nonce = NonceFor(auth);

  AuthConfig after;
  after.realm = std::string(kRealm);
  after.users = {{"carol", "secret"}};
  ASSERT_TRUE(auth.Reload(after).ok());

  Creds alice;
  alice.username = "alice";
  alice.nonce = nonce;
  alice.key = Hex(kAliceMd5);
  Request alice_req(alice);
  const AuthResult gone = auth.Authenticate(alice_req.view(), kClient, kT0);
  EXPECT_EQ(gone.kind, Kind::kUnauthorized);
  EXPECT_STREQ(gone.reason, "unknown_user");
  EXPECT_EQ(gone.failure, AuthFailure::kUnknownUser);

  // printf 'carol:example.org:secret' | md5sum
  Creds carol = alice;
  carol.username = "carol";
  carol.key = Hex("eb26e9ad7d710a48943d6c06e3936b65");
  Request carol_req(carol);
  const AuthResult r = auth.Authenticate(carol_req.view(), kClient, kT0);
  EXPECT_EQ(r.kind, Kind::kOk) << r.reason;
}

TEST(AuthReloadTest, FailedReloadChangesNothing) {
  Authenticator auth = MakeAuth(RestConfig());
  const absl::Status s = auth.Reload(WithUser("alice", "0xnothex"));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(RunRest(auth, kBob, kBobS3cretMd5).kind, Kind::kOk);
}

TEST(AuthReloadTest, SecretsAreReplaced) {
  Authenticator auth = MakeAuth(RestConfig({"s3cret"}));
  ASSERT_TRUE(auth.Reload(RestConfig({"rotated"})).ok());
  EXPECT_EQ(RunRest(auth, kBob, kBobS3cretMd5).kind, Kind::kUnauthorized);
  EXPECT_EQ(RunRest(auth, kBob, kBobRotatedMd5).kind, Kind::kOk);
}

TEST(AuthReloadTest, Sha256ChoiceForAKeyOnlyUserIsUnauthorized) {
  // A nonce from before the reload still offers SHA-256, but alice is now
  // configured by her MD5 key, which yields no SHA-256 key.
  AuthConfig before;
  before.realm = std::string(kRealm);
  before.users = {{"alice", "secret"}};
  Authenticator auth = MakeAuth(before);
  const std::string nonce = NonceFor(auth);
  AuthConfig after = before;
  after.users = {{"alice", "0x543e1aec5d3614f03141652d6ada51b2"}};
  ASSERT_TRUE(auth.Reload(after).ok());

  Creds c;
  c.username = "alice";
  c.nonce = nonce;
  c.password_algorithms = AlgorithmList({0x0002, 0x0001});
  c.password_algorithm = AlgorithmList({0x0002});
  // printf 'alice:example.org:secret' | sha256sum
  c.key = Hex("d1659fff7a501be15962adc35514ca6a5868905695f2dd1093741f931e000a1f");
  c.integrity = Integrity::kMi256;
  Request req(c);
  const AuthResult r = auth.Authenticate(req.view(), kClient, kT0);
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "no_sha256_key");
  EXPECT_EQ(r.failure, AuthFailure::kNoSha256Key);
}

}  // namespace
}  // namespace uturn::turn
