// RFC 8839 §5.1 candidate grammar and RFC 8445 §5.1.2 priorities.
#include "ice-lite/candidate.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::ice {
namespace {

// Lines in the shape each agent writes them (values invented for the tests).
const char* const kChromeHost =
    "candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 ufrag EsAw "
    "network-id 1 network-cost 10";
const char* const kChromeMdns =
    "candidate:3058292358 1 udp 2113937151 5c4c2c4e-0f4e-4b2a-9a3e-1a2b3c4d5e6f.local 54321 typ "
    "host generation 0 ufrag EsAw network-cost 999";
const char* const kChromeSrflx =
    "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag EsAw network-cost 999";
const char* const kChromeTcp =
    "candidate:1853887674 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0 "
    "ufrag EsAw network-id 1";
const char* const kChromeRelay =
    "candidate:2157334355 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.7 rport "
    "61665 generation 0 ufrag EsAw network-id 1";
const char* const kChromeV6 =
    "candidate:2999745851 1 udp 2122129151 2001:db8::1f 53003 typ host generation 0 ufrag EsAw "
    "network-id 2";
const char* const kFirefoxHost = "candidate:0 1 UDP 2122252543 192.168.1.5 53421 typ host";
const char* const kFirefoxSrflx =
    "candidate:1 1 UDP 1686052863 203.0.113.7 53421 typ srflx raddr 192.168.1.5 rport 53421";
const char* const kFirefoxTcp = "candidate:2 1 TCP 2105524479 192.168.1.5 9 typ host tcptype active";
const char* const kFirefoxRelay =
    "candidate:3 1 UDP 92217087 198.51.100.9 62151 typ relay raddr 198.51.100.9 rport 62151";
const char* const kLibniceHost = "candidate:1 1 UDP 2013266431 192.168.1.10 43587 typ host";
const char* const kLibnicePassive =
    "candidate:3 1 TCP 1010828031 192.168.1.10 44321 typ host tcptype passive";
const char* const kLibniceSo = "candidate:5 2 TCP 1010828030 192.168.1.10 44322 typ host tcptype so";
const char* const kLibniceSrflx =
    "candidate:4 1 UDP 1677721855 203.0.113.20 43587 typ srflx raddr 192.168.1.10 rport 43587";

TEST(CandidateParseTest, ChromeHostWithExtensions) {
  auto c = ParseCandidate(kChromeHost);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->foundation, "1467250027");
  EXPECT_EQ(c->component, 1);
  EXPECT_EQ(c->transport, "udp");
  EXPECT_TRUE(c->is_udp());
  EXPECT_FALSE(c->is_tcp());
  EXPECT_EQ(c->priority, 2122260223u);
  EXPECT_EQ(c->address, "192.168.0.196");
  ASSERT_TRUE(c->ip);
  EXPECT_EQ(*c->ip, stun::SocketAddress::V4({192, 168, 0, 196}, 46243));
  EXPECT_EQ(c->port, 46243);
  EXPECT_EQ(c->type, CandidateType::kHost);
  EXPECT_FALSE(c->related_address);
  EXPECT_FALSE(c->related_port);
  EXPECT_FALSE(c->tcp_type);
  const std::vector<std::pair<std::string, std::string>> ext = {
      {"generation", "0"}, {"ufrag", "EsAw"}, {"network-id", "1"}, {"network-cost", "10"}};
  EXPECT_EQ(c->extensions, ext);
}

TEST(CandidateParseTest, ChromeMdnsNameIsKeptAsText) {
  auto c = ParseCandidate(kChromeMdns);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "5c4c2c4e-0f4e-4b2a-9a3e-1a2b3c4d5e6f.local");
  EXPECT_FALSE(c->ip);
  EXPECT_EQ(c->port, 54321);
}

TEST(CandidateParseTest, ChromeSrflxAndRelayHaveRelatedAddress) {
  auto s = ParseCandidate(kChromeSrflx);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type, CandidateType::kServerReflexive);
  EXPECT_EQ(s->related_address, "0.0.0.0");
  EXPECT_EQ(s->related_port, 0);
  ASSERT_EQ(s->extensions.size(), 3u);
  EXPECT_EQ(s->extensions[0].first, "generation");

  auto r = ParseCandidate(kChromeRelay);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, CandidateType::kRelay);
  EXPECT_EQ(r->priority, 41885439u);
  EXPECT_EQ(r->related_address, "203.0.113.7");
  EXPECT_EQ(r->related_port, 61665);
}

