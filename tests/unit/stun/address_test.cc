#include "stun/address.h"

#include <sys/un.h>

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::stun {
namespace {

// RFC 5769 §2.2/§2.3 transaction ID and XOR-MAPPED-ADDRESS values.
constexpr std::array<uint8_t, 12> kTid = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                          0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
const std::array<uint8_t, 16> kV6 = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                     0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

TEST(SocketAddressTest, ConstructorsZeroTheUnusedBytes) {
  SocketAddress a = SocketAddress::V4({1, 2, 3, 4}, 5);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.address_size(), 4u);
  EXPECT_EQ(a.port, 5);
  for (size_t i = 4; i < 16; ++i) EXPECT_EQ(a.bytes[i], 0) << i;
  SocketAddress b = SocketAddress::V6(kV6, 80);
  EXPECT_FALSE(b.is_v4());
  EXPECT_EQ(b.address_size(), 16u);
  EXPECT_EQ(b.bytes, kV6);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, SocketAddress::V4({1, 2, 3, 4}, 5));
  EXPECT_NE(a, SocketAddress::V4({1, 2, 3, 4}, 6));
}

TEST(SocketAddressTest, ParseAcceptsBothFamilies) {
  auto a = SocketAddress::Parse("192.0.2.1:3478");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, SocketAddress::V4({192, 0, 2, 1}, 3478));
  auto b = SocketAddress::Parse("[2001:db8:1234:5678:11:2233:4455:6677]:65535");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, SocketAddress::V6(kV6, 65535));
  auto c = SocketAddress::Parse("[::1]:0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->bytes[15], 1);
}

TEST(SocketAddressTest, ParseUsesDefaultPortOnlyWhenNoneGiven) {
  EXPECT_EQ(SocketAddress::Parse("10.0.0.1", 3478), SocketAddress::V4({10, 0, 0, 1}, 3478));
  EXPECT_EQ(SocketAddress::Parse("10.0.0.1:9", 3478), SocketAddress::V4({10, 0, 0, 1}, 9));
  auto v6 = SocketAddress::Parse("[::1]", 3478);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->port, 3478);
  auto bare6 = SocketAddress::Parse("2001:db8:1234:5678:11:2233:4455:6677", 7);
  ASSERT_TRUE(bare6);
  EXPECT_EQ(*bare6, SocketAddress::V6(kV6, 7));
  EXPECT_FALSE(SocketAddress::Parse("10.0.0.1"));
  EXPECT_FALSE(SocketAddress::Parse("[::1]"));
}

TEST(SocketAddressTest, ParseRejectsGarbage) {
  for (const char* bad : {"", ":5", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:5x",
                          "1.2.3.4:123456", "1.2.3:5", "host.example:5", "[::1", "[::1]5",
                          "[::1]:", "[1.2.3.4]:5", "[]:5", "1.2.3.4.5:6", "[::1]:+5"}) {
    EXPECT_FALSE(SocketAddress::Parse(bad, 1)) << bad;
  }
}

TEST(SocketAddressTest, ParseIp) {
  EXPECT_EQ(SocketAddress::ParseIp("127.0.0.1", 1), SocketAddress::V4({127, 0, 0, 1}, 1));
  EXPECT_EQ(SocketAddress::ParseIp("2001:db8:1234:5678:11:2233:4455:6677", 2),
            SocketAddress::V6(kV6, 2));
  EXPECT_FALSE(SocketAddress::ParseIp("", 1));
  EXPECT_FALSE(SocketAddress::ParseIp("1.2.3.4:5", 1));
  EXPECT_FALSE(SocketAddress::ParseIp(std::string(100, '1'), 1));
}

TEST(SocketAddressTest, ToString) {
  EXPECT_EQ(SocketAddress::V4({192, 0, 2, 1}, 32853).ToString(), "192.0.2.1:32853");
  EXPECT_EQ(SocketAddress::V6(kV6, 32853).ToString(),
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  EXPECT_EQ(SocketAddress::V6(kV6, 1).IpString(), "2001:db8:1234:5678:11:2233:4455:6677");
  EXPECT_EQ(SocketAddress::V4({10, 1, 2, 3}, 1).IpString(), "10.1.2.3");
}

TEST(SocketAddressTest, SockaddrRoundTrip) {
  for (const SocketAddress& a :
       {SocketAddress::V4({192, 0, 2, 1}, 32853), SocketAddress::V6(kV6, 443)}) {
    sockaddr_storage ss;
    socklen_t len = a.ToSockaddr(&ss);
    EXPECT_EQ(len, a.is_v4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    EXPECT_EQ(ss.ss_family, a.is_v4() ? AF_INET : AF_INET6);
    auto back = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, a);
  }
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(0x1234);
  in.sin_addr.s_addr = htonl(0x0A000001);
  auto v4 = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in), sizeof(in));
  ASSERT_TRUE(v4);
  EXPECT_EQ(*v4, SocketAddress::V4({10, 0, 0, 1}, 0x1234));
}

