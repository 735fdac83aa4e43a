// The io_uring event loop of one shard: one thread, one ring, every socket of
// the shard on it (DESIGN.md §The data plane), driving the sans-IO TURN core
// (turn::TurnServer) and implementing its turn::TurnHost. The driver keeps no
// global state: `--relay-threads N` creates N (server/shard.h), each in its
// own thread and created there (SINGLE_ISSUER ties a ring to its thread).
//
// One loop turn: submit everything queued and wait (io_uring_submit_and_wait_
// timeout, no longer than the core's NextTimeout), read the coarse clock
// once, handle every completion, run the core's timers, flush TCP output,
// then the once-a-second housekeeping (TCP idle timeout, reservations).
//
// Receive buffers: a multishot recvmsg puts io_uring_recvmsg_out and the
// peer's name (kRecvNameLen bytes) in front of the payload. Once the name is
// copied out that area is free: it is the turn::kPacketHeadroom the core
// writes ChannelData/Data indication headers into. Sends of bytes that lie in
// the buffer being processed go out in place; the buffer returns to the ring
// when its last send completes (a reference count per buffer).
#pragma once

#include <liburing.h>
#include <sys/signalfd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/buffer_ring.h"
#include "server/gso_batcher.h"
#include "server/log.h"
#include "server/port_pool.h"
#include "server/send_pool.h"
#include "server/tcp_connection.h"
#include "server/turn_config.h"
#include "turn/turn_server.h"
#include "turn/types.h"

namespace uturn::server {

struct DriverOptions {
  uint32_t max_tcp_connections = 10000;
  int64_t tcp_idle_timeout_ns = 300'000'000'000;
  uint32_t sq_entries = 4096;
  uint32_t cq_entries = 16384;       // multishot receives can burst
  uint32_t receive_buffers = 4096;   // power of two
  uint32_t receive_buffer_size = 2048;
  uint32_t send_slots = 4096;
  // In-place sends are grouped into UDP GSO batches (server/gso_batcher.h):
  // batches in flight at most, and whether GSO is tried at all (--no-udp-gso).
  uint32_t gso_batches = 2048;
  bool udp_gso = true;
};

// Plain per-shard counters (DESIGN.md §Observability: summed at scrape time).
struct DriverStats {
  uint64_t udp_received = 0;         // client datagrams on listening sockets
  uint64_t udp_truncated = 0;        // larger than a receive buffer allows
  uint64_t udp_no_buffers = 0;       // -ENOBUFS: the buffer ring ran dry
  uint64_t udp_rearms = 0;
  uint64_t udp_send_errors = 0;
  uint64_t send_pool_exhausted = 0;  // sends dropped, no free send slot
  uint64_t send_too_large = 0;       // copied send larger than a slot
  uint64_t sends_in_place = 0;
  uint64_t sends_copied = 0;
  uint64_t gso_sends = 0;            // sendmsg calls carrying more than one datagram
  uint64_t gso_datagrams = 0;        // datagrams those carried
  uint64_t gso_refused = 0;          // sockets the kernel refused UDP_SEGMENT on
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
};

class UringDriver final : public turn::TurnHost {
 public:
  // Bytes reserved for the peer's address in front of each received payload
  // (sockaddr_in6 is 28); with io_uring_recvmsg_out this is the headroom.
  static constexpr uint32_t kRecvNameLen = 64;

  // Fails with a clear message if io_uring is unavailable (seccomp, or
  // kernel.io_uring_disabled); the epoll fallback is a later issue.
  static absl::StatusOr<std::unique_ptr<UringDriver>> Create(const DriverOptions& options);
  ~UringDriver() override;
  UringDriver(const UringDriver&) = delete;
  UringDriver& operator=(const UringDriver&) = delete;

