// Loopback socket helpers for the integration tests: small, blocking or
// poll()-with-timeout, and a driver that runs a BindingClient over a socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "client/binding_client.h"
#include "stun/address.h"
#include "stun/stream_framing.h"

namespace uturn::testing {

using std::chrono::milliseconds;

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A UDP socket bound to `local` (port 0 picks one).
Fd UdpSocket(const stun::SocketAddress& local = stun::SocketAddress::V4({127, 0, 0, 1}, 0));
// A connected TCP socket with TCP_NODELAY, or an invalid Fd.
Fd TcpConnect(const stun::SocketAddress& server);
stun::SocketAddress LocalAddress(int fd);

bool SendTo(int fd, std::span<const uint8_t> bytes, const stun::SocketAddress& to);
bool SendAll(int fd, std::span<const uint8_t> bytes);
// Sends every datagram to `to` with as few sendmmsg calls as the kernel
// allows, so they reach the receiver's queue back to back; false on error.
bool SendBurst(int fd, const std::vector<std::vector<uint8_t>>& datagrams,
               const stun::SocketAddress& to);
// One datagram, or nullopt if none arrives within `timeout`.
std::optional<std::vector<uint8_t>> RecvDatagram(int fd, milliseconds timeout);
// Reads from a stream until `framer` holds a whole frame; returns it (and
// consumes it), or nullopt on timeout, EOF or an invalid stream.
std::optional<std::vector<uint8_t>> RecvFrame(int fd, stun::StreamFramer& framer,
                                              milliseconds timeout);

enum class StreamEnd { kClosed, kTimeout };
// Discards incoming bytes until the peer closes (EOF or reset) or timeout.
StreamEnd WaitForClose(int fd, milliseconds timeout);

// Cryptographically unimportant but unpredictable IDs for tests.
client::RandomSource TestRandom();
// Config for loopback: short RTO so a lost datagram costs little.
client::BindingClientConfig FastConfig();

// Runs one Binding transaction over UDP / over a connected TCP socket, with
// the real clock, until it finishes.
client::BindingResult BindingOverUdp(int fd, const stun::SocketAddress& server,
                                     client::BindingClientConfig config = FastConfig());
client::BindingResult BindingOverTcp(int fd, client::BindingClientConfig config = FastConfig());

}  // namespace uturn::testing
