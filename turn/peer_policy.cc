// Peer address policy: which addresses a relay may send to or accept from.
// See peer_policy.h for the contract; the address classes are listed below
// with the RFC that sets each one aside.
#include "turn/peer_policy.h"

#include <cassert>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"

namespace uturn::turn {
namespace {

using stun::Family;
using stun::SocketAddress;
using Bytes = std::array<uint8_t, 16>;

constexpr size_t kV4Bits = 32;
constexpr size_t kV6Bits = 128;

size_t AddressBits(Family f) { return f == Family::kIPv4 ? kV4Bits : kV6Bits; }

// (Debian's Abseil has its own string_view, so std::string does the joining.)
absl::Status RangeError(std::string_view text, std::string_view why) {
  std::string message = "peer IP range \"";
  message.append(text).append("\": ").append(why);
  return absl::InvalidArgumentError(message);
}

std::string_view Trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Clears (first) or sets (last) every bit after `prefix` within the family's width.
Bytes ApplyPrefix(Bytes b, size_t prefix, size_t width, bool set_host_bits) {
  assert(prefix <= width);
  for (size_t bit = prefix; bit < width; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if (set_host_bits) {
      b[bit / 8] |= mask;
    } else {
      b[bit / 8] &= static_cast<uint8_t>(~mask);
    }
  }
  return b;
}

std::optional<SocketAddress> ParseAddress(std::string_view text) {
  return SocketAddress::ParseIp(Trim(text), 0);
}

// An IPv4 address, compared as a 32-bit number.
uint32_t V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}
bool InV4Prefix(uint32_t ip, uint32_t net, int bits) {
  assert(bits > 0 && bits <= 32);
  const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> bits);
  return (ip & mask) == (net & mask);
}

PeerVerdict ClassifyV4(uint32_t ip) {
  // RFC 1122 §3.2.1.3 / RFC 6890: "this network", never a valid destination.
  if (InV4Prefix(ip, V4(0, 0, 0, 0), 8)) return PeerVerdict::kDeniedUnspecified;
  // RFC 1122 §3.2.1.3: loopback.
  if (InV4Prefix(ip, V4(127, 0, 0, 0), 8)) return PeerVerdict::kDeniedLoopback;
  // RFC 1918 §3 private ranges and RFC 6598 §7 shared address space (CGN).
  if (InV4Prefix(ip, V4(10, 0, 0, 0), 8) || InV4Prefix(ip, V4(172, 16, 0, 0), 12) ||
      InV4Prefix(ip, V4(192, 168, 0, 0), 16) || InV4Prefix(ip, V4(100, 64, 0, 0), 10)) {
    return PeerVerdict::kDeniedPrivate;
  }
  // RFC 3927 §2.1: link-local.
  if (InV4Prefix(ip, V4(169, 254, 0, 0), 16)) return PeerVerdict::kDeniedLinkLocal;
  // RFC 5771: multicast; RFC 919 / RFC 8190: limited broadcast (before 240/4).
  if (InV4Prefix(ip, V4(224, 0, 0, 0), 4) || ip == V4(255, 255, 255, 255)) {
    return PeerVerdict::kDeniedMulticast;
  }
  // RFC 1112 §4: class E, reserved.
  if (InV4Prefix(ip, V4(240, 0, 0, 0), 4)) return PeerVerdict::kDeniedReserved;
  return PeerVerdict::kAllowed;
}