TEST(CandidateParseTest, ChromeTcpActive) {
  auto c = ParseCandidate(kChromeTcp);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->is_tcp());
  EXPECT_EQ(c->port, 9);
  EXPECT_EQ(c->tcp_type, TcpType::kActive);
  // tcptype is a field, not an extension.
  for (const auto& [name, value] : c->extensions) EXPECT_NE(name, "tcptype");
  EXPECT_EQ(c->extensions.size(), 3u);
}

TEST(CandidateParseTest, ChromeIpv6) {
  auto c = ParseCandidate(kChromeV6);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->ip);
  EXPECT_FALSE(c->ip->is_v4());
  std::array<uint8_t, 16> want{0x20, 0x01, 0x0d, 0xb8};
  want[15] = 0x1f;
  EXPECT_EQ(*c->ip, stun::SocketAddress::V6(want, 53003));
}

TEST(CandidateParseTest, FirefoxUppercaseTransport) {
  auto h = ParseCandidate(kFirefoxHost);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->transport, "UDP");
  EXPECT_TRUE(h->is_udp());
  EXPECT_TRUE(h->extensions.empty());
  auto t = ParseCandidate(kFirefoxTcp);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->is_tcp());
  EXPECT_EQ(t->tcp_type, TcpType::kActive);
  auto s = ParseCandidate(kFirefoxSrflx);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->related_address, "192.168.1.5");
  EXPECT_EQ(s->related_port, 53421);
}

TEST(CandidateParseTest, LibniceLinesWithAttributePrefix) {
  auto h = ParseCandidate(std::string("a=") + kLibniceHost);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->foundation, "1");
  auto p = ParseCandidate(kLibnicePassive);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->tcp_type, TcpType::kPassive);
  auto so = ParseCandidate(kLibniceSo);
  ASSERT_TRUE(so.ok()) << so.status();
  EXPECT_EQ(so->tcp_type, TcpType::kSimultaneousOpen);
  EXPECT_EQ(so->component, 2);
}

TEST(CandidateParseTest, RealLinesRoundTripExactly) {
  for (const char* line :
       {kChromeHost, kChromeMdns, kChromeSrflx, kChromeTcp, kChromeRelay, kChromeV6, kFirefoxHost,
        kFirefoxSrflx, kFirefoxTcp, kFirefoxRelay, kLibniceHost, kLibnicePassive, kLibniceSo,
        kLibniceSrflx}) {
    auto c = ParseCandidate(line);
    ASSERT_TRUE(c.ok()) << line << ": " << c.status();
    EXPECT_EQ(FormatCandidate(*c), line);
  }
}

TEST(CandidateParseTest, QuotedLiteralsAreCaseInsensitive) {
  // RFC 5234 §2.3: "typ", "host", "raddr", "rport", "tcptype" are ABNF strings.
  auto c = ParseCandidate("candidate:1 1 TCP 5 10.0.0.1 9 TYP SRFLX RADDR 10.0.0.2 RPORT 7 "
                          "TcpType Passive");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->type, CandidateType::kServerReflexive);
  EXPECT_EQ(c->related_port, 7);
  EXPECT_EQ(c->tcp_type, TcpType::kPassive);
  EXPECT_EQ(FormatCandidate(*c),
            "candidate:1 1 TCP 5 10.0.0.1 9 typ srflx raddr 10.0.0.2 rport 7 tcptype passive");
}

TEST(CandidateParseTest, UnknownTransportParsesButIsNeitherUdpNorTcp) {
  auto c = ParseCandidate("candidate:1 1 sctp-dtls 100 10.0.0.1 5000 typ host");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->transport, "sctp-dtls");
  EXPECT_FALSE(c->is_udp());
  EXPECT_FALSE(c->is_tcp());
}