  // Relay addresses and port range; `random_start` seeds the port scan.
  void ConfigureRelays(const RelayAddresses& relay, uint16_t min_port, uint16_t max_port,
                       uint32_t random_start);
  // The core, created with this driver as its host. Must be set before Run().
  void SetTurnServer(turn::TurnServer* turn) { turn_ = turn; }
  // The driver takes ownership of the descriptors; `local` is the bound
  // address (the server half of the 5-tuple).
  void AddUdpSocket(int fd, const stun::SocketAddress& local);
  void AddTcpListener(int fd, const stun::SocketAddress& local);
  // Reads signals through the ring: SIGTERM/SIGINT stop Run(), SIGHUP calls
  // `on_reload`. The signals must be blocked already.
  void AddSignalFd(int fd, std::function<void()> on_reload);
  // Reads 8-byte eventfd wake-ups through the ring and calls `on_wake` for
  // each, between loop turns (how a shard learns of stop/drain/reload with
  // no lock on the hot path). The caller keeps ownership of `fd`.
  void AddWakeFd(int fd, std::function<void()> on_wake);
  // Called once per loop turn after the completions and timers.
  void SetTurnHook(std::function<void()> on_turn) { on_turn_ = std::move(on_turn); }
  // Run() returns at the end of the current loop turn; `reason` is what
  // stop_signal() reports.
  void Stop(const char* reason) { stop_signal_ = reason; }

  // Runs until a stop signal arrives (see stop_signal()) or the ring fails.
  absl::Status Run();
  const char* stop_signal() const;  // "SIGTERM", "SIGINT" or nullptr

  bool reduced_setup_flags() const { return reduced_setup_flags_; }
  const DriverStats& stats() const { return stats_; }
  size_t open_relays() const { return open_relays_; }

  // turn::TurnHost
  std::variant<Relay, RelayError> OpenRelay(const RelayRequest& request) override;
  void CloseRelay(turn::RelayId id) override;
  void SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) override;
  void SendToPeer(turn::RelayId relay, const stun::SocketAddress& peer,
                  std::span<const uint8_t> payload, bool dont_fragment) override;

 private:
  enum class Op : uint8_t {
    kUdpReceive = 1,
    kUdpSend,
    kAccept,
    kTcpReceive,
    kTcpSend,
    kSignal,
    kCancel,
    kRelayReceive,
    kWake,
    kUdpBatchSend,
  };
  struct UdpSocket {
    int fd;
    stun::SocketAddress local;
    msghdr msg;  // template the multishot recvmsg reads; must outlive it
  };
  struct Listener {
    int fd;
    stun::SocketAddress local;
  };
  struct RelaySocket {
    int fd = -1;
    uint16_t port = 0;
    stun::Family family = stun::Family::kIPv4;
    bool closing = false;        // CloseRelay called; waiting for the last CQE
    bool dont_fragment = false;  // DF already set on the socket
    msghdr msg{};
  };
  struct RelayFamily {
    std::optional<PortPool> pool;
    stun::SocketAddress bind;        // port 0
    stun::SocketAddress advertised;  // port 0
  };

  explicit UringDriver(const DriverOptions& options);
  io_uring_sqe* GetSqe();
  static uint64_t Tag(Op op, uint32_t index, uint32_t generation = 0);
  absl::Time Now() const { return epoch_ + absl::Nanoseconds(now_ns_); }

  void ArmRecvmsg(int fd, msghdr* msg, uint64_t tag);
  void ArmAccept(uint32_t listener);
  void ArmSignal();
  void ArmWake();
  void ArmTcpReceive(uint32_t conn);
  void MaybeSend(uint32_t conn);

