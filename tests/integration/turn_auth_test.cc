// Authentication modes of the real binary: TURN REST API shared secrets, the
// embedded default (generated secret and example credential), --no-auth.
#include <ctime>
#include <string>

#include "absl/strings/escaping.h"
#include "stun/integrity.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

// TURN REST API: password = base64(HMAC-SHA1(secret, "expiry:name")),
// computed here with the codec's HMAC, independently of the server.
client::TurnClientConfig RestConfig(const std::string& secret, int64_t expiry, const std::string& name) {
  const std::string username = std::to_string(expiry) + ":" + name;
  std::array<uint8_t, 20> mac{};
  const std::span<const uint8_t> parts[] = {stun::KeyBytes(username)};
  stun::HmacSha1(stun::KeyBytes(secret), parts, mac);
  const std::string password =
      absl::Base64Escape(std::string(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return TurnConfigFor(username, password);
}

std::vector<std::string> RestArgs() {
  return {"--listening-ip", "127.0.0.1", "--listening-port", "0", "--relay-ip", "127.0.0.1",
          "--allow-loopback-peers", "--use-auth-secret", "--static-auth-secret", "first-secret",
          "--static-auth-secret", "second-secret"};
}

class TurnAuthTest : public TurnServerTest {};

TEST_F(TurnAuthTest, RestSecretValidUsername) {
  StartWith(RestArgs());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const char* secret : {"first-secret", "second-secret"}) {  // rotation: both accepted
    TurnSession s(udp_, RestConfig(secret, now + 3600, "alice"));
    const auto ev = s.Allocate();
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->kind, TurnEvent::Kind::kAllocated) << secret << " " << ev->error_code << " " << ev->reason;
  }
}

TEST_F(TurnAuthTest, RestSecretExpiredOrWrongIsRefused) {
  StartWith(RestArgs());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  TurnSession expired(udp_, RestConfig("first-secret", now - 10, "alice"));
  auto ev = expired.Allocate();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->error_code, 401);
  TurnSession wrong(udp_, RestConfig("not-the-secret", now + 3600, "alice"));
  ev = wrong.Allocate();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->error_code, 401);
}

TEST_F(TurnAuthTest, EmbeddedDefaultPrintsAWorkingCredential) {
  StartWith({"--listening-ip", "127.0.0.1", "--listening-port", "0", "--relay-ip", "127.0.0.1",
             "--allow-loopback-peers"});
  std::string user, password, secret;
  for (const std::string& line : server_.Lines()) {
    if (LogField(line, "event") != "generated_auth_secret") continue;
    EXPECT_EQ(LogField(line, "level"), "warn") << line;
    user = LogField(line, "example_username");
    password = LogField(line, "example_password");
    secret = LogField(line, "secret");
  }
  ASSERT_FALSE(user.empty()) << server_.Log();
  ASSERT_FALSE(password.empty()) << server_.Log();
  EXPECT_FALSE(secret.empty());
  TurnSession s(udp_, TurnConfigFor(user, password));
  const auto ev = s.Allocate();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, TurnEvent::Kind::kAllocated) << ev->error_code << " " << ev->reason;
  // Without credentials the default server refuses.
  TurnSession anonymous(udp_, NoAuthTurnConfig());
  EXPECT_EQ(anonymous.Allocate()->error_code, 401);
}

TEST_F(TurnAuthTest, RelayLineLoggedBeforeReady) {
  Start({"--min-port", "50000", "--max-port", "50100"});
  bool relay_seen = false;
  for (const std::string& line : server_.Lines()) {
    const std::string event = LogField(line, "event");
    if (event == "relay") {
      relay_seen = true;
      EXPECT_EQ(LogField(line, "address"), "127.0.0.1") << line;
      EXPECT_EQ(LogField(line, "ports"), "50000-50100") << line;
    }
    if (event == "ready") break;
  }
  EXPECT_TRUE(relay_seen) << server_.Log();
}

TEST_F(TurnAuthTest, NoAuthWarnsAndAllocatesWithoutCredentials) {
  StartWith({"--listening-ip", "127.0.0.1", "--listening-port", "0", "--relay-ip", "127.0.0.1",
             "--allow-loopback-peers", "--no-auth"});
  bool warned = false;
  for (const std::string& line : server_.Lines()) {
    if (LogField(line, "event") == "no_auth" && LogField(line, "level") == "warn") warned = true;
  }
  EXPECT_TRUE(warned) << server_.Log();
  TurnSession s(udp_, NoAuthTurnConfig());
  const auto ev = s.Allocate();
  ASSERT_TRUE(ev.has_value());
  ASSERT_EQ(ev->kind, TurnEvent::Kind::kAllocated) << ev->error_code << " " << ev->reason;
  // And it relays.
  Peer peer = MakePeer();
  ASSERT_EQ(s.CreatePermission({peer.address})->kind, TurnEvent::Kind::kPermissionCreated);
  ASSERT_TRUE(s.SendIndication(peer.address, Bytes("anonymous")));
  const auto got = RecvDatagram(peer.fd.get(), milliseconds(3000));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Bytes("anonymous"));
}

}  // namespace
}  // namespace uturn::testing
