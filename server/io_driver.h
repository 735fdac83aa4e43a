// What a shard needs from its event loop (DESIGN.md §The data plane), with
// two implementations: the io_uring driver (server/uring_driver.h) and the
// epoll + recvmmsg/sendmmsg fallback (server/epoll_driver.h) for hosts where
// io_uring is blocked (container seccomp profiles, kernel.io_uring_disabled).
// Both run the same sans-IO core (turn::TurnServer) and are its
// turn::TurnHost. Which one runs is decided once, in main (ProbeIoBackend),
// and each shard then creates its own driver on its own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "stun/address.h"
#include "turn/turn_server.h"

namespace uturn::server {

class SharedReservations;
class TcpIpLimiter;

struct RelayAddresses;  // server/turn_config.h (which includes options.h, which includes this)

// --io-backend: kAuto probes io_uring and falls back to epoll.
enum class IoBackend : uint8_t { kAuto, kUring, kEpoll };

// "auto", "uring", "epoll" (the option's spelling).
inline std::optional<IoBackend> ParseIoBackend(std::string_view text) {
  if (text == "auto") return IoBackend::kAuto;
  if (text == "uring" || text == "io_uring") return IoBackend::kUring;
  if (text == "epoll") return IoBackend::kEpoll;
  return std::nullopt;
}

// The label logged and exported (uturn_io_backend_info{backend}).
inline const char* IoBackendName(IoBackend backend) {
  switch (backend) {
    case IoBackend::kAuto: return "auto";
    case IoBackend::kUring: return "io_uring";
    case IoBackend::kEpoll: return "epoll";
  }
  return "unknown";
}

struct DriverOptions {
  uint32_t max_tcp_connections = 10000;
  int64_t tcp_idle_timeout_ns = 300'000'000'000;
  // --max-allocate-timeout: a TCP connection that holds no allocation for
  // this long is closed (0: never). One holding an allocation never is.
  int64_t max_allocate_timeout_ns = 60'000'000'000;
  // --max-tcp-connections-per-ip, shared by all shards; nullptr: no cap.
  std::shared_ptr<TcpIpLimiter> ip_limiter;
  uint32_t sq_entries = 4096;
  uint32_t cq_entries = 16384;       // multishot receives can burst
  uint32_t receive_buffers = 4096;   // power of two
  uint32_t receive_buffer_size = 2048;
  uint32_t send_slots = 4096;
  // io_uring: in-place sends are grouped into UDP GSO batches
  // (server/gso_batcher.h): batches in flight at most, and whether GSO is
  // tried at all (--no-udp-gso).
  uint32_t gso_batches = 2048;
  bool udp_gso = true;
};

// Plain per-shard counters (DESIGN.md §Observability: summed at scrape time).
// A flat run of uint64_t (AddStats in shard.cc relies on it).
struct DriverStats {
  uint64_t udp_received = 0;         // client datagrams on listening sockets
  uint64_t udp_truncated = 0;        // larger than a receive buffer allows
  uint64_t udp_no_buffers = 0;       // -ENOBUFS: the buffer ring ran dry (io_uring)
  uint64_t udp_rearms = 0;
  uint64_t udp_send_errors = 0;
  uint64_t send_pool_exhausted = 0;  // sends dropped, no free send slot
  uint64_t send_too_large = 0;       // copied send larger than a slot
  uint64_t sends_in_place = 0;
  uint64_t sends_copied = 0;
  uint64_t binding_success = 0;      // Binding success responses sent
  uint64_t relay_received = 0;       // peer datagrams on relay sockets
  uint64_t relays_opened = 0;
  uint64_t relays_closed = 0;
  uint64_t relay_port_refused = 0;   // bind refused by the kernel; port skipped
  uint64_t relay_capacity_exhausted = 0;
  uint64_t tcp_accepted = 0;
  uint64_t tcp_rejected = 0;         // over --max-tcp-connections
  uint64_t tcp_closed = 0;
  uint64_t tcp_closed_invalid = 0;   // not STUN/ChannelData framed
  uint64_t tcp_closed_idle = 0;
  uint64_t tcp_closed_backlog = 0;   // write queue over its limit
  uint64_t tcp_send_no_connection = 0;  // core sent to a closed TCP connection
  uint64_t udp_send_would_block = 0;    // epoll: socket buffer full, datagram dropped
  uint64_t udp_send_batches = 0;        // epoll: sendmmsg calls
  uint64_t gso_sends = 0;       // io_uring: sendmsg calls carrying more than one datagram
  uint64_t gso_datagrams = 0;   // datagrams those carried
  uint64_t gso_refused = 0;     // sockets the kernel refused UDP_SEGMENT on
  uint64_t tcp_rejected_per_ip = 0;          // over --max-tcp-connections-per-ip
  uint64_t tcp_closed_allocate_timeout = 0;  // no allocation within --max-allocate-timeout
  uint64_t tcp_closed_allocation_expired = 0;  // its allocation's lifetime ran out
  uint64_t tcp_dropped_backpressure = 0;     // relayed data dropped: write queue over its bound
};

class IoDriver : public turn::TurnHost {
 public:
  ~IoDriver() override = default;

  // Relay addresses and port range; `random_start` seeds the port scan.
  virtual void ConfigureRelays(const RelayAddresses& relay, uint16_t min_port, uint16_t max_port,
                               uint32_t random_start) = 0;
  // EVEN-PORT reservations shared by all shards (this one being `shard`);
  // without a call the driver keeps its own. Before any relay is opened.
  virtual void ShareReservations(SharedReservations* shared, uint32_t shard) = 0;
  // The core, created with this driver as its host. Must be set before Run().
  virtual void SetTurnServer(turn::TurnServer* turn) = 0;
  // The driver takes ownership of the descriptors; `local` is the bound
  // address (the server half of the 5-tuple).
  virtual void AddUdpSocket(int fd, const stun::SocketAddress& local) = 0;
  virtual void AddTcpListener(int fd, const stun::SocketAddress& local) = 0;
  // Reads 8-byte eventfd wake-ups and calls `on_wake` for each, between
  // loop turns (how a shard learns of stop/drain/reload with no lock on the
  // hot path). The caller keeps ownership of `fd`.
  virtual void AddWakeFd(int fd, std::function<void()> on_wake) = 0;
  // Called once per loop turn after the receives and timers.
  virtual void SetTurnHook(std::function<void()> on_turn) = 0;
  // Run() returns at the end of the current loop turn.
  virtual void Stop(const char* reason) = 0;
  // Runs until Stop() or until the event loop fails.
  virtual absl::Status Run() = 0;
  virtual const char* stop_signal() const = 0;

  virtual const DriverStats& stats() const = 0;
  virtual size_t open_relays() const = 0;
  virtual const char* backend_name() const = 0;
};

// Which backend runs, and why (for the event=io_backend log line).
struct BackendChoice {
  IoBackend backend = IoBackend::kEpoll;  // never kAuto
  std::string reason;
};

// Decides once per process: kEpoll never touches io_uring; kUring and kAuto
// set up a small ring and check what uturn needs (the opcodes, a provided
// buffer ring, multishot recvmsg). kUring fails with the reason when it is
// missing; kAuto falls back to epoll and says why.
absl::StatusOr<BackendChoice> ProbeIoBackend(IoBackend requested);

// A driver of `backend` (kUring or kEpoll, as ProbeIoBackend chose). Call on
// the thread that runs it (an io_uring is tied to its thread).
absl::StatusOr<std::unique_ptr<IoDriver>> CreateIoDriver(IoBackend backend,
                                                         const DriverOptions& options);

}  // namespace uturn::server
