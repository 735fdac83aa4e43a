// Integration helpers for TURN: a TurnClient driven over a real UDP socket
// with the real clock, a fixture that starts `uturn` with TURN options, and
// peers (plain UDP sockets of the test).
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/turn_client.h"
#include "tests/integration/net.h"
#include "tests/integration/server_process.h"

namespace uturn::testing {

// u:p on the test server; fast retransmissions for loopback.
client::TurnClientConfig TurnConfigFor(const std::string& user, const std::string& password);
client::TurnClientConfig NoAuthTurnConfig();

struct PeerData {
  stun::SocketAddress peer;
  std::vector<uint8_t> payload;
  std::optional<uint16_t> channel;
};

class TurnSession {
 public:
  TurnSession(const stun::SocketAddress& server, client::TurnClientConfig config);

  int fd() const { return fd_.get(); }
  stun::SocketAddress local() const { return LocalAddress(fd_.get()); }
  client::TurnClient& client() { return *client_; }
  // A fresh TurnClient on the same socket (same 5-tuple), e.g. to provoke 437.
  void ReplaceClient(client::TurnClientConfig config);

  // Start a request and pump until its outcome (nullopt: the start failed or
  // nothing came within `timeout`, which the RFC timers make generous).
  std::optional<client::TurnEvent> Allocate();
  std::optional<client::TurnEvent> Refresh(std::optional<uint32_t> lifetime);
  std::optional<client::TurnEvent> CreatePermission(const std::vector<stun::SocketAddress>& peers);
  std::optional<client::TurnEvent> ChannelBind(uint16_t channel, const stun::SocketAddress& peer);
  std::optional<client::TurnEvent> Custom(stun::Method method,
                                          std::vector<client::ExtraAttribute> attributes,
                                          std::vector<stun::SocketAddress> xor_peers = {});

  bool SendIndication(const stun::SocketAddress& peer, std::span<const uint8_t> payload);
  bool SendChannelData(uint16_t channel, std::span<const uint8_t> payload);
  // Next data from a peer (Data indication or ChannelData), pumping meanwhile.
  std::optional<PeerData> WaitData(milliseconds timeout = milliseconds(3000));

  // Every datagram this session sent to the server, in order.
  const std::vector<std::vector<uint8_t>>& sent() const { return sent_; }

 private:
  std::optional<client::TurnEvent> Await(absl::StatusOr<client::RequestHandle> handle,
                                         milliseconds timeout = milliseconds(10000));
  void Flush();
  // Waits for one datagram or timer until `until`; false once `until` passed.
  bool PumpOnce(std::chrono::steady_clock::time_point until);

  stun::SocketAddress server_;
  Fd fd_;
  std::unique_ptr<client::TurnClient> client_;
  std::deque<client::TurnEvent> events_;
  std::deque<PeerData> data_;
  std::vector<std::vector<uint8_t>> sent_;
};

// The base command line of the brief; tests add options.
std::vector<std::string> BaseTurnArgs();

class TurnServerTest : public ::testing::Test {
 protected:
  // Starts uturn with exactly `args`; the UDP listener must come up.
  void StartWith(const std::vector<std::string>& args);
  // BaseTurnArgs() plus `extra`.
  void Start(const std::vector<std::string>& extra = {});
  void TearDown() override;

  ServerProcess server_;
  stun::SocketAddress udp_;
  bool started_ = false;
};

// A UDP peer and its address, on 127.0.0.1 unless told otherwise (another
// loopback IP such as 127.0.0.2 is another peer for permissions, which are
// per IP address: RFC 8656 §9).
struct Peer {
  Fd fd;
  stun::SocketAddress address;
};
Peer MakePeer(std::array<uint8_t, 4> ip = {127, 0, 0, 1});

std::vector<uint8_t> Bytes(std::string_view s);
std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed);

}  // namespace uturn::testing