  void OnCompletion(const io_uring_cqe& cqe);
  // The payload of a receive completion with its headroom/tailroom checked,
  // or an empty span (buffer already returned) when it must be dropped.
  std::span<uint8_t> TakePayload(const io_uring_cqe& cqe, const msghdr& msg,
                                 std::optional<stun::SocketAddress>* peer, uint16_t* buffer_id);
  void OnUdpReceive(uint32_t socket, const io_uring_cqe& cqe);
  void OnRelayReceive(uint32_t relay, const io_uring_cqe& cqe);
  void OnUdpSend(uint32_t slot, int res);
  void SubmitBatch(GsoBatch& batch);
  void OnBatchSend(uint32_t batch, int res);
  // Per descriptor: the kernel refused UDP_SEGMENT on it (reset when a
  // socket is added under that number).
  bool GsoAllowed(int fd) const {
    return options_.udp_gso && (static_cast<size_t>(fd) >= gso_refused_.size() || !gso_refused_[fd]);
  }
  void ResetGso(int fd);
  void OnAccept(uint32_t listener, const io_uring_cqe& cqe);
  void OnTcpReceive(uint32_t conn, int res);
  void OnTcpSend(uint32_t conn, int res);
  void OnSignal(int res);
  void OnWake(int res);

  // Queues one datagram from `fd`; in place when `bytes` lie in the buffer
  // being processed, else copied into a send slot.
  void QueueDatagram(int fd, const stun::SocketAddress& to, std::span<const uint8_t> bytes);
  void Unref(uint16_t buffer_id);
  int OpenRelaySocket(const stun::SocketAddress& bind, uint16_t port, int* error);
  uint32_t AddRelay(int fd, stun::Family family, uint16_t port);
  void FinishRelayClose(uint32_t relay);
  void ExpireReservations();
  void RunTimers();
  void FlushTcp();

  // Sends what is queued, then closes; reads nothing more.
  void CloseAfterFlush(uint32_t conn, uint64_t* reason_counter);
  void Close(uint32_t conn, uint64_t* reason_counter);
  void MaybeRelease(uint32_t conn);
  void CloseIdle();
  void LogLimited(LogLevel level, std::string_view event, std::string_view detail);

  DriverOptions options_;
  turn::TurnServer* turn_ = nullptr;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool reduced_setup_flags_ = false;
  std::unique_ptr<BufferRing> buffers_;
  std::vector<uint16_t> buffer_refs_;  // in-flight in-place sends + the one being processed
  int32_t current_buffer_ = -1;       // the buffer whose packet the core is handling
  SendPool send_pool_;
  GsoBatcher gso_;
  std::vector<uint8_t> gso_refused_;  // by descriptor
  std::vector<std::unique_ptr<UdpSocket>> udp_;  // stable: the kernel holds &msg
  std::vector<Listener> listeners_;
  std::vector<std::unique_ptr<TcpConnection>> conns_;
  std::vector<uint32_t> free_conns_;
  std::vector<uint32_t> generations_;  // per slot, survives the slot's reuse
  absl::flat_hash_map<turn::FiveTuple, uint32_t> tcp_by_tuple_;
  std::vector<uint32_t> tcp_dirty_;    // connections with output queued this turn
  int64_t tcp_in_receive_ = -1;        // connection whose frames the core is handling
  std::vector<uint8_t> tcp_scratch_;   // one frame with headroom/tailroom around it
  uint32_t open_conns_ = 0;
  RelayFamily relay_v4_, relay_v6_;
  std::vector<std::unique_ptr<RelaySocket>> relays_;  // index = RelayId
  std::vector<uint32_t> free_relays_;
  size_t open_relays_ = 0;
  Reservations reservations_;
  int signal_fd_ = -1;
  std::function<void()> on_reload_;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  std::function<void()> on_wake_;
  std::function<void()> on_turn_;
  signalfd_siginfo siginfo_{};
  const char* stop_signal_ = nullptr;
  int64_t now_ns_ = 0;
  absl::Time epoch_;  // wall-clock time at monotonic zero, fixed at start
  int64_t next_housekeeping_ns_ = 0;
  RateLimiter log_limiter_{10, 20};
  DriverStats stats_;
};

}  // namespace uturn::server
