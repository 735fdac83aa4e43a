// RFC 8489 §9.2.4 decision table, nonces, challenges and signing for static
// users. Expected keys were computed outside the code under test:
//   printf 'alice:example.org:secret' | md5sum      -> kAliceMd5
//   printf 'alice:example.org:secret' | sha256sum   -> kAliceSha256
//   printf 'alice:example.org' | sha256sum          -> kAliceUserhash (RFC 8489 §14.4)
#include <gtest/gtest.h>

#include "stun/integrity.h"
#include "tests/unit/turn/auth_test_util.h"
#include "turn/auth.h"

namespace uturn::turn {
namespace {

using namespace uturn::turn::testing;  // NOLINT: test helpers
using Kind = AuthResult::Kind;
using stun::PasswordAlgorithm;

constexpr std::string_view kAliceMd5 = "543e1aec5d3614f03141652d6ada51b2";
constexpr std::string_view kAliceSha256 =
    "d1659fff7a501be15962adc35514ca6a5868905695f2dd1093741f931e000a1f";
constexpr std::string_view kAliceUserhash =
    "435b7933096a304d3c734cfb833ec9075bd47ab1c0160321aed31c06a8c7009e";
const std::vector<uint8_t> kOffered = AlgorithmList({0x0002, 0x0001});  // SHA-256, MD5

AuthConfig AliceConfig() {
  AuthConfig config;
  config.realm = std::string(kRealm);
  config.users = {{"alice", "secret"}, {"bob", "hunter2"}};
  return config;
}

class AuthTest : public ::testing::Test {
 protected:
  Authenticator auth_ = MakeAuth(AliceConfig());

  // A well-formed MD5 request from alice with a fresh nonce for kClient.
  Creds Alice() {
    Creds c;
    c.username = "alice";
    c.nonce = NonceFor(auth_);
    c.key = Hex(kAliceMd5);
    return c;
  }
  AuthResult Run(const Creds& c, const stun::SocketAddress& from = kClient,
                 absl::Time now = kT0 + absl::Seconds(1)) {
    Request req(c);
    return auth_.Authenticate(req.view(), from, now);
  }
};

// ---- The decision table, row by row ----

TEST_F(AuthTest, Md5RequestIsAccepted) {
  const AuthResult r = Run(Alice());
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.failure, AuthFailure::kNone);
  EXPECT_EQ(r.username, "alice");
  EXPECT_EQ(r.key.algorithm, PasswordAlgorithm::kMd5);
  EXPECT_EQ(KeyBytes(r.key), Hex(kAliceMd5));
  EXPECT_FALSE(r.used_sha256);
}

TEST_F(AuthTest, NoIntegrityIsChallenged) {
  Creds c = Alice();
  c.integrity = Integrity::kNone;
  EXPECT_EQ(Run(c).kind, Kind::kChallenge);
  // Even a bare request with nothing at all.
  Creds bare;
  bare.realm.reset();
  bare.integrity = Integrity::kNone;
  EXPECT_EQ(Run(bare).kind, Kind::kChallenge);
}

TEST_F(AuthTest, IntegrityWithoutUsernameIsBadRequest) {
  Creds c = Alice();
  c.username.reset();
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, IntegrityWithoutRealmIsBadRequest) {
  Creds c = Alice();
  c.realm.reset();
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, IntegrityWithoutNonceIsBadRequest) {
  Creds c = Alice();
  c.nonce.reset();
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, MalformedUsernameOrUserhashIsBadRequest) {
  Creds c = Alice();
  c.username_raw = std::vector<uint8_t>{'a', 0xff, 'b'};  // not UTF-8
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
  Creds h = Alice();
  h.username.reset();
  h.userhash = std::vector<uint8_t>(31, 0xab);  // RFC 8489 §14.4: exactly 32 bytes
  EXPECT_EQ(Run(h).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, WrongRealmIsUnauthorized) {
  Creds c = Alice();
  c.realm = "example.com";
  const AuthResult r = Run(c);
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "wrong_realm");
  EXPECT_EQ(r.failure, AuthFailure::kWrongRealm);
}

TEST_F(AuthTest, UnknownUserIsUnauthorized) {
  Creds c = Alice();
  c.username = "mallory";
  const AuthResult r = Run(c);
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "unknown_user");
  EXPECT_EQ(r.failure, AuthFailure::kUnknownUser);
}

