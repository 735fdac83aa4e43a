#include "server/turn_config.h"

#include <array>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uturn::server {
namespace {

using ::testing::HasSubstr;

Config ParseOk(std::vector<std::string_view> args) {
  absl::StatusOr<Config> c = ParseOptions(args);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : Config{};
}

stun::SocketAddress Ip(std::string_view text) { return *stun::SocketAddress::ParseIp(text, 0); }

constexpr std::array<uint8_t, 32> kRandom = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

TEST(RestCredentialTest, MatchesIndependentlyComputedHmac) {
  // Expected values from `printf %s USER | openssl dgst -sha1 -hmac SECRET -binary | base64`.
  auto [user, password] = RestCredential("s3cret", 1700000000, "alice");
  EXPECT_EQ(user, "1700000000:alice");
  EXPECT_EQ(password, "TtElzSjT0GdnTQ9xdcRNxx96yQs=");
  auto [bare_user, bare_password] = RestCredential("s3cret", 1700000000, "");
  EXPECT_EQ(bare_user, "1700000000");
  EXPECT_EQ(bare_password, "q+w4xPTJUDdpERozKOlEBw5B9Pg=");
}

TEST(TurnSetupTest, EmbeddedDefaultGeneratesASecretAndAWorkingExample) {
  const Config c = ParseOk({});
  EXPECT_TRUE(NeedsGeneratedSecret(c));
  absl::StatusOr<TurnSetup> s = BuildTurnSetup(c, std::nullopt, kRandom, 0);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->generated.has_value());
  EXPECT_EQ(s->generated->secret,
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  // Valid for 24 h from "now" (0 here); the password checked with openssl.
  EXPECT_EQ(s->generated->example_username, "86400:example");
  EXPECT_EQ(s->generated->example_password, "PGEkpbJG34c7ExfQdDoU7PtICRo=");
  EXPECT_EQ(s->turn.auth.rest_secrets, std::vector<std::string>{s->generated->secret});
  EXPECT_TRUE(s->turn.auth.users.empty());
  EXPECT_FALSE(s->turn.no_auth);
  // Secure peer policy by default.
  EXPECT_FALSE(s->turn.peer_policy.allow_loopback);
  EXPECT_TRUE(s->turn.peer_policy.allowed.empty());
}

TEST(TurnSetupTest, AnyAuthOptionDisablesTheGeneratedSecret) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"--user", "a:b"}, {"--static-auth-secret", "x"}, {"--no-auth"}}) {
    const Config c = ParseOk(args);
    EXPECT_FALSE(NeedsGeneratedSecret(c)) << args[0];
    absl::StatusOr<TurnSetup> s = BuildTurnSetup(c, std::nullopt, kRandom, 0);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_FALSE(s->generated.has_value()) << args[0];
  }
}

TEST(TurnSetupTest, OptionsMapOntoTheCoreConfig) {
  const Config c = ParseOk({"--realm", "r.example", "--user", "alice:pw", "--static-auth-secret",
                            "k1", "--static-auth-secret", "k2", "--allow-loopback-peers",
                            "--allowed-peer-ip", "10.0.0.0/8", "--denied-peer-ip", "1.1.1.1",
                            "--user-quota", "2", "--total-quota", "9", "--max-bps", "1000",
                            "--max-allocate-lifetime", "300", "--permission-lifetime", "100",
                            "--channel-lifetime", "200", "--stale-nonce", "50",
                            "--software-name", "sw", "--relay-ip", "::1",
                            "--allow-rfc5766-channel-numbers"});
  absl::StatusOr<TurnSetup> s = BuildTurnSetup(c, std::nullopt, kRandom, 0);
  ASSERT_TRUE(s.ok()) << s.status();
  const turn::TurnConfig& t = s->turn;
  EXPECT_EQ(t.auth.realm, "r.example");
  ASSERT_EQ(t.auth.users.size(), 1u);
  EXPECT_EQ(t.auth.users[0].first, "alice");
  EXPECT_EQ(t.auth.rest_secrets, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(t.auth.nonce_lifetime, absl::Seconds(50));
  EXPECT_TRUE(t.peer_policy.allow_loopback);
  EXPECT_EQ(t.peer_policy.allowed.size(), 1u);
  EXPECT_EQ(t.peer_policy.denied.size(), 1u);
  EXPECT_EQ(t.user_quota, 2u);
  EXPECT_EQ(t.total_quota, 9u);
  EXPECT_EQ(t.max_bps, 1000u);
  EXPECT_EQ(t.max_lifetime, absl::Seconds(300));
  // RFC 8656 §7.2: the 600 s default cannot exceed the configured maximum.
  EXPECT_EQ(t.default_lifetime, absl::Seconds(300));
  EXPECT_EQ(t.permission_lifetime, absl::Seconds(100));
  EXPECT_EQ(t.channel_lifetime, absl::Seconds(200));
  EXPECT_EQ(t.software, "sw");
  EXPECT_TRUE(t.allow_rfc5766_channel_numbers);
  EXPECT_FALSE(t.relay_ipv4);
  EXPECT_TRUE(t.relay_ipv6);
  EXPECT_EQ(s->min_port, 49152);
  EXPECT_EQ(s->max_port, 65535);
}

TEST(TurnSetupTest, DefaultLifetimeStays600UnderALargerMaximum) {
  absl::StatusOr<TurnSetup> s = BuildTurnSetup(ParseOk({}), std::nullopt, kRandom, 0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->turn.default_lifetime, absl::Seconds(600));
  EXPECT_EQ(s->turn.max_lifetime, absl::Seconds(3600));
}

TEST(TurnSetupTest, NoAuthIsPassedOn) {
  absl::StatusOr<TurnSetup> s = BuildTurnSetup(ParseOk({"--no-auth"}), std::nullopt, kRandom, 0);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->turn.no_auth);
  EXPECT_TRUE(s->turn.auth.rest_secrets.empty());
}