bool AllZero(const Bytes& b, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

PeerVerdict ClassifyV6(const Bytes& b) {
  // RFC 4291 §2.5.2 unspecified and §2.5.3 loopback.
  if (AllZero(b, 0, 16)) return PeerVerdict::kDeniedUnspecified;
  if (AllZero(b, 0, 15) && b[15] == 1) return PeerVerdict::kDeniedLoopback;
  // RFC 4291 §2.5.6: link-local fe80::/10.
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return PeerVerdict::kDeniedLinkLocal;
  // RFC 3879: deprecated site-local fec0::/10.
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return PeerVerdict::kDeniedReserved;
  // RFC 4193 §3.1: unique local fc00::/7.
  if ((b[0] & 0xFE) == 0xFC) return PeerVerdict::kDeniedPrivate;
  // RFC 4291 §2.7: multicast ff00::/8.
  if (b[0] == 0xFF) return PeerVerdict::kDeniedMulticast;
  return PeerVerdict::kAllowed;
}

uint32_t V4At(const Bytes& b, size_t i) { return V4(b[i], b[i + 1], b[i + 2], b[i + 3]); }

// RFC 6052 §2.2, the /48 layout: IPv4 bits 0-15 in bits 48-63, then the
// "u" octet (bits 64-71), then IPv4 bits 16-31 in bits 72-87.
uint32_t Rfc6052Embedded48(const Bytes& b) { return V4(b[6], b[7], b[9], b[10]); }

// Every IPv4 address an IPv6 address may stand for (Teredo has two).
struct Embedded {
  std::array<uint32_t, 2> v4{};
  size_t count = 0;
  void Add(uint32_t a) {
    assert(count < v4.size());
    v4[count++] = a;
  }
};

Embedded EmbeddedV4(const Bytes& b) {
  Embedded e;
  // RFC 4291 §2.5.5.2: IPv4-mapped ::ffff:0:0/96.
  if (AllZero(b, 0, 10) && b[10] == 0xFF && b[11] == 0xFF) {
    e.Add(V4At(b, 12));
  // RFC 4291 §2.5.5.1: IPv4-compatible ::/96 (deprecated). :: and ::1 are
  // classified as themselves (unspecified, loopback).
  } else if (AllZero(b, 0, 12) && !AllZero(b, 12, 16) && !(AllZero(b, 12, 15) && b[15] == 1)) {
    e.Add(V4At(b, 12));
  // RFC 6052 §2.1: the NAT64 well-known prefix 64:ff9b::/96.
  } else if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && AllZero(b, 4, 12)) {
    e.Add(V4At(b, 12));
  // RFC 8215 §3: the local-use NAT64 prefix 64:ff9b:1::/48, read with the
  // RFC 6052 /48 layout. (Longer prefixes carved out of it are not decoded:
  // reading every layout would deny many public addresses; see README.)
  } else if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0x00 &&
             b[5] == 0x01) {
    e.Add(Rfc6052Embedded48(b));
  // RFC 3056 §2: 6to4 2002:V4ADDR::/48, the IPv4 address in bits 16-47.
  } else if (b[0] == 0x20 && b[1] == 0x02) {
    e.Add(V4At(b, 2));
  // RFC 4380 §4: Teredo 2001:0000::/32; the server's IPv4 in bits 32-63 and
  // the client's, obfuscated by XOR with all ones, in bits 96-127.
  } else if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) {
    e.Add(V4At(b, 4));
    e.Add(V4At(b, 12) ^ 0xFFFFFFFFu);
  }
  return e;
}

bool ContainsV4(const IpRange& r, uint32_t v4) {
  return r.Contains(SocketAddress::V4({static_cast<uint8_t>(v4 >> 24),
                                       static_cast<uint8_t>(v4 >> 16),
                                       static_cast<uint8_t>(v4 >> 8), static_cast<uint8_t>(v4)},
                                      0));
}

}  // namespace

