#include "server/options.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uturn::server {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Config> Parse(std::vector<std::string_view> args) { return ParseOptions(args); }

std::string ErrorOf(std::vector<std::string_view> args) {
  auto r = Parse(std::move(args));
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : std::string(r.status().message());
}

class TempFile {
 public:
  explicit TempFile(std::string_view contents) {
    char tmpl[] = "/tmp/uturn_options_test_XXXXXX";
    const int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(OptionsTest, DefaultsMatchTheContract) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->listening_ips.size(), 1u);
  EXPECT_EQ(c->listening_ips[0].ToString(), "0.0.0.0:0");
  EXPECT_EQ(c->listening_port, 3478);
  EXPECT_FALSE(c->no_udp);
  EXPECT_FALSE(c->no_tcp);
  EXPECT_EQ(c->software_name, std::string("uturn/") + std::string(Version()));
  EXPECT_EQ(c->max_tcp_connections, 10000u);
  EXPECT_EQ(c->tcp_idle_timeout_seconds, 300u);
  EXPECT_FALSE(c->help);
  EXPECT_FALSE(c->version);
}

TEST(OptionsTest, EveryTypeParsesFromTheCommandLine) {
  auto c = Parse({"--listening-ip", "127.0.0.1", "--listening-port=0", "--no-udp",
                  "--software-name", "", "--max-tcp-connections", "5", "--tcp-idle-timeout=60"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listening_ips[0].ToString(), "127.0.0.1:0");
  EXPECT_EQ(c->listening_port, 0);
  EXPECT_TRUE(c->no_udp);
  EXPECT_EQ(c->software_name, "");
  EXPECT_EQ(c->max_tcp_connections, 5u);
  EXPECT_EQ(c->tcp_idle_timeout_seconds, 60u);
}

TEST(OptionsTest, RepeatableOptionCollectsValues) {
  auto c = Parse({"--listening-ip", "127.0.0.1", "--listening-ip", "::1"});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->listening_ips.size(), 2u);
  EXPECT_TRUE(c->listening_ips[0].is_v4());
  EXPECT_FALSE(c->listening_ips[1].is_v4());
}

TEST(OptionsTest, NonRepeatableOptionTwiceIsRefused) {
  EXPECT_THAT(ErrorOf({"--listening-port", "1", "--listening-port", "2"}),
              HasSubstr("--listening-port: given more than once"));
}

TEST(OptionsTest, BadValuesNameTheOption) {
  EXPECT_EQ(ErrorOf({"--listening-port", "abc"}),
            "--listening-port: \"abc\" is not a port number (0-65535)");
  EXPECT_THAT(ErrorOf({"--listening-port", "65536"}), HasSubstr("not a port number"));
  EXPECT_THAT(ErrorOf({"--listening-port", "-1"}), HasSubstr("--listening-port"));
  EXPECT_THAT(ErrorOf({"--listening-port", "+80"}), HasSubstr("--listening-port"));
  EXPECT_EQ(ErrorOf({"--listening-ip", "1.2.3"}),
            "--listening-ip: \"1.2.3\" is not an IPv4 or IPv6 address");
  EXPECT_EQ(ErrorOf({"--max-tcp-connections", "0"}),
            "--max-tcp-connections: \"0\" is not a whole number from 1 to 1000000");
  EXPECT_THAT(ErrorOf({"--tcp-idle-timeout", "1e3"}), HasSubstr("--tcp-idle-timeout"));
  EXPECT_EQ(ErrorOf({"--no-udp=maybe"}),
            "--no-udp: \"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)");
  EXPECT_THAT(ErrorOf({"--software-name", std::string(128, 'x')}),
              HasSubstr("--software-name: "));
  EXPECT_EQ(ErrorOf({"--config="}), "--config: \"\" is not a file name");
}

TEST(OptionsTest, MissingValueIsRefused) {
  EXPECT_EQ(ErrorOf({"--listening-port"}), "--listening-port: needs a value (PORT)");
}

TEST(OptionsTest, UnknownOptionsAndStrayArgumentsAreRefused) {
  EXPECT_EQ(ErrorOf({"--bogus"}), "--bogus: unknown option");
  EXPECT_EQ(ErrorOf({"--bogus=1"}), "--bogus: unknown option");
  EXPECT_EQ(ErrorOf({"-z"}), "-z: unknown option");
  EXPECT_EQ(ErrorOf({"stray"}), "\"stray\": unexpected argument");
}

TEST(OptionsTest, NoUdpAndNoTcpTogetherIsRefused) {
  EXPECT_THAT(ErrorOf({"--no-udp", "--no-tcp"}), HasSubstr("nothing left to listen on"));
}

