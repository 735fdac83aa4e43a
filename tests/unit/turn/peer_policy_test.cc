// Peer address policy: every default-deny class at its boundaries, every IPv6
// encoding of every IPv4 class, explicit allow/deny precedence,
// --allow-loopback-peers, and IpRange::Parse with each of its errors.
// Encodings are built here from the RFC layouts, independently of the code.
#include "turn/peer_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace uturn::turn {
namespace {

using stun::SocketAddress;
using ::testing::HasSubstr;
using V = PeerVerdict;
using Bytes16 = std::array<uint8_t, 16>;

SocketAddress Ip(std::string_view text, uint16_t port = 1234) {
  const auto a = SocketAddress::ParseIp(text, port);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(SocketAddress{});
}

std::array<uint8_t, 4> V4Bytes(std::string_view text) {
  const SocketAddress a = Ip(text);
  EXPECT_TRUE(a.is_v4()) << text;
  return {a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]};
}

SocketAddress V6(const Bytes16& b) { return SocketAddress::V6(b, 1234); }

// The IPv6 encodings of an IPv4 address the policy must see through.
struct Encoding {
  const char* name;
  SocketAddress (*make)(std::array<uint8_t, 4>);
};

SocketAddress Mapped(std::array<uint8_t, 4> v4) {  // RFC 4291 §2.5.5.2 ::ffff:a.b.c.d
  Bytes16 b{};
  b[10] = b[11] = 0xFF;
  std::copy(v4.begin(), v4.end(), b.begin() + 12);
  return V6(b);
}
SocketAddress Compatible(std::array<uint8_t, 4> v4) {  // RFC 4291 §2.5.5.1 ::a.b.c.d
  Bytes16 b{};
  std::copy(v4.begin(), v4.end(), b.begin() + 12);
  return V6(b);
}
SocketAddress Nat64(std::array<uint8_t, 4> v4) {  // RFC 6052 §2.1 64:ff9b::/96
  Bytes16 b{0x00, 0x64, 0xFF, 0x9B};
  std::copy(v4.begin(), v4.end(), b.begin() + 12);
  return V6(b);
}
SocketAddress Nat64Local(std::array<uint8_t, 4> v4) {  // RFC 8215, RFC 6052 /48 layout
  Bytes16 b{0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01, v4[0], v4[1], 0x00, v4[2], v4[3]};
  b[15] = 0x42;  // a non-zero suffix must not change the reading
  return V6(b);
}
SocketAddress SixToFour(std::array<uint8_t, 4> v4) {  // RFC 3056 §2 2002:V4ADDR::/48
  Bytes16 b{0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 0x12, 0x34};
  b[15] = 1;
  return V6(b);
}
// RFC 4380 §4: 2001:0000:<server v4>:<flags>:<port^ffff>:<client v4 ^ ffffffff>.
SocketAddress Teredo(std::array<uint8_t, 4> server, std::array<uint8_t, 4> client) {
  Bytes16 b{0x20, 0x01, 0x00, 0x00, server[0], server[1], server[2], server[3], 0x80, 0x00,
            0xF2, 0x27};
  for (int i = 0; i < 4; ++i) b[12 + i] = static_cast<uint8_t>(client[i] ^ 0xFF);
  return V6(b);
}
SocketAddress TeredoServer(std::array<uint8_t, 4> v4) { return Teredo(v4, {8, 8, 8, 8}); }
SocketAddress TeredoClient(std::array<uint8_t, 4> v4) { return Teredo({8, 8, 4, 4}, v4); }

const Encoding kEncodings[] = {
    {"ipv4_mapped", Mapped},   {"ipv4_compatible", Compatible}, {"nat64", Nat64},
    {"nat64_local", Nat64Local}, {"6to4", SixToFour},          {"teredo_server", TeredoServer},
    {"teredo_client", TeredoClient},
};

struct V4Case {
  const char* ip;
  V expected;
};

