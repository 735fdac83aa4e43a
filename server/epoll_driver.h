// The fallback event loop of one shard, for hosts without io_uring (container
// seccomp profiles, kernel.io_uring_disabled): one level-triggered epoll per
// shard with every socket of the shard on it, driving the same sans-IO core
// through the same DriverBase as the io_uring driver (DESIGN.md §The data
// plane, --io-backend).
//
// One loop turn: epoll_wait (no longer than the core's NextTimeout or the
// housekeeping tick), read the coarse clock once, handle the ready sockets,
// flush the queued datagrams, then DriverBase::EndTurn (timers, TCP output,
// hook, housekeeping) and flush again.
//
// UDP (listening and relay sockets): drained with recvmmsg, kBatch datagrams
// per call, into per-shard buffers that keep turn::kPacketHeadroom free in
// front of each payload and kPacketTailroom behind it, so the core frames
// ChannelData/Data indications in place. The core's sends during a batch are
// queued (in place when they lie in the batch) and written with one sendmmsg
// per socket before the buffers are reused (UdpSendQueue).
//
// TCP: nonblocking accept4, one recv per readiness into the framer, writes
// straight from the WriteQueue; EPOLLOUT is armed only while output is left
// over (TcpConnection::send_pending means "waiting for EPOLLOUT" here).
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "server/driver_base.h"
#include "server/udp_send_queue.h"

namespace uturn::server {

class EpollDriver final : public DriverBase {
 public:
  static constexpr unsigned kBatch = 32;          // datagrams per recvmmsg
  static constexpr unsigned kBatchesPerEvent = 4;  // then let other sockets in
  static constexpr uint32_t kSendQueue = 256;      // datagrams queued before a flush

  static absl::StatusOr<std::unique_ptr<EpollDriver>> Create(const DriverOptions& options);
  ~EpollDriver() override;

  void AddUdpSocket(int fd, const stun::SocketAddress& local) override;
  void AddTcpListener(int fd, const stun::SocketAddress& local) override;
  void AddWakeFd(int fd, std::function<void()> on_wake) override;
  absl::Status Run() override;
  const char* backend_name() const override { return "epoll"; }

 private:
  enum class Op : uint8_t { kUdp = 1, kRelay, kListener, kTcp, kWake };

  explicit EpollDriver(const DriverOptions& options);
  static uint64_t Tag(Op op, uint32_t index, uint32_t generation = 0) {
    return PackTag(static_cast<uint8_t>(op), index, generation);
  }
  void Watch(int fd, uint32_t events, uint64_t tag);
  void Rewatch(int fd, uint32_t events, uint64_t tag);
  void Unwatch(int fd);

  void OnEvent(const epoll_event& ev);
  // Reads up to kBatchesPerEvent batches from `fd` while `open()` (the core
  // may close a relay mid-batch); `deliver` gets each datagram. The queued
  // sends are flushed after each batch.
  template <typename Open, typename Deliver>
  void Drain(int fd, Open open, Deliver deliver);
  void OnListener(uint32_t listener);
  void OnTcp(uint32_t conn, uint32_t events);
  void OnWake();
  void FlushSends();
  uint32_t TcpEvents(const TcpConnection& c) const;

  // DriverBase
  void QueueDatagram(int fd, const stun::SocketAddress& to,
                     std::span<const uint8_t> bytes) override;
  void StartRelayReceive(turn::RelayId id) override;
  void StopRelay(turn::RelayId id) override;
  void SendQueued(uint32_t conn) override;
  void CloseConnection(uint32_t conn, uint64_t* reason) override;
  void CloseConnectionAfterFlush(uint32_t conn, uint64_t* reason) override;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  // The receive batch: kBatch buffers of options_.receive_buffer_size.
  std::vector<uint8_t> storage_;
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iovs_{};
  std::array<sockaddr_storage, kBatch> names_{};
  UdpSendQueue sends_;
  std::array<epoll_event, 256> events_{};
};

}  // namespace uturn::server