TEST(CandidateParseTest, BoundaryValuesAccepted) {
  const std::string f32(32, 'a');
  auto c = ParseCandidate("candidate:" + f32 + " 256 udp 4294967295 10.0.0.1 65535 typ prflx "
                          "raddr 10.0.0.2 rport 65535");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->foundation, f32);
  EXPECT_EQ(c->component, 256);
  EXPECT_EQ(c->priority, 4294967295u);
  EXPECT_EQ(c->port, 65535);
  EXPECT_EQ(c->type, CandidateType::kPeerReflexive);
  EXPECT_EQ(c->related_port, 65535);
  // ice-char includes '+' and '/'; "001" is three digits.
  auto d = ParseCandidate("candidate:a+/Z 001 udp 0 host.example.com 0 typ host");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->component, 1);
  EXPECT_EQ(d->priority, 0u);
  EXPECT_FALSE(d->ip);
  // raddr may be an FQDN too (connection-address).
  auto e = ParseCandidate("candidate:1 1 udp 1 10.0.0.1 1 typ srflx raddr x.local rport 2");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->related_address, "x.local");
}

TEST(CandidateParseTest, OnlyTheCandidateTypeKeywordsAreKnown) {
  EXPECT_STREQ(ToString(CandidateType::kHost), "host");
  EXPECT_STREQ(ToString(CandidateType::kServerReflexive), "srflx");
  EXPECT_STREQ(ToString(CandidateType::kPeerReflexive), "prflx");
  EXPECT_STREQ(ToString(CandidateType::kRelay), "relay");
}

struct BadLine {
  std::string line;
  std::string reason;  // a piece of the expected message
};

