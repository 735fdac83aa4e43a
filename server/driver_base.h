// What the io_uring and epoll drivers share, so it is written once: the
// core's clock, the loop turn's tail (timers, TCP flush, hook, once-a-second
// housekeeping), the turn::TurnHost side (relays through RelaySockets, sends
// routed to a UDP socket or a TCP connection), and the TCP bookkeeping that
// does not depend on the I/O model (limit, slots, tuple map, framing loop
// feeding the core, idle close). A driver supplies how a datagram is queued,
// how a relay is read and stopped, and how a connection is written and closed.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/io_driver.h"
#include "server/log.h"
#include "server/relay_sockets.h"
#include "server/tcp_connection.h"
#include "turn/turn_server.h"
#include "turn/types.h"

namespace uturn::server {

class DriverBase : public IoDriver {
 public:
  ~DriverBase() override;
  DriverBase(const DriverBase&) = delete;
  DriverBase& operator=(const DriverBase&) = delete;

  void ConfigureRelays(const RelayAddresses& relay, uint16_t min_port, uint16_t max_port,
                       uint32_t random_start) override {
    relays_.Configure(relay, min_port, max_port, random_start);
  }
  void ShareReservations(SharedReservations* shared, uint32_t shard) override {
    relays_.ShareReservations(shared, shard);
  }
  void SetTurnServer(turn::TurnServer* turn) override { turn_ = turn; }
  void SetTurnHook(std::function<void()> on_turn) override { on_turn_ = std::move(on_turn); }
  void Stop(const char* reason) override { stop_signal_ = reason; }
  const char* stop_signal() const override { return stop_signal_; }
  const DriverStats& stats() const override { return stats_; }
  size_t open_relays() const override { return relays_.open(); }

