// Frame boundaries in a TCP/TLS byte stream (RFC 8489 §6.2.2, RFC 8656 §12.5).
#include "stun/stream_framing.h"

#include <cassert>
#include <cstring>

#include "stun/channel_data.h"
#include "stun/constants.h"

namespace uturn::stun {

FrameInfo NextFrame(std::span<const uint8_t> buffered) {
  FrameInfo info;
  if (buffered.empty()) return info;
  const uint8_t top = buffered[0] >> 6;
  if (top > 1) {
    info.status = FrameInfo::Status::kInvalid;  // neither STUN nor ChannelData
    return info;
  }
  info.kind = top == 0 ? FrameKind::kStun : FrameKind::kChannelData;
  // Both headers carry a 16-bit length at offset 2.
  if (buffered.size() < 4) return info;
  const size_t length = static_cast<size_t>(buffered[2] << 8 | buffered[3]);
  if (info.kind == FrameKind::kStun) {
    // RFC 8489 §5: the length is a multiple of 4; otherwise the stream is not
    // STUN and cannot be resynchronised.
    if (length % 4 != 0) {
      info.status = FrameInfo::Status::kInvalid;
      return info;
    }
    info.size = kHeaderSize + length;  // RFC 8489 §6.2.2: the header gives the length
  } else {
    info.size = ChannelDataFrameSize(length, true);  // RFC 8656 §12.5: padded on streams
  }
  assert(info.size <= StreamFramer::kCapacity);
  if (buffered.size() >= info.size) info.status = FrameInfo::Status::kComplete;
  return info;
}

std::span<uint8_t> StreamFramer::WritableSpace() {
  if (!storage_) storage_ = std::make_unique<uint8_t[]>(kCapacity);
  // Compact: move the partial frame to the front so the tail is all free.
  if (begin_ > 0) {
    std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return std::span<uint8_t>(storage_.get() + end_, kCapacity - end_);
}

void StreamFramer::Commit(size_t n) {
  assert(storage_ != nullptr || n == 0);
  assert(n <= kCapacity - end_);
  end_ += n;
}

bool StreamFramer::Append(std::span<const uint8_t> bytes) {
  if (bytes.size() > kCapacity - (end_ - begin_)) return false;
  if (bytes.empty()) return true;
  std::span<uint8_t> space = WritableSpace();
  assert(space.size() >= bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  Commit(bytes.size());
  return true;
}

std::span<const uint8_t> StreamFramer::buffered() const {
  if (!storage_) return {};
  return std::span<const uint8_t>(storage_.get() + begin_, end_ - begin_);
}

void StreamFramer::Consume(size_t n) {
  assert(n <= end_ - begin_);
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;  // empty: reuse from the start, no copy
}

}  // namespace uturn::stun