// First and last address of every class, and the neighbours just outside.
const V4Case kV4Cases[] = {
    // 0.0.0.0/8 (RFC 6890 "this network")
    {"0.0.0.0", V::kDeniedUnspecified},
    {"0.255.255.255", V::kDeniedUnspecified},
    {"1.0.0.0", V::kAllowed},
    // 10/8 (RFC 1918)
    {"9.255.255.255", V::kAllowed},
    {"10.0.0.0", V::kDeniedPrivate},
    {"10.255.255.255", V::kDeniedPrivate},
    {"11.0.0.0", V::kAllowed},
    // 100.64/10 (RFC 6598)
    {"100.63.255.255", V::kAllowed},
    {"100.64.0.0", V::kDeniedPrivate},
    {"100.127.255.255", V::kDeniedPrivate},
    {"100.128.0.0", V::kAllowed},
    // 127/8 loopback
    {"126.255.255.255", V::kAllowed},
    {"127.0.0.0", V::kDeniedLoopback},
    {"127.0.0.1", V::kDeniedLoopback},
    {"127.255.255.255", V::kDeniedLoopback},
    {"128.0.0.0", V::kAllowed},
    // 169.254/16 link-local
    {"169.253.255.255", V::kAllowed},
    {"169.254.0.0", V::kDeniedLinkLocal},
    {"169.254.255.255", V::kDeniedLinkLocal},
    {"169.255.0.0", V::kAllowed},
    // 172.16/12 (RFC 1918)
    {"172.15.255.255", V::kAllowed},
    {"172.16.0.0", V::kDeniedPrivate},
    {"172.31.255.255", V::kDeniedPrivate},
    {"172.32.0.0", V::kAllowed},
    // 192.168/16 (RFC 1918)
    {"192.167.255.255", V::kAllowed},
    {"192.168.0.0", V::kDeniedPrivate},
    {"192.168.255.255", V::kDeniedPrivate},
    {"192.169.0.0", V::kAllowed},
    // 224/4 multicast, 240/4 reserved, 255.255.255.255 broadcast
    {"223.255.255.255", V::kAllowed},
    {"224.0.0.0", V::kDeniedMulticast},
    {"239.255.255.255", V::kDeniedMulticast},
    {"240.0.0.0", V::kDeniedReserved},
    {"255.255.255.254", V::kDeniedReserved},
    {"255.255.255.255", V::kDeniedMulticast},
    // Ordinary public addresses.
    {"8.8.8.8", V::kAllowed},
    {"198.51.100.7", V::kAllowed},
};

TEST(PeerPolicyTest, DefaultIpv4ClassesAtTheirBoundaries) {
  const PeerPolicy policy({});
  for (const V4Case& c : kV4Cases) {
    EXPECT_EQ(policy.Check(Ip(c.ip)), c.expected) << c.ip;
  }
}

TEST(PeerPolicyTest, EveryIpv6EncodingOfEveryIpv4ClassGetsTheSameVerdict) {
  const PeerPolicy policy({});
  for (const V4Case& c : kV4Cases) {
    for (const Encoding& e : kEncodings) {
      const SocketAddress a = e.make(V4Bytes(c.ip));
      ASSERT_FALSE(a.is_v4());
      EXPECT_EQ(policy.Check(a), c.expected) << e.name << " of " << c.ip << " = " << a.ToString();
    }
  }
}

struct V6Case {
  const char* ip;
  V expected;
};

