// ChannelData framing (RFC 8656 §12.4): 2-byte channel number, 2-byte length,
// then the application data. Over TCP the frame is padded to a multiple of 4;
// over UDP padding is optional and not counted in the length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace uturn::stun {

inline constexpr size_t kChannelDataHeaderSize = 4;
// RFC 8656 §12: channel numbers 0x4000 through 0x4FFF are usable;
// 0x5000-0x7FFF are reserved and MUST NOT be used.
inline constexpr uint16_t kMinChannelNumber = 0x4000;
inline constexpr uint16_t kMaxChannelNumber = 0x4FFF;
// RFC 5766 §11 allowed 0x4000-0x7FFF; RFC 8656 §12 reserved 0x5000-0x7FFF.
// Some clients (coturn's own client library among them) still pick numbers
// from the old range, so a server may opt in to accepting them.
inline constexpr uint16_t kMaxRfc5766ChannelNumber = 0x7FFF;
constexpr bool IsValidChannelNumber(uint16_t n, bool allow_rfc5766_range = false) {
  return n >= kMinChannelNumber &&
         n <= (allow_rfc5766_range ? kMaxRfc5766ChannelNumber : kMaxChannelNumber);
}

struct ChannelDataView {
  uint16_t channel = 0;
  std::span<const uint8_t> payload;
};

enum class ChannelDataError : uint8_t {
  kNone,
  kTooShort,        // fewer than 4 bytes
  kBadChannel,      // first two bits not 0b01 (RFC 7983 range 64..79)
  kLengthOverrun,   // length field larger than the bytes given
  kMissingPadding,  // stream framing requires padding to 4 bytes
};
const char* ToString(ChannelDataError e);

// `stream` = true applies the TCP/TLS rule (frame padded to 4). Over UDP,
// trailing bytes beyond the length are padding and ignored.
// `allow_rfc5766_range` also accepts the numbers RFC 8656 reserved.
ChannelDataError ParseChannelData(std::span<const uint8_t> data, bool stream,
                                  ChannelDataView* out, bool allow_rfc5766_range = false);

// Writes the 4-byte header at `dst` (which must have room for it).
void WriteChannelDataHeader(uint8_t* dst, uint16_t channel, uint16_t payload_length);

// Size of the whole frame on the wire for a payload, with padding if stream.
constexpr size_t ChannelDataFrameSize(size_t payload_length, bool stream) {
  const size_t n = kChannelDataHeaderSize + payload_length;
  return stream ? (n + 3) & ~size_t{3} : n;
}

}  // namespace uturn::stun
