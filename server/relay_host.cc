// UringDriver's half of turn::TurnHost: reading relay sockets (RelaySockets
// opens and binds them) and the sends the core asks for: in place through
// GSO batches, or copied.
#include <cassert>
#include <cerrno>
#include <cstring>

#include "server/uring_driver.h"

namespace uturn::server {

void UringDriver::StartRelayReceive(turn::RelayId id) {
  RelaySockets::Socket& r = *relays_.get(id);
  r.msg.msg_namelen = kRecvNameLen;
  ResetGso(r.fd);
  ArmRecvmsg(r.fd, &r.msg, Tag(Op::kRelayReceive, id));
}

void UringDriver::StopRelay(turn::RelayId id) {
  // The multishot receive ends with a final completion (no F_MORE); the
  // socket is closed and its port returned then (OnRelayReceive).
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel64(sqe, Tag(Op::kRelayReceive, id), 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kCancel, id));
}

void UringDriver::QueueDatagram(int fd, const stun::SocketAddress& to,
                                std::span<const uint8_t> bytes) {
  if (current_buffer_ >= 0) {
    const std::span<uint8_t> buf = buffers_->buffer(static_cast<uint16_t>(current_buffer_));
    if (bytes.data() >= buf.data() && bytes.data() + bytes.size() <= buf.data() + buf.size()) {
      // In place: the receive buffer stays referenced until the send
      // completes. Into a GSO batch; the loop submits the turn's batches
      // together (gso_.Flush in Run).
      if (!gso_.Add(fd, to, bytes, current_buffer_, GsoAllowed(fd))) {
        ++stats_.send_pool_exhausted;
        return;
      }
      ++buffer_refs_[current_buffer_];
      ++stats_.sends_in_place;
      return;
    }
  }
  SendSlot* slot = send_pool_.Acquire();
  if (slot == nullptr) {
    ++stats_.send_pool_exhausted;
    return;
  }
  if (bytes.size() > slot->buffer.size()) {
    ++stats_.send_too_large;
    send_pool_.Release(slot);
    return;
  }
  std::memcpy(slot->buffer.data(), bytes.data(), bytes.size());
  slot->Prepare(bytes.size(), to);
  ++stats_.sends_copied;
  // Queued only: the loop submits the turn's SQEs together.
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_sendmsg(sqe, fd, &slot->msg, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kUdpSend, slot->index));
}

void UringDriver::OnUdpSend(uint32_t slot, int res) {
  if (res < 0) {
    ++stats_.udp_send_errors;
    LogLimited(LogLevel::kWarning, "udp_send_error", std::strerror(-res));
  }
  send_pool_.Release(&send_pool_.slot(slot));
}

void UringDriver::SubmitBatch(GsoBatch& b) {
  b.PrepareMessage();
  if (b.count > 1) {
    ++stats_.gso_sends;
    stats_.gso_datagrams += b.count;
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_sendmsg(sqe, b.fd, &b.msg, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kUdpBatchSend, b.index));
}

void UringDriver::OnBatchSend(uint32_t index, int res) {
  GsoBatch& b = gso_.batch(index);
  if (res < 0) {
    ++stats_.udp_send_errors;
    if (b.count > 1 && (res == -EIO || res == -EINVAL || res == -EOPNOTSUPP) &&
        GsoAllowed(b.fd)) {
      // The kernel refused UDP_SEGMENT here (no checksum offload on the
      // route's device, IPsec, a segment over the path MTU...): this socket
      // sends one datagram per sendmsg from now on. The batch itself is
      // lost, as a datagram may be.
      if (static_cast<size_t>(b.fd) >= gso_refused_.size()) gso_refused_.resize(b.fd + 1, 0);
      gso_refused_[b.fd] = 1;
      ++stats_.gso_refused;
      LogLimited(LogLevel::kWarning, "udp_gso_refused", std::strerror(-res));
    } else {
      LogLimited(LogLevel::kWarning, "udp_send_error", std::strerror(-res));
    }
  }
  for (uint32_t i = 0; i < b.count; ++i) Unref(static_cast<uint16_t>(b.cookies[i]));
  gso_.Release(b);
}

void UringDriver::ResetGso(int fd) {
  if (static_cast<size_t>(fd) < gso_refused_.size()) gso_refused_[fd] = 0;
}

void UringDriver::Unref(uint16_t id) {
  assert(buffer_refs_[id] > 0);
  if (--buffer_refs_[id] == 0) buffers_->Return(id);
}

}  // namespace uturn::server