const V6Case kV6Cases[] = {
    {"::", V::kDeniedUnspecified},
    {"::1", V::kDeniedLoopback},
    {"::2", V::kDeniedUnspecified},  // IPv4-compatible 0.0.0.2
    // fc00::/7 unique local (RFC 4193)
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", V::kAllowed},
    {"fc00::", V::kDeniedPrivate},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", V::kDeniedPrivate},
    {"fe00::", V::kAllowed},
    // fe80::/10 link-local
    {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", V::kAllowed},
    {"fe80::", V::kDeniedLinkLocal},
    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", V::kDeniedLinkLocal},
    // fec0::/10 deprecated site-local (RFC 3879)
    {"fec0::", V::kDeniedReserved},
    {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", V::kDeniedReserved},
    // ff00::/8 multicast
    {"ff00::", V::kDeniedMulticast},
    {"ff02::1", V::kDeniedMulticast},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", V::kDeniedMulticast},
    // Just outside each encoding prefix, with a private IPv4 in the usual spot.
    {"::fffe:a00:1", V::kAllowed},          // not ::ffff:0:0/96 nor ::/96
    {"::1:ffff:a00:1", V::kAllowed},        // not ::ffff:0:0/96
    {"::1:0:a00:1", V::kAllowed},           // not ::/96
    {"64:ff9b::1:a00:1", V::kAllowed},      // not 64:ff9b::/96
    {"64:ff9a:ffff:ffff:ffff:ffff:a00:1", V::kAllowed},
    {"64:ff9b:2:a00:0:100::", V::kAllowed},  // not 64:ff9b:1::/48
    {"2003:a00:1::", V::kAllowed},           // not 2002::/16
    {"2001:1:a00:1::", V::kAllowed},         // not 2001::/32 (server spot)
    {"2001:1:808:808:0:0:f5ff:fffe", V::kAllowed},  // ...nor client spot (10.0.0.1)
    // Ordinary global unicast.
    {"2001:db8::1", V::kAllowed},
    {"2a00:1450:4001:81b::200e", V::kAllowed},
};

TEST(PeerPolicyTest, DefaultIpv6ClassesAtTheirBoundaries) {
  const PeerPolicy policy({});
  for (const V6Case& c : kV6Cases) {
    EXPECT_EQ(policy.Check(Ip(c.ip)), c.expected) << c.ip;
  }
}

TEST(PeerPolicyTest, EncodingsSpelledAsText) {
  // The same addresses as the table, written the way an attacker would.
  const PeerPolicy policy({});
  EXPECT_EQ(policy.Check(Ip("::ffff:127.0.0.1")), V::kDeniedLoopback);
  EXPECT_EQ(policy.Check(Ip("::ffff:7f00:1")), V::kDeniedLoopback);
  EXPECT_EQ(policy.Check(Ip("::10.0.0.1")), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Ip("64:ff9b::192.168.1.1")), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Ip("64:ff9b:1:a9fe:1:200::")), V::kDeniedLinkLocal);  // 169.254.1.2
  EXPECT_EQ(policy.Check(Ip("2002:7f00:1::1")), V::kDeniedLoopback);
  EXPECT_EQ(policy.Check(Ip("2002:ac10:1::")), V::kDeniedPrivate);  // 172.16.0.1
  // Teredo: server 127.0.0.1; client 10.0.0.1 = f5ff:fffe after XOR.
  EXPECT_EQ(policy.Check(Ip("2001:0:7f00:1::")), V::kDeniedLoopback);
  EXPECT_EQ(policy.Check(Ip("2001:0:808:808::f5ff:fffe")), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Ip("2001:0:808:808:8000:f227:f7f7:f7f7")), V::kAllowed);  // 8.8.8.8
}

TEST(PeerPolicyTest, TeredoChecksBothServerAndClient) {
  const PeerPolicy policy({});
  EXPECT_EQ(policy.Check(Teredo({8, 8, 8, 8}, {1, 1, 1, 1})), V::kAllowed);
  EXPECT_EQ(policy.Check(Teredo({192, 168, 0, 1}, {1, 1, 1, 1})), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Teredo({8, 8, 8, 8}, {224, 0, 0, 1})), V::kDeniedMulticast);
  EXPECT_EQ(policy.Check(Teredo({8, 8, 8, 8}, {255, 255, 255, 255})), V::kDeniedMulticast);
}

TEST(PeerPolicyTest, PortIsIgnored) {
  const PeerPolicy policy({});
  EXPECT_EQ(policy.Check(Ip("10.0.0.1", 0)), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Ip("10.0.0.1", 65535)), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Ip("8.8.8.8", 0)), V::kAllowed);
}

IpRange Range(std::string_view text) {
  auto r = IpRange::Parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.value_or(IpRange{});
}

