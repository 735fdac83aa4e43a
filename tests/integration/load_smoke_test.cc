// uturn-load against the real uturn: short bounded runs that check packets are
// relayed both ways and counted, over channels (echo, RTT) and Send
// indications with REST credentials, on both transports (io_uring, epoll),
// and that failures end the run cleanly.
// uturn-load is looked up next to uturn (both land in the build's bin/).
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

std::string LoadBinary() {
  std::string dir = UturnBinary();
  dir.erase(dir.rfind('/') + 1);
  return dir + "uturn-load";
}

// The number after `"key":` in the generator's JSON (first occurrence);
// -1 when absent or null.
double JsonNumber(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const size_t at = json.find(needle);
  if (at == std::string::npos) return -1;
  const size_t start = at + needle.size();
  const size_t end = json.find_first_of(",}", start);
  double v = -1;
  if (!absl::SimpleAtod(json.substr(start, end - start), &v)) return -1;
  return v;
}

class LoadSmokeTest : public TurnServerTest {
 protected:
  void SetUp() override {
    struct stat st{};
    // CMake builds the generator before this binary (add_dependencies).
    ASSERT_EQ(::stat(LoadBinary().c_str(), &st), 0) << LoadBinary() << " not built";
  }

  RunResult Load(std::vector<std::string> args) {
    return RunBinary(LoadBinary(), args, std::chrono::seconds(60));
  }
};

TEST_F(LoadSmokeTest, ChannelDataEchoIsRelayedBothWaysAndCounted) {
  Start();
  const RunResult run = Load({"--server", udp_.ToString(), "--user", "u:p", "--allocations", "4",
                              "--rate", "2000", "--duration", "1", "--echo", "--json", "--quiet",
                              "--server-pid", std::to_string(server_.pid())});
  ASSERT_EQ(run.exit_status, 0) << run.err << run.out;
  const std::string& j = run.out;
  EXPECT_EQ(JsonNumber(j, "ok"), 4) << j;
  EXPECT_EQ(JsonNumber(j, "failed"), 0) << j;
  const double sent = JsonNumber(j, "sent");
  EXPECT_GE(sent, 1500) << j;  // 2000 pps for 1 s, less scheduling slack
  EXPECT_LE(sent, 2001) << j;  // paced: never more than offered
  // Loopback loses nothing at this rate; allow a little for a busy machine.
  EXPECT_GE(JsonNumber(j, "peer_received"), 0.98 * sent) << j;
  EXPECT_GE(JsonNumber(j, "echoed_received"), 0.98 * sent) << j;
  EXPECT_LE(JsonNumber(j, "echoed_received"), JsonNumber(j, "peer_received")) << j;
  EXPECT_EQ(JsonNumber(j, "count"), JsonNumber(j, "echoed_received")) << j;  // one RTT each
  EXPECT_GT(JsonNumber(j, "p50"), 0) << j;
  EXPECT_LE(JsonNumber(j, "p50"), JsonNumber(j, "p99")) << j;
  EXPECT_GT(JsonNumber(j, "server_cpu_seconds"), 0) << j;  // the server did the relaying
  EXPECT_GT(JsonNumber(j, "server_rss_after_kib"), 0) << j;
  EXPECT_EQ(JsonNumber(j, "foreign"), 0) << j;
  // The default transport is io_uring, or epoll where it cannot be set up.
  EXPECT_TRUE(absl::StrContains(j, "\"io\":\"uring\"") ||
              absl::StrContains(j, "\"io\":\"epoll\""))
      << j;
  EXPECT_GE(JsonNumber(j, "client_cpu_seconds"), 0) << j;  // measured (not null)
}

