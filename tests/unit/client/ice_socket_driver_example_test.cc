// Compiles the socket driver example of client/README.md §Socket driver
// (kept identical to it) and runs it with no server and no remote: it opens its
// sockets, signals its credentials, gathers and stops cleanly.
#include <sys/random.h>

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "client/ice_socket_driver.h"

namespace readme_example {

// `signal` sends our credentials and candidates to the remote; the remote's
// come back through driver.WithAgent(... SetRemoteCredentials / AddRemoteCandidate ...).
// `config`: role, STUN/TURN servers (config.stun_servers = {*SocketAddress::Parse(...)}).
void RunIce(uturn::client::IceAgentConfig config, uturn::client::RandomSource random,
            std::function<void(std::string)> signal) {
  using namespace uturn::client;
  IceAgent agent(std::move(config), std::move(random));
  IceSocketDriver* self = nullptr;
  IceSocketDriver driver(&agent, IceDriverCallbacks{
      .on_event = [&](const IceEvent& e) {
        if (e.kind == IceEvent::Kind::kLocalCandidate) {
          signal("a=" + uturn::ice::FormatCandidate(e.candidate.candidate));
        } else if (e.kind == IceEvent::Kind::kSelectedPair) {
          const uint8_t hello[] = {0x80, 'h', 'i'};  // RFC 7983: not STUN, not TURN
          self->SendData(hello).IgnoreError();
        }
      },
      .on_data = [](std::span<const uint8_t> data) { /* application data */ (void)data; },
      .on_error = [](std::string_view what) { /* log it */ (void)what; },
  });
  self = &driver;
  if (!driver.Open(IceSocketDriverOptions{}).ok()) return;  // every non-loopback address
  signal("a=ice-ufrag:" + agent.local_credentials().ufrag);
  signal("a=ice-pwd:" + agent.local_credentials().pwd);
  driver.WithAgent([](IceAgent& a) { return a.StartGathering(absl::Now()); }).IgnoreError();
  driver.Start().IgnoreError();
  // ... the application runs; driver.SendData() from any thread ...
  driver.Stop();
  driver.WithAgent([](IceAgent& a) { a.Close(absl::Now()); return 0; });  // deallocates TURN
}
}  // namespace readme_example

namespace {

TEST(IceSocketDriverExampleTest, ReadmeExampleRuns) {
  std::vector<std::string> signalled;
  // No STUN/TURN server and no remote: nothing is sent anywhere.
  readme_example::RunIce(
      uturn::client::IceAgentConfig{}, [](std::span<uint8_t> out) { ASSERT_EQ(getrandom(out.data(), out.size(), 0), static_cast<ssize_t>(out.size())); },
      [&](std::string line) { signalled.push_back(std::move(line)); });
  // A machine with no non-loopback address opens nothing and signals nothing.
  if (!signalled.empty()) {
    ASSERT_GE(signalled.size(), 2u);
    EXPECT_EQ(signalled[0].rfind("a=ice-ufrag:", 0), 0u);
    EXPECT_EQ(signalled[1].rfind("a=ice-pwd:", 0), 0u);
  }
}

}  // namespace