TEST_F(AuthTest, WrongPasswordIsUnauthorized) {
  Creds c = Alice();
  c.key = Hex("00112233445566778899aabbccddeeff");
  const AuthResult r = Run(c);
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "bad_integrity");
  EXPECT_EQ(r.failure, AuthFailure::kBadIntegrity);
  // Another user's key for alice's name fails too.
  Creds other = Alice();
  other.username = "bob";
  EXPECT_EQ(Run(other).kind, Kind::kUnauthorized);
}

TEST_F(AuthTest, Sha256IntegrityWithMd5Key) {
  // MESSAGE-INTEGRITY-SHA256 is keyed with whatever key the password
  // algorithm gives; with no PASSWORD-ALGORITHM that is the MD5 key.
  Creds c = Alice();
  c.integrity = Integrity::kMi256;
  const AuthResult r = Run(c);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_TRUE(r.used_sha256);
  EXPECT_EQ(KeyBytes(r.key), Hex(kAliceMd5));
}

TEST_F(AuthTest, BothIntegritiesVerifiesSha256) {
  // RFC 8489 §9.2.4: with both present the SHA-256 one is checked.
  Creds good256 = Alice();
  good256.integrity = Integrity::kBoth;
  good256.mi_key = Hex("ffffffffffffffffffffffffffffffff");  // MESSAGE-INTEGRITY wrong
  const AuthResult r = Run(good256);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_TRUE(r.used_sha256);

  Creds bad256 = Alice();
  bad256.integrity = Integrity::kBoth;
  bad256.mi_key = bad256.key;  // MESSAGE-INTEGRITY right
  bad256.key = Hex("ffffffffffffffffffffffffffffffff");
  EXPECT_EQ(Run(bad256).kind, Kind::kUnauthorized);
}

// ---- RFC 5769 §2.4-style request ----

TEST(AuthRfc5769Test, LongTermRequestWithNonAsciiUsernameAndPassword) {
  // RFC 5769 §2.4 credentials; the key was computed with
  //   printf 'マトリックス:example.org:TheMatrIX' | md5sum
  // ("TheMatrIX" is the prepared form of the password, see stun/README.md).
  const std::string user = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9";
  AuthConfig config;
  config.realm = "example.org";
  config.users = {{user, "The\u00ADM\u00AAtr\u2168"}};
  const Authenticator auth = MakeAuth(config);
  Creds c;
  c.username = user;
  c.nonce = NonceFor(auth);
  c.key = Hex("e8ca7ad59d5eb0518e312911d2dab2a9");
  Request req(c);
  const AuthResult r = auth.Authenticate(req.view(), kClient, kT0);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.username, user);
  EXPECT_EQ(KeyBytes(r.key), c.key);
}

// ---- Nonces ----

TEST_F(AuthTest, NonceExpiresExactlyAtLifetime) {
  Creds c = Alice();  // nonce issued at kT0
  const absl::Duration lifetime = AuthConfig().nonce_lifetime;
  EXPECT_EQ(Run(c, kClient, kT0 + lifetime - absl::Nanoseconds(1)).kind, Kind::kOk);
  const AuthResult stale = Run(c, kClient, kT0 + lifetime);
  EXPECT_EQ(stale.kind, Kind::kStaleNonce);
  EXPECT_STREQ(stale.reason, "stale_nonce");
  EXPECT_EQ(stale.failure, AuthFailure::kStaleNonce);
}

TEST_F(AuthTest, ConfiguredNonceLifetimeIsUsed) {
  AuthConfig config = AliceConfig();
  config.nonce_lifetime = absl::Seconds(30);
  auth_ = MakeAuth(config);
  Creds c = Alice();
  EXPECT_EQ(Run(c, kClient, kT0 + absl::Seconds(29)).kind, Kind::kOk);
  EXPECT_EQ(Run(c, kClient, kT0 + absl::Seconds(30)).kind, Kind::kStaleNonce);
}

