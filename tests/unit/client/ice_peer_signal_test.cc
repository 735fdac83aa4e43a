// uturn-ice signalling lines (/work/shared/ICE-PEER.md §Signalling).
#include "client/tools/ice_peer_signal.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::client::peer {
namespace {

using Kind = SignalAction::Kind;

constexpr const char* kCand = "a=candidate:1 1 udp 2130706431 192.0.2.7 5000 typ host";

TEST(LineSplitterTest, SplitsOnLfAndDropsCr) {
  LineSplitter s;
  size_t overlong = 0;
  EXPECT_TRUE(s.Feed("a=ice-uf", &overlong).empty());
  auto lines = s.Feed("rag:abcd\r\na=ice-pwd:x\n\nrest", &overlong);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "a=ice-ufrag:abcd");
  EXPECT_EQ(lines[1], "a=ice-pwd:x");
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(s.Finish(), "rest");
  EXPECT_EQ(s.Finish(), std::nullopt);
  EXPECT_EQ(overlong, 0u);
}

TEST(LineSplitterTest, OverlongLinesAreDroppedWholeAndCounted) {
  LineSplitter s(8);
  size_t overlong = 0;
  EXPECT_TRUE(s.Feed("0123456", &overlong).empty());
  EXPECT_TRUE(s.Feed("789abc", &overlong).empty());  // now over 8: discarding
  EXPECT_EQ(overlong, 1u);
  auto lines = s.Feed("def\nok\n", &overlong);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "ok");
  EXPECT_EQ(overlong, 1u);
  EXPECT_TRUE(s.Feed("0123456789\n", &overlong).empty());
  EXPECT_EQ(overlong, 2u);
  EXPECT_TRUE(s.Feed("0123456789", &overlong).empty());
  EXPECT_EQ(s.Finish(), std::nullopt);  // an overlong tail is not a line either
}

TEST(SignalReaderTest, CredentialsThenCandidatesThenEnd) {
  SignalReader r;
  EXPECT_TRUE(r.Line("a=ice-ufrag:abcd").empty());
  auto a = r.Line("a=ice-pwd:abcdefghijklmnopqrstuv");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kCredentials);
  EXPECT_EQ(a[0].credentials.ufrag, "abcd");
  EXPECT_EQ(a[0].credentials.pwd, "abcdefghijklmnopqrstuv");
  EXPECT_TRUE(r.Line("a=ice-options:trickle").empty());
  a = r.Line(kCand);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kCandidate);
  EXPECT_EQ(a[0].candidate.port, 5000);
  EXPECT_EQ(a[0].candidate.ip->ToString(), "192.0.2.7:5000");
  EXPECT_FALSE(r.end_of_candidates());
  a = r.Line("a=end-of-candidates");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kEndOfCandidates);
  EXPECT_TRUE(r.end_of_candidates());
}

TEST(SignalReaderTest, CandidatesBeforeCredentialsAreHeldBack) {
  SignalReader r;
  EXPECT_TRUE(r.Line(kCand).empty());
  EXPECT_TRUE(r.Line("a=end-of-candidates").empty());
  EXPECT_TRUE(r.Line("a=ice-pwd:abcdefghijklmnopqrstuv").empty());
  auto a = r.Line("a=ice-ufrag:abcd");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].kind, Kind::kCredentials);
  EXPECT_EQ(a[1].kind, Kind::kCandidate);
  EXPECT_EQ(a[2].kind, Kind::kEndOfCandidates);
  EXPECT_TRUE(r.end_of_candidates());
}

TEST(SignalReaderTest, HeldCandidatesAreBounded) {
  SignalReader r;
  size_t errors = 0;
  for (int i = 0; i < 150; ++i) {
    for (const SignalAction& a : r.Line(kCand)) errors += a.kind == Kind::kError;
  }
  EXPECT_EQ(errors, 50u);
  r.Line("a=ice-ufrag:abcd");
  auto a = r.Line("a=ice-pwd:abcdefghijklmnopqrstuv");
  EXPECT_EQ(a.size(), 101u);
}