TEST(OptionsTest, UdpDataPathOptions) {
  auto c = Parse({"--udp-receive-buffers", "64", "--no-udp-gso"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->udp_receive_buffers, 64u);
  EXPECT_TRUE(c->no_udp_gso);
  auto d = Parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->udp_receive_buffers, 4096u);
  EXPECT_FALSE(d->no_udp_gso);
  EXPECT_EQ(ErrorOf({"--udp-receive-buffers", "100"}),
            "--udp-receive-buffers 100: must be a power of two");
  EXPECT_THAT(ErrorOf({"--udp-receive-buffers", "65536"}), HasSubstr("--udp-receive-buffers"));
  EXPECT_THAT(ErrorOf({"--udp-receive-buffers", "0"}), HasSubstr("--udp-receive-buffers"));
}

TEST(OptionsTest, FlagsTakeExplicitBooleans) {
  auto c = Parse({"--no-udp=false", "--no-tcp=yes"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->no_udp);
  EXPECT_TRUE(c->no_tcp);
}

TEST(OptionsTest, HelpAndVersionSkipValidation) {
  auto h = Parse({"--listening-port", "abc", "-h"});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->help);
  auto v = Parse({"--version", "--no-udp", "--no-tcp"});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->version);
}

TEST(OptionsTest, ConfigFileIsReadAndCommandLineOverridesIt) {
  TempFile f(
      "# uturn test config\n"
      "listening-port = 4000\n"
      "listening-ip = 127.0.0.1\n"
      "listening-ip = 127.0.0.2\n"
      "no-tcp\n"
      "tcp-idle-timeout = 42\n");
  auto from_file = Parse({"-c", f.path()});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->listening_port, 4000);
  EXPECT_EQ(from_file->listening_ips.size(), 2u);
  EXPECT_TRUE(from_file->no_tcp);
  EXPECT_EQ(from_file->tcp_idle_timeout_seconds, 42u);
  EXPECT_EQ(from_file->config_file, f.path());

  // Order does not matter: the command line wins, and a repeatable option
  // given there replaces the file's values.
  auto both = Parse({"--listening-port", "5000", "--config", f.path(), "--listening-ip", "::1",
                     "--no-tcp=false"});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->listening_port, 5000);
  ASSERT_EQ(both->listening_ips.size(), 1u);
  EXPECT_FALSE(both->listening_ips[0].is_v4());
  EXPECT_FALSE(both->no_tcp);
  EXPECT_EQ(both->tcp_idle_timeout_seconds, 42u);  // only in the file
}

TEST(OptionsTest, ConfigFileErrorsCarryFileAndLine) {
  TempFile bad_value("\nlistening-port = abc\n");
  EXPECT_EQ(ErrorOf({"-c", bad_value.path()}),
            bad_value.path() + ":2: --listening-port: \"abc\" is not a port number (0-65535)");
  TempFile unknown("# c\nno-udp\nfrobnicate = 1\n");
  EXPECT_EQ(ErrorOf({"-c" + unknown.path()}),
            unknown.path() + ":3: --frobnicate: unknown option");
  TempFile cli_only("version\n");
  EXPECT_THAT(ErrorOf({"-c", cli_only.path()}), HasSubstr(":1: --version: only allowed"));
  TempFile twice("listening-port = 1\nlistening-port = 2\n");
  EXPECT_THAT(ErrorOf({"-c", twice.path()}), HasSubstr(":2: --listening-port: given more"));
  TempFile missing_value("listening-port\n");
  EXPECT_THAT(ErrorOf({"-c", missing_value.path()}),
              HasSubstr(":1: --listening-port: needs a value"));
  TempFile syntax("listening port = 1\n");
  EXPECT_THAT(ErrorOf({"-c", syntax.path()}), HasSubstr(":1: expected"));
  EXPECT_THAT(ErrorOf({"-c", "/nonexistent/x.conf"}), HasSubstr("/nonexistent/x.conf"));
}

TEST(OptionsTest, TableIsConsistent) {
  std::set<std::string_view> names;
  std::set<char> shorts;
  for (const OptionSpec& s : OptionTable()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    if (s.short_name != '\0') {
      EXPECT_TRUE(shorts.insert(s.short_name).second) << s.name;
    }
    EXPECT_FALSE(s.help.empty()) << s.name;
    EXPECT_NE(s.store, nullptr) << s.name;
    EXPECT_EQ(FindOption(s.name), &s);
    if (s.type != OptionType::kFlag) {
      EXPECT_FALSE(s.value_name.empty()) << s.name;
    }
  }
  EXPECT_EQ(FindOption("nope"), nullptr);
}

