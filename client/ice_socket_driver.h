// Optional socket driver for the sans-IO IceAgent (client/ice_agent.h), for
// applications that do not want to write their own: one non-blocking UDP
// socket per local address (given, or every up non-loopback address from
// getifaddrs), a non-blocking TCP stream per (base, TURN server) reached
// over TCP (RFC 8656 §3.1), a poll(2) loop feeding HandlePacket/HandleTimeout,
// every PollTransmit sent, events and application data delivered to callbacks.
// This is the only code under client/ that owns sockets, threads or a clock
// (library uturn_ice_driver, apart from uturn_client).
//
// Two ways to run it:
//  - poll-loop mode: call RunOnce() from your own loop; Watch() adds your own
//    file descriptors (stdin, a listening socket) to the same poll;
//  - thread mode: Start() runs the loop on its own thread; SendData() and
//    WithAgent() may then be called from any thread.
// Callbacks run on the loop's thread with the driver's (recursive) lock
// held: they may call SendData() and use the agent directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/ice_agent.h"
#include "stun/address.h"
#include "stun/stream_framing.h"

namespace uturn::client {

struct IceSocketDriverOptions {
  // Addresses to bind (port 0: an ephemeral port). Empty: every up address
  // of every interface, per the two switches below.
  std::vector<stun::SocketAddress> bind;
  // Enumerated addresses include IPv6 link-local ones (fe80::/10; bound
  // with their interface's scope).
  bool link_local_v6 = false;
  // Enumerated addresses include loopback ones (tests on one machine).
  bool loopback = false;
  // Bytes waiting to be written on one TURN stream; a message that does not
  // fit is dropped whole (counted in send_errors(), like a lost datagram:
  // framing stays intact and a request times out as over UDP).
  size_t stream_queue_limit = 256 * 1024;
};

struct IceDriverCallbacks {
  std::function<void(const IceEvent&)> on_event;               // every PollEvent()
  std::function<void(std::span<const uint8_t>)> on_data;       // application data received
  std::function<void(std::string_view)> on_error;              // a socket error (optional)
};

// One address getifaddrs reported, and whether the driver would use it.
struct InterfaceAddress {
  stun::SocketAddress address;  // port 0
  uint32_t scope_id = 0;        // IPv6 link-local: the interface index
  bool up = false;              // IFF_UP
  bool loopback = false;        // IFF_LOOPBACK
};
// The filter Open() applies to enumerated addresses (pure, for tests):
// up, not loopback unless asked, not unspecified, IPv6 link-local only if
// asked (RFC 8445 §5.1.1.1: link-local candidates are of little use off-link).
bool UseInterfaceAddress(const InterfaceAddress& a, const IceSocketDriverOptions& options);
// getifaddrs(3), IPv4 and IPv6 only, in the kernel's order.
absl::StatusOr<std::vector<InterfaceAddress>> ListInterfaceAddresses();

class IceSocketDriver {
 public:
  // `agent` must outlive the driver. Nothing is opened until Open().
  IceSocketDriver(IceAgent* agent, IceDriverCallbacks callbacks);
  ~IceSocketDriver();  // Stop(), then closes every socket
  IceSocketDriver(const IceSocketDriver&) = delete;
  IceSocketDriver& operator=(const IceSocketDriver&) = delete;

  // Binds one socket per address and calls agent->AddLocalInterface with
  // its bound address, in order. Fails if no socket could be opened; the
  // addresses that failed are reported through on_error.
  absl::Status Open(const IceSocketDriverOptions& options);
  const std::vector<stun::SocketAddress>& local_addresses() const { return addresses_; }

  // ---- Poll-loop mode ----
  // `on_readable(now)` runs when `fd` polls readable (or hung up). Not
  // owned. Unwatch before closing it.
  absl::Status Watch(int fd, std::function<void(absl::Time now)> on_readable);
  void Unwatch(int fd);
  // Sends what is pending, waits at most `max_wait` (less when the agent's
  // timeout is sooner) for a datagram or a watched fd, handles it, runs
  // the agent's timers when due, sends what that produced.
  absl::Status RunOnce(absl::Duration max_wait);
  // Sends every pending transmit and delivers every pending event.
  void Flush();

