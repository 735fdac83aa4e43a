#include "loadtest/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

namespace uturn::loadtest {
namespace {

absl::StatusOr<Options> Parse(std::vector<std::string_view> args) { return ParseOptions(args); }

std::string ErrorOf(std::vector<std::string_view> args) {
  auto o = Parse(std::move(args));
  EXPECT_FALSE(o.ok());
  return o.ok() ? "" : std::string(o.status().message());
}

TEST(Options, DefaultsWithUser) {
  auto o = Parse({"--user", "u:p:x"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->user, "u");
  EXPECT_EQ(o->password, "p:x");  // only the first colon separates
  EXPECT_EQ(o->server.ToString(), "127.0.0.1:3478");
  EXPECT_EQ(o->allocations, 1u);
  EXPECT_EQ(o->payload, 172u);
  EXPECT_EQ(o->mode, DataMode::kChannel);
  EXPECT_FALSE(o->echo);
  EXPECT_EQ(o->io, IoBackend::kAuto);
}

TEST(Options, IoBackend) {
  EXPECT_EQ(Parse({"--no-auth", "--io", "uring"})->io, IoBackend::kUring);
  EXPECT_EQ(Parse({"--no-auth", "--io=epoll"})->io, IoBackend::kEpoll);
  EXPECT_EQ(Parse({"--no-auth", "--io", "epoll", "--io", "auto"})->io, IoBackend::kAuto);
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--io", "poll"}), "auto, uring or epoll"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--io"}), "needs a value"));
}

TEST(Options, EveryOptionBothSpellings) {
  auto o = Parse({"--server=[::1]:4000", "--secret", "s3", "--rest-name=bob", "--allocations",
                  "100", "--window=8", "--peer-sockets", "4", "--peer-ip=127.0.0.2", "--mode",
                  "send", "--payload=64", "--rate", "0", "--burst=32", "--duration", "1.5",
                  "--drain=0", "--echo", "--json", "--quiet", "--server-pid", "42"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->server.ToString(), "[::1]:4000");
  EXPECT_EQ(o->secret, "s3");
  EXPECT_EQ(o->rest_name, "bob");
  EXPECT_EQ(o->allocations, 100u);
  EXPECT_EQ(o->window, 8u);
  EXPECT_EQ(o->peer_sockets, 4u);
  EXPECT_EQ(o->peer_ip, "127.0.0.2");
  EXPECT_EQ(o->mode, DataMode::kSend);
  EXPECT_EQ(o->payload, 64u);
  EXPECT_EQ(o->rate, 0);
  EXPECT_EQ(o->burst, 32u);
  EXPECT_DOUBLE_EQ(o->duration_s, 1.5);
  EXPECT_EQ(o->drain_s, 0);
  EXPECT_TRUE(o->echo);
  EXPECT_TRUE(o->json);
  EXPECT_TRUE(o->quiet);
  EXPECT_EQ(o->server_pid, 42);
}

TEST(Options, NoAuthAndAllocOnly) {
  auto o = Parse({"--no-auth", "--alloc-only"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->no_auth);
  EXPECT_TRUE(o->alloc_only);
}

TEST(Options, HelpIsNotFoundWithUsage) {
  auto o = Parse({"--help"});
  ASSERT_EQ(o.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(o.status().message(), "--allocations"));
}

TEST(Options, ExactlyOneCredentialKind) {
  EXPECT_TRUE(absl::StrContains(ErrorOf({}), "exactly one"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--user", "u:p", "--secret", "s"}), "exactly one"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--user", "u:p", "--no-auth"}), "exactly one"));
}

TEST(Options, OnlyLoopbackTargets) {
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--server", "10.0.0.1:3478"}), "only 127"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--server", "[::2]:3478"}), "only 127"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--peer-ip", "192.168.1.1"}), "only 127"));
  EXPECT_TRUE(Parse({"--no-auth", "--server", "127.255.0.9:1"}).ok());
}

TEST(Options, IsLoopback) {
  EXPECT_TRUE(IsLoopback(stun::SocketAddress::V4({127, 0, 0, 1}, 1)));
  EXPECT_TRUE(IsLoopback(stun::SocketAddress::V4({127, 1, 2, 3}, 1)));
  EXPECT_FALSE(IsLoopback(stun::SocketAddress::V4({128, 0, 0, 1}, 1)));
  EXPECT_TRUE(IsLoopback(*stun::SocketAddress::ParseIp("::1", 0)));
  EXPECT_FALSE(IsLoopback(*stun::SocketAddress::ParseIp("::", 0)));
  EXPECT_FALSE(IsLoopback(*stun::SocketAddress::ParseIp("::ffff:127.0.0.1", 0)));
}

TEST(Options, BadValuesNameTheOption) {
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--server", "nope"}), "--server"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--user", "nocolon"}), "NAME:PASSWORD"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--user", ":p"}), "NAME:PASSWORD"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--secret="}), "empty"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--allocations", "0"}), "--allocations"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--allocations", "x"}), "whole number"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--payload", "23"}), "--payload"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--duration", "241"}), "--duration"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--duration", "inf"}), "not a number"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--rate", "-1"}), "--rate"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--drain", "31"}), "--drain"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--burst", "0"}), "--burst"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--window", "0"}), "--window"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--peer-sockets", "0"}), "--peer-sockets"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--server-pid", "0"}), "--server-pid"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--mode", "tcp"}), "channel or send"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--peer-ip", "x"}), "not an IP"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--echo=1"}), "takes no value"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--rate"}), "needs a value"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "--frobnicate", "1"}), "unknown option"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"--no-auth", "stray"}), "unexpected argument"));
}

TEST(Rest, UsernameIsExpiryColonName) {
  EXPECT_EQ(RestUsername(1700000000, "alice"), "1700000000:alice");
  EXPECT_EQ(RestUsername(5, ""), "5");
}

TEST(Rest, PasswordIsBase64HmacSha1) {
  // RFC 2202 §3 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?")
  // = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
  const std::string mac = absl::HexStringToBytes("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(RestPassword("Jefe", "what do ya want for nothing?"), absl::Base64Escape(mac));
  EXPECT_EQ(RestPassword("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
}

}  // namespace
}  // namespace uturn::loadtest