TEST(CandidateParseTest, MalformedLinesAreRejectedWithAReason) {
  const std::string base = "candidate:1 1 udp 2122260223 192.168.0.1 5000 typ host";
  // Five labels of 60: each label is fine, the name (304 > 253) is not.
  std::string long_name = std::string(60, 'a');
  for (int i = 0; i < 4; ++i) long_name += "." + std::string(60, 'a');
  const std::vector<BadLine> bad = {
      {"", "empty"},
      {"candidate:", "empty field"},
      {"candidate:1 1 udp 2122260223 192.168.0.1 5000 typ", "truncated"},
      {"candidate:1 1 udp 2122260223 192.168.0.1 5000", "truncated"},
      {"candidate:1", "truncated"},
      {"a=candidate 1 1 udp 1 10.0.0.1 1 typ host", "candidate:"},
      {"a=candidates:1 1 udp 1 10.0.0.1 1 typ host", "candidate:"},
      {"b=candidate:1 1 udp 1 10.0.0.1 1 typ host", "candidate:"},
      {"Candidate:1 1 udp 1 10.0.0.1 1 typ host", "candidate:"},
      // foundation
      {"candidate:" + std::string(33, 'a') + " 1 udp 1 10.0.0.1 1 typ host", "foundation"},
      {"candidate:ab-c 1 udp 1 10.0.0.1 1 typ host", "foundation"},
      {"candidate:ab_c 1 udp 1 10.0.0.1 1 typ host", "foundation"},
      // component
      {"candidate:1 0 udp 1 10.0.0.1 1 typ host", "component"},
      {"candidate:1 257 udp 1 10.0.0.1 1 typ host", "component"},
      {"candidate:1 1000 udp 1 10.0.0.1 1 typ host", "component"},
      {"candidate:1 -1 udp 1 10.0.0.1 1 typ host", "component"},
      {"candidate:1 1a udp 1 10.0.0.1 1 typ host", "component"},
      // transport
      {"candidate:1 1 ud(p 1 10.0.0.1 1 typ host", "transport"},
      // priority
      {"candidate:1 1 udp 4294967296 10.0.0.1 1 typ host", "priority"},
      {"candidate:1 1 udp 99999999999 10.0.0.1 1 typ host", "priority"},
      {"candidate:1 1 udp 18446744073709551617 10.0.0.1 1 typ host", "priority"},
      {"candidate:1 1 udp 12a 10.0.0.1 1 typ host", "priority"},
      {"candidate:1 1 udp +5 10.0.0.1 1 typ host", "priority"},
      {"candidate:1 1 udp -5 10.0.0.1 1 typ host", "priority"},
      // connection-address
      {"candidate:1 1 udp 1 1.2.3.256 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 1.2.3 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 ::g 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 [::1] 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 fe80::1%eth0 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 -bad.local 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 bad-.local 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 a..b 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 a.b. 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 host_name.local 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 " + std::string(64, 'a') + ".local 1 typ host", "connection-address"},
      {"candidate:1 1 udp 1 " + long_name + " 1 typ host", "connection-address"},
      // port
      {"candidate:1 1 udp 1 10.0.0.1 65536 typ host", "port"},
      {"candidate:1 1 udp 1 10.0.0.1 123456 typ host", "port"},
      {"candidate:1 1 udp 1 10.0.0.1 x typ host", "port"},
      {"candidate:1 1 udp 1 10.0.0.1 -1 typ host", "port"},
      // typ
      {"candidate:1 1 udp 1 10.0.0.1 1 typo host", "typ"},
      {"candidate:1 1 udp 1 10.0.0.1 1 host typ", "typ"},
      {"candidate:1 1 udp 1 10.0.0.1 1 typ srflxx", "candidate type"},
      {"candidate:1 1 udp 1 10.0.0.1 1 typ local", "candidate type"},
      // raddr / rport
      {base + " raddr 10.0.0.2", "raddr without rport"},
      {base + " raddr", "without a value"},
      {base + " raddr 10.0.0.2 generation 0", "raddr without rport"},
      {base + " rport 5", "rport without raddr"},
      {base + " raddr 10.0.0.300 rport 5", "raddr"},
      {base + " raddr 10.0.0.2 rport 70000", "rport"},
      {base + " raddr 10.0.0.2 rport x", "rport"},
      {base + " generation 0 raddr 10.0.0.2 rport 5", "must follow typ"},
      {base + " raddr 10.0.0.2 rport 5 rport 6", "must follow typ"},
      // extensions
      {base + " generation", "without a value"},
      {base + " generation 0 ufrag", "without a value"},
      {base + " gen(eration 0", "extension name"},
      // tcptype
      {base + " tcptype active", "non-TCP"},
      {"candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype listen", "tcptype"},
      {"candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype active tcptype passive", "twice"},
      // spacing
      {"candidate:1  1 udp 1 10.0.0.1 1 typ host", "empty field"},
      {"candidate: 1 1 udp 1 10.0.0.1 1 typ host", "empty field"},
      {base + " ", "empty field"},
      {"candidate:1\t1 udp 1 10.0.0.1 1 typ host", "non-printable"},
      // bytes
      {base + "\r\n", "non-printable"},
      {base + " network-name \xc3\xa9th0", "non-ASCII"},
      {base + std::string(1, '\0') + " x", "non-printable"},
      {base + " x " + std::string(1100, 'y'), "too long"},
  };
  for (const BadLine& b : bad) {
    auto c = ParseCandidate(b.line);
    ASSERT_FALSE(c.ok()) << "accepted: " << b.line;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << b.line;
    EXPECT_NE(std::string(c.status().message()).find(b.reason), std::string::npos)
        << b.line << " -> " << c.status().message() << " (wanted \"" << b.reason << "\")";
  }
}

// Every prefix and every one-byte change of real lines: never a crash, and
// whatever is accepted formats to a line that parses back to the same text.
TEST(CandidateParseTest, MutationsNeverCrashAndAcceptedOnesRoundTrip) {
  const std::string replacements = std::string(" :0a\xff\x80-./+9Z\0", 14);
  size_t accepted = 0, rejected = 0;
  auto check = [&](const std::string& line) {
    auto c = ParseCandidate(line);
    if (!c.ok()) {
      ++rejected;
      EXPECT_FALSE(c.status().message().empty());
      return;
    }
    ++accepted;
    const std::string once = FormatCandidate(*c);
    auto again = ParseCandidate(once);
    ASSERT_TRUE(again.ok()) << line << " -> " << once << ": " << again.status();
    EXPECT_EQ(FormatCandidate(*again), once);
  };
  for (const char* line : {kChromeHost, kChromeSrflx, kChromeTcp, kChromeV6, kLibniceSrflx}) {
    const std::string s = line;
    for (size_t n = 0; n <= s.size(); ++n) check(s.substr(0, n));
    for (size_t i = 0; i < s.size(); ++i) {
      for (char r : replacements) {
        std::string m = s;
        m[i] = r;
        check(m);
      }
    }
  }
  // Both outcomes happen, so the loop exercised something.
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(rejected, 100u);
}