TEST_F(LoadSmokeTest, EpollFallbackRelaysTheSame) {
  Start();
  const RunResult run = Load({"--server", udp_.ToString(), "--user", "u:p", "--allocations", "5",
                              "--burst", "4", "--rate", "2000", "--duration", "0.5", "--echo",
                              "--io", "epoll", "--json", "--quiet"});
  ASSERT_EQ(run.exit_status, 0) << run.err << run.out;
  const std::string& j = run.out;
  EXPECT_TRUE(absl::StrContains(j, "\"io\":\"epoll\"")) << j;
  EXPECT_EQ(JsonNumber(j, "ok"), 5) << j;
  const double sent = JsonNumber(j, "sent");
  EXPECT_GE(sent, 700) << j;
  EXPECT_GE(JsonNumber(j, "echoed_received"), 0.98 * sent) << j;
  EXPECT_EQ(JsonNumber(j, "count"), JsonNumber(j, "echoed_received")) << j;
}

TEST_F(LoadSmokeTest, UnpacedRunDeliversWhatItSends) {
  Start();
  // --rate 0: ticks of queued sends back to back, receiving in between.
  const RunResult run = Load({"--server", udp_.ToString(), "--user", "u:p", "--allocations", "8",
                              "--rate", "0", "--duration", "0.3", "--json", "--quiet"});
  ASSERT_EQ(run.exit_status, 0) << run.err << run.out;
  const std::string& j = run.out;
  const double sent = JsonNumber(j, "sent");
  EXPECT_GT(sent, 1000) << j;
  // Overload may drop packets, but never makes any up.
  EXPECT_GT(JsonNumber(j, "peer_received"), 0) << j;
  EXPECT_LE(JsonNumber(j, "peer_received"), sent) << j;
  EXPECT_EQ(JsonNumber(j, "foreign"), 0) << j;
}

TEST_F(LoadSmokeTest, SendIndicationsWithRestSecretBurstyReachPeers) {
  StartWith({"--listening-ip", "127.0.0.1", "--listening-port", "0", "--relay-ip", "127.0.0.1",
             "--allow-loopback-peers", "--use-auth-secret", "--static-auth-secret", "smoke"});
  const RunResult run =
      Load({"--server", udp_.ToString(), "--secret", "smoke", "--allocations", "3", "--mode",
            "send", "--burst", "8", "--rate", "1000", "--duration", "0.5", "--json", "--quiet"});
  ASSERT_EQ(run.exit_status, 0) << run.err << run.out;
  const std::string& j = run.out;
  EXPECT_EQ(JsonNumber(j, "ok"), 3) << j;
  const double sent = JsonNumber(j, "sent");
  EXPECT_GE(sent, 300) << j;
  EXPECT_GE(JsonNumber(j, "peer_received"), 0.98 * sent) << j;
  EXPECT_EQ(JsonNumber(j, "echoed_received"), 0) << j;  // no echo asked for
  EXPECT_TRUE(absl::StrContains(j, "\"mode\":\"send\"")) << j;
}

TEST_F(LoadSmokeTest, HumanSummaryAndProgressLines) {
  Start();
  const RunResult run = Load({"--server", udp_.ToString(), "--user", "u:p", "--rate", "500",
                              "--duration", "1.2", "--echo"});
  ASSERT_EQ(run.exit_status, 0) << run.err << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "allocations  1 ok, 0 failed of 1")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "rtt us")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.err, "[  1.0s] sent")) << run.err;
}

TEST_F(LoadSmokeTest, WrongPasswordEndsTheRunWithAnError) {
  Start();
  const RunResult run = Load({"--server", udp_.ToString(), "--user", "u:wrong", "--allocations",
                              "2", "--duration", "1", "--quiet"});
  EXPECT_EQ(run.exit_status, 1) << run.err << run.out;
  EXPECT_TRUE(absl::StrContains(run.err, "no allocation succeeded")) << run.err;
}

TEST_F(LoadSmokeTest, RefusesTargetsOffLoopback) {
  const RunResult run = Load({"--server", "192.0.2.1:3478", "--user", "u:p"});
  EXPECT_EQ(run.exit_status, 2) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "only 127.0.0.0/8 and ::1")) << run.err;
}

}  // namespace
}  // namespace uturn::testing
