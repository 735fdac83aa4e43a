// uturn-ice status lines and application datagrams (/work/shared/ICE-PEER.md
// §Status and §Application data). Pure formatting and parsing.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "client/ice_agent.h"

namespace uturn::client::peer {

// logfmt (key=value, space separated). Values with a space, '"' or '=' are
// quoted, so a reason can never forge another field.
std::string LogfmtValue(std::string_view v);

std::string GatheredLine(const IceCandidateInfo& c);         // event=gathered type= address=
std::string SelectedLine(const IceSelectedPair& p);          // event=selected local_type=...
inline constexpr std::string_view kConnectedLine = "event=connected";
inline constexpr std::string_view kRestartedLine = "event=restarted";
std::string DisconnectedLine(std::string_view reason);       // event=disconnected reason=
std::string FailedLine(std::string_view reason);             // event=failed reason=
std::string DataLine(uint64_t sent, uint64_t received);      // event=data sent= received=
std::string ErrorLine(std::string_view what);                // event=error what=
std::string RoleLine(ice::Role role);                        // event=role role=

// The 100-byte application datagram: byte 0 is 0x80 (RFC 7983 §7: the
// 128..191 range demultiplexes as RTP/RTCP, never as STUN or ChannelData),
// bytes 1-4 the big-endian sequence number, the rest a fixed filler.
inline constexpr size_t kDatagramSize = 100;
inline constexpr uint8_t kDatagramMarker = 0x80;
std::array<uint8_t, kDatagramSize> MakeDatagram(uint32_t sequence);
// The sequence number of a well-formed datagram (size and marker checked).
std::optional<uint32_t> DatagramSequence(std::span<const uint8_t> bytes);

// ICE-PEER.md: with --send, success is receiving back at least 90% of what was sent.
bool EnoughEchoed(uint64_t sent, uint64_t received);

}  // namespace uturn::client::peer
