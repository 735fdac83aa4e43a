// The uturn-stunclient CLI against the real server, and its error paths.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "tests/integration/fixture.h"

namespace uturn::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Port(const stun::SocketAddress& a) { return std::to_string(a.port); }

class StunClientCliTest : public LoopbackServerTest {};

TEST_F(StunClientCliTest, UdpPrintsTheMappedAddress) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--no-fingerprint"}}) {
    std::vector<std::string> args = extra;
    args.insert(args.end(), {"127.0.0.1", Port(udp_)});
    const RunResult r = RunBinary(StunClientBinary(), args);
    EXPECT_EQ(r.exit_status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("mapped-address=127.0.0.1:", 0), 0u) << r.out;
  }
}

TEST_F(StunClientCliTest, TcpPrintsTheMappedAddress) {
  const RunResult r = RunBinary(StunClientBinary(), {"--tcp", "127.0.0.1", Port(tcp_)});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("mapped-address=127.0.0.1:", 0), 0u) << r.out;
}

TEST(StunClientCliErrors, SilentServerTimesOut) {
  Fd silent = UdpSocket();  // bound, never answers, so no ICMP either
  ASSERT_TRUE(silent.valid());
  const RunResult r = RunBinary(StunClientBinary(), {"--timeout-ms", "300", "127.0.0.1",
                                                     Port(LocalAddress(silent.get()))});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(Contains(r.err, "no response")) << r.err;
}

TEST(StunClientCliErrors, RefusedTcpConnectionIsReported) {
  // A TCP socket bound but not listening: connecting to its port is refused,
  // and nobody else can take the port while we hold it.
  Fd bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  const socklen_t len = stun::SocketAddress::V4({127, 0, 0, 1}, 0).ToSockaddr(&ss);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  const std::string port = Port(LocalAddress(bound.get()));
  const RunResult r = RunBinary(StunClientBinary(), {"--tcp", "--timeout-ms", "2000", "127.0.0.1", port});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_TRUE(Contains(r.err, "connect")) << r.err;
}

TEST(StunClientCliErrors, UnresolvableHostIsReported) {
  const RunResult r = RunBinary(StunClientBinary(), {"--timeout-ms", "2000", "no such host!", "3478"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_TRUE(Contains(r.err, "cannot resolve")) << r.err;
}

TEST(StunClientCliErrors, BadUsageExitsTwo) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{}, "HOST and PORT"},
      {{"127.0.0.1"}, "HOST and PORT"},
      {{"127.0.0.1", "http"}, "PORT"},
      {{"127.0.0.1", "0"}, "PORT"},
      {{"--frob", "127.0.0.1", "3478"}, "--frob"},
      {{"--timeout-ms", "abc", "127.0.0.1", "3478"}, "--timeout-ms"},
      {{"127.0.0.1", "3478", "--timeout-ms"}, "--timeout-ms"},
  };
  for (const auto& [args, named] : cases) {
    const RunResult r = RunBinary(StunClientBinary(), args);
    EXPECT_EQ(r.exit_status, 2) << named;
    EXPECT_TRUE(Contains(r.err, named)) << r.err;
  }
  const RunResult help = RunBinary(StunClientBinary(), {"--help"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_TRUE(Contains(help.out, "usage: uturn-stunclient")) << help.out;
}

}  // namespace
}  // namespace uturn::testing
