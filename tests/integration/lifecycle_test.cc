// Start-up, options, config file and shutdown of the real `uturn` binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "tests/integration/net.h"
#include "tests/integration/server_process.h"

namespace uturn::testing {
namespace {

using client::BindingStatus;

const std::vector<std::string> kLoopback = {"--listening-ip", "127.0.0.1", "--listening-port", "0"};

std::vector<std::string> With(std::vector<std::string> base, const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

// A config file in the test's temporary directory, removed afterwards.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    path_ = ::testing::TempDir() + "uturn-it-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".conf";
    std::ofstream(path_) << contents;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void ExpectStopsOn(int sig) {
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.StartAndWaitReady(kLoopback, &error)) << error;
  server.Signal(sig);
  EXPECT_EQ(server.WaitExit(), 0) << server.Log();
  bool stopped = false;
  for (const std::string& l : server.Lines()) stopped |= LogField(l, "event") == "stopped";
  EXPECT_TRUE(stopped) << server.Log();
}

TEST(LifecycleTest, SigtermStopsCleanly) { ExpectStopsOn(SIGTERM); }
TEST(LifecycleTest, SigintStopsCleanly) { ExpectStopsOn(SIGINT); }

TEST(LifecycleTest, LogsOneListeningLinePerSocketThenReady) {
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.StartAndWaitReady(
      {"--listening-ip", "127.0.0.1", "--listening-ip", "127.0.0.2", "--listening-port", "0"},
      &error))
      << error;
  ASSERT_EQ(server.listeners().size(), 4u) << server.Log();
  for (const Listener& l : server.listeners()) {
    EXPECT_NE(l.address.port, 0) << "the log must show the bound port";
    if (l.transport != "udp") continue;
    // Each UDP socket answers from its own address.
    Fd fd = UdpSocket(stun::SocketAddress::ParseIp(l.address.IpString(), 0).value());
    ASSERT_TRUE(fd.valid());
    const client::BindingResult r = BindingOverUdp(fd.get(), l.address);
    ASSERT_EQ(r.status, BindingStatus::kSuccess) << l.address.ToString();
    EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
  }
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(), 0);
}

// XOR-MAPPED-ADDRESS for IPv6 XORs with cookie || transaction ID (RFC 8489
// §14.2): checked end to end over [::1].
TEST(LifecycleTest, Ipv6LoopbackUdpAndTcp) {
  const stun::SocketAddress any6 = stun::SocketAddress::ParseIp("::1", 0).value();
  ASSERT_TRUE(UdpSocket(any6).valid())
      << "cannot bind a UDP socket to [::1]: this test needs IPv6 loopback";
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.StartAndWaitReady({"--listening-ip", "::1", "--listening-port", "0"}, &error))
      << error;
  ASSERT_TRUE(server.Udp().has_value() && server.Tcp().has_value()) << server.Log();
  EXPECT_FALSE(server.Udp()->is_v4());
  Fd udp = UdpSocket(any6);
  const client::BindingResult u = BindingOverUdp(udp.get(), *server.Udp());
  ASSERT_EQ(u.status, BindingStatus::kSuccess) << client::ToString(u.status);
  EXPECT_EQ(u.mapped, LocalAddress(udp.get()));
  Fd tcp = TcpConnect(*server.Tcp());
  ASSERT_TRUE(tcp.valid());
  const client::BindingResult t = BindingOverTcp(tcp.get());
  ASSERT_EQ(t.status, BindingStatus::kSuccess) << client::ToString(t.status);
  EXPECT_EQ(t.mapped, LocalAddress(tcp.get()));
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(), 0);
}

TEST(LifecycleTest, NoUdpAndNoTcpFlags) {
  for (const char* flag : {"--no-udp", "--no-tcp"}) {
    ServerProcess server;
    std::string error;
    ASSERT_TRUE(server.StartAndWaitReady(With(kLoopback, {flag}), &error)) << error;
    ASSERT_EQ(server.listeners().size(), 1u) << server.Log();
    EXPECT_EQ(server.listeners()[0].transport, std::string(flag) == "--no-udp" ? "tcp" : "udp");
    server.Signal(SIGTERM);
    EXPECT_EQ(server.WaitExit(), 0);
  }
}

