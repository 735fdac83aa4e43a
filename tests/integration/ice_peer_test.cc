// The real uturn-ice on loopback (/work/shared/ICE-PEER.md): two peers piped
// into each other on host pairs and, relay-only, through a real uturn; the
// exit codes of usage errors and of a silent remote; a malformed a= line.
#include <fcntl.h>
#include <signal.h>
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

// Relay ports of this file's uturn servers, one range per test (CTest may
// run them in parallel; below the ephemeral range; no other test uses them).
constexpr const char* kMinPort = "26000";
constexpr const char* kMaxPort = "26099";
constexpr const char* kMinPortWrongPassword = "26100";
constexpr const char* kMaxPortWrongPassword = "26199";

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < line.size()) {
    const size_t sp = line.find(' ', at);
    out.push_back(line.substr(at, sp - at));
    if (sp == std::string::npos) break;
    at = sp + 1;
  }
  return out;
}

// Checks that `p` selected a pair of the given local and remote type, with
// exactly the contract's fields, and connected.
void ExpectSelected(const PeerProcess& p, const std::string& local_type, const std::string& remote_type,
                    const std::string& dump) {
  const std::vector<std::string> selected = p.Matching("event=selected ");
  ASSERT_FALSE(selected.empty()) << dump;
  const std::vector<std::string> f = Fields(selected.back());
  ASSERT_EQ(f.size(), 5u) << selected.back();
  EXPECT_EQ(f[1], "local_type=" + local_type) << dump;
  EXPECT_EQ(f[2], "remote_type=" + remote_type) << dump;
  EXPECT_EQ(f[3].rfind("local=127.0.0.1:", 0), 0u) << f[3];
  EXPECT_EQ(f[4].rfind("remote=127.0.0.1:", 0), 0u) << f[4];
  EXPECT_FALSE(p.Matching("event=connected").empty()) << dump;
}

// sent/received of the event=data line.
std::pair<long, long> DataCounts(const PeerProcess& p) {
  const std::vector<std::string> d = p.Matching("event=data ");
  if (d.empty()) return {-1, -1};
  const std::vector<std::string> f = Fields(d.back());
  if (f.size() != 3 || f[1].rfind("sent=", 0) != 0 || f[2].rfind("received=", 0) != 0) return {-2, -2};
  return {std::stol(f[1].substr(5)), std::stol(f[2].substr(9))};
}

bool BConnected(PeerPair& pair) { return pair.b.WaitForPrefix("event=connected", seconds(10)); }

// A sends 50, B echoes: A exits 0 by itself, B on SIGTERM, both connected.
void RunSendEcho(const std::vector<std::string>& common, const std::string& type) {
  PeerPair pair;
  std::string error;
  std::vector<std::string> a = {"--controlling", "--send", "50", "--timeout", "20"};
  std::vector<std::string> b = {"--controlled", "--echo", "--timeout", "20"};
  a.insert(a.end(), common.begin(), common.end());
  b.insert(b.end(), common.begin(), common.end());
  ASSERT_TRUE(pair.Start(a, b, &error)) << error;
  // 50 datagrams 20 ms apart and 2 s of grace after connecting: well within 30 s.
  const std::optional<int> a_exit = pair.a.WaitExit(seconds(30));
  ASSERT_TRUE(BConnected(pair)) << pair.Dump();
  pair.b.Signal(SIGTERM);
  const std::optional<int> b_exit = pair.b.WaitExit(seconds(10));
  const std::string dump = pair.Dump();
  ASSERT_EQ(a_exit, 0) << dump;
  ASSERT_EQ(b_exit, 0) << dump;
  ExpectSelected(pair.a, type, type, dump);
  ExpectSelected(pair.b, type, type, dump);
  const auto [a_sent, a_received] = DataCounts(pair.a);
  EXPECT_EQ(a_sent, 50) << dump;
  EXPECT_GE(a_received, 45) << dump;  // ICE-PEER.md: at least 90% came back
  EXPECT_LE(a_received, 50) << dump;
  const auto [b_sent, b_received] = DataCounts(pair.b);
  EXPECT_GE(b_received, a_received) << dump;  // every echo A saw, B received
  EXPECT_EQ(b_sent, b_received) << dump;
  // Signalling: credentials first, candidates, end-of-candidates.
  for (const PeerProcess* p : {&pair.a, &pair.b}) {
    EXPECT_FALSE(p->Matching("event=gathered type=" + type + " address=127.0.0.1:").empty()) << dump;
    EXPECT_TRUE(p->Matching("event=failed").empty()) << dump;
  }
}

