// Cuts STUN messages and ChannelData frames out of a byte stream (TCP/TLS,
// RFC 8489 §6.2.2 and RFC 8656 §12.4). Sans-IO: the caller appends what it
// read and asks for the next complete frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace uturn::stun {

enum class FrameKind : uint8_t { kStun, kChannelData };

struct FrameInfo {
  enum class Status : uint8_t { kComplete, kNeedMore, kInvalid } status = Status::kNeedMore;
  FrameKind kind = FrameKind::kStun;
  size_t size = 0;  // bytes the frame occupies in the stream, padding included
};

// Looks at the start of `buffered` and says whether a whole frame is there.
// kInvalid when the first byte is neither STUN (0b00) nor ChannelData (0b01):
// the stream cannot be resynchronised and should be closed.
FrameInfo NextFrame(std::span<const uint8_t> buffered);

// Accumulates stream bytes in a fixed buffer and hands out whole frames.
class StreamFramer {
 public:
  // Largest frame accepted: the STUN length field allows 65535 + 20 bytes.
  static constexpr size_t kCapacity = 65536 + 20;

  // Space to write received bytes into, then Commit(n).
  std::span<uint8_t> WritableSpace();
  void Commit(size_t n);
  // Copies bytes in; returns false if they do not fit (caller closes).
  bool Append(std::span<const uint8_t> bytes);

  // The next complete frame, or status kNeedMore/kInvalid. After using a
  // complete frame, call Consume(info.size).
  FrameInfo Peek() const { return NextFrame(buffered()); }
  std::span<const uint8_t> buffered() const;
  void Consume(size_t n);

 private:
  // Heap-allocated on first use so idle connections stay small.
  std::unique_ptr<uint8_t[]> storage_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace uturn::stun