absl::StatusOr<IpRange> IpRange::Parse(std::string_view text) {
  const std::string_view t = Trim(text);
  if (t.empty()) return RangeError(text, "empty");

  // "a-b": an inclusive range of one family. '-' never occurs in an address.
  if (const size_t dash = t.find('-'); dash != std::string_view::npos) {
    const auto a = ParseAddress(t.substr(0, dash));
    const auto b = ParseAddress(t.substr(dash + 1));
    if (!a) return RangeError(text, "the start of the range is not an IP address");
    if (!b) return RangeError(text, "the end of the range is not an IP address");
    if (a->family != b->family) return RangeError(text, "the two ends are of different families");
    if (b->bytes < a->bytes) return RangeError(text, "the start is after the end");
    return IpRange{a->family, a->bytes, b->bytes};
  }

  // "ip/prefix": host bits after the prefix are ignored, as routers do.
  if (const size_t slash = t.find('/'); slash != std::string_view::npos) {
    const auto a = ParseAddress(t.substr(0, slash));
    if (!a) return RangeError(text, "not an IP address before '/'");
    const std::string_view digits = t.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return RangeError(text, "bad prefix length");
    size_t prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return RangeError(text, "bad prefix length");
      prefix = prefix * 10 + static_cast<size_t>(c - '0');
    }
    const size_t width = AddressBits(a->family);
    if (prefix > width) {
      return RangeError(text, "prefix length above " + std::to_string(width));
    }
    return IpRange{a->family, ApplyPrefix(a->bytes, prefix, width, false),
                   ApplyPrefix(a->bytes, prefix, width, true)};
  }

  const auto a = ParseAddress(t);
  if (!a) return RangeError(text, "not an IP address, CIDR prefix or a-b range");
  return IpRange{a->family, a->bytes, a->bytes};
}

bool IpRange::Contains(const stun::SocketAddress& addr) const {
  // IPv4 keeps bytes 4-15 zero (address.h), so whole-array order is numeric order.
  return addr.family == family && first <= addr.bytes && addr.bytes <= last;
}

const char* ToString(PeerVerdict v) {
  switch (v) {
    case PeerVerdict::kAllowed: return "allowed";
    case PeerVerdict::kAllowedExplicitly: return "allowed_explicitly";
    case PeerVerdict::kDeniedExplicitly: return "denied_explicitly";
    case PeerVerdict::kDeniedLoopback: return "denied_loopback";
    case PeerVerdict::kDeniedUnspecified: return "denied_unspecified";
    case PeerVerdict::kDeniedPrivate: return "denied_private";
    case PeerVerdict::kDeniedLinkLocal: return "denied_link_local";
    case PeerVerdict::kDeniedMulticast: return "denied_multicast";
    case PeerVerdict::kDeniedReserved: return "denied_reserved";
  }
  return "unknown";
}

PeerPolicy::PeerPolicy(PeerPolicyConfig config) : config_(std::move(config)) {}

PeerVerdict PeerPolicy::Check(const stun::SocketAddress& peer) const {
  // 1. --allowed-peer-ip wins, matched against the address as given only: an
  //    IPv4 allow does not extend to 6to4/Teredo/NAT64 addresses, which reach
  //    other hosts (a gateway) first. Allow the IPv6 range itself if wanted.
  for (const IpRange& r : config_.allowed) {
    if (r.Contains(peer)) return PeerVerdict::kAllowedExplicitly;
  }
  const Embedded embedded = peer.is_v4() ? Embedded{} : EmbeddedV4(peer.bytes);

  // 2. --denied-peer-ip, against the address and every IPv4 it encodes, so an
  //    IPv4 deny cannot be bypassed through an IPv6 encoding.
  for (const IpRange& r : config_.denied) {
    if (r.Contains(peer)) return PeerVerdict::kDeniedExplicitly;
    for (size_t i = 0; i < embedded.count; ++i) {
      if (ContainsV4(r, embedded.v4[i])) return PeerVerdict::kDeniedExplicitly;
    }
  }

  // 3. Defaults (RFC 8656 §21 leaves the policy to the operator; these are
  //    special-purpose ranges of RFC 6890 no public relay should reach). allow_loopback lifts only
  //    loopback, wherever it appears.
  const auto lifted = [&](PeerVerdict v) {
    return v == PeerVerdict::kDeniedLoopback && config_.allow_loopback ? PeerVerdict::kAllowed
                                                                       : v;
  };
  const PeerVerdict own =
      lifted(peer.is_v4() ? ClassifyV4(V4At(peer.bytes, 0)) : ClassifyV6(peer.bytes));
  if (own != PeerVerdict::kAllowed) return own;
  for (size_t i = 0; i < embedded.count; ++i) {
    const PeerVerdict v = lifted(ClassifyV4(embedded.v4[i]));
    if (v != PeerVerdict::kAllowed) return v;
  }
  return PeerVerdict::kAllowed;
}

}  // namespace uturn::turn