  // turn::TurnHost
  std::variant<Relay, RelayError> OpenRelay(const RelayRequest& request) override;
  void CloseRelay(turn::RelayId id) override;
  void SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) override;
  // Over TCP: dropped (and counted) past TcpConnection::kDataQueueLimit.
  void SendDataToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) override;
  // Over TCP: the connection is closed at the end of the timers' run.
  void OnAllocationExpired(const turn::FiveTuple& tuple) override;
  void SendToPeer(turn::RelayId relay, const stun::SocketAddress& peer,
                  std::span<const uint8_t> payload, bool dont_fragment) override;

 protected:
  struct UdpSocket {
    int fd;
    stun::SocketAddress local;
    msghdr msg;  // io_uring: the template the multishot recvmsg reads
  };
  struct Listener {
    int fd;
    stun::SocketAddress local;
  };

  explicit DriverBase(const DriverOptions& options);

  // --- what a driver supplies ---
  // One datagram from `fd` to `to`; `bytes` is valid only during the call.
  virtual void QueueDatagram(int fd, const stun::SocketAddress& to,
                             std::span<const uint8_t> bytes) = 0;
  // Start reading a relay socket just opened.
  virtual void StartRelayReceive(turn::RelayId id) = 0;
  // CloseRelay: stop reading; relays_.Close(id) now or once nothing is in flight.
  virtual void StopRelay(turn::RelayId id) = 0;
  // Write what conns_[i] has queued (as far as the socket takes it).
  virtual void SendQueued(uint32_t conn) = 0;
  // Close now (queued bytes are dropped); `reason` counter may be nullptr.
  virtual void CloseConnection(uint32_t conn, uint64_t* reason) = 0;
  // Read nothing more; close once the queued responses are written.
  virtual void CloseConnectionAfterFlush(uint32_t conn, uint64_t* reason) = 0;

  // An operation's user data: op, slot index and the low 24 bits of the
  // slot's generation (so an event for an earlier user of a slot is seen).
  struct TagParts {
    uint8_t op;
    uint32_t index;
    uint32_t generation;
  };
  static uint64_t PackTag(uint8_t op, uint32_t index, uint32_t generation) {
    return static_cast<uint64_t>(op) << 56 | static_cast<uint64_t>(generation & 0xFFFFFF) << 32 |
           index;
  }
  static TagParts UnpackTag(uint64_t tag) {
    return {static_cast<uint8_t>(tag >> 56), static_cast<uint32_t>(tag),
            static_cast<uint32_t>(tag >> 32) & 0xFFFFFF};
  }

  // --- the loop ---
  absl::Time Now() const { return epoch_ + absl::Nanoseconds(now_ns_); }
  void ReadClock();  // once per loop turn
  void BeginRun();
  // How long to wait for events: the housekeeping tick or the core's next
  // timer, whichever is first, within [1 ms, 1 s].
  int64_t WaitNs() const;
  // After the turn's events: timers, TCP flush, the hook, housekeeping.
  void EndTurn();

  // --- receives, handed to the core ---
  void DeliverClientDatagram(const UdpSocket& socket, const stun::SocketAddress& peer,
                             std::span<uint8_t> payload);
  // Drops it if the relay is closing (the core no longer knows it).
  void DeliverPeerDatagram(turn::RelayId relay, const stun::SocketAddress& peer,
                           std::span<uint8_t> payload);

  // --- TCP bookkeeping ---
  // An accepted connection on listener `local`: refused over the limit,
  // TCP_NODELAY, entered in the table; its slot, or nullopt (fd closed).
  std::optional<uint32_t> AcceptConnection(int fd, const stun::SocketAddress& local);
  // Feeds the frames now complete in conns_[i]'s framer to the core (call
  // after framer.Commit). False if the connection was closed or is closing.
  bool DeliverFrames(uint32_t i);
  // Marks conns_[i] closing and counts; false if it already was. Unroutes.
  bool BeginClose(uint32_t i, uint64_t* reason);
  // The core's sends to conns_[i]'s tuple are dropped from now on, and its
  // allocation is released (RFC 8656 §3.1). Once per connection; never call
  // it from inside a core callback.
  void Unroute(uint32_t i);
  // Closes the descriptor and frees the slot.
  void ReleaseConnection(uint32_t i);
  TcpConnection* conn(uint32_t i) { return i < conns_.size() ? conns_[i].get() : nullptr; }

  void LogLimited(LogLevel level, std::string_view event, std::string_view detail);

  DriverOptions options_;
  turn::TurnServer* turn_ = nullptr;
  DriverStats stats_;
  RelaySockets relays_{&stats_};
  std::vector<std::unique_ptr<UdpSocket>> udp_;  // stable: io_uring holds &msg
  std::vector<Listener> listeners_;
  std::vector<std::unique_ptr<TcpConnection>> conns_;
  std::function<void()> on_wake_;
  const char* stop_signal_ = nullptr;
  int64_t now_ns_ = 0;

 private:
  void RunTimers();
  void FlushTcp();
  void CloseIdle();
  void CloseExpired();

  std::vector<uint32_t> free_conns_;
  std::vector<uint32_t> generations_;  // per slot, survives the slot's reuse
  absl::flat_hash_map<turn::FiveTuple, uint32_t> tcp_by_tuple_;
  std::vector<uint32_t> tcp_dirty_;    // connections with output queued this turn
  // Connections whose allocation expired in this turn's timers: {slot, generation}.
  std::vector<std::pair<uint32_t, uint32_t>> tcp_expired_;
  int64_t tcp_in_receive_ = -1;        // connection whose frames the core is handling
  std::vector<uint8_t> tcp_scratch_;   // one frame with headroom/tailroom around it
  uint32_t open_conns_ = 0;
  std::function<void()> on_turn_;
  absl::Time epoch_;  // wall-clock time at monotonic zero, fixed at start
  int64_t next_housekeeping_ns_ = 0;
  RateLimiter log_limiter_{10, 20};
};

}  // namespace uturn::server
