// The io_uring event loop of one shard: one thread, one ring, every socket of
// the shard on it (DESIGN.md §The data plane), driving the sans-IO TURN core
// (turn::TurnServer) and implementing its turn::TurnHost. The driver keeps no
// global state: `--relay-threads N` creates N (server/shard.h), each in its
// own thread and created there (SINGLE_ISSUER ties a ring to its thread).
//
// The parts both drivers share are in server/driver_base.h.
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

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "server/buffer_ring.h"
#include "server/driver_base.h"
#include "server/gso_batcher.h"
#include "server/send_pool.h"

namespace uturn::server {

class UringDriver final : public DriverBase {
 public:
  // Bytes reserved for the peer's address in front of each received payload
  // (sockaddr_in6 is 28); with io_uring_recvmsg_out this is the headroom.
  static constexpr uint32_t kRecvNameLen = 64;

  // Fails with a clear message if io_uring is unavailable (seccomp, or
  // kernel.io_uring_disabled) or lacks what uturn needs.
  static absl::StatusOr<std::unique_ptr<UringDriver>> Create(const DriverOptions& options);
  ~UringDriver() override;

  void AddUdpSocket(int fd, const stun::SocketAddress& local) override;
  void AddTcpListener(int fd, const stun::SocketAddress& local) override;
  void AddWakeFd(int fd, std::function<void()> on_wake) override;
  absl::Status Run() override;
  const char* backend_name() const override { return "io_uring"; }

 private:
  enum class Op : uint8_t {
    kUdpReceive = 1,
    kUdpSend,
    kAccept,
    kTcpReceive,
    kTcpSend,
    kCancel,
    kRelayReceive,
    kWake,
    kUdpBatchSend,
  };

  explicit UringDriver(const DriverOptions& options);
  io_uring_sqe* GetSqe();
  static uint64_t Tag(Op op, uint32_t index, uint32_t generation = 0) {
    return PackTag(static_cast<uint8_t>(op), index, generation);
  }

  void ArmRecvmsg(int fd, msghdr* msg, uint64_t tag);
  void ArmAccept(uint32_t listener);
  void ArmWake();
  void ArmTcpReceive(uint32_t conn);

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
    return options_.udp_gso &&
           (static_cast<size_t>(fd) >= gso_refused_.size() || gso_refused_[fd] == 0);
  }
  void ResetGso(int fd);
  void OnAccept(uint32_t listener, const io_uring_cqe& cqe);
  void OnTcpReceive(uint32_t conn, int res);
  void OnTcpSend(uint32_t conn, int res);
  void OnWake(int res);
  void Unref(uint16_t buffer_id);
  // Frees a closing connection's slot once none of its operations is in flight.
  void MaybeRelease(uint32_t conn);

  // DriverBase
  // In place when `bytes` lie in the buffer being processed (into a GSO
  // batch), else copied into a send slot; submitted with the turn.
  void QueueDatagram(int fd, const stun::SocketAddress& to,
                     std::span<const uint8_t> bytes) override;
  void StartRelayReceive(turn::RelayId id) override;
  // Cancels the multishot receive; its last completion closes the socket.
  void StopRelay(turn::RelayId id) override;
  void SendQueued(uint32_t conn) override;
  void CloseConnection(uint32_t conn, uint64_t* reason) override;
  void CloseConnectionAfterFlush(uint32_t conn, uint64_t* reason) override;

  io_uring ring_{};
  bool ring_ready_ = false;
  std::unique_ptr<BufferRing> buffers_;
  std::vector<uint16_t> buffer_refs_;  // in-flight in-place sends + the one being processed
  int32_t current_buffer_ = -1;       // the buffer whose packet the core is handling
  SendPool send_pool_;
  GsoBatcher gso_;
  std::vector<uint8_t> gso_refused_;  // by descriptor
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
};

}  // namespace uturn::server