TEST(OptionsTest, HelpListsEveryOption) {
  const std::string help = HelpText();
  for (const OptionSpec& s : OptionTable()) {
    EXPECT_THAT(help, HasSubstr("--" + std::string(s.name))) << s.name;
  }
  EXPECT_THAT(help, HasSubstr("-c, --config FILE"));
  EXPECT_THAT(help, HasSubstr("Default: 3478"));
  EXPECT_THAT(help, HasSubstr("Repeatable"));
}

TEST(OptionsTest, TurnDefaultsMatchTheContract) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->realm, "uturn");
  EXPECT_TRUE(c->users.empty());
  EXPECT_FALSE(c->use_auth_secret);
  EXPECT_TRUE(c->static_auth_secrets.empty());
  EXPECT_FALSE(c->no_auth);
  EXPECT_TRUE(c->relay_ips.empty());
  EXPECT_TRUE(c->external_ips.empty());
  EXPECT_EQ(c->min_port, 49152);
  EXPECT_EQ(c->max_port, 65535);
  EXPECT_TRUE(c->allowed_peer_ips.empty());
  EXPECT_TRUE(c->denied_peer_ips.empty());
  EXPECT_FALSE(c->allow_loopback_peers);
  EXPECT_FALSE(c->allow_rfc5766_channel_numbers);
  EXPECT_EQ(c->user_quota, 0u);
  EXPECT_EQ(c->total_quota, 0u);
  EXPECT_EQ(c->max_bps, 0u);
  EXPECT_EQ(c->max_allocate_lifetime_seconds, 3600u);
  EXPECT_EQ(c->permission_lifetime_seconds, 300u);
  EXPECT_EQ(c->channel_lifetime_seconds, 600u);
  EXPECT_EQ(c->stale_nonce_seconds, 600u);
}