TEST(CandidateFormatTest, WritesFieldsInGrammarOrder) {
  Candidate c;
  c.foundation = "abc";
  c.component = 1;
  c.transport = "tcp";
  c.priority = 1234;
  c.address = "10.1.2.3";
  c.port = 443;
  c.type = CandidateType::kServerReflexive;
  c.related_address = "192.168.1.1";
  c.related_port = 5555;
  c.tcp_type = TcpType::kSimultaneousOpen;
  c.extensions = {{"generation", "2"}, {"network-id", "7"}};
  EXPECT_EQ(FormatCandidate(c),
            "candidate:abc 1 tcp 1234 10.1.2.3 443 typ srflx raddr 192.168.1.1 rport 5555 "
            "tcptype so generation 2 network-id 7");
}

TEST(CandidateFormatTest, FillsAddressFromIpAndDefaultsTransport) {
  Candidate c;
  c.foundation = "1";
  c.ip = stun::SocketAddress::ParseIp("2001:db8::2", 3478);
  c.port = 3478;
  c.priority = 7;
  EXPECT_EQ(FormatCandidate(c), "candidate:1 1 udp 7 2001:db8::2 3478 typ host");
  // A related address without a port is written with rport 0, keeping the pair.
  c.type = CandidateType::kRelay;
  c.related_address = "0.0.0.0";
  EXPECT_EQ(FormatCandidate(c),
            "candidate:1 1 udp 7 2001:db8::2 3478 typ relay raddr 0.0.0.0 rport 0");
}

TEST(CandidatePriorityTest, FormulaOfRfc8445) {
  // RFC 8445 §5.1.2.1: 2^24*type + 2^8*local + (256 - component), computed here by hand.
  EXPECT_EQ(CandidatePriority(126, 65535, 1), 2130706431u);  // 2113929216+16776960+255
  EXPECT_EQ(CandidatePriority(126, 65535, 2), 2130706430u);
  EXPECT_EQ(CandidatePriority(0, 0, 256), 0u);
  EXPECT_EQ(CandidatePriority(0, 65535, 1), 16777215u);
  EXPECT_EQ(CandidatePriority(126, 0, 256), 2113929216u);
  EXPECT_EQ(CandidatePriority(100, 65535, 1), 1694498815u);
  EXPECT_EQ(CandidatePriority(110, 65535, 1), 1862270975u);
}

TEST(CandidatePriorityTest, MatchesWhatBrowsersAndLibniceSend) {
  // Chrome host: local preference 32542 (0x7F1E); Firefox host: 32512;
  // libnice srflx: local preference 0.
  EXPECT_EQ(CandidatePriority(126, 32542, 1), 2122260223u);
  EXPECT_EQ(CandidatePriority(126, 32512, 1), 2122252543u);
  EXPECT_EQ(CandidatePriority(100, 0, 1), 1677721855u);
}

TEST(CandidatePriorityTest, RecommendedTypePreferences) {
  // RFC 8445 §5.1.2.2.
  EXPECT_EQ(RecommendedTypePreference(CandidateType::kHost), 126u);
  EXPECT_EQ(RecommendedTypePreference(CandidateType::kPeerReflexive), 110u);
  EXPECT_EQ(RecommendedTypePreference(CandidateType::kServerReflexive), 100u);
  EXPECT_EQ(RecommendedTypePreference(CandidateType::kRelay), 0u);
  // Ordering the RFC asks for: host > prflx > srflx > relay.
  EXPECT_GT(CandidatePriority(RecommendedTypePreference(CandidateType::kRelay), 65535, 1),
            CandidatePriority(0, 0, 256));
  EXPECT_LT(CandidatePriority(RecommendedTypePreference(CandidateType::kServerReflexive), 65535, 1),
            CandidatePriority(RecommendedTypePreference(CandidateType::kPeerReflexive), 0, 256));
}

}  // namespace
}  // namespace uturn::ice
