// The socket driver's TURN streams (RFC 8656 §3.1) on loopback, against a
// listening socket the test controls: the connection comes from the base's
// IP and carries the Allocate framed as STUN; a refused connection, a
// server that hangs up, garbage on the stream and a full write queue each
// end the relay with their reason; Close() closes the stream. Every wait
// is a bounded loop on a condition.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client/ice_socket_driver.h"
#include "stun/message_view.h"

namespace uturn::client {
namespace {

void Random(std::span<uint8_t> out) {
  ASSERT_EQ(getrandom(out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
}

// A loopback TCP socket; listening unless `listen_too` is false (then a
// connection to it is refused).
struct Listener {
  explicit Listener(bool listen_too = true) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
    if (listen_too) {
      EXPECT_EQ(listen(fd, 4), 0);
    }
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    address = stun::SocketAddress::V4({127, 0, 0, 1}, ntohs(a.sin_port));
  }
  ~Listener() {
    if (conn >= 0) close(conn);
    close(fd);
  }
  // Accepts (non-blocking attempt); true once connected.
  bool TryAccept() {
    if (conn >= 0) return true;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 1) return false;
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    conn = accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    peer_ip = ntohl(peer.sin_addr.s_addr);
    return conn >= 0;
  }
  // Reads what is there (non-blocking); false on EOF.
  bool ReadSome() {
    uint8_t buf[4096];
    for (;;) {
      const ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n == 0) return false;
      if (n < 0) return true;
      received.insert(received.end(), buf, buf + n);
    }
  }
  int fd = -1;
  int conn = -1;
  uint32_t peer_ip = 0;
  stun::SocketAddress address;
  std::vector<uint8_t> received;
};

struct DriverRun {
  explicit DriverRun(const stun::SocketAddress& turn, IceSocketDriverOptions o = {})
      : agent(Config(turn), Random),
        driver(&agent, IceDriverCallbacks{
                           .on_event = [this](const IceEvent& e) {
                             if (e.kind == IceEvent::Kind::kTurnError) turn_errors.push_back(e.reason);
                           },
                           .on_data = {},
                           .on_error = [this](std::string_view e) { errors.emplace_back(e); },
                       }) {
    o.bind = {*stun::SocketAddress::ParseIp("127.0.0.1", 0)};
    EXPECT_TRUE(driver.Open(o).ok());
    EXPECT_TRUE(driver.WithAgent([](IceAgent& a) { return a.StartGathering(absl::Now()); }).ok());
  }
  static IceAgentConfig Config(const stun::SocketAddress& turn) {
    IceAgentConfig c;
    c.turn_servers.push_back({turn, TurnCredentials{"u", "p"}, TurnTransport::kTcp});
    return c;
  }
  // Turns the loop until `done()` (at most ~5 s of 10 ms turns).
  template <typename F>
  bool Until(F done) {
    for (int i = 0; i < 500; ++i) {
      if (done()) return true;
      EXPECT_TRUE(driver.RunOnce(absl::Milliseconds(10)).ok());
    }
    return done();
  }
  IceAgent agent;
  std::vector<std::string> turn_errors;
  std::vector<std::string> errors;
  IceSocketDriver driver;
};

bool HasAllocate(const std::vector<uint8_t>& bytes) {
  stun::MessageView m;
  return bytes.size() >= 20 &&
         stun::MessageView::Parse(std::span(bytes).first(20 + (bytes[2] << 8 | bytes[3])), &m) ==
             stun::ParseError::kNone &&
         m.Is(stun::Method::kAllocate, stun::MessageClass::kRequest);
}

TEST(IceSocketDriverTcpTest, TheAllocateArrivesOnAStreamFromTheBaseIpAndCloseClosesIt) {
  Listener server;
  DriverRun run(server.address);
  ASSERT_TRUE(run.Until([&] { return server.TryAccept() && server.ReadSome() && HasAllocate(server.received); }));
  EXPECT_EQ(server.peer_ip, 0x7f000001u);
  EXPECT_EQ(run.driver.open_streams(), 1u);
  EXPECT_TRUE(run.turn_errors.empty());
  run.driver.Close();
  EXPECT_EQ(run.driver.open_streams(), 0u);
  bool eof = false;
  for (int i = 0; i < 500 && !eof; ++i) {
    pollfd p{server.conn, POLLIN, 0};
    poll(&p, 1, 10);
    eof = !server.ReadSome();
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(run.driver.RunOnce(absl::ZeroDuration()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IceSocketDriverTcpTest, RefusedConnectionIsATurnError) {
  Listener closed(/*listen_too=*/false);
  DriverRun run(closed.address);
  ASSERT_TRUE(run.Until([&] { return !run.turn_errors.empty(); }));
  EXPECT_NE(run.turn_errors[0].find("over tcp"), std::string::npos) << run.turn_errors[0];
  EXPECT_NE(run.turn_errors[0].find("refused"), std::string::npos) << run.turn_errors[0];
  EXPECT_EQ(run.driver.open_streams(), 0u);
}

TEST(IceSocketDriverTcpTest, ServerHangingUpIsATurnError) {
  Listener server;
  DriverRun run(server.address);
  ASSERT_TRUE(run.Until([&] { return server.TryAccept() && server.ReadSome() && HasAllocate(server.received); }));
  close(server.conn);
  server.conn = -1;
  ASSERT_TRUE(run.Until([&] { return !run.turn_errors.empty(); }));
  EXPECT_NE(run.turn_errors[0].find("closed the stream"), std::string::npos) << run.turn_errors[0];
  EXPECT_EQ(run.driver.open_streams(), 0u);
}

TEST(IceSocketDriverTcpTest, GarbageOnTheStreamClosesIt) {
  Listener server;
  DriverRun run(server.address);
  ASSERT_TRUE(run.Until([&] { return server.TryAccept(); }));
  // 0xFF: neither STUN (0b00) nor ChannelData (0b01): framing is lost.
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(send(server.conn, junk, sizeof junk, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(run.Until([&] { return !run.turn_errors.empty(); }));
  EXPECT_NE(run.turn_errors[0].find("neither STUN nor ChannelData"), std::string::npos) << run.turn_errors[0];
  EXPECT_EQ(run.driver.open_streams(), 0u);
}

TEST(IceSocketDriverTcpTest, AMessageOverTheQueueLimitIsDroppedWhole) {
  Listener server;
  IceSocketDriverOptions o;
  o.stream_queue_limit = 16;  // smaller than any Allocate
  DriverRun run(server.address, o);
  ASSERT_TRUE(run.Until([&] { return run.driver.send_errors() > 0; }));
  bool full = false;
  for (const std::string& e : run.errors) full = full || e.find("write queue full") != std::string::npos;
  EXPECT_TRUE(full);
  // The stream is there; nothing was written on it.
  EXPECT_EQ(run.driver.open_streams(), 1u);
  ASSERT_TRUE(run.Until([&] { return server.TryAccept(); }));
  EXPECT_TRUE(server.ReadSome());
  EXPECT_TRUE(server.received.empty());
}

}  // namespace
}  // namespace uturn::client