TEST(OptionsTest, TurnOptionsParse) {
  auto c = Parse({"--realm", "example.org", "--user", "alice:pw1", "-u", "bob:pw:2",
                  "--relay-ip", "192.0.2.1", "--relay-ip", "2001:db8::1", "--external-ip",
                  "203.0.113.5/192.0.2.1", "--min-port", "40000", "--max-port=40010",
                  "--allowed-peer-ip", "10.1.0.0/16", "--denied-peer-ip", "8.8.8.8-8.8.8.9",
                  "--allow-loopback-peers", "--allow-rfc5766-channel-numbers",
                  "--user-quota", "3", "--total-quota", "100",
                  "--max-bps", "64000", "--max-allocate-lifetime", "1200",
                  "--permission-lifetime", "120", "--channel-lifetime", "240",
                  "--stale-nonce", "60"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->realm, "example.org");
  ASSERT_EQ(c->users.size(), 2u);
  EXPECT_EQ(c->users[0], std::make_pair(std::string("alice"), std::string("pw1")));
  EXPECT_EQ(c->users[1].first, "bob");  // the password may contain ':'
  EXPECT_EQ(c->users[1].second, "pw:2");
  ASSERT_EQ(c->relay_ips.size(), 2u);
  EXPECT_EQ(c->relay_ips[0].IpString(), "192.0.2.1");
  EXPECT_EQ(c->relay_ips[1].IpString(), "2001:db8::1");
  ASSERT_EQ(c->external_ips.size(), 1u);
  EXPECT_EQ(c->external_ips[0].public_ip.IpString(), "203.0.113.5");
  ASSERT_TRUE(c->external_ips[0].private_ip.has_value());
  EXPECT_EQ(c->external_ips[0].private_ip->IpString(), "192.0.2.1");
  EXPECT_EQ(c->min_port, 40000);
  EXPECT_EQ(c->max_port, 40010);
  ASSERT_EQ(c->allowed_peer_ips.size(), 1u);
  EXPECT_TRUE(c->allowed_peer_ips[0].Contains(*stun::SocketAddress::ParseIp("10.1.200.3", 0)));
  EXPECT_FALSE(c->allowed_peer_ips[0].Contains(*stun::SocketAddress::ParseIp("10.2.0.1", 0)));
  ASSERT_EQ(c->denied_peer_ips.size(), 1u);
  EXPECT_TRUE(c->denied_peer_ips[0].Contains(*stun::SocketAddress::ParseIp("8.8.8.9", 0)));
  EXPECT_FALSE(c->denied_peer_ips[0].Contains(*stun::SocketAddress::ParseIp("8.8.8.10", 0)));
  EXPECT_TRUE(c->allow_loopback_peers);
  EXPECT_TRUE(c->allow_rfc5766_channel_numbers);
  EXPECT_EQ(c->user_quota, 3u);
  EXPECT_EQ(c->total_quota, 100u);
  EXPECT_EQ(c->max_bps, 64000u);
  EXPECT_EQ(c->max_allocate_lifetime_seconds, 1200u);
  EXPECT_EQ(c->permission_lifetime_seconds, 120u);
  EXPECT_EQ(c->channel_lifetime_seconds, 240u);
  EXPECT_EQ(c->stale_nonce_seconds, 60u);
}

TEST(OptionsTest, StaticAuthSecretImpliesUseAuthSecretAndRepeats) {
  auto c = Parse({"--static-auth-secret", "one", "--static-auth-secret", "two"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->use_auth_secret);
  EXPECT_EQ(c->static_auth_secrets, (std::vector<std::string>{"one", "two"}));
}

TEST(OptionsTest, TurnOptionsComeFromTheConfigFile) {
  TempFile f(
      "realm = corp\n"
      "user = carol:secret#1\n"
      "use-auth-secret\n"
      "static-auth-secret = \"s e c\"\n"
      "min-port = 50000\n"
      "max-port = 50001\n"
      "external-ip = 198.51.100.7\n");
  auto c = Parse({"-c", f.path()});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->realm, "corp");
  ASSERT_EQ(c->users.size(), 1u);
  EXPECT_EQ(c->users[0].second, "secret#1");
  EXPECT_TRUE(c->use_auth_secret);
  EXPECT_EQ(c->static_auth_secrets, (std::vector<std::string>{"s e c"}));
  EXPECT_EQ(c->min_port, 50000);
  EXPECT_EQ(c->max_port, 50001);
  ASSERT_EQ(c->external_ips.size(), 1u);
  EXPECT_FALSE(c->external_ips[0].private_ip.has_value());
}

TEST(OptionsTest, TurnOptionErrorsNameTheOption) {
  EXPECT_THAT(ErrorOf({"--realm", ""}), HasSubstr("--realm: must not be empty"));
  EXPECT_THAT(ErrorOf({"--realm", std::string(128, 'r')}),
              HasSubstr("--realm: must be 1 to 127 characters"));
  EXPECT_THAT(ErrorOf({"--realm", "\xff\xfe"}), HasSubstr("--realm: must be 1 to 127"));
  EXPECT_TRUE(Parse({"--realm", std::string(127, 'r')}).ok());
  EXPECT_THAT(ErrorOf({"--user", "nocolon"}), HasSubstr("--user:"));
  EXPECT_THAT(ErrorOf({"--user", ":pw"}), HasSubstr("--user:"));
  EXPECT_THAT(ErrorOf({"--min-port", "0"}), HasSubstr("--min-port: \"0\" is not a whole number"));
  EXPECT_THAT(ErrorOf({"--max-port", "65536"}), HasSubstr("--max-port:"));
  EXPECT_THAT(ErrorOf({"--min-port", "60000", "--max-port", "50000"}),
              HasSubstr("--min-port, --max-port: 60000 is above 50000"));
  EXPECT_THAT(ErrorOf({"--allowed-peer-ip", "10.0.0.0/33"}),
              HasSubstr("--allowed-peer-ip: \"10.0.0.0/33\" is not an address range"));
  EXPECT_THAT(ErrorOf({"--denied-peer-ip", "banana"}), HasSubstr("--denied-peer-ip:"));
  EXPECT_THAT(ErrorOf({"--relay-ip", "example.com"}),
              HasSubstr("--relay-ip: \"example.com\" is not an IPv4 or IPv6 address"));
  EXPECT_THAT(ErrorOf({"--relay-ip", "0.0.0.0"}),
              HasSubstr("--relay-ip: 0.0.0.0 is not a specific address"));
  EXPECT_THAT(ErrorOf({"--relay-ip", "192.0.2.1", "--relay-ip", "192.0.2.2"}),
              HasSubstr("--relay-ip: at most one IPv4 and one IPv6"));
  EXPECT_THAT(ErrorOf({"--external-ip", "1.2.3"}), HasSubstr("--external-ip: \"1.2.3\""));
  EXPECT_THAT(ErrorOf({"--external-ip", "1.2.3.4/"}), HasSubstr("--external-ip:"));
  EXPECT_THAT(ErrorOf({"--external-ip", "1.2.3.4/::1"}), HasSubstr("mixes IPv4 and IPv6"));
  EXPECT_THAT(ErrorOf({"--external-ip", "0.0.0.0"}), HasSubstr("not a specific address"));
  EXPECT_THAT(ErrorOf({"--external-ip", "1.2.3.4", "--external-ip", "1.2.3.5"}),
              HasSubstr("--external-ip: at most one plain address per family"));
  EXPECT_THAT(ErrorOf({"--use-auth-secret"}),
              HasSubstr("--use-auth-secret: needs at least one --static-auth-secret"));
  EXPECT_THAT(ErrorOf({"--static-auth-secret", ""}), HasSubstr("--static-auth-secret: is empty"));
  EXPECT_THAT(ErrorOf({"--no-auth", "--user", "a:b"}), HasSubstr("--no-auth: contradicts"));
  EXPECT_THAT(ErrorOf({"--no-auth", "--static-auth-secret", "x"}),
              HasSubstr("--no-auth: contradicts"));
  EXPECT_THAT(ErrorOf({"--user-quota", "-1"}), HasSubstr("--user-quota:"));
  EXPECT_THAT(ErrorOf({"--max-allocate-lifetime", "59"}), HasSubstr("--max-allocate-lifetime:"));
  EXPECT_THAT(ErrorOf({"--permission-lifetime", "3601"}), HasSubstr("--permission-lifetime:"));
  EXPECT_THAT(ErrorOf({"--channel-lifetime", "x"}), HasSubstr("--channel-lifetime:"));
  EXPECT_THAT(ErrorOf({"--stale-nonce", "29"}), HasSubstr("--stale-nonce:"));
}

TEST(OptionsTest, UserErrorDoesNotEchoThePassword) {
  // A malformed spec may still hold a secret: the message names the option only.
  const std::string error = ErrorOf({"--user", "hunter2-no-colon"});
  EXPECT_THAT(error, HasSubstr("--user:"));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace uturn::server

namespace uturn::server {
namespace {

TEST(OptionsIoBackendTest, DefaultsToAuto) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->io_backend, IoBackend::kAuto);
}

TEST(OptionsIoBackendTest, EachBackendParses) {
  const std::pair<std::string_view, IoBackend> cases[] = {
      {"--io-backend=auto", IoBackend::kAuto},
      {"--io-backend=uring", IoBackend::kUring},
      {"--io-backend=io_uring", IoBackend::kUring},
      {"--io-backend=epoll", IoBackend::kEpoll},
  };
  for (const auto& [arg, want] : cases) {
    auto c = Parse({arg});
    ASSERT_TRUE(c.ok()) << arg << ": " << c.status();
    EXPECT_EQ(c->io_backend, want) << arg;
  }
  auto separate = Parse({"--io-backend", "epoll"});
  ASSERT_TRUE(separate.ok()) << separate.status();
  EXPECT_EQ(separate->io_backend, IoBackend::kEpoll);
}

TEST(OptionsIoBackendTest, BadValuesAreRefusedByName) {
  EXPECT_EQ(ErrorOf({"--io-backend=kqueue"}),
            "--io-backend: \"kqueue\" is not auto, uring or epoll");
  EXPECT_EQ(ErrorOf({"--io-backend="}), "--io-backend: \"\" is not auto, uring or epoll");
  EXPECT_THAT(ErrorOf({"--io-backend=EPOLL"}), HasSubstr("is not auto, uring or epoll"));
  EXPECT_EQ(ErrorOf({"--io-backend"}), "--io-backend: needs a value (auto|uring|epoll)");
  EXPECT_EQ(ErrorOf({"--io-backend=epoll", "--io-backend=uring"}),
            "--io-backend: given more than once");
}

TEST(OptionsIoBackendTest, ComesFromTheConfigFileAndTheCommandLineWins) {
  TempFile file("io-backend = epoll\n");
  auto from_file = Parse({"-c", file.path()});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->io_backend, IoBackend::kEpoll);
  auto overridden = Parse({"-c", file.path(), "--io-backend=uring"});
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->io_backend, IoBackend::kUring);
  TempFile bad("io-backend = select\n");
  EXPECT_THAT(ErrorOf({"-c", bad.path()}),
              HasSubstr(":1: --io-backend: \"select\" is not auto, uring or epoll"));
}

TEST(OptionsIoBackendTest, NamesAreTheExportedLabels) {
  EXPECT_STREQ(IoBackendName(IoBackend::kUring), "io_uring");
  EXPECT_STREQ(IoBackendName(IoBackend::kEpoll), "epoll");
  EXPECT_STREQ(IoBackendName(IoBackend::kAuto), "auto");
  EXPECT_THAT(HelpText(), HasSubstr("--io-backend auto|uring|epoll"));
}

}  // namespace
}  // namespace uturn::server
