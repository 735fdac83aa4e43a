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

}  // namespace
}  // namespace uturn::server