TEST(PeerPolicyTest, ExplicitAllowWinsOverDefaultsAndDeny) {
  PeerPolicyConfig config;
  config.allowed = {Range("10.0.0.0/8"), Range("1.2.3.4"), Range("fe80::/10")};
  config.denied = {Range("1.2.3.0/24"), Range("10.1.0.0/16")};
  const PeerPolicy policy(config);
  EXPECT_EQ(policy.Check(Ip("10.0.0.0")), V::kAllowedExplicitly);
  EXPECT_EQ(policy.Check(Ip("10.255.255.255")), V::kAllowedExplicitly);
  EXPECT_EQ(policy.Check(Ip("10.1.2.3")), V::kAllowedExplicitly);  // allow beats deny
  EXPECT_EQ(policy.Check(Ip("1.2.3.4")), V::kAllowedExplicitly);
  EXPECT_EQ(policy.Check(Ip("1.2.3.3")), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Ip("1.2.3.5")), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Ip("fe80::1")), V::kAllowedExplicitly);
  EXPECT_EQ(policy.Check(Ip("11.0.0.0")), V::kAllowed);
  EXPECT_EQ(policy.Check(Ip("172.16.0.1")), V::kDeniedPrivate);
  EXPECT_TRUE(IsAllowed(policy.Check(Ip("10.0.0.1"))));
  EXPECT_FALSE(IsAllowed(policy.Check(Ip("1.2.3.5"))));
}

TEST(PeerPolicyTest, Ipv4AllowDoesNotExtendToIpv6Encodings) {
  PeerPolicyConfig config;
  config.allowed = {Range("10.0.0.5")};
  const PeerPolicy policy(config);
  EXPECT_EQ(policy.Check(Ip("10.0.0.5")), V::kAllowedExplicitly);
  EXPECT_EQ(policy.Check(Ip("::ffff:10.0.0.5")), V::kDeniedPrivate);
  EXPECT_EQ(policy.Check(Ip("2002:a00:5::")), V::kDeniedPrivate);

  // Allowing the IPv6 form itself works.
  config.allowed = {Range("::ffff:10.0.0.0/104")};
  const PeerPolicy v6_policy(config);
  EXPECT_EQ(v6_policy.Check(Ip("::ffff:10.0.0.5")), V::kAllowedExplicitly);
  EXPECT_EQ(v6_policy.Check(Ip("10.0.0.5")), V::kDeniedPrivate);
}

TEST(PeerPolicyTest, ExplicitDenyWinsOverDefaultsAndCoversEncodings) {
  PeerPolicyConfig config;
  config.denied = {Range("203.0.113.0/24"), Range("10.0.0.0/8"), Range("2001:db8::/32"),
                   Range("9.9.9.9")};
  const PeerPolicy policy(config);
  EXPECT_EQ(policy.Check(Ip("203.0.113.0")), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Ip("203.0.113.255")), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Ip("203.0.112.255")), V::kAllowed);
  EXPECT_EQ(policy.Check(Ip("203.0.114.0")), V::kAllowed);
  // An explicit deny is reported as such even where a default also denies.
  EXPECT_EQ(policy.Check(Ip("10.0.0.1")), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Ip("2001:db8::1")), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Ip("2001:db9::1")), V::kAllowed);
  for (const Encoding& e : kEncodings) {
    EXPECT_EQ(policy.Check(e.make({203, 0, 113, 7})), V::kDeniedExplicitly) << e.name;
    EXPECT_EQ(policy.Check(e.make({203, 0, 114, 7})), V::kAllowed) << e.name;
  }
  // Teredo whose server is fine but whose client is denied, and the reverse.
  EXPECT_EQ(policy.Check(Teredo({1, 1, 1, 1}, {9, 9, 9, 9})), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Teredo({9, 9, 9, 9}, {1, 1, 1, 1})), V::kDeniedExplicitly);
  EXPECT_EQ(policy.Check(Teredo({1, 1, 1, 1}, {9, 9, 9, 8})), V::kAllowed);
}