TEST_F(AuthTest, NonceFromTheFutureIsRefused) {
  // Only a clock gone backwards (or a shard far ahead) produces this; a few
  // seconds of skew between shards are tolerated.
  Creds c = Alice();
  c.nonce = NonceFor(auth_, kClient, kT0 + absl::Seconds(4));
  EXPECT_EQ(Run(c, kClient, kT0).kind, Kind::kOk);
  c.nonce = NonceFor(auth_, kClient, kT0 + absl::Seconds(6));
  EXPECT_EQ(Run(c, kClient, kT0).kind, Kind::kStaleNonce);
}

TEST_F(AuthTest, NonceFromAnotherPortIsStale) {
  Creds c = Alice();
  const stun::SocketAddress other_port = stun::SocketAddress::V4({192, 0, 2, 1}, 40001);
  const AuthResult r = Run(c, other_port);
  EXPECT_EQ(r.kind, Kind::kStaleNonce);
  EXPECT_STREQ(r.reason, "bad_nonce");
  EXPECT_EQ(r.failure, AuthFailure::kBadNonce);
}

TEST_F(AuthTest, NonceFromAnotherIpIsStale) {
  Creds c = Alice();
  EXPECT_EQ(Run(c, stun::SocketAddress::V4({192, 0, 2, 2}, 40000)).kind, Kind::kStaleNonce);
  // Same bytes, other family: ::c000:201 is not 192.0.2.1.
  std::array<uint8_t, 16> v6{};
  v6[0] = 192, v6[1] = 0, v6[2] = 2, v6[3] = 1;
  EXPECT_EQ(Run(c, stun::SocketAddress::V6(v6, 40000)).kind, Kind::kStaleNonce);
}

TEST_F(AuthTest, Ipv6ClientNonceRoundTrips) {
  std::array<uint8_t, 16> ip{};
  ip[0] = 0x20, ip[1] = 0x01, ip[2] = 0x0d, ip[3] = 0xb8, ip[15] = 1;
  const stun::SocketAddress v6 = stun::SocketAddress::V6(ip, 5000);
  Creds c = Alice();
  c.nonce = NonceFor(auth_, v6);
  EXPECT_EQ(Run(c, v6).kind, Kind::kOk);
  EXPECT_EQ(Run(c, kClient).kind, Kind::kStaleNonce);
}

TEST_F(AuthTest, TamperedNonceIsStale) {
  const std::string nonce = NonceFor(auth_);
  // Flip one character in each part: feature bits, time, MAC.
  for (size_t pos : {size_t{12}, size_t{16}, nonce.size() - 1}) {
    std::string bad = nonce;
    bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
    Creds c = Alice();
    c.nonce = bad;
    EXPECT_EQ(Run(c).kind, Kind::kStaleNonce) << "position " << pos;
  }
}

TEST_F(AuthTest, GarbledOrForeignNoncesAreStale) {
  const std::string good = NonceFor(auth_);
  const std::string cases[] = {
      "f//499k954d6OL34oL9FSTvy64sA",     // RFC 5769's nonce: not ours
      good.substr(0, good.size() - 1),     // truncated
      good + "A",                          // lengthened
      "obMatJos2wAAA" + std::string(32, '!'),  // right length, not base64
      "obMatJos2wAAA" + std::string(30, 'A') + "==",  // padded: decodes short
      "xxMatJos2" + good.substr(9),        // no cookie
  };
  for (const std::string& nonce : cases) {
    Creds c = Alice();
    c.nonce = nonce;
    EXPECT_EQ(Run(c).kind, Kind::kStaleNonce) << nonce;
  }
}

TEST_F(AuthTest, NonceNeedsTheSameSecret) {
  // Shards share the secret, so a nonce from one works on another; a server
  // with another secret cannot verify it.
  const Authenticator twin = MakeAuth(AliceConfig());
  Creds c = Alice();
  c.nonce = NonceFor(twin);
  EXPECT_EQ(Run(c).kind, Kind::kOk);

  std::array<uint8_t, 16> other_secret{};
  other_secret.fill(0x5a);
  absl::StatusOr<Authenticator> stranger = Authenticator::Create(AliceConfig(), other_secret);
  ASSERT_TRUE(stranger.ok());
  c.nonce = NonceFor(*stranger);
  EXPECT_EQ(Run(c).kind, Kind::kStaleNonce);
}

// ---- AddChallenge ----

