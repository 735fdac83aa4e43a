// --io-backend and the epoll fallback (DESIGN.md §The data plane): which
// backend runs and why is logged; with io_uring blocked by a seccomp filter
// (as container runtimes do) `auto` relays over epoll and `uring` refuses to
// start. The rest of the suite runs once per backend (UTURN_TEST_IO_BACKEND).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;
using ::testing::HasSubstr;

class IoBackendTest : public TurnServerTest {
 protected:
  std::vector<std::string> Args(const std::string& backend) {
    std::vector<std::string> args = BaseTurnArgs();
    args.push_back("--io-backend=" + backend);
    return args;
  }

  // The event=io_backend line ("" if none).
  std::string BackendLine() {
    for (const std::string& l : server_.Lines()) {
      if (LogField(l, "event") == "io_backend") return l;
    }
    return "";
  }

  std::string ReadyBackend() {
    for (const std::string& l : server_.Lines()) {
      if (LogField(l, "event") == "ready") return LogField(l, "io_backend");
    }
    return "";
  }

  // An allocation relays both ways: Send/Data indications, then a channel.
  void ExpectRelaying() {
    TurnSession s(udp_, TurnConfigFor("u", "p"));
    const auto allocated = s.Allocate();
    ASSERT_TRUE(allocated.has_value());
    ASSERT_EQ(allocated->kind, TurnEvent::Kind::kAllocated) << allocated->error_code;
    const stun::SocketAddress relayed = s.client().allocation().relayed.at(0);
    Peer peer = MakePeer();
    const auto perm = s.CreatePermission({peer.address});
    ASSERT_TRUE(perm.has_value());
    ASSERT_EQ(perm->kind, TurnEvent::Kind::kPermissionCreated) << perm->error_code;

    const auto hello = Bytes("over the fallback");
    ASSERT_TRUE(s.SendIndication(peer.address, hello));
    EXPECT_EQ(RecvDatagram(peer.fd.get(), milliseconds(3000)), hello);
    const auto reply = RandomBytes(900, 7);
    ASSERT_TRUE(SendTo(peer.fd.get(), reply, relayed));
    const auto data = s.WaitData();
    ASSERT_TRUE(data.has_value());
    EXPECT_EQ(data->peer, peer.address);
    EXPECT_EQ(data->payload, reply);
    EXPECT_FALSE(data->channel.has_value());

    const auto bound = s.ChannelBind(0x4000, peer.address);
    ASSERT_TRUE(bound.has_value());
    ASSERT_EQ(bound->kind, TurnEvent::Kind::kChannelBound) << bound->error_code;
    const auto framed = RandomBytes(333, 8);
    ASSERT_TRUE(s.SendChannelData(0x4000, framed));
    EXPECT_EQ(RecvDatagram(peer.fd.get(), milliseconds(3000)), framed);
    ASSERT_TRUE(SendTo(peer.fd.get(), reply, relayed));
    const auto channel_data = s.WaitData();
    ASSERT_TRUE(channel_data.has_value());
    EXPECT_EQ(channel_data->channel, std::optional<uint16_t>(0x4000));
    EXPECT_EQ(channel_data->payload, reply);
  }
};

TEST_F(IoBackendTest, AutoFallsBackToEpollWhenSeccompBlocksIoUring) {
  server_.BlockIoUring();
  StartWith(Args("auto"));
  const std::string line = BackendLine();
  EXPECT_EQ(LogField(line, "backend"), "epoll") << server_.Log();
  EXPECT_THAT(LogField(line, "reason"), HasSubstr("io_uring_setup: Operation not permitted"));
  EXPECT_EQ(ReadyBackend(), "epoll");
  ExpectRelaying();
}

TEST_F(IoBackendTest, UringRequestedExitsWhenSeccompBlocksIoUring) {
  server_.BlockIoUring();
  std::string error;
  ASSERT_TRUE(server_.Spawn(Args("uring"), &error)) << error;
  EXPECT_EQ(server_.WaitExit(), 1) << server_.Log();
  bool reported = false;
  for (const std::string& l : server_.Lines()) {
    if (LogField(l, "event") != "io_backend_unavailable") continue;
    reported = true;
    EXPECT_EQ(LogField(l, "level"), "error");
    EXPECT_THAT(LogField(l, "error"), HasSubstr("io_uring_setup: Operation not permitted"));
    EXPECT_THAT(LogField(l, "error"), HasSubstr("--io-backend=epoll"));
  }
  EXPECT_TRUE(reported) << server_.Log();
  EXPECT_EQ(ReadyBackend(), "") << "must not start without its backend";
}

TEST_F(IoBackendTest, EpollRequestedRunsEpollAndSaysWhy) {
  StartWith(Args("epoll"));
  const std::string line = BackendLine();
  EXPECT_EQ(LogField(line, "backend"), "epoll") << server_.Log();
  EXPECT_EQ(LogField(line, "reason"), "requested");
  EXPECT_EQ(ReadyBackend(), "epoll");
  ExpectRelaying();
}

TEST_F(IoBackendTest, AutoPicksIoUringWhereItWorks) {
  StartWith(Args("auto"));
  const std::string line = BackendLine();
  if (LogField(line, "backend") == "epoll") {
    GTEST_SKIP() << "io_uring unusable on this host: " << LogField(line, "reason");
  }
  EXPECT_EQ(LogField(line, "backend"), "io_uring") << server_.Log();
  EXPECT_THAT(LogField(line, "reason"), HasSubstr("io_uring available"));
  EXPECT_EQ(ReadyBackend(), "io_uring");
  ExpectRelaying();
}

TEST(IoBackendOptionTest, UnknownBackendIsAUsageError) {
  const RunResult r = RunToCompletion({"--io-backend=kqueue"});
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_THAT(r.err, HasSubstr("--io-backend: \"kqueue\" is not auto, uring or epoll"));
}

}  // namespace
}  // namespace uturn::testing