TEST(RelayAddressTest, ExplicitRelayIpsWin) {
  auto r = ChooseRelayAddresses(
      ParseOk({"--listening-ip", "192.0.2.9", "--relay-ip", "192.0.2.1", "--relay-ip", "::1"}),
      Ip("198.51.100.1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ipv4, Ip("192.0.2.1"));
  EXPECT_EQ(r->ipv6, Ip("::1"));
  EXPECT_EQ(r->advertised_ipv4, Ip("192.0.2.1"));
  EXPECT_EQ(r->advertised_ipv6, Ip("::1"));
}

TEST(RelayAddressTest, SingleSpecificListeningIpIsTheDefault) {
  auto r = ChooseRelayAddresses(ParseOk({"--listening-ip", "127.0.0.1"}), Ip("198.51.100.1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ipv4, Ip("127.0.0.1"));
  EXPECT_FALSE(r->ipv6.has_value());
  auto v6 = ChooseRelayAddresses(ParseOk({"--listening-ip", "::1"}), Ip("198.51.100.1"));
  ASSERT_TRUE(v6.ok());
  EXPECT_FALSE(v6->ipv4.has_value());
  EXPECT_EQ(v6->ipv6, Ip("::1"));
}

TEST(RelayAddressTest, WildcardOrSeveralListeningIpsUseTheHostAddress) {
  auto wildcard = ChooseRelayAddresses(ParseOk({}), Ip("198.51.100.1"));
  ASSERT_TRUE(wildcard.ok());
  EXPECT_EQ(wildcard->ipv4, Ip("198.51.100.1"));
  auto several = ChooseRelayAddresses(
      ParseOk({"--listening-ip", "127.0.0.1", "--listening-ip", "127.0.0.2"}), Ip("198.51.100.1"));
  ASSERT_TRUE(several.ok());
  EXPECT_EQ(several->ipv4, Ip("198.51.100.1"));
}

TEST(RelayAddressTest, NoHostAddressFallsBackToLoopback) {
  auto r = ChooseRelayAddresses(ParseOk({}), std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ipv4, Ip("127.0.0.1"));
}

TEST(RelayAddressTest, ExternalIpReplacesTheAdvertisedAddress) {
  auto plain = ChooseRelayAddresses(
      ParseOk({"--relay-ip", "10.0.0.5", "--external-ip", "203.0.113.5"}), std::nullopt);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->ipv4, Ip("10.0.0.5"));
  EXPECT_EQ(plain->advertised_ipv4, Ip("203.0.113.5"));

  auto pair = ChooseRelayAddresses(ParseOk({"--relay-ip", "10.0.0.5", "--relay-ip", "fd00::5",
                                            "--external-ip", "2001:db8::5/fd00::5"}),
                                   std::nullopt);
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->advertised_ipv4, Ip("10.0.0.5"));
  EXPECT_EQ(pair->advertised_ipv6, Ip("2001:db8::5"));
}

TEST(RelayAddressTest, ExternalIpErrorsNameTheOption) {
  auto wrong_private = ChooseRelayAddresses(
      ParseOk({"--relay-ip", "10.0.0.5", "--external-ip", "203.0.113.5/10.0.0.6"}), std::nullopt);
  ASSERT_FALSE(wrong_private.ok());
  EXPECT_THAT(std::string(wrong_private.status().message()),
              HasSubstr("--external-ip: 10.0.0.6 is not the relay address"));
  auto no_family = ChooseRelayAddresses(
      ParseOk({"--relay-ip", "10.0.0.5", "--external-ip", "2001:db8::1"}), std::nullopt);
  ASSERT_FALSE(no_family.ok());
  EXPECT_THAT(std::string(no_family.status().message()),
              HasSubstr("--external-ip: 2001:db8::1 has no relay address"));
  // BuildTurnSetup passes the error on.
  EXPECT_FALSE(BuildTurnSetup(ParseOk({"--relay-ip", "10.0.0.5", "--external-ip",
                                       "203.0.113.5/10.0.0.6"}),
                              std::nullopt, kRandom, 0)
                   .ok());
}

TEST(AuthReloadTest, GeneratedSecretOnlyWhileNoAuthOptionIsGiven) {
  const std::string generated = "gen";
  EXPECT_EQ(BuildAuthConfig(ParseOk({}), &generated).rest_secrets,
            std::vector<std::string>{"gen"});
  EXPECT_TRUE(BuildAuthConfig(ParseOk({}), nullptr).rest_secrets.empty());
  const turn::AuthConfig with_user = BuildAuthConfig(ParseOk({"--user", "u:p"}), &generated);
  EXPECT_TRUE(with_user.rest_secrets.empty());
  EXPECT_EQ(with_user.users.size(), 1u);
}

}  // namespace
}  // namespace uturn::server