TEST(PeerPolicyTest, AllowLoopbackLiftsOnlyLoopbackIncludingItsEncodings) {
  PeerPolicyConfig config;
  config.allow_loopback = true;
  const PeerPolicy policy(config);
  for (const char* ip : {"127.0.0.0", "127.0.0.1", "127.255.255.255", "::1"}) {
    EXPECT_EQ(policy.Check(Ip(ip)), V::kAllowed) << ip;
  }
  for (const Encoding& e : kEncodings) {
    EXPECT_EQ(policy.Check(e.make({127, 0, 0, 1})), V::kAllowed) << e.name;
    EXPECT_EQ(policy.Check(e.make({10, 0, 0, 1})), V::kDeniedPrivate) << e.name;
  }
  // Every other class stays denied.
  for (const V4Case& c : kV4Cases) {
    if (c.expected == V::kDeniedLoopback) continue;
    EXPECT_EQ(policy.Check(Ip(c.ip)), c.expected) << c.ip;
  }
  for (const V6Case& c : kV6Cases) {
    if (c.expected == V::kDeniedLoopback) continue;
    EXPECT_EQ(policy.Check(Ip(c.ip)), c.expected) << c.ip;
  }
  // Loopback server, private client: the private one still denies.
  EXPECT_EQ(policy.Check(Teredo({127, 0, 0, 1}, {192, 168, 1, 1})), V::kDeniedPrivate);
  // An explicit deny still applies to loopback.
  config.denied = {Range("127.0.0.2")};
  const PeerPolicy with_deny(config);
  EXPECT_EQ(with_deny.Check(Ip("127.0.0.2")), V::kDeniedExplicitly);
  EXPECT_EQ(with_deny.Check(Ip("127.0.0.1")), V::kAllowed);
}

TEST(PeerPolicyTest, VerdictNamesAreDistinct) {
  std::set<std::string> names;
  for (V v : {V::kAllowed, V::kAllowedExplicitly, V::kDeniedExplicitly, V::kDeniedLoopback,
              V::kDeniedUnspecified, V::kDeniedPrivate, V::kDeniedLinkLocal, V::kDeniedMulticast,
              V::kDeniedReserved}) {
    names.insert(ToString(v));
  }
  EXPECT_EQ(names.size(), 9u);
  EXPECT_STREQ(ToString(V::kDeniedPrivate), "denied_private");
  EXPECT_TRUE(IsAllowed(V::kAllowed));
  EXPECT_TRUE(IsAllowed(V::kAllowedExplicitly));
  EXPECT_FALSE(IsAllowed(V::kDeniedLoopback));
}

// ---- IpRange ----

Bytes16 B(std::string_view ip) { return Ip(ip).bytes; }

