// ChannelData message parsing and header writing (RFC 8656 §12.4, §12.5).
#include "stun/channel_data.h"

#include <cassert>

namespace uturn::stun {

const char* ToString(ChannelDataError e) {
  switch (e) {
    case ChannelDataError::kNone: return "none";
    case ChannelDataError::kTooShort: return "too_short";
    case ChannelDataError::kBadChannel: return "bad_channel";
    case ChannelDataError::kLengthOverrun: return "length_overrun";
    case ChannelDataError::kMissingPadding: return "missing_padding";
  }
  return "unknown";
}

ChannelDataError ParseChannelData(std::span<const uint8_t> data, bool stream,
                                  ChannelDataView* out, bool allow_rfc5766_range) {
  assert(out != nullptr);
  if (data.size() < kChannelDataHeaderSize) return ChannelDataError::kTooShort;
  const uint16_t channel = static_cast<uint16_t>(data[0] << 8 | data[1]);
  // RFC 8656 §12: only 0x4000-0x4FFF are channel numbers; 0x5000-0x7FFF are
  // reserved and anything else is not ChannelData at all (RFC 7983 §7).
  if (!IsValidChannelNumber(channel, allow_rfc5766_range)) return ChannelDataError::kBadChannel;
  const size_t length = static_cast<size_t>(data[2] << 8 | data[3]);
  if (length > data.size() - kChannelDataHeaderSize) return ChannelDataError::kLengthOverrun;
  // RFC 8656 §12.5: over TCP/TLS the frame MUST be padded to a multiple of 4.
  // Over UDP padding is optional, and any trailing bytes are ignored.
  if (stream && data.size() < ChannelDataFrameSize(length, true)) {
    return ChannelDataError::kMissingPadding;
  }
  out->channel = channel;
  out->payload = data.subspan(kChannelDataHeaderSize, length);
  return ChannelDataError::kNone;
}

void WriteChannelDataHeader(uint8_t* dst, uint16_t channel, uint16_t payload_length) {
  assert(dst != nullptr);
  dst[0] = static_cast<uint8_t>(channel >> 8);
  dst[1] = static_cast<uint8_t>(channel);
  dst[2] = static_cast<uint8_t>(payload_length >> 8);
  dst[3] = static_cast<uint8_t>(payload_length);
}

}  // namespace uturn::stun