TEST_F(AuthTest, ChallengeCarriesRealmNonceAndAlgorithms) {
  const Challenge ch = ReadChallenge(auth_, kClient, kT0);
  EXPECT_EQ(ch.realm, kRealm);
  // RFC 8489 §9.2: cookie + features; §14.10: fewer than 128 characters.
  EXPECT_TRUE(ch.nonce.starts_with("obMatJos2"));
  EXPECT_LT(ch.nonce.size(), 128u);
  const std::optional<uint32_t> features = stun::ParseNonceCookie(ch.nonce);
  ASSERT_TRUE(features.has_value());
  EXPECT_EQ(*features, stun::kFeaturePasswordAlgorithms | stun::kFeatureUsernameAnonymity);
  // "obMatJos2" + base64 of 0xC00000 is "wAAA".
  EXPECT_EQ(ch.nonce.substr(9, 4), "wAAA");
  ASSERT_TRUE(ch.password_algorithms.has_value());
  EXPECT_EQ(*ch.password_algorithms, kOffered);
}

TEST_F(AuthTest, ChallengeNoncesDifferByClientAndTime) {
  const std::string a = NonceFor(auth_, kClient, kT0);
  EXPECT_EQ(a, NonceFor(auth_, kClient, kT0));  // stateless: same inputs, same nonce
  EXPECT_NE(a, NonceFor(auth_, stun::SocketAddress::V4({192, 0, 2, 1}, 40001), kT0));
  EXPECT_NE(a, NonceFor(auth_, kClient, kT0 + absl::Nanoseconds(1)));
}

TEST(AuthChallengeTest, Md5KeyUsersGetNoSecurityFeatures) {
  // A user given as an MD5 key has no SHA-256 key: no PASSWORD-ALGORITHMS.
  AuthConfig config;
  config.realm = std::string(kRealm);
  config.users = {{"alice", "0x543e1aec5d3614f03141652d6ada51b2"}};
  const Authenticator auth = MakeAuth(config);
  const Challenge ch = ReadChallenge(auth, kClient, kT0);
  EXPECT_EQ(stun::ParseNonceCookie(ch.nonce), 0u);
  EXPECT_FALSE(ch.password_algorithms.has_value());
  // And the key itself works for MD5 requests.
  Creds c;
  c.username = "alice";
  c.nonce = ch.nonce;
  c.key = Hex(kAliceMd5);
  Request req(c);
  const AuthResult r = auth.Authenticate(req.view(), kClient, kT0);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(KeyBytes(r.key), Hex(kAliceMd5));
}

// ---- PASSWORD-ALGORITHMS negotiation (RFC 8489 §9.2.4, §9.2.5) ----

TEST_F(AuthTest, Sha256FlowWithPasswordAlgorithms) {
  Creds c = Alice();
  c.password_algorithms = kOffered;
  c.password_algorithm = AlgorithmList({0x0002});
  c.key = Hex(kAliceSha256);
  c.integrity = Integrity::kMi256;
  const AuthResult r = Run(c);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.key.algorithm, PasswordAlgorithm::kSha256);
  EXPECT_EQ(KeyBytes(r.key), Hex(kAliceSha256));
  EXPECT_TRUE(r.used_sha256);
}

TEST_F(AuthTest, ExplicitMd5ChoiceIsAccepted) {
  Creds c = Alice();
  c.password_algorithms = kOffered;
  c.password_algorithm = AlgorithmList({0x0001});
  const AuthResult r = Run(c);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.key.algorithm, PasswordAlgorithm::kMd5);
}

TEST_F(AuthTest, NeitherAlgorithmAttributeMeansMd5) {
  // The nonce has the bit, the client ignores it: processed as MD5.
  Creds c = Alice();
  ASSERT_NE(*stun::ParseNonceCookie(*c.nonce) & stun::kFeaturePasswordAlgorithms, 0u);
  const AuthResult r = Run(c);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.key.algorithm, PasswordAlgorithm::kMd5);
  // ...so a SHA-256 key does not verify.
  c.key = Hex(kAliceSha256);
  EXPECT_EQ(Run(c).kind, Kind::kUnauthorized);
}

