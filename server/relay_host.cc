// UringDriver's half of turn::TurnHost: reading relay sockets (RelaySockets
// opens and binds them) and the sends the core asks for, in place or copied.
#include <cassert>
#include <cerrno>
#include <cstring>

#include "server/uring_driver.h"

namespace uturn::server {

void UringDriver::StartRelayReceive(turn::RelayId id) {
  RelaySockets::Socket& r = *relays_.get(id);
  r.msg.msg_namelen = kRecvNameLen;
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
  SendSlot* slot = send_pool_.Acquire();
  if (slot == nullptr) {
    ++stats_.send_pool_exhausted;
    return;
  }
  bool in_place = false;
  if (current_buffer_ >= 0) {
    const std::span<uint8_t> buf = buffers_->buffer(static_cast<uint16_t>(current_buffer_));
    in_place = bytes.data() >= buf.data() && bytes.data() + bytes.size() <= buf.data() + buf.size();
  }
  if (in_place) {
    slot->PrepareExternal(bytes, to);
    slot_buffer_[slot->index] = current_buffer_;
    ++buffer_refs_[current_buffer_];
    ++stats_.sends_in_place;
  } else {
    if (bytes.size() > slot->buffer.size()) {
      ++stats_.send_too_large;
      send_pool_.Release(slot);
      return;
    }
    std::memcpy(slot->buffer.data(), bytes.data(), bytes.size());
    slot->Prepare(bytes.size(), to);
    slot_buffer_[slot->index] = -1;
    ++stats_.sends_copied;
  }
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
  if (slot_buffer_[slot] >= 0) {
    Unref(static_cast<uint16_t>(slot_buffer_[slot]));
    slot_buffer_[slot] = -1;
  }
  send_pool_.Release(&send_pool_.slot(slot));
}

void UringDriver::Unref(uint16_t id) {
  assert(buffer_refs_[id] > 0);
  if (--buffer_refs_[id] == 0) buffers_->Return(id);
}

}  // namespace uturn::server