TEST(IcePeerTest, HostPairSendAndEcho) { RunSendEcho({"--bind", "127.0.0.1"}, "host"); }

TEST(IcePeerTest, RelayOnlyThroughUturn) {
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.StartAndWaitReady({"--listening-ip", "127.0.0.1", "--listening-port", "0",
                                        "--relay-ip", "127.0.0.1", "--allow-loopback-peers", "--user",
                                        "user:pass", "--min-port", kMinPort, "--max-port", kMaxPort},
                                       &error))
      << error;
  ASSERT_TRUE(server.Udp().has_value());
  RunSendEcho({"--bind", "127.0.0.1", "--relay-only", "--turn", server.Udp()->ToString(), "--turn-user",
               "user", "--turn-pass", "pass"},
              "relay");
  // The server relayed the data (50 datagrams and 50 echoes at least), and
  // the peers deallocated on exit (Refresh lifetime 0): none left active.
  server.Signal(SIGTERM);
  ASSERT_EQ(server.WaitExit(seconds(10)), 0) << server.Log();
  std::string stopped;
  for (const std::string& l : server.Lines()) {
    if (LogField(l, "event") == "stopped") stopped = l;
  }
  ASSERT_FALSE(stopped.empty()) << server.Log();
  EXPECT_EQ(LogField(stopped, "allocations_created"), "2") << stopped;
  EXPECT_EQ(LogField(stopped, "allocations_active"), "0") << stopped;
  const std::string relayed = LogField(stopped, "relay_received");
  EXPECT_GE(std::strtol(relayed.c_str(), nullptr, 10), 100) << stopped;
}

// --restart-after 1 while sending: both sides restart (new credentials,
// signalled again), a pair of the new session is selected, the data keeps
// flowing (RFC 8445 §9: the old pair carries it meanwhile).
TEST(IcePeerTest, RestartAfterKeepsDataFlowing) {
  PeerPair pair;
  std::string error;
  ASSERT_TRUE(pair.Start({"--controlling", "--bind", "127.0.0.1", "--send", "150", "--restart-after", "1",
                          "--timeout", "20"},
                         {"--controlled", "--bind", "127.0.0.1", "--echo", "--timeout", "20"}, &error))
      << error;
  const std::optional<int> a_exit = pair.a.WaitExit(seconds(30));
  ASSERT_TRUE(pair.b.WaitForPrefix("event=restarted", seconds(5))) << pair.Dump();
  pair.b.Signal(SIGTERM);
  ASSERT_EQ(pair.b.WaitExit(seconds(10)), 0) << pair.Dump();
  ASSERT_EQ(a_exit, 0) << pair.Dump();
  EXPECT_EQ(pair.a.Matching("event=restarted").size(), 1u) << pair.Dump();
  EXPECT_GE(pair.a.Matching("event=selected ").size(), 2u) << pair.Dump();  // reselected after the restart
  const auto [sent, received] = DataCounts(pair.a);
  EXPECT_EQ(sent, 150);
  EXPECT_GE(received, 135) << pair.Dump();
}

// Both started --controlling: the role conflict (RFC 8445 §7.3.1.1) is
// resolved, one side reports its switch, and they connect.
TEST(IcePeerTest, RoleConflictIsResolved) {
  PeerPair pair;
  std::string error;
  ASSERT_TRUE(pair.Start({"--controlling", "--bind", "127.0.0.1", "--send", "20", "--timeout", "20"},
                         {"--controlling", "--bind", "127.0.0.1", "--echo", "--timeout", "20"}, &error))
      << error;
  const std::optional<int> a_exit = pair.a.WaitExit(seconds(30));
  ASSERT_TRUE(pair.b.WaitForPrefix("event=connected", seconds(5))) << pair.Dump();
  pair.b.Signal(SIGTERM);
  ASSERT_EQ(pair.b.WaitExit(seconds(10)), 0) << pair.Dump();
  ASSERT_EQ(a_exit, 0) << pair.Dump();
  const size_t switched = pair.a.Matching("event=role role=controlled").size() +
                          pair.b.Matching("event=role role=controlled").size();
  EXPECT_EQ(switched, 1u) << pair.Dump();
}

