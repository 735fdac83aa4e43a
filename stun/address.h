// A transport address (IP + port) as a small value type, and the STUN
// address attribute encodings (MAPPED-ADDRESS family, XOR variants).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace uturn::stun {

enum class Family : uint8_t { kIPv4 = 1, kIPv6 = 2 };  // STUN family codes

// Trivially copyable; IPv4 addresses use the first 4 bytes of `bytes`, the
// rest is zero so that equality and hashing can look at the whole array.
struct SocketAddress {
  Family family = Family::kIPv4;
  uint16_t port = 0;  // host byte order
  std::array<uint8_t, 16> bytes{};

  static SocketAddress V4(std::array<uint8_t, 4> ip, uint16_t port);
  static SocketAddress V6(const std::array<uint8_t, 16>& ip, uint16_t port);
  // Accepts "1.2.3.4:5", "[::1]:5"; with no port, `default_port` is used.
  static std::optional<SocketAddress> Parse(std::string_view text,
                                            std::optional<uint16_t> default_port = std::nullopt);
  // Accepts a bare IP ("1.2.3.4", "::1") and the given port.
  static std::optional<SocketAddress> ParseIp(std::string_view ip, uint16_t port);
  static std::optional<SocketAddress> FromSockaddr(const sockaddr* sa, socklen_t len);

  bool is_v4() const { return family == Family::kIPv4; }
  size_t address_size() const { return is_v4() ? 4 : 16; }
  // Fills `out`, returns the length to pass to the kernel.
  socklen_t ToSockaddr(sockaddr_storage* out) const;
  // "1.2.3.4:5" or "[::1]:5".
  std::string ToString() const;
  std::string IpString() const;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const SocketAddress& a) {
    return H::combine(std::move(h), a.family, a.port, a.bytes);
  }
};

// Wire coding of MAPPED-ADDRESS-style values (RFC 8489 §14.1, §14.2):
//   0x00 | family | port(16) | address(32 or 128)
// The XOR variants XOR the port with the top 16 bits of the magic cookie and
// the address with the cookie (IPv4) or cookie || transaction ID (IPv6).
inline constexpr size_t kAddressValueSizeV4 = 8;
inline constexpr size_t kAddressValueSizeV6 = 20;

// Returns nullopt if the value is malformed (wrong length, unknown family).
std::optional<SocketAddress> DecodeAddress(std::span<const uint8_t> value);
std::optional<SocketAddress> DecodeXorAddress(std::span<const uint8_t> value,
                                              std::span<const uint8_t, 12> transaction_id);
// Writes 8 or 20 bytes into `out` (which must be large enough); returns the size.
size_t EncodeAddress(const SocketAddress& addr, std::span<uint8_t> out);
size_t EncodeXorAddress(const SocketAddress& addr, std::span<const uint8_t, 12> transaction_id,
                        std::span<uint8_t> out);

}  // namespace uturn::stun
