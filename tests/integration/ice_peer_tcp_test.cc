// uturn-ice with --turn-transport tcp (RFC 8656 §3.1) against the real uturn
// on loopback: two relay-only peers whose only way to the server is TCP (the
// server listens on TCP alone) gather UDP relayed candidates over their
// streams and exchange data through them; a TURN server whose TCP port
// refuses the connection is reported and the peers connect on host pairs.
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/ice_peer_process.h"
#include "tests/integration/server_process.h"

namespace uturn::testing {
namespace {

using std::chrono::seconds;

// Relay ports of this file's server (below the ephemeral range; no other test uses them).
constexpr const char* kMinPort = "26200";
constexpr const char* kMaxPort = "26299";

// sent/received of the event=data line; {-1, -1} when there is none.
std::pair<long, long> DataCounts(const PeerProcess& p) {
  const std::vector<std::string> d = p.Matching("event=data ");
  if (d.empty()) return {-1, -1};
  const std::string& l = d.back();
  const size_t s = l.find("sent="), r = l.find("received=");
  if (s == std::string::npos || r == std::string::npos) return {-2, -2};
  return {std::stol(l.substr(s + 5)), std::stol(l.substr(r + 9))};
}

// A sends 50, B echoes; A exits by itself, B on SIGTERM. Returns the dump.
std::string RunSendEcho(PeerPair& pair, const std::vector<std::string>& common) {
  std::string error;
  std::vector<std::string> a = {"--controlling", "--send", "50", "--timeout", "20"};
  std::vector<std::string> b = {"--controlled", "--echo", "--timeout", "20"};
  a.insert(a.end(), common.begin(), common.end());
  b.insert(b.end(), common.begin(), common.end());
  EXPECT_TRUE(pair.Start(a, b, &error)) << error;
  const std::optional<int> a_exit = pair.a.WaitExit(seconds(30));
  EXPECT_TRUE(pair.b.WaitForPrefix("event=connected", seconds(10))) << pair.Dump();
  pair.b.Signal(SIGTERM);
  const std::optional<int> b_exit = pair.b.WaitExit(seconds(10));
  const std::string dump = pair.Dump();
  EXPECT_EQ(a_exit, 0) << dump;
  EXPECT_EQ(b_exit, 0) << dump;
  return dump;
}

TEST(IcePeerTcpTest, RelayOnlyOverTcpThroughUturn) {
  ServerProcess server;
  std::string error;
  // --no-udp: a peer that fell back to UDP would gather nothing and fail.
  ASSERT_TRUE(server.StartAndWaitReady({"--listening-ip", "127.0.0.1", "--listening-port", "0",
                                        "--no-udp", "--relay-ip", "127.0.0.1",
                                        "--allow-loopback-peers", "--user", "user:pass",
                                        "--min-port", kMinPort, "--max-port", kMaxPort},
                                       &error))
      << error;
  ASSERT_TRUE(server.Tcp().has_value()) << server.Log();
  PeerPair pair;
  const std::string dump =
      RunSendEcho(pair, {"--bind", "127.0.0.1", "--relay-only", "--turn", server.Tcp()->ToString(),
                         "--turn-user", "user", "--turn-pass", "pass", "--turn-transport", "tcp"});
  for (const PeerProcess* p : {&pair.a, &pair.b}) {
    // The relayed candidate is a UDP relay on the server's relay address.
    const std::vector<std::string> relay = p->Matching("event=gathered type=relay address=127.0.0.1:");
    ASSERT_EQ(relay.size(), 1u) << dump;
    const std::vector<std::string> selected = p->Matching("event=selected ");
    ASSERT_FALSE(selected.empty()) << dump;
    EXPECT_NE(selected.back().find("local_type=relay remote_type=relay"), std::string::npos) << dump;
    EXPECT_TRUE(p->Matching("event=failed").empty()) << dump;
    EXPECT_TRUE(p->Matching("event=error").empty()) << dump;
  }
  const auto [a_sent, a_received] = DataCounts(pair.a);
  EXPECT_EQ(a_sent, 50) << dump;
  EXPECT_GE(a_received, 45) << dump;  // ICE-PEER.md: at least 90% came back
  // Both allocations were made over TCP, relayed the data, and are gone
  // once the peers closed their streams.
  server.Signal(SIGTERM);
  ASSERT_EQ(server.WaitExit(seconds(10)), 0) << server.Log();
  std::string stopped;
  for (const std::string& l : server.Lines()) {
    if (LogField(l, "event") == "stopped") stopped = l;
  }
  ASSERT_FALSE(stopped.empty()) << server.Log();
  EXPECT_EQ(LogField(stopped, "allocations_created"), "2") << stopped;
  EXPECT_EQ(LogField(stopped, "allocations_active"), "0") << stopped;
  EXPECT_GE(std::strtol(LogField(stopped, "relay_received").c_str(), nullptr, 10), 100) << stopped;
}

// A loopback TCP port with nothing listening: bound, never listened on.
struct ClosedTcpPort {
  ClosedTcpPort() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
  }
  ~ClosedTcpPort() {
    if (fd >= 0) close(fd);
  }
  int fd = -1;
  int port = 0;
};

TEST(IcePeerTcpTest, RefusedTcpConnectionIsReportedAndHostPairsConnect) {
  ClosedTcpPort closed;
  ASSERT_NE(closed.port, 0);
  PeerPair pair;
  const std::string dump =
      RunSendEcho(pair, {"--bind", "127.0.0.1", "--turn", "127.0.0.1:" + std::to_string(closed.port),
                         "--turn-user", "user", "--turn-pass", "pass", "--turn-transport", "tcp"});
  for (const PeerProcess* p : {&pair.a, &pair.b}) {
    const std::vector<std::string> errors = p->Matching("event=error ");
    ASSERT_FALSE(errors.empty()) << dump;
    EXPECT_NE(errors.front().find("over tcp"), std::string::npos) << dump;
    EXPECT_TRUE(p->Matching("event=gathered type=relay").empty()) << dump;
    const std::vector<std::string> selected = p->Matching("event=selected ");
    ASSERT_FALSE(selected.empty()) << dump;
    EXPECT_NE(selected.back().find("local_type=host remote_type=host"), std::string::npos) << dump;
  }
}

}  // namespace
}  // namespace uturn::testing
