// RFC 7983 §7 first-byte demultiplexing.
#include "stun/demux.h"

namespace uturn::stun {

PacketKind Classify(std::span<const uint8_t> packet) {
  if (packet.empty()) return PacketKind::kUnknown;
  return ClassifyFirstByte(packet[0]);
}

const char* ToString(PacketKind k) {
  switch (k) {
    case PacketKind::kStun: return "stun";
    case PacketKind::kZrtp: return "zrtp";
    case PacketKind::kDtls: return "dtls";
    case PacketKind::kChannelData: return "channel_data";
    case PacketKind::kRtpRtcp: return "rtp_rtcp";
    case PacketKind::kUnknown: return "unknown";
  }
  return "unknown";
}

}  // namespace uturn::stun
