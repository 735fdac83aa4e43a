// The optional socket driver (client/ice_socket_driver.h): address
// filtering, error paths, and two real agents connecting over loopback
// sockets in poll-loop mode and in thread mode.
#include "client/ice_socket_driver.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace uturn::client {
namespace {

void Random(std::span<uint8_t> out) {
  ASSERT_EQ(getrandom(out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
}

InterfaceAddress Iface(const char* ip, bool up = true, bool loopback = false) {
  InterfaceAddress a;
  a.address = *stun::SocketAddress::ParseIp(ip, 0);
  a.up = up;
  a.loopback = loopback;
  return a;
}

TEST(IceSocketDriverFilterTest, WhatEnumerationKeeps) {
  IceSocketDriverOptions o;
  EXPECT_TRUE(UseInterfaceAddress(Iface("192.0.2.1"), o));
  EXPECT_TRUE(UseInterfaceAddress(Iface("2001:db8::1"), o));
  EXPECT_FALSE(UseInterfaceAddress(Iface("192.0.2.1", false), o));        // down
  EXPECT_FALSE(UseInterfaceAddress(Iface("127.0.0.1", true, true), o));   // loopback
  EXPECT_FALSE(UseInterfaceAddress(Iface("::1", true, true), o));
  EXPECT_FALSE(UseInterfaceAddress(Iface("fe80::1"), o));                 // link-local v6
  EXPECT_FALSE(UseInterfaceAddress(Iface("febf::1"), o));
  EXPECT_TRUE(UseInterfaceAddress(Iface("fec0::1"), o));                  // not fe80::/10
  EXPECT_FALSE(UseInterfaceAddress(Iface("0.0.0.0"), o));
  EXPECT_FALSE(UseInterfaceAddress(Iface("::"), o));
  o.loopback = true;
  o.link_local_v6 = true;
  EXPECT_TRUE(UseInterfaceAddress(Iface("127.0.0.1", true, true), o));
  EXPECT_TRUE(UseInterfaceAddress(Iface("fe80::1"), o));
  EXPECT_FALSE(UseInterfaceAddress(Iface("127.0.0.1", false, true), o));
}

TEST(IceSocketDriverFilterTest, EnumerationSeesLoopback) {
  auto list = ListInterfaceAddresses();
  ASSERT_TRUE(list.ok()) << list.status();
  bool lo = false;
  for (const InterfaceAddress& a : *list) {
    EXPECT_EQ(a.address.port, 0);
    lo = lo || (a.loopback && a.address == *stun::SocketAddress::ParseIp("127.0.0.1", 0));
  }
  EXPECT_TRUE(lo);
}

TEST(IceSocketDriverTest, ErrorPaths) {
  IceAgent agent(IceAgentConfig{}, Random);
  std::vector<std::string> errors;
  IceSocketDriver d(&agent, IceDriverCallbacks{{}, {}, [&](std::string_view e) { errors.emplace_back(e); }});
  EXPECT_EQ(d.RunOnce(absl::ZeroDuration()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.Watch(-1, [](absl::Time) {}).code(), absl::StatusCode::kInvalidArgument);
  IceSocketDriverOptions o;
  o.bind = {*stun::SocketAddress::ParseIp("0.0.0.0", 0)};  // ICE needs real addresses
  EXPECT_FALSE(d.Open(o).ok());
  // 192.0.2.1 is not on this machine: bind fails (EADDRNOTAVAIL).
  o.bind = {*stun::SocketAddress::ParseIp("192.0.2.1", 0)};
  EXPECT_FALSE(d.Open(o).ok());
  EXPECT_EQ(errors.size(), 2u);
  // One good address among bad ones is enough.
  o.bind = {*stun::SocketAddress::ParseIp("192.0.2.1", 0), *stun::SocketAddress::ParseIp("127.0.0.1", 0)};
  ASSERT_TRUE(d.Open(o).ok());
  ASSERT_EQ(d.local_addresses().size(), 1u);
  EXPECT_NE(d.local_addresses()[0].port, 0);
  EXPECT_EQ(errors.size(), 3u);
  // No pair selected yet.
  const uint8_t byte = 0x80;
  EXPECT_FALSE(d.SendData(std::span<const uint8_t>(&byte, 1)).ok());
}

// A driver on one loopback socket watching a pipe's read end; each byte
// written to the pipe runs `on_byte` on the loop.
class WatchedPipeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IceSocketDriverOptions o;
    o.bind = {*stun::SocketAddress::ParseIp("127.0.0.1", 0)};
    ASSERT_TRUE(d.Open(o).ok());
    ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    ASSERT_TRUE(d.Watch(p[0], [this](absl::Time) {
                   char c;
                   while (read(p[0], &c, 1) == 1) {
                     ++calls;
                     if (on_byte) on_byte();
                   }
                 }).ok());
  }
  void TearDown() override {
    d.Unwatch(p[0]);
    close(p[0]);
    close(p[1]);
  }
  void RunUntilCalls(int n) {
    for (int i = 0; i < 100 && calls < n; ++i) ASSERT_TRUE(d.RunOnce(absl::Seconds(1)).ok());
  }

  IceAgent agent{IceAgentConfig{}, Random};
  IceSocketDriver d{&agent, {}};
  int p[2] = {-1, -1};
  int calls = 0;
  std::function<void()> on_byte;
};

TEST_F(WatchedPipeTest, WatchedFdsRunInTheSameLoop) {
  ASSERT_EQ(write(p[1], "xy", 2), 2);
  RunUntilCalls(2);
  EXPECT_EQ(calls, 2);
  d.Unwatch(p[0]);
  ASSERT_EQ(write(p[1], "z", 1), 1);
  ASSERT_TRUE(d.RunOnce(absl::Milliseconds(20)).ok());
  EXPECT_EQ(calls, 2);  // no longer watched
}

// uturn-ice calls WithAgent from its stdin callback, on the loop's own
// thread: that must not write the wake eventfd, or every poll returns at
// once and an idle peer spins at 100% CPU (fixed in 807de55). From another
// thread it must wake the loop.
TEST_F(WatchedPipeTest, WithAgentWakesTheLoopOnlyFromAnotherThread) {
  on_byte = [this] { d.WithAgent([](IceAgent& a) { return a.PollTimeout(); }); };
  // The loop's thread is known after one turn, which also takes Watch()'s wake.
  ASSERT_TRUE(d.RunOnce(absl::ZeroDuration()).ok());
  const uint64_t before = d.wakeups();
  ASSERT_EQ(write(p[1], "abc", 3), 3);
  RunUntilCalls(3);
  ASSERT_EQ(calls, 3);
  // Idle turns: nothing is ready, so each waits out its 5 ms.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(d.RunOnce(absl::Milliseconds(5)).ok());
  EXPECT_EQ(d.wakeups(), before) << "WithAgent on the loop thread woke the loop";
  std::thread other([&] { d.WithAgent([](IceAgent& a) { return a.PollTimeout(); }); });
  other.join();
  for (int i = 0; i < 100 && d.wakeups() == before; ++i) {
    ASSERT_TRUE(d.RunOnce(absl::Seconds(1)).ok());
  }
  EXPECT_EQ(d.wakeups(), before + 1);
}

// Two agents, each on its own driver, signalling through the callbacks.
struct Side {
  explicit Side(ice::Role role) : agent(Config(role), Random), driver(&agent, Callbacks()) {}
  static IceAgentConfig Config(ice::Role role) {
    IceAgentConfig c;
    c.role = role;
    return c;
  }
  IceDriverCallbacks Callbacks() {
    return IceDriverCallbacks{
        [this](const IceEvent& e) {
          std::lock_guard<std::mutex> l(mu);
          if (e.kind == IceEvent::Kind::kLocalCandidate) outbox.push_back(e.candidate.candidate);
          if (e.kind == IceEvent::Kind::kStateChanged &&
              (e.state == IceState::kConnected || e.state == IceState::kCompleted)) {
            connected = true;
          }
          cv.notify_all();
        },
        [this](std::span<const uint8_t> d) {
          std::lock_guard<std::mutex> l(mu);
          received.emplace_back(d.begin(), d.end());
          cv.notify_all();
        },
        {}};
  }
  // Hands our new candidates to `other` (under its driver's lock).
  void SignalTo(Side& other) {
    std::vector<ice::Candidate> out;
    {
      std::lock_guard<std::mutex> l(mu);
      out.swap(outbox);
    }
    for (const ice::Candidate& c : out) {
      other.driver.WithAgent([&](IceAgent& a) { return a.AddRemoteCandidate(c, absl::Now()); }).IgnoreError();
    }
  }
  IceAgent agent;
  IceSocketDriver driver;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ice::Candidate> outbox;
  std::vector<std::vector<uint8_t>> received;
  std::atomic<bool> connected{false};
};

void ConnectSides(Side& a, Side& b) {
  IceSocketDriverOptions o;
  o.bind = {*stun::SocketAddress::ParseIp("127.0.0.1", 0)};
  ASSERT_TRUE(a.driver.Open(o).ok());
  ASSERT_TRUE(b.driver.Open(o).ok());
  const absl::Time now = absl::Now();
  ASSERT_TRUE(a.agent.SetRemoteCredentials(b.agent.local_credentials(), now).ok());
  ASSERT_TRUE(b.agent.SetRemoteCredentials(a.agent.local_credentials(), now).ok());
  ASSERT_TRUE(a.driver.WithAgent([](IceAgent& x) { return x.StartGathering(absl::Now()); }).ok());
  ASSERT_TRUE(b.driver.WithAgent([](IceAgent& x) { return x.StartGathering(absl::Now()); }).ok());
}

TEST(IceSocketDriverTest, TwoAgentsConnectInPollLoopMode) {
  Side a(ice::Role::kControlling), b(ice::Role::kControlled);
  ConnectSides(a, b);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Each round waits at most 10 ms per driver; bounded by the deadline.
  while (absl::Now() < deadline && !(a.connected && b.connected)) {
    a.SignalTo(b);
    b.SignalTo(a);
    ASSERT_TRUE(a.driver.RunOnce(absl::Milliseconds(10)).ok());
    ASSERT_TRUE(b.driver.RunOnce(absl::Milliseconds(10)).ok());
  }
  ASSERT_TRUE(a.connected && b.connected);
  const std::vector<uint8_t> payload = {0x80, 1, 2, 3};
  ASSERT_TRUE(a.driver.SendData(payload).ok());
  for (int i = 0; i < 200 && b.received.empty(); ++i) ASSERT_TRUE(b.driver.RunOnce(absl::Milliseconds(10)).ok());
  ASSERT_EQ(b.received.size(), 1u);
  EXPECT_EQ(b.received[0], payload);
  EXPECT_EQ(a.driver.send_errors(), 0u);
}

TEST(IceSocketDriverTest, TwoAgentsConnectInThreadMode) {
  Side a(ice::Role::kControlling), b(ice::Role::kControlled);
  ConnectSides(a, b);
  ASSERT_TRUE(a.driver.Start().ok());
  ASSERT_TRUE(b.driver.Start().ok());
  EXPECT_EQ(a.driver.Start().code(), absl::StatusCode::kFailedPrecondition);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // Signals what each side gathered, waking on a's events or every 20 ms
  // (b's candidates come on b's thread); bounded by the deadline.
  while (!(a.connected && b.connected) && std::chrono::steady_clock::now() < deadline) {
    a.SignalTo(b);
    b.SignalTo(a);
    std::unique_lock<std::mutex> l(a.mu);
    a.cv.wait_for(l, std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(a.connected && b.connected);
  // SendData from this thread while both loops run.
  const std::vector<uint8_t> payload = {0x80, 9, 9};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.driver.SendData(payload).ok());
  {
    std::unique_lock<std::mutex> l(a.mu);
    ASSERT_TRUE(a.cv.wait_for(l, std::chrono::seconds(5), [&] { return a.received.size() >= 5; }));
    EXPECT_EQ(a.received[0], payload);
  }
  a.driver.Stop();
  b.driver.Stop();
  a.driver.Stop();  // idempotent
}

}  // namespace
}  // namespace uturn::client