TEST(SignalReaderTest, NewPairIsARestartOnceBothHalvesChanged) {
  SignalReader r;
  r.Line("a=ice-ufrag:abcd");
  r.Line("a=ice-pwd:abcdefghijklmnopqrstuv");
  r.Line("a=end-of-candidates");
  EXPECT_TRUE(r.Line("a=ice-ufrag:abcd").empty());  // repeated: nothing new
  EXPECT_TRUE(r.Line("a=ice-pwd:abcdefghijklmnopqrstuv").empty());
  EXPECT_TRUE(r.Line("a=ice-ufrag:wxyz").empty());  // half a pair
  auto a = r.Line("a=ice-pwd:ZYXWVUTSRQPONMLKJIHGFE");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kCredentials);
  EXPECT_EQ(a[0].credentials.ufrag, "wxyz");
  EXPECT_FALSE(r.end_of_candidates());  // a new generation
}

TEST(SignalReaderTest, MalformedLinesGiveOneErrorEach) {
  SignalReader r;
  r.Line("a=ice-ufrag:abcd");
  r.Line("a=ice-pwd:abcdefghijklmnopqrstuv");
  for (const char* bad : {"a=candidate:", "a=candidate:1 1 udp", "a=candidate:1 1 udp x 1.2.3.4 5 typ host",
                          "a=candidate:1 1 udp 1 192.0.2.1 99999 typ host",
                          "a=candidate:1 1 udp 1 192.0.2.1 5 typ bogus", "a=ice-ufrag:a b",
                          "a=ice-pwd:short"}) {
    auto a = r.Line(bad);
    ASSERT_EQ(a.size(), 1u) << bad;
    EXPECT_EQ(a[0].kind, Kind::kError) << bad;
    EXPECT_FALSE(a[0].error.empty());
  }
}

TEST(SignalReaderTest, OtherLinesAreIgnored) {
  SignalReader r;
  for (const char* other : {"", "hello", "v=0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                            "a=mid:0", "a=ice-options:trickle ice2", "a=candidatefoo", "  "}) {
    EXPECT_TRUE(r.Line(other).empty()) << other;
  }
  auto a = r.Line("a=ice-lite");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::kLite);
}

TEST(SignalWriterTest, OurLinesParseBack) {
  ice::Credentials c{"ufrg", "abcdefghijklmnopqrstuv"};
  auto lines = CredentialLines(c);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "a=ice-ufrag:ufrg");
  EXPECT_EQ(lines[1], "a=ice-pwd:abcdefghijklmnopqrstuv");
  EXPECT_EQ(lines[2], "a=ice-options:trickle");
  auto cand = ice::ParseCandidate(std::string(kCand).substr(2));
  ASSERT_TRUE(cand.ok());
  const std::string line = CandidateLine(*cand);
  EXPECT_EQ(line.rfind("a=candidate:", 0), 0u);
  SignalReader r;
  r.Line(lines[0]);
  r.Line(lines[1]);
  auto a = r.Line(line);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].kind, Kind::kCandidate);
  EXPECT_EQ(a[0].candidate.ip, cand->ip);
  EXPECT_EQ(a[0].candidate.priority, cand->priority);
  EXPECT_EQ(kEndOfCandidatesLine, "a=end-of-candidates");
}

}  // namespace
}  // namespace uturn::client::peer

namespace uturn::client::peer {
namespace {

// Hostile stdin: random bytes after each attribute name. Every line gives at
// most one action, of the kinds that name allows; nothing crashes.
TEST(SignalReaderTest, RandomGarbageLines) {
  SignalReader r;
  r.Line("a=ice-ufrag:abcd");
  r.Line("a=ice-pwd:abcdefghijklmnopqrstuv");
  uint32_t x = 12345;  // fixed-seed LCG: reproducible
  auto next = [&x] { return x = x * 1664525u + 1013904223u; };
  const char* prefixes[] = {"a=candidate:", "a=candidate:1 1 udp 1 ", "a=ice-ufrag:", "a=ice-pwd:", "a="};
  for (int i = 0; i < 20000; ++i) {
    std::string line = prefixes[next() % 5];
    const size_t len = next() % 80;
    for (size_t k = 0; k < len; ++k) line += static_cast<char>(next() >> 24);
    const auto actions = r.Line(line);
    ASSERT_LE(actions.size(), 1u) << line;
    for (const SignalAction& a : actions) {
      if (line.rfind("a=candidate:", 0) == 0) {
        EXPECT_TRUE(a.kind == SignalAction::Kind::kCandidate || a.kind == SignalAction::Kind::kError);
      }
      if (a.kind == SignalAction::Kind::kError) {
        EXPECT_FALSE(a.error.empty());
      }
    }
  }
}

}  // namespace
}  // namespace uturn::client::peer
