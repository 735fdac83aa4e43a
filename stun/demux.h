// RFC 7983 §7 first-byte demultiplexing of packets that share a port:
//   0-3 STUN, 16-19 ZRTP, 20-63 DTLS, 64-79 TURN ChannelData, 128-191 RTP/RTCP.
#pragma once

#include <cstdint>
#include <span>

namespace uturn::stun {

enum class PacketKind : uint8_t { kStun, kZrtp, kDtls, kChannelData, kRtpRtcp, kUnknown };

constexpr PacketKind ClassifyFirstByte(uint8_t b) {
  if (b <= 3) return PacketKind::kStun;
  if (b >= 16 && b <= 19) return PacketKind::kZrtp;
  if (b >= 20 && b <= 63) return PacketKind::kDtls;
  if (b >= 64 && b <= 79) return PacketKind::kChannelData;
  if (b >= 128 && b <= 191) return PacketKind::kRtpRtcp;
  return PacketKind::kUnknown;
}

PacketKind Classify(std::span<const uint8_t> packet);  // kUnknown if empty
const char* ToString(PacketKind k);

}  // namespace uturn::stun