TEST(IpRangeTest, ParsesSingleAddresses) {
  const IpRange v4 = Range("1.2.3.4");
  EXPECT_EQ(v4.family, stun::Family::kIPv4);
  EXPECT_EQ(v4.first, (Bytes16{1, 2, 3, 4}));
  EXPECT_EQ(v4.last, (Bytes16{1, 2, 3, 4}));
  const IpRange v6 = Range("  2001:db8::1 ");
  EXPECT_EQ(v6.family, stun::Family::kIPv6);
  EXPECT_EQ(v6.first, (Bytes16{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(v6.last, v6.first);
}

TEST(IpRangeTest, ParsesIpv4Cidr) {
  IpRange r = Range("10.0.0.0/8");
  EXPECT_EQ(r.first, (Bytes16{10, 0, 0, 0}));
  EXPECT_EQ(r.last, (Bytes16{10, 255, 255, 255}));
  r = Range("172.16.5.4/12");  // host bits ignored
  EXPECT_EQ(r.first, (Bytes16{172, 16, 0, 0}));
  EXPECT_EQ(r.last, (Bytes16{172, 31, 255, 255}));
  r = Range("0.0.0.0/0");
  EXPECT_EQ(r.first, (Bytes16{0, 0, 0, 0}));
  EXPECT_EQ(r.last, (Bytes16{255, 255, 255, 255}));  // bytes 4-15 stay zero
  r = Range("1.2.3.4/32");
  EXPECT_EQ(r.first, (Bytes16{1, 2, 3, 4}));
  EXPECT_EQ(r.last, (Bytes16{1, 2, 3, 4}));
  r = Range("192.0.2.77/025");
  EXPECT_EQ(r.first, (Bytes16{192, 0, 2, 0}));
  EXPECT_EQ(r.last, (Bytes16{192, 0, 2, 127}));
}

TEST(IpRangeTest, ParsesIpv6Cidr) {
  IpRange r = Range("fc00::/7");
  EXPECT_EQ(r.family, stun::Family::kIPv6);
  EXPECT_EQ(r.first, B("fc00::"));
  EXPECT_EQ(r.last, B("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  r = Range("::/0");
  EXPECT_EQ(r.first, B("::"));
  EXPECT_EQ(r.last, B("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  r = Range("2001:db8::1/128");
  EXPECT_EQ(r.first, B("2001:db8::1"));
  EXPECT_EQ(r.last, B("2001:db8::1"));
  r = Range("2001:db8:abcd::/35");
  EXPECT_EQ(r.first, B("2001:db8:a000::"));
  EXPECT_EQ(r.last, B("2001:db8:bfff:ffff:ffff:ffff:ffff:ffff"));
}

TEST(IpRangeTest, ParsesDashRanges) {
  IpRange r = Range("1.2.3.4-1.2.3.9");
  EXPECT_EQ(r.first, (Bytes16{1, 2, 3, 4}));
  EXPECT_EQ(r.last, (Bytes16{1, 2, 3, 9}));
  r = Range("1.2.3.4 - 1.2.3.4");
  EXPECT_EQ(r.first, r.last);
  r = Range("2001:db8::1-2001:db8::1:0");
  EXPECT_EQ(r.family, stun::Family::kIPv6);
  EXPECT_EQ(r.first, B("2001:db8::1"));
  EXPECT_EQ(r.last, B("2001:db8::1:0"));
}

TEST(IpRangeTest, ContainsIsInclusiveAndFamilyAware) {
  const IpRange r = Range("1.2.3.4-1.2.3.9");
  EXPECT_FALSE(r.Contains(Ip("1.2.3.3")));
  EXPECT_TRUE(r.Contains(Ip("1.2.3.4")));
  EXPECT_TRUE(r.Contains(Ip("1.2.3.9", 9)));
  EXPECT_FALSE(r.Contains(Ip("1.2.3.10")));
  EXPECT_FALSE(r.Contains(Ip("1.2.4.5")));  // later byte in range, earlier not
  EXPECT_FALSE(Range("0.0.0.0/0").Contains(Ip("::1")));
  EXPECT_FALSE(Range("::/0").Contains(Ip("1.2.3.4")));
  EXPECT_TRUE(Range("::/0").Contains(Ip("::ffff:1.2.3.4")));
}

TEST(IpRangeTest, RejectsMalformedText) {
  struct Bad {
    const char* text;
    const char* why;
  };
  const Bad cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"example.com", "not an IP address"},
      {"1.2.3", "not an IP address"},
      {"1.2.3.256", "not an IP address"},
      {"1.2.3.4/33", "prefix length above 32"},
      {"::/129", "prefix length above 128"},
      {"1.2.3.4/", "bad prefix length"},
      {"1.2.3.4/-1", "start of the range"},  // '-' makes it a range
      {"1.2.3.4/8a", "bad prefix length"},
      {"1.2.3.4/1000", "bad prefix length"},
      {"1.2.3.4/8/9", "bad prefix length"},
      {"1.2.3.4/ 8", "bad prefix length"},
      {"foo/8", "not an IP address before '/'"},
      {"1.2.3.9-1.2.3.4", "start is after the end"},
      {"2001:db8::2-2001:db8::1", "start is after the end"},
      {"1.2.3.4-::1", "different families"},
      {"x-1.2.3.4", "start of the range"},
      {"1.2.3.4-", "end of the range"},
      {"1.2.3.4-1.2.3.5/24", "end of the range"},
      {"[::1]", "not an IP address"},
      {"1.2.3.4:80", "not an IP address"},
  };
  for (const Bad& c : cases) {
    const auto r = IpRange::Parse(c.text);
    ASSERT_FALSE(r.ok()) << '"' << c.text << '"';
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.why)) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.text)) << c.text;
  }
}

}  // namespace
}  // namespace uturn::turn
