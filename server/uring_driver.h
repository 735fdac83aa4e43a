// The io_uring event loop of one shard: one thread, one ring, every socket of
// the shard on it (DESIGN.md §The data plane). This issue runs one shard; the
// driver keeps no global state so `--relay-threads N` can create N, each in
// its own thread (SINGLE_ISSUER ties a ring to the thread that creates it).
//
// One loop turn: submit everything queued and wait (io_uring_submit_and_wait_
// timeout), read the coarse clock once, handle every completion, then run the
// once-a-second housekeeping (TCP idle timeout).
#pragma once

#include <liburing.h>
#include <sys/signalfd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/buffer_ring.h"
#include "server/log.h"
#include "server/send_pool.h"
#include "server/stun_responder.h"
#include "server/tcp_connection.h"

namespace uturn::server {

struct DriverOptions {
  uint32_t max_tcp_connections = 10000;
  int64_t tcp_idle_timeout_ns = 300'000'000'000;
  uint32_t sq_entries = 4096;
  uint32_t cq_entries = 16384;       // multishot receives can burst
  uint32_t receive_buffers = 4096;   // power of two
  uint32_t receive_buffer_size = 2048;
  uint32_t send_slots = 2048;
};

// Plain per-shard counters (DESIGN.md §Observability: summed at scrape time).
struct DriverStats {
  uint64_t udp_received = 0;
  uint64_t udp_truncated = 0;        // larger than a receive buffer
  uint64_t udp_no_buffers = 0;       // -ENOBUFS: the buffer ring ran dry
  uint64_t udp_rearms = 0;
  uint64_t udp_send_errors = 0;
  uint64_t send_pool_exhausted = 0;  // responses dropped, no free send slot
  uint64_t tcp_accepted = 0;
  uint64_t tcp_rejected = 0;         // over --max-tcp-connections
  uint64_t tcp_closed = 0;
  uint64_t tcp_closed_invalid = 0;   // not STUN/ChannelData framed
  uint64_t tcp_closed_idle = 0;
  uint64_t tcp_closed_backlog = 0;   // write queue over its limit
  uint64_t tcp_channel_data_dropped = 0;  // no allocations yet
};

class UringDriver {
 public:
  // Fails with a clear message if io_uring is unavailable (seccomp, or
  // kernel.io_uring_disabled); the epoll fallback is a later issue.
  static absl::StatusOr<std::unique_ptr<UringDriver>> Create(const DriverOptions& options,
                                                             StunResponder* responder);
  ~UringDriver();
  UringDriver(const UringDriver&) = delete;
  UringDriver& operator=(const UringDriver&) = delete;

  // The driver takes ownership of the descriptors.
  void AddUdpSocket(int fd);
  void AddTcpListener(int fd);
  // Reads signals through the ring: SIGTERM/SIGINT stop Run(), SIGHUP is
  // logged (reload is a later issue). The signals must be blocked already.
  void AddSignalFd(int fd);

  // Runs until a stop signal arrives (see stop_signal()) or the ring fails.
  absl::Status Run();
  const char* stop_signal() const;  // "SIGTERM", "SIGINT" or nullptr

  bool reduced_setup_flags() const { return reduced_setup_flags_; }
  const DriverStats& stats() const { return stats_; }

 private:
  enum class Op : uint8_t {
    kUdpReceive = 1,
    kUdpSend,
    kAccept,
    kTcpReceive,
    kTcpSend,
    kSignal,
    kCancel,
  };
  struct UdpSocket {
    int fd;
    msghdr msg;  // template the multishot recvmsg reads; must outlive it
  };

  UringDriver(const DriverOptions& options, StunResponder* responder);
  io_uring_sqe* GetSqe();
  static uint64_t Tag(Op op, uint32_t index, uint32_t generation = 0);

  void ArmUdpReceive(uint32_t socket);
  void ArmAccept(uint32_t listener);
  void ArmSignal();
  void ArmTcpReceive(uint32_t conn);
  void MaybeSend(uint32_t conn);

  void OnCompletion(const io_uring_cqe& cqe);
  void OnUdpReceive(uint32_t socket, const io_uring_cqe& cqe);
  void OnUdpSend(uint32_t slot, int res);
  void OnAccept(uint32_t listener, const io_uring_cqe& cqe);
  void OnTcpReceive(uint32_t conn, int res);
  void OnTcpSend(uint32_t conn, int res);
  void OnSignal(int res);

  // Sends what is queued, then closes; reads nothing more.
  void CloseAfterFlush(uint32_t conn, uint64_t* reason_counter);
  void Close(uint32_t conn, uint64_t* reason_counter);
  void MaybeRelease(uint32_t conn);
  void CloseIdle();
  void LogLimited(LogLevel level, std::string_view event, std::string_view detail);

  DriverOptions options_;
  StunResponder* responder_;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool reduced_setup_flags_ = false;
  std::unique_ptr<BufferRing> buffers_;
  SendPool send_pool_;
  std::vector<std::unique_ptr<UdpSocket>> udp_;  // stable: the kernel holds &msg
  std::vector<int> listeners_;
  std::vector<std::unique_ptr<TcpConnection>> conns_;
  std::vector<uint32_t> free_conns_;
  std::vector<uint32_t> generations_;  // per slot, survives the slot's reuse
  uint32_t open_conns_ = 0;
  int signal_fd_ = -1;
  signalfd_siginfo siginfo_{};
  const char* stop_signal_ = nullptr;
  int64_t now_ns_ = 0;
  int64_t next_housekeeping_ns_ = 0;
  RateLimiter log_limiter_{10, 20};
  DriverStats stats_;
};

}  // namespace uturn::server