// The remote stopped (SIGSTOP) after connecting: consent (RFC 7675 §5.1) is
// lost 30 s after the last answered check; the peer reports it and exits 1.
TEST(IcePeerTest, StoppedRemoteLosesConsentAndExits1) {
  PeerPair pair;
  std::string error;
  ASSERT_TRUE(pair.Start({"--controlling", "--bind", "127.0.0.1", "--timeout", "20"},
                         {"--controlled", "--bind", "127.0.0.1", "--timeout", "20"}, &error))
      << error;
  ASSERT_TRUE(pair.a.WaitForPrefix("event=connected", seconds(10))) << pair.Dump();
  ASSERT_TRUE(pair.b.WaitForPrefix("event=connected", seconds(10))) << pair.Dump();
  pair.b.Signal(SIGSTOP);
  const std::optional<int> a_exit = pair.a.WaitExit(seconds(60));
  pair.b.Signal(SIGCONT);
  ASSERT_EQ(a_exit, 1) << pair.Dump();
  EXPECT_FALSE(pair.a.Matching("event=failed reason=consent").empty()) << pair.Dump();
}

// --send against a peer that does not echo: connected, but nothing comes
// back within the 2 s grace: exit 1 (ICE-PEER.md: at least 90% must).
TEST(IcePeerTest, SendWithoutEchoExits1) {
  PeerPair pair;
  std::string error;
  ASSERT_TRUE(pair.Start({"--controlling", "--bind", "127.0.0.1", "--send", "20", "--timeout", "20"},
                         {"--controlled", "--bind", "127.0.0.1", "--timeout", "20"}, &error))
      << error;
  ASSERT_EQ(pair.a.WaitExit(seconds(30)), 1) << pair.Dump();
  EXPECT_FALSE(pair.a.Matching("event=connected").empty()) << pair.Dump();
  EXPECT_EQ(DataCounts(pair.a), std::make_pair(20L, 0L)) << pair.Dump();
}

// SIGTERM in the middle of --send: judged on what was sent so far.
TEST(IcePeerTest, SignalDuringSendJudgesWhatWasSent) {
  PeerPair pair;
  std::string error;
  ASSERT_TRUE(pair.Start({"--controlling", "--bind", "127.0.0.1", "--send", "100000", "--timeout", "20"},
                         {"--controlled", "--bind", "127.0.0.1", "--echo", "--timeout", "20"}, &error))
      << error;
  ASSERT_TRUE(pair.a.WaitForPrefix("event=connected", seconds(10))) << pair.Dump();
  ASSERT_TRUE(pair.b.WaitForPrefix("event=connected", seconds(10))) << pair.Dump();
  // Stopped long before its 100000 datagrams (33 minutes of sending).
  pair.a.Signal(SIGTERM);
  const std::optional<int> exit = pair.a.WaitExit(seconds(10));
  const auto [sent, received] = DataCounts(pair.a);
  ASSERT_GE(sent, 0) << pair.Dump();
  EXPECT_LT(sent, 100000);
  // 0 only if enough came back; either way the status matches the counts.
  const bool enough = sent > 0 && received * 10 >= sent * 9;
  EXPECT_EQ(exit, enough ? 0 : 1) << pair.Dump();
}

// A TURN server refusing the credentials (401 after the retry): each peer
// reports it on stderr and connects without relays.
TEST(IcePeerTest, TurnWithWrongPasswordFallsBackToHost) {
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.StartAndWaitReady({"--listening-ip", "127.0.0.1", "--listening-port", "0",
                                        "--relay-ip", "127.0.0.1", "--allow-loopback-peers", "--user",
                                        "user:pass", "--min-port", kMinPortWrongPassword,
                                        "--max-port", kMaxPortWrongPassword},
                                       &error))
      << error;
  ASSERT_TRUE(server.Udp().has_value());
  const std::vector<std::string> turn = {"--bind", "127.0.0.1", "--turn", server.Udp()->ToString(),
                                         "--turn-user", "user", "--turn-pass", "wrong"};
  PeerPair pair;
  std::vector<std::string> a = {"--controlling", "--send", "20", "--timeout", "20"};
  std::vector<std::string> b = {"--controlled", "--echo", "--timeout", "20"};
  a.insert(a.end(), turn.begin(), turn.end());
  b.insert(b.end(), turn.begin(), turn.end());
  ASSERT_TRUE(pair.Start(a, b, &error)) << error;
  ASSERT_EQ(pair.a.WaitExit(seconds(30)), 0) << pair.Dump();
  ASSERT_TRUE(pair.b.WaitForPrefix("event=error what=\"turn:", seconds(10))) << pair.Dump();
  pair.b.Signal(SIGTERM);
  ASSERT_EQ(pair.b.WaitExit(seconds(10)), 0) << pair.Dump();
  for (const PeerProcess* p : {&pair.a, &pair.b}) {
    EXPECT_FALSE(p->Matching("event=error what=\"turn:").empty()) << pair.Dump();
    EXPECT_TRUE(p->Matching("event=gathered type=relay").empty()) << pair.Dump();
  }
  ExpectSelected(pair.a, "host", "host", pair.Dump());
}

