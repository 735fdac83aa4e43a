// Which peer addresses a relay may reach (RFC 8656 §21.1.2/§21.2 "secure by
// default"). Refuses loopback, unspecified, RFC 1918, RFC 6598, link-local,
// multicast, broadcast and unique-local addresses by default, including their
// IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo IPv6 encodings (the
// coturn bypasses CVE-2020-26262 and CVE-2026-27624). Explicit ranges adjust it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "stun/address.h"

namespace uturn::turn {

// An inclusive range of addresses of one family ("10.0.0.0/8", "1.2.3.4",
// "1.2.3.4-1.2.3.9", "fc00::/7", as coturn's --allowed-peer-ip accepts).
struct IpRange {
  stun::Family family = stun::Family::kIPv4;
  std::array<uint8_t, 16> first{};
  std::array<uint8_t, 16> last{};

  static absl::StatusOr<IpRange> Parse(std::string_view text);
  bool Contains(const stun::SocketAddress& addr) const;  // port ignored
};

enum class PeerVerdict : uint8_t {
  kAllowed,
  kAllowedExplicitly,  // matched --allowed-peer-ip
  kDeniedExplicitly,   // matched --denied-peer-ip
  kDeniedLoopback,
  kDeniedUnspecified,
  kDeniedPrivate,      // RFC 1918, RFC 6598, fc00::/7
  kDeniedLinkLocal,
  kDeniedMulticast,    // includes broadcast
  kDeniedReserved,     // 240.0.0.0/4, deprecated site-local fec0::/10
};
const char* ToString(PeerVerdict v);
constexpr bool IsAllowed(PeerVerdict v) {
  return v == PeerVerdict::kAllowed || v == PeerVerdict::kAllowedExplicitly;
}

struct PeerPolicyConfig {
  bool allow_loopback = false;          // --allow-loopback-peers
  std::vector<IpRange> allowed;         // --allowed-peer-ip: wins over everything
  std::vector<IpRange> denied;          // --denied-peer-ip: wins over the defaults
};

class PeerPolicy {
 public:
  explicit PeerPolicy(PeerPolicyConfig config);
  // Checks `peer` and, for IPv6 encodings of IPv4 addresses, the embedded
  // IPv4 address too; the stricter verdict wins (unless explicitly allowed).
  PeerVerdict Check(const stun::SocketAddress& peer) const;

 private:
  PeerPolicyConfig config_;
};

}  // namespace uturn::turn