TEST_F(AuthTest, AlgorithmWithoutListIsBadRequest) {
  Creds c = Alice();
  c.password_algorithm = AlgorithmList({0x0002});
  c.key = Hex(kAliceSha256);
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, ListWithoutAlgorithmIsBadRequest) {
  Creds c = Alice();
  c.password_algorithms = kOffered;
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, AlteredListIsBadRequest) {
  // §9.2.5 downgrade protection: the list must be exactly what we sent.
  for (const std::vector<uint8_t>& list :
       {AlgorithmList({0x0001}), AlgorithmList({0x0001, 0x0002}),
        AlgorithmList({0x0002, 0x0001, 0x0001})}) {
    Creds c = Alice();
    c.password_algorithms = list;
    c.password_algorithm = AlgorithmList({0x0001});
    const AuthResult r = Run(c);
    EXPECT_EQ(r.kind, Kind::kBadRequest);
    EXPECT_STREQ(r.reason, "password_algorithms_mismatch");
    EXPECT_EQ(r.failure, AuthFailure::kBadPasswordAlgorithm);
  }
}

TEST_F(AuthTest, AlgorithmNotInListIsBadRequest) {
  Creds c = Alice();
  c.password_algorithms = kOffered;
  c.password_algorithm = AlgorithmList({0x0003});
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
  // MD5 with parameters is not the MD5 we offered.
  c.password_algorithm = std::vector<uint8_t>{0x00, 0x01, 0x00, 0x04, 1, 2, 3, 4};
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

TEST_F(AuthTest, MalformedAlgorithmAttributeIsBadRequest) {
  Creds c = Alice();
  c.password_algorithms = kOffered;
  c.password_algorithm = std::vector<uint8_t>{0x00, 0x02};  // too short
  EXPECT_EQ(Run(c).kind, Kind::kBadRequest);
}

// ---- USERHASH (RFC 8489 §14.4) ----

TEST_F(AuthTest, UserhashFlow) {
  Creds c = Alice();
  c.username.reset();
  c.userhash = Hex(kAliceUserhash);
  c.password_algorithms = kOffered;
  c.password_algorithm = AlgorithmList({0x0002});
  c.key = Hex(kAliceSha256);
  c.integrity = Integrity::kMi256;
  const AuthResult r = Run(c);
  ASSERT_EQ(r.kind, Kind::kOk) << r.reason;
  EXPECT_EQ(r.username, "alice");
  EXPECT_EQ(KeyBytes(r.key), Hex(kAliceSha256));
}

TEST_F(AuthTest, UnknownUserhashIsUnauthorized) {
  Creds c = Alice();
  c.username.reset();
  c.userhash = std::vector<uint8_t>(32, 0x42);
  const AuthResult r = Run(c);
  EXPECT_EQ(r.kind, Kind::kUnauthorized);
  EXPECT_STREQ(r.reason, "unknown_user");
  EXPECT_EQ(r.failure, AuthFailure::kUnknownUser);
}

// ---- Sign ----

TEST_F(AuthTest, SignUsesTheRequestsIntegrityAttribute) {
  for (const bool sha256 : {false, true}) {
    Creds c = Alice();
    c.integrity = sha256 ? Integrity::kMi256 : Integrity::kMi;
    Request req(c);
    const AuthResult r = auth_.Authenticate(req.view(), kClient, kT0);
    ASSERT_EQ(r.kind, Kind::kOk) << r.reason;

    std::array<uint8_t, 512> buf{};
    stun::MessageBuilder b = stun::MessageBuilder::ResponseTo(
        req.view(), stun::MessageClass::kSuccessResponse, buf);
    Authenticator::Sign(b, r);
    b.AddFingerprint();
    ASSERT_TRUE(b.ok());
    stun::MessageView m;
    ASSERT_EQ(stun::MessageView::Parse(b.bytes(), &m), stun::ParseError::kNone);
    const std::vector<uint8_t> key = Hex(kAliceMd5);
    if (sha256) {
      EXPECT_FALSE(m.Has(stun::attr::kMessageIntegrity));
      EXPECT_EQ(stun::VerifyMessageIntegritySha256(m, key), stun::IntegrityCheck::kOk);
    } else {
      EXPECT_FALSE(m.Has(stun::attr::kMessageIntegritySha256));
      EXPECT_EQ(stun::VerifyMessageIntegrity(m, key), stun::IntegrityCheck::kOk);
    }
  }
}

}  // namespace
}  // namespace uturn::turn