TEST(SocketAddressTest, FromSockaddrRejectsShortOrForeign) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  EXPECT_FALSE(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in), sizeof(in) - 1));
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  EXPECT_FALSE(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof(in6) - 1));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&un), sizeof(un)));
  EXPECT_FALSE(SocketAddress::FromSockaddr(nullptr, 0));
}

TEST(AddressCodingTest, EncodeMatchesRfcLayout) {
  std::array<uint8_t, 20> out;
  out.fill(0xEE);
  ASSERT_EQ(EncodeAddress(SocketAddress::V4({192, 0, 2, 1}, 32853), out), 8u);
  const std::vector<uint8_t> v4 = {0x00, 0x01, 0x80, 0x55, 0xc0, 0x00, 0x02, 0x01};
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 8), v4);
  EXPECT_EQ(out[8], 0xEE);  // nothing written past the value

  ASSERT_EQ(EncodeAddress(SocketAddress::V6(kV6, 32853), out), 20u);
  std::vector<uint8_t> v6(20);
  v6[1] = 0x02;
  v6[2] = 0x80;
  v6[3] = 0x55;
  std::copy(kV6.begin(), kV6.end(), v6.begin() + 4);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end()), v6);
}

TEST(AddressCodingTest, XorMatchesRfc5769Vectors) {
  // RFC 5769 §2.2: 192.0.2.1:32853.
  const std::vector<uint8_t> v4 = {0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
  // RFC 5769 §2.3: [2001:db8:1234:5678:11:2233:4455:6677]:32853.
  const std::vector<uint8_t> v6 = {0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
                                   0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9};
  std::array<uint8_t, 20> out{};
  ASSERT_EQ(EncodeXorAddress(SocketAddress::V4({192, 0, 2, 1}, 32853), kTid, out), 8u);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 8), v4);
  ASSERT_EQ(EncodeXorAddress(SocketAddress::V6(kV6, 32853), kTid, out), 20u);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end()), v6);

  EXPECT_EQ(DecodeXorAddress(v4, kTid), SocketAddress::V4({192, 0, 2, 1}, 32853));
  EXPECT_EQ(DecodeXorAddress(v6, kTid), SocketAddress::V6(kV6, 32853));
}

TEST(AddressCodingTest, DecodeIgnoresReservedByte) {
  const std::vector<uint8_t> v4 = {0xFF, 0x01, 0x00, 0x07, 1, 2, 3, 4};
  EXPECT_EQ(DecodeAddress(v4), SocketAddress::V4({1, 2, 3, 4}, 7));
}

TEST(AddressCodingTest, DecodeRejectsMalformed) {
  std::vector<uint8_t> ok4 = {0x00, 0x01, 0x00, 0x07, 1, 2, 3, 4};
  // Every shorter or longer length fails.
  for (size_t n = 0; n < 24; ++n) {
    if (n == 8) continue;
    std::vector<uint8_t> v(n, 0);
    std::copy_n(ok4.begin(), std::min(n, ok4.size()), v.begin());
    EXPECT_FALSE(DecodeAddress(v)) << n;
    EXPECT_FALSE(DecodeXorAddress(v, kTid)) << n;
  }
  // Unknown family codes.
  for (uint8_t family : {0, 3, 0xFF}) {
    ok4[1] = family;
    EXPECT_FALSE(DecodeAddress(ok4)) << int{family};
  }
  // IPv6 family with an IPv4-sized value, and the reverse.
  std::vector<uint8_t> v6_short = {0x00, 0x02, 0x00, 0x07, 1, 2, 3, 4};
  EXPECT_FALSE(DecodeAddress(v6_short));
  std::vector<uint8_t> v4_long(20, 0);
  v4_long[1] = 0x01;
  EXPECT_FALSE(DecodeAddress(v4_long));
}

}  // namespace
}  // namespace uturn::stun
