// ICE candidates in SDP: the `a=candidate` grammar of RFC 8839 §5.1 and the
// priority formula of RFC 8445 §5.1.2.1. Parsing never throws or reads out
// of bounds; a malformed line is refused with a reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "stun/address.h"

namespace uturn::ice {

enum class CandidateType : uint8_t { kHost, kServerReflexive, kPeerReflexive, kRelay };
enum class TcpType : uint8_t { kActive, kPassive, kSimultaneousOpen };  // RFC 6544 §4.5

struct Candidate {
  std::string foundation;  // 1..32 ice-chars
  uint16_t component = 1;  // 1..256
  std::string transport;   // "udp" or "tcp" as written (compared case-insensitively)
  uint32_t priority = 0;
  // The connection address: an IP literal, or (RFC 8839 §5.1) an FQDN /
  // mDNS name such as "<uuid>.local", kept as text when it is not an IP.
  std::string address;
  std::optional<stun::SocketAddress> ip;  // set when `address` is an IP literal
  uint16_t port = 0;
  CandidateType type = CandidateType::kHost;
  std::optional<std::string> related_address;  // raddr
  std::optional<uint16_t> related_port;        // rport
  std::optional<TcpType> tcp_type;             // tcptype, TCP only (RFC 6544)
  // Extension attributes in order (generation, ufrag, network-id,
  // network-cost, ...): name/value pairs kept for re-serialisation.
  std::vector<std::pair<std::string, std::string>> extensions;

  bool is_udp() const;
  bool is_tcp() const;
};

// Parses "candidate:..." with or without a leading "a=", with no line end.
absl::StatusOr<Candidate> ParseCandidate(std::string_view line);
// "candidate:..." (no "a=", no CRLF), extensions included.
std::string FormatCandidate(const Candidate& c);

const char* ToString(CandidateType t);  // "host", "srflx", "prflx", "relay"

// RFC 8445 §5.1.2.1: (2^24)*type preference + (2^8)*local preference +
// (256 - component ID). Recommended type preferences (§5.1.2.2): host 126,
// peer-reflexive 110, server-reflexive 100, relayed 0.
uint32_t CandidatePriority(uint32_t type_preference, uint32_t local_preference,
                           uint16_t component);
uint32_t RecommendedTypePreference(CandidateType t);

}  // namespace uturn::ice