TEST(LifecycleTest, HelpAndVersion) {
  const RunResult help = RunToCompletion({"--help"});
  EXPECT_EQ(help.exit_status, 0) << help.err;
  for (const char* option : {"--listening-ip", "--listening-port", "--no-udp", "--no-tcp",
                             "--config", "--help", "--version"}) {
    EXPECT_TRUE(Contains(help.out, option)) << option << " missing from --help:\n" << help.out;
  }
  const RunResult version = RunToCompletion({"--version"});
  EXPECT_EQ(version.exit_status, 0);
  EXPECT_TRUE(Contains(version.out, "uturn")) << version.out;
}

// The contract: bad values and unknown options exit 2, naming the option.
struct BadArgs {
  std::vector<std::string> args;
  std::string named;  // must appear in stderr
};

TEST(LifecycleTest, BadCommandLinesAreRefusedNamingTheOption) {
  const BadArgs cases[] = {
      {{"--listening-port", "abc"}, "--listening-port"},
      {{"--listening-port", "65536"}, "--listening-port"},
      {{"--listening-port", "-1"}, "--listening-port"},
      {{"--listening-port"}, "--listening-port"},  // value missing
      {{"--listening-ip", "300.1.2.3"}, "--listening-ip"},
      {{"--listening-ip", "localhost-ish"}, "--listening-ip"},
      {{"--no-such-option"}, "--no-such-option"},
      {{"--no-udp", "--no-tcp", "--bogus=1"}, "--bogus"},
      {{"stray-argument"}, "stray-argument"},
  };
  for (const BadArgs& c : cases) {
    const RunResult r = RunToCompletion(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(r.exit_status, 2) << joined << "\n" << r.err;
    EXPECT_TRUE(Contains(r.err, c.named)) << joined << ": stderr does not name " << c.named
                                          << ":\n" << r.err;
  }
}

TEST(LifecycleTest, ConfigFileIsRead) {
  TempFile file(
      "# uturn test configuration\n"
      "\n"
      "listening-ip = 127.0.0.1\n"
      "listening-port = 0\n"
      "no-tcp\n");
  for (const char* flag : {"-c", "--config"}) {
    ServerProcess server;
    std::string error;
    ASSERT_TRUE(server.StartAndWaitReady({flag, file.path()}, &error)) << error;
    ASSERT_EQ(server.listeners().size(), 1u) << server.Log();
    ASSERT_TRUE(server.Udp().has_value());
    EXPECT_EQ(server.Udp()->IpString(), "127.0.0.1");
    Fd fd = UdpSocket();
    const client::BindingResult r = BindingOverUdp(fd.get(), *server.Udp());
    ASSERT_EQ(r.status, BindingStatus::kSuccess);
    EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
    server.Signal(SIGTERM);
    EXPECT_EQ(server.WaitExit(), 0);
  }
}

TEST(LifecycleTest, CommandLineOverridesTheConfigFile) {
  TempFile file("listening-ip = 127.0.0.1\nlistening-port = 9\n");
  ServerProcess server;
  std::string error;
  ASSERT_TRUE(server.StartAndWaitReady({"-c", file.path(), "--listening-port", "0", "--no-tcp"},
                                       &error))
      << error;
  ASSERT_TRUE(server.Udp().has_value()) << server.Log();
  EXPECT_NE(server.Udp()->port, 9) << "the file's port won over the command line";
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(), 0);
}

TEST(LifecycleTest, BadConfigFilesAreRefusedNamingTheProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {"listening-port = abc\n", "listening-port"},
      {"listening-port = 70000\n", "listening-port"},
      {"# fine\nfrobnicate = 1\n", "frobnicate"},
      {"listening-ip = 1.2.3.999\n", "listening-ip"},
  };
  for (const auto& [contents, named] : cases) {
    TempFile file(contents);
    const RunResult r = RunToCompletion({"-c", file.path()});
    EXPECT_NE(r.exit_status, 0) << contents;
    EXPECT_NE(r.exit_status, -1) << contents << ": it had to be killed";
    EXPECT_TRUE(Contains(r.err, named)) << contents << "stderr:\n" << r.err;
  }
  const std::string missing = ::testing::TempDir() + "uturn-it-does-not-exist.conf";
  const RunResult r = RunToCompletion({"-c", missing});
  EXPECT_NE(r.exit_status, 0);
  EXPECT_NE(r.exit_status, -1);
  EXPECT_TRUE(Contains(r.err, missing)) << r.err;
}

}  // namespace
}  // namespace uturn::testing
