// uturn-ice's command line (/work/shared/ICE-PEER.md §Command line).
#include "client/tools/ice_peer_options.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::client::peer {
namespace {

absl::StatusOr<PeerOptions> Parse(std::vector<std::string_view> args) { return ParsePeerOptions(args); }

TEST(IcePeerOptionsTest, DefaultsAreTheContractsDefaults) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->role, ice::Role::kControlling);
  EXPECT_EQ(o->nomination, NominationMode::kRegular);
  EXPECT_EQ(o->turn_transport, TurnTransport::kUdp);
  EXPECT_EQ(o->timeout, absl::Seconds(30));
  EXPECT_TRUE(o->bind.empty());
  EXPECT_FALSE(o->send.has_value());
  EXPECT_FALSE(o->echo);
  EXPECT_FALSE(o->relay_only);
  EXPECT_FALSE(o->restart_after.has_value());
  EXPECT_FALSE(o->http.has_value());
}

TEST(IcePeerOptionsTest, EveryFlag) {
  auto o = Parse({"--controlled", "--stun", "192.0.2.1:3478", "--stun", "[2001:db8::1]:3479",
                  "--turn", "198.51.100.2:3478", "--turn-user", "u", "--turn-pass", "p",
                  "--turn-transport", "udp", "--relay-only", "--bind", "127.0.0.1", "--bind", "::1",
                  "--nomination", "aggressive", "--send", "50", "--echo", "--restart-after", "1.5",
                  "--timeout", "7", "--verbose"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->role, ice::Role::kControlled);
  ASSERT_EQ(o->stun_servers.size(), 2u);
  EXPECT_EQ(o->stun_servers[0].ToString(), "192.0.2.1:3478");
  EXPECT_EQ(o->stun_servers[1].ToString(), "[2001:db8::1]:3479");
  ASSERT_EQ(o->turn_servers.size(), 1u);
  EXPECT_EQ(o->turn_servers[0].ToString(), "198.51.100.2:3478");
  EXPECT_EQ(o->turn_user, "u");
  EXPECT_EQ(o->turn_pass, "p");
  EXPECT_TRUE(o->relay_only);
  ASSERT_EQ(o->bind.size(), 2u);
  EXPECT_EQ(o->bind[0].ToString(), "127.0.0.1:0");
  EXPECT_EQ(o->bind[1].ToString(), "[::1]:0");
  EXPECT_EQ(o->nomination, NominationMode::kAggressive);
  EXPECT_EQ(o->send, 50);
  EXPECT_TRUE(o->echo);
  EXPECT_EQ(o->restart_after, absl::Milliseconds(1500));
  EXPECT_EQ(o->timeout, absl::Seconds(7));
  EXPECT_TRUE(o->verbose);
}

TEST(IcePeerOptionsTest, HttpModeIsControlled) {
  auto o = Parse({"--http", "127.0.0.1:0"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->role, ice::Role::kControlled);
  EXPECT_EQ(o->http->ToString(), "127.0.0.1:0");
  EXPECT_FALSE(Parse({"--http", "127.0.0.1:0", "--controlling"}).ok());
  EXPECT_TRUE(Parse({"--http", "[::1]:8080", "--controlled"}).ok());
}

TEST(IcePeerOptionsTest, TlsIsNotSupportedYet) {
  auto o = Parse({"--turn", "192.0.2.1:3478", "--turn-user", "u", "--turn-pass", "p",
                  "--turn-transport", "tls"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(std::string(o.status().message()).find("not supported yet"), std::string::npos);
}

TEST(IcePeerOptionsTest, TcpIsTheTurnTransport) {
  auto o = Parse({"--turn", "192.0.2.1:3478", "--turn-user", "u", "--turn-pass", "p",
                  "--turn-transport", "tcp"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->turn_transport, TurnTransport::kTcp);
}

TEST(IcePeerOptionsTest, UsageErrors) {
  const std::vector<std::vector<std::string_view>> bad = {
      {"--bogus"},
      {"positional"},
      {"--controlling", "--controlled"},
      {"--stun"},
      {"--stun", "192.0.2.1"},          // no port
      {"--stun", "192.0.2.1:0"},        // port 0 is no server
      {"--stun", "example.org:3478"},   // not an IP
      {"--stun", "192.0.2.1:70000"},
      {"--turn", "192.0.2.1:3478"},     // no credentials
      {"--turn", "192.0.2.1:3478", "--turn-user", "u"},
      {"--turn-user", "u", "--turn-pass", "p"},  // no --turn
      {"--turn", "192.0.2.1:3478", "--turn-user", "", "--turn-pass", "p"},
      {"--turn", "192.0.2.1:3478", "--turn-user", "u", "--turn-pass", "p", "--turn-transport", "sctp"},
      {"--relay-only"},                 // relayed candidates need a TURN server
      {"--bind", "192.0.2.1:5000"},     // an IP, not IP:PORT
      {"--bind", "localhost"},
      {"--nomination", "eager"},
      {"--send", "0"},
      {"--send", "-3"},
      {"--send", "12x"},
      {"--send", "2000000"},
      {"--send"},
      {"--restart-after", "0"},
      {"--restart-after", "abc"},
      {"--timeout", "-1"},
      {"--timeout", "nan"},
      {"--timeout", "inf"},
      {"--timeout"},
      {"--http", "127.0.0.1"},
      {"--http"},
  };
  for (const auto& args : bad) {
    auto o = Parse(args);
    std::string joined;
    for (std::string_view a : args) joined += std::string(a) + " ";
    ASSERT_FALSE(o.ok()) << joined;
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << joined;
    EXPECT_FALSE(o.status().message().empty()) << joined;
  }
}

}  // namespace
}  // namespace uturn::client::peer
