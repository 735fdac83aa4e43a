// The TCP connection options of issue 11: --max-allocate-timeout (coturn's
// name) and --max-tcp-connections-per-ip.
#include <gtest/gtest.h>

#include "server/options.h"

namespace uturn::server {
namespace {

TEST(TcpOptions, Defaults) {
  auto c = ParseOptions(std::vector<std::string_view>{});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_allocate_timeout_seconds, 60u);  // coturn and eturnal: 60 s
  EXPECT_EQ(c->max_tcp_connections_per_ip, 64u);
}

TEST(TcpOptions, ZeroTurnsEitherOff) {
  auto c = ParseOptions(std::vector<std::string_view>{"--max-allocate-timeout", "0",
                                                      "--max-tcp-connections-per-ip=0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_allocate_timeout_seconds, 0u);
  EXPECT_EQ(c->max_tcp_connections_per_ip, 0u);
}

TEST(TcpOptions, BadValuesNameTheOption) {
  auto c = ParseOptions(std::vector<std::string_view>{"--max-allocate-timeout", "soon"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--max-allocate-timeout"), std::string::npos)
      << c.status();
  auto d = ParseOptions(std::vector<std::string_view>{"--max-tcp-connections-per-ip", "-1"});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("--max-tcp-connections-per-ip"), std::string::npos)
      << d.status();
}

TEST(TcpOptions, InTheHelp) {
  const std::string help = HelpText();
  EXPECT_NE(help.find("--max-allocate-timeout"), std::string::npos);
  EXPECT_NE(help.find("--max-tcp-connections-per-ip"), std::string::npos);
}

}  // namespace
}  // namespace uturn::server
