// SocketAddress conversions and the (XOR-)MAPPED-ADDRESS value coding.
#include "stun/address.h"

#include <arpa/inet.h>

#include <cassert>
#include <charconv>
#include <cstring>

#include "stun/constants.h"

namespace uturn::stun {
namespace {

// Port in "host:port" text: decimal digits only, 0..65535.
std::optional<uint16_t> ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value > 0xFFFF) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// The XOR pad: RFC 8489 §14.2, magic cookie followed by the transaction ID.
std::array<uint8_t, 16> XorPad(std::span<const uint8_t, 12> transaction_id) {
  std::array<uint8_t, 16> pad{};
  pad[0] = static_cast<uint8_t>(kMagicCookie >> 24);
  pad[1] = static_cast<uint8_t>(kMagicCookie >> 16);
  pad[2] = static_cast<uint8_t>(kMagicCookie >> 8);
  pad[3] = static_cast<uint8_t>(kMagicCookie);
  std::memcpy(pad.data() + 4, transaction_id.data(), transaction_id.size());
  return pad;
}

}  // namespace

SocketAddress SocketAddress::V4(std::array<uint8_t, 4> ip, uint16_t port) {
  SocketAddress a;
  a.family = Family::kIPv4;
  a.port = port;
  std::memcpy(a.bytes.data(), ip.data(), ip.size());
  return a;
}

SocketAddress SocketAddress::V6(const std::array<uint8_t, 16>& ip, uint16_t port) {
  SocketAddress a;
  a.family = Family::kIPv6;
  a.port = port;
  a.bytes = ip;
  return a;
}

std::optional<SocketAddress> SocketAddress::ParseIp(std::string_view ip, uint16_t port) {
  // inet_pton needs a NUL-terminated string; the longest IPv6 text is 45 chars.
  char buf[INET6_ADDRSTRLEN + 1];
  if (ip.empty() || ip.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  std::array<uint8_t, 16> raw{};
  if (inet_pton(AF_INET, buf, raw.data()) == 1) {
    return V4({raw[0], raw[1], raw[2], raw[3]}, port);
  }
  if (inet_pton(AF_INET6, buf, raw.data()) == 1) return V6(raw, port);
  return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::Parse(std::string_view text,
                                                  std::optional<uint16_t> default_port) {
  std::string_view host;
  std::optional<uint16_t> port = default_port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = ParsePort(rest.substr(1));
      if (!port) return std::nullopt;
    }
    // Brackets are for IPv6 only.
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
      host = text.substr(0, colon);
      port = ParsePort(text.substr(colon + 1));
      if (!port) return std::nullopt;
    } else {
      host = text;  // bare IPv4, or bare IPv6 (several colons, no port)
    }
  }
  if (!port) return std::nullopt;
  return ParseIp(host, *port);
}

std::optional<SocketAddress> SocketAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    std::array<uint8_t, 4> ip;
    std::memcpy(ip.data(), &in.sin_addr, 4);
    return V4(ip, ntohs(in.sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    std::array<uint8_t, 16> ip;
    std::memcpy(ip.data(), &in6.sin6_addr, 16);
    return V6(ip, ntohs(in6.sin6_port));
  }
  return std::nullopt;
}

socklen_t SocketAddress::ToSockaddr(sockaddr_storage* out) const {
  assert(out != nullptr);
  std::memset(out, 0, sizeof(*out));
  if (is_v4()) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, bytes.data(), 4);
    std::memcpy(out, &in, sizeof(in));
    return sizeof(in);
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&in6.sin6_addr, bytes.data(), 16);
  std::memcpy(out, &in6, sizeof(in6));
  return sizeof(in6);
}

std::string SocketAddress::IpString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* r = inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  assert(r != nullptr);  // cannot fail: the buffer fits any address
  return r ? std::string(buf) : std::string();
}

std::string SocketAddress::ToString() const {
  std::string ip = IpString();
  const std::string p = std::to_string(port);
  return is_v4() ? ip + ":" + p : "[" + ip + "]:" + p;
}

std::optional<SocketAddress> DecodeAddress(std::span<const uint8_t> value) {
  // RFC 8489 §14.1: first byte reserved (ignored on receipt), then family,
  // port and 4 or 16 address bytes.
  if (value.size() < 4) return std::nullopt;
  const uint8_t family = value[1];
  const uint16_t port = static_cast<uint16_t>(value[2] << 8 | value[3]);
  if (family == kFamilyIPv4 && value.size() == kAddressValueSizeV4) {
    return SocketAddress::V4({value[4], value[5], value[6], value[7]}, port);
  }
  if (family == kFamilyIPv6 && value.size() == kAddressValueSizeV6) {
    std::array<uint8_t, 16> ip;
    std::memcpy(ip.data(), value.data() + 4, 16);
    return SocketAddress::V6(ip, port);
  }
  return std::nullopt;
}

std::optional<SocketAddress> DecodeXorAddress(std::span<const uint8_t> value,
                                              std::span<const uint8_t, 12> transaction_id) {
  std::optional<SocketAddress> a = DecodeAddress(value);
  if (!a) return a;
  // RFC 8489 §14.2: X-Port is the port XOR the top 16 bits of the cookie;
  // X-Address is XORed with the cookie (IPv4) or cookie || transaction ID (IPv6).
  a->port ^= static_cast<uint16_t>(kMagicCookie >> 16);
  const std::array<uint8_t, 16> pad = XorPad(transaction_id);
  for (size_t i = 0; i < a->address_size(); ++i) a->bytes[i] ^= pad[i];
  return a;
}

size_t EncodeAddress(const SocketAddress& addr, std::span<uint8_t> out) {
  const size_t n = addr.is_v4() ? kAddressValueSizeV4 : kAddressValueSizeV6;
  assert(out.size() >= n);
  out[0] = 0;
  out[1] = addr.is_v4() ? kFamilyIPv4 : kFamilyIPv6;
  out[2] = static_cast<uint8_t>(addr.port >> 8);
  out[3] = static_cast<uint8_t>(addr.port);
  std::memcpy(out.data() + 4, addr.bytes.data(), addr.address_size());
  return n;
}

size_t EncodeXorAddress(const SocketAddress& addr, std::span<const uint8_t, 12> transaction_id,
                        std::span<uint8_t> out) {
  const size_t n = EncodeAddress(addr, out);
  // RFC 8489 §14.2 (see DecodeXorAddress).
  out[2] ^= static_cast<uint8_t>(kMagicCookie >> 24);
  out[3] ^= static_cast<uint8_t>(kMagicCookie >> 16);
  const std::array<uint8_t, 16> pad = XorPad(transaction_id);
  for (size_t i = 0; i < addr.address_size(); ++i) out[4 + i] ^= pad[i];
  return n;
}

}  // namespace uturn::stun
