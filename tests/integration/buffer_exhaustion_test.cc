// The io_uring driver's receive-buffer ring running dry (issue 4): with a
// ring of 4 buffers and bursts of thousands of datagrams, multishot receives
// end with -ENOBUFS again and again. Each time the driver counts it and arms
// the receive again; the datagrams wait in the socket's queue meanwhile, so
// none is lost and the server keeps answering.
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

constexpr int kClients = 8;
constexpr int kRequestsPerClient = 500;

// A Binding request (RFC 8489 §5) with transaction ID (client, i).
std::vector<uint8_t> BindingRequest(int client, int i) {
  std::vector<uint8_t> m = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  m.resize(20, 0);
  std::memcpy(&m[8], &client, sizeof client);
  std::memcpy(&m[12], &i, sizeof i);
  return m;
}

std::optional<uint64_t> StoppedField(const ServerProcess& server, const std::string& key) {
  for (const std::string& l : server.Lines()) {
    if (LogField(l, "event") == "stopped") return std::stoull(LogField(l, key));
  }
  return std::nullopt;
}

class BufferExhaustionTest : public TurnServerTest {};

TEST_F(BufferExhaustionTest, EmptyRingIsCountedRearmedAndLosesNothing) {
  const char* backend = std::getenv("UTURN_TEST_IO_BACKEND");
  if (backend != nullptr && std::string(backend) == "epoll") {
    GTEST_SKIP() << "the epoll backend has no provided-buffer ring";
  }
  Start({"--udp-receive-buffers", "4"});
  std::vector<Fd> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(UdpSocket());
    const int big = 4 << 20;  // the test counts the server's answers, not its own queue's
    setsockopt(clients.back().get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  }
  for (int c = 0; c < kClients; ++c) {
    std::vector<std::vector<uint8_t>> burst;
    for (int i = 0; i < kRequestsPerClient; ++i) burst.push_back(BindingRequest(c, i));
    ASSERT_TRUE(SendBurst(clients[c].get(), burst, udp_)) << std::strerror(errno);
  }
  // Every request is answered, each exactly once (a success response
  // carries the request's transaction ID: RFC 8489 §6.3.3).
  for (int c = 0; c < kClients; ++c) {
    std::vector<bool> seen(kRequestsPerClient, false);
    int answered = 0;
    while (answered < kRequestsPerClient) {
      const auto r = RecvDatagram(clients[c].get(), milliseconds(5000));
      ASSERT_TRUE(r.has_value()) << "client " << c << ": " << answered << " answers\n"
                                 << server_.Log();
      ASSERT_GE(r->size(), 20u);
      EXPECT_EQ((*r)[0], 0x01);  // Binding success response
      EXPECT_EQ((*r)[1], 0x01);
      int client = -1, i = -1;
      std::memcpy(&client, r->data() + 8, sizeof client);
      std::memcpy(&i, r->data() + 12, sizeof i);
      ASSERT_EQ(client, c);
      ASSERT_TRUE(i >= 0 && i < kRequestsPerClient);
      EXPECT_FALSE(seen[i]) << "answered twice: " << i;
      seen[i] = true;
      ++answered;
    }
  }
  server_.Signal(SIGTERM);
  ASSERT_EQ(server_.WaitExit(), 0) << server_.Log();
  started_ = false;
  const auto no_buffers = StoppedField(server_, "udp_no_buffers");
  const auto rearms = StoppedField(server_, "udp_rearms");
  ASSERT_TRUE(no_buffers && rearms) << server_.Log();
  EXPECT_GT(*no_buffers, 0u) << "4 buffers for 4,000 back-to-back datagrams never ran dry?";
  EXPECT_GE(*rearms, *no_buffers) << "every receive that ended was armed again";
  EXPECT_EQ(StoppedField(server_, "binding_success"), uint64_t{kClients * kRequestsPerClient});
}

}  // namespace
}  // namespace uturn::testing
