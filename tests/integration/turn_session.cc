#include "tests/integration/turn_session.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <random>

#include "absl/time/clock.h"

namespace uturn::testing {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

client::TurnClientConfig TurnConfigFor(const std::string& user, const std::string& password) {
  client::TurnClientConfig c = NoAuthTurnConfig();
  c.credentials = client::TurnCredentials{user, password};
  return c;
}

client::TurnClientConfig NoAuthTurnConfig() {
  client::TurnClientConfig c;
  c.transaction.initial_rto = absl::Milliseconds(100);
  c.software = "uturn-integration-test";
  return c;
}

TurnSession::TurnSession(const stun::SocketAddress& server, client::TurnClientConfig config)
    : server_(server), fd_(UdpSocket()) {
  ReplaceClient(std::move(config));
}

void TurnSession::ReplaceClient(client::TurnClientConfig config) {
  client_ = std::make_unique<client::TurnClient>(std::move(config), TestRandom());
  events_.clear();
}

void TurnSession::Flush() {
  while (auto out = client_->PollTransmit()) {
    SendTo(fd_.get(), *out, server_);
    sent_.push_back(std::move(*out));
  }
}

bool TurnSession::PumpOnce(Clock::time_point until) {
  Flush();
  const auto now = Clock::now();
  if (now >= until) return false;
  int wait_ms = static_cast<int>(std::chrono::duration_cast<milliseconds>(until - now).count()) + 1;
  const absl::Time timer = client_->deadline();
  if (timer != absl::InfiniteFuture()) {
    const int64_t t = absl::ToInt64Milliseconds(timer - absl::Now()) + 1;
    wait_ms = static_cast<int>(std::clamp<int64_t>(t, 0, wait_ms));
  }
  pollfd p{fd_.get(), POLLIN, 0};
  const int r = ::poll(&p, 1, wait_ms);
  if (r > 0) {
    std::vector<uint8_t> buf(65536);
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      const client::Incoming in = client_->HandleIncoming(
          std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), absl::Now());
      if (in.kind == client::Incoming::Kind::kData) {
        data_.push_back(PeerData{in.peer, {in.payload.begin(), in.payload.end()}, in.channel});
      }
    }
  }
  if (absl::Now() >= client_->deadline()) client_->HandleTimeout(absl::Now());
  while (auto ev = client_->PollEvent()) events_.push_back(std::move(*ev));
  Flush();
  return true;
}

std::optional<client::TurnEvent> TurnSession::Await(absl::StatusOr<client::RequestHandle> handle,
                                                    milliseconds timeout) {
  EXPECT_TRUE(handle.ok()) << handle.status();
  if (!handle.ok()) return std::nullopt;
  const auto until = Clock::now() + timeout;
  for (;;) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (it->request == *handle) {
        client::TurnEvent ev = std::move(*it);
        events_.erase(it);
        return ev;
      }
    }
    if (!PumpOnce(until)) return std::nullopt;
  }
}

std::optional<client::TurnEvent> TurnSession::Allocate() {
  return Await(client_->Allocate(absl::Now()));
}
std::optional<client::TurnEvent> TurnSession::Refresh(std::optional<uint32_t> lifetime) {
  return Await(client_->Refresh(absl::Now(), lifetime));
}
std::optional<client::TurnEvent> TurnSession::CreatePermission(
    const std::vector<stun::SocketAddress>& peers) {
  return Await(client_->CreatePermission(absl::Now(), peers));
}
std::optional<client::TurnEvent> TurnSession::ChannelBind(uint16_t channel,
                                                          const stun::SocketAddress& peer) {
  return Await(client_->ChannelBind(absl::Now(), channel, peer));
}
std::optional<client::TurnEvent> TurnSession::Custom(stun::Method method,
                                                     std::vector<client::ExtraAttribute> attributes,
                                                     std::vector<stun::SocketAddress> xor_peers) {
  return Await(client_->CustomRequest(absl::Now(), method, std::move(attributes), std::move(xor_peers)));
}

bool TurnSession::SendIndication(const stun::SocketAddress& peer, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(payload.size() + 128);
  auto n = client_->WriteSendIndication(peer, payload, out);
  if (!n.ok()) return false;
  out.resize(*n);
  sent_.push_back(out);
  return SendTo(fd_.get(), out, server_);
}

bool TurnSession::SendChannelData(uint16_t channel, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(payload.size() + 8);
  auto n = client_->WriteChannelData(channel, payload, out);
  if (!n.ok()) return false;
  out.resize(*n);
  sent_.push_back(out);
  return SendTo(fd_.get(), out, server_);
}

std::optional<PeerData> TurnSession::WaitData(milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    if (!data_.empty()) {
      PeerData d = std::move(data_.front());
      data_.pop_front();
      return d;
    }
    if (!PumpOnce(until)) return std::nullopt;
  }
}

std::vector<std::string> BaseTurnArgs() {
  return {"--listening-ip", "127.0.0.1", "--listening-port", "0", "--relay-ip", "127.0.0.1",
          "--allow-loopback-peers", "--user", "u:p"};
}

void TurnServerTest::StartWith(const std::vector<std::string>& args) {
  std::string error;
  ASSERT_TRUE(server_.StartAndWaitReady(args, &error)) << error;
  started_ = true;
  ASSERT_TRUE(server_.Udp().has_value()) << server_.Log();
  udp_ = *server_.Udp();
}

void TurnServerTest::Start(const std::vector<std::string>& extra) {
  std::vector<std::string> args = BaseTurnArgs();
  args.insert(args.end(), extra.begin(), extra.end());
  StartWith(args);
}

void TurnServerTest::TearDown() {
  if (!started_) return;
  // A test that crashed the server fails even if its own checks passed.
  EXPECT_TRUE(server_.Alive()) << server_.Log();
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitExit(), 0) << server_.Log();
}

Peer MakePeer(std::array<uint8_t, 4> ip) {
  Peer p;
  p.fd = UdpSocket(stun::SocketAddress::V4(ip, 0));
  p.address = LocalAddress(p.fd.get());
  return p;
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 engine(seed);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(engine());
  return out;
}

}  // namespace uturn::testing