  // ---- Thread mode ----
  absl::Status Start();
  void Stop();  // joins the thread; idempotent

  // Stop(), then closes every stream and socket after one last attempt to
  // write what is queued (e.g. the Refresh LIFETIME 0 of IceAgent::Close).
  // The agent is not told (it is closing). RunOnce fails afterwards.
  void Close();

  // Thread-safe: one datagram over the selected pair.
  absl::Status SendData(std::span<const uint8_t> payload);
  // Thread-safe access to the agent (e.g. signalling from another thread);
  // what it queued is sent before it returns.
  template <typename F>
  auto WithAgent(F&& f) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    struct FlushOnExit {
      IceSocketDriver* d;
      ~FlushOnExit() {
        d->FlushLocked(absl::Now());
        d->Wake();
      }
    } flush{this};
    return f(*agent_);
  }

  uint64_t send_errors() const { return send_errors_.load(); }
  uint64_t datagrams_received() const { return received_.load(); }
  // Loop turns woken by another thread (WithAgent/SendData off the loop).
  uint64_t wakeups() const { return wakeups_.load(); }
  // TURN streams open (or connecting) now.
  size_t open_streams() const;

 private:
  struct Socket {
    int fd = -1;
    stun::SocketAddress address;
    uint32_t scope_id = 0;
  };
  // One stream to a TURN server (TCP now; TLS will wrap Read/Write of the
  // same object: the framing, queue and agent calls stay as they are).
  struct Stream {
    uint64_t id = 0;
    int fd = -1;
    stun::SocketAddress base;    // the agent's base (the UDP socket's address)
    stun::SocketAddress server;
    TurnTransport transport = TurnTransport::kTcp;
    bool connecting = true;
    std::deque<std::vector<uint8_t>> queue;  // whole messages; front partly written
    size_t front_written = 0;
    size_t queued_bytes = 0;
    stun::StreamFramer framer;
    // A write failed where the stream could not be closed at once (a
    // callback may be reading from it): closed, with this reason, by the
    // loop's next ReapStreams.
    std::optional<std::string> dead;
  };
  absl::Status OpenOne(const stun::SocketAddress& address, uint32_t scope_id);
  void FlushLocked(absl::Time now);
  void ReadSocket(const Socket& s, absl::Time now);
  void SendDatagram(const IceTransmit& t);
  void SendOnStream(IceTransmit t, absl::Time now);
  Stream* OpenStream(const IceTransmit& t, absl::Time now);
  // Writes what the kernel takes; false if the stream was closed.
  bool WriteStream(Stream& s, absl::Time now);
  void ReadStream(Stream& s, absl::Time now);
  void StreamReady(uint64_t id, short revents, absl::Time now);
  // Closes it and tells the agent (its allocation fails) with `reason`.
  void CloseStream(uint64_t id, std::string reason, absl::Time now);
  void ReapStreams(absl::Time now);
  void Error(std::string_view what);
  void Wake();

  IceAgent* agent_;
  IceDriverCallbacks callbacks_;
  mutable std::recursive_mutex mu_;
  std::vector<Socket> sockets_;
  std::vector<stun::SocketAddress> addresses_;
  absl::flat_hash_map<stun::SocketAddress, size_t> by_address_;
  absl::flat_hash_map<int, std::function<void(absl::Time)>> watched_;
  size_t stream_queue_limit_ = IceSocketDriverOptions{}.stream_queue_limit;
  uint64_t next_stream_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Stream>> streams_;
  absl::flat_hash_map<std::tuple<stun::SocketAddress, stun::SocketAddress, TurnTransport>, uint64_t>
      stream_by_route_;
  bool closed_ = false;
  int wake_fd_ = -1;  // eventfd: SendData/WithAgent/Stop wake the poll
  // The thread that last entered RunOnce. Wake() from that thread writes
  // nothing: it is not in poll(), and the next RunOnce rebuilds its fd set
  // and deadline anyway (a write there would make that poll return at once
  // and the loop spin).
  std::atomic<std::thread::id> loop_thread_{};
  std::vector<uint8_t> buffer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> send_errors_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> wakeups_{0};
};

}  // namespace uturn::client