TEST(IcePeerTest, UsageErrorsExit2WithAMessage) {
  const std::vector<std::vector<std::string>> cases = {
      {"--bogus"},
      {"--controlling", "--controlled"},
      {"--send", "zero"},
      {"--stun"},
      {"--turn", "127.0.0.1:3478"},
      {"--http", "127.0.0.1:0", "--controlling"},
  };
  for (const auto& args : cases) {
    PeerProcess p;
    std::string error;
    ASSERT_TRUE(p.Spawn(args, -1, -1, &error)) << error;
    EXPECT_EQ(p.WaitExit(seconds(10)), 2) << args[0] << "\n" << p.Log();
    ASSERT_FALSE(p.Lines().empty());
    EXPECT_EQ(p.Lines()[0].rfind("uturn-ice: ", 0), 0u) << p.Log();
  }
}

TEST(IcePeerTest, TurnOverTlsIsNotSupportedYet) {
  for (const char* t : {"tls"}) {
    PeerProcess p;
    std::string error;
    ASSERT_TRUE(p.Spawn({"--turn", "127.0.0.1:3478", "--turn-user", "u", "--turn-pass", "p",
                         "--turn-transport", t},
                        -1, -1, &error))
        << error;
    EXPECT_EQ(p.WaitExit(seconds(10)), 2) << p.Log();
    EXPECT_NE(p.Log().find("not supported yet"), std::string::npos) << p.Log();
  }
}

// A remote that signals credentials and a candidate nobody answers on, then
// a malformed line, then nothing: one error line, event=failed reason=timeout, exit 1.
TEST(IcePeerTest, SilentRemoteTimesOutWithExit1) {
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  PeerProcess p;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Spawn({"--controlling", "--bind", "127.0.0.1", "--timeout", "2"}, in[0], -1, &error))
      << error;
  close(in[0]);
  // Port 9 (discard): no ICE agent there.
  const std::string lines =
      "a=ice-ufrag:Silent\n"
      "a=ice-pwd:silentsilentsilentsilent\n"
      "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\n"
      "a=candidate:this is not a candidate\n"
      "some other line\n";
  ASSERT_EQ(write(in[1], lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  const std::optional<int> exit = p.WaitExit(seconds(15));
  const auto took = std::chrono::steady_clock::now() - start;
  close(in[1]);
  ASSERT_EQ(exit, 1) << p.Log();
  EXPECT_GE(took, seconds(2));
  EXPECT_EQ(p.Matching("event=error ").size(), 1u) << p.Log();
  EXPECT_FALSE(p.Matching("event=failed reason=timeout").empty()) << p.Log();
  EXPECT_TRUE(p.Matching("event=connected").empty()) << p.Log();
}

// A remote with no candidate at all (end-of-candidates at once): whatever
// the agent concludes early, the peer runs to --timeout before exiting 1.
TEST(IcePeerTest, NoRemoteCandidateWaitsForTimeout) {
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  PeerProcess p;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Spawn({"--controlled", "--bind", "127.0.0.1", "--timeout", "1.5"}, in[0], -1, &error)) << error;
  close(in[0]);
  const std::string lines =
      "a=ice-ufrag:Nobody\na=ice-pwd:nobodynobodynobodynobody\na=end-of-candidates\n";
  ASSERT_EQ(write(in[1], lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  EXPECT_EQ(p.WaitExit(seconds(15)), 1) << p.Log();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_FALSE(p.Matching("event=failed reason=timeout").empty()) << p.Log();
  close(in[1]);
}

// End of stdin with no remote at all: the peer keeps running until --timeout.
TEST(IcePeerTest, EndOfStdinKeepsRunningUntilTimeout) {
  PeerProcess p;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Spawn({"--bind", "127.0.0.1", "--timeout", "1.5"}, -1, -1, &error)) << error;
  EXPECT_EQ(p.WaitExit(seconds(15)), 1) << p.Log();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_FALSE(p.Matching("event=gathered type=host address=127.0.0.1:").empty()) << p.Log();
}

// Without --send, SIGINT before connecting exits 1 (it never connected).
TEST(IcePeerTest, SignalBeforeConnectingExits1) {
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  PeerProcess p;
  std::string error;
  ASSERT_TRUE(p.Spawn({"--bind", "127.0.0.1"}, in[0], -1, &error)) << error;
  close(in[0]);
  ASSERT_TRUE(p.WaitForPrefix("event=gathered", seconds(10))) << p.Log();
  p.Signal(SIGINT);
  EXPECT_EQ(p.WaitExit(seconds(10)), 1) << p.Log();
  close(in[1]);
}

}  // namespace
}  // namespace uturn::testing
