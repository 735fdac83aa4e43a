#include "ice-lite/ice_types.h"

#include <set>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "ice_test_util.h"

namespace uturn::ice {
namespace {

using testing::CounterRandom;

bool OnlyIceChars(const std::string& s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

TEST(IceGenerateCredentials, LengthsGiveRfc8445Entropy) {
  const Credentials c = GenerateCredentials(CounterRandom(0));
  // RFC 8445 §5.3: >= 24 bits (ufrag) and >= 128 bits (pwd) at 6 bits/char.
  EXPECT_GE(c.ufrag.size() * 6, 24u);
  EXPECT_GE(c.pwd.size() * 6, 128u);
  EXPECT_TRUE(OnlyIceChars(c.ufrag)) << c.ufrag;
  EXPECT_TRUE(OnlyIceChars(c.pwd)) << c.pwd;
  EXPECT_TRUE(IsValidUfrag(c.ufrag));
  EXPECT_TRUE(IsValidPwd(c.pwd));
}

TEST(IceGenerateCredentials, UsesEveryRandomByteAndAllSymbols) {
  // A counter stream 0..255 maps onto all 64 ice-chars.
  std::set<char> seen;
  RandomSource r = CounterRandom(0);
  for (int i = 0; i < 20; ++i) {
    const Credentials c = GenerateCredentials(r);
    seen.insert(c.ufrag.begin(), c.ufrag.end());
    seen.insert(c.pwd.begin(), c.pwd.end());
  }
  EXPECT_EQ(seen.size(), 64u);
}

TEST(IceGenerateCredentials, DifferentRandomnessDifferentCredentials) {
  const Credentials a = GenerateCredentials(CounterRandom(0));
  const Credentials b = GenerateCredentials(CounterRandom(1));
  EXPECT_NE(a.ufrag, b.ufrag);
  EXPECT_NE(a.pwd, b.pwd);
  // The ufrag and pwd must not repeat each other's bytes.
  EXPECT_NE(a.pwd.substr(0, a.ufrag.size()), a.ufrag);
}

TEST(IceIsValidUfrag, Bounds) {
  EXPECT_FALSE(IsValidUfrag(""));
  EXPECT_FALSE(IsValidUfrag("abc"));  // RFC 8839 §5.4: 4..256
  EXPECT_TRUE(IsValidUfrag("abcd"));
  EXPECT_TRUE(IsValidUfrag("a+/9"));
  EXPECT_TRUE(IsValidUfrag(std::string(256, 'x')));
  EXPECT_FALSE(IsValidUfrag(std::string(257, 'x')));
  EXPECT_FALSE(IsValidUfrag("ab:cd"));  // ':' would break USERNAME splitting
  EXPECT_FALSE(IsValidUfrag("ab cd"));
  EXPECT_FALSE(IsValidUfrag("abc\xc3\xa9"));
}

TEST(IceIsValidPwd, Bounds) {
  EXPECT_FALSE(IsValidPwd(std::string(21, 'x')));  // RFC 8839 §5.4: 22..256
  EXPECT_TRUE(IsValidPwd(std::string(22, 'x')));
  EXPECT_TRUE(IsValidPwd(std::string(256, '/')));
  EXPECT_FALSE(IsValidPwd(std::string(257, 'x')));
  EXPECT_FALSE(IsValidPwd(std::string(21, 'x') + "-"));
}

TEST(IceTuple, ToStringAndIdentity) {
  const Tuple a{stun::SocketAddress::V4({192, 0, 2, 1}, 5000),
                stun::SocketAddress::V4({198, 51, 100, 2}, 3478), Transport::kUdp};
  EXPECT_EQ(a.ToString(), "udp 192.0.2.1:5000->198.51.100.2:3478");
  Tuple b = a;
  b.transport = Transport::kTcp;
  EXPECT_EQ(b.ToString(), "tcp 192.0.2.1:5000->198.51.100.2:3478");
  EXPECT_NE(a, b);
  absl::flat_hash_set<Tuple> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
}

TEST(IceToString, AllEnumerators) {
  EXPECT_STREQ(ToString(SessionState::kNew), "new");
  EXPECT_STREQ(ToString(SessionState::kConnected), "connected");
  EXPECT_STREQ(ToString(SessionState::kDisconnected), "disconnected");
  EXPECT_STREQ(ToString(SessionState::kFailed), "failed");
  EXPECT_STREQ(ToString(SessionState::kClosed), "closed");
  EXPECT_STREQ(ToString(SessionEvent::Kind::kTupleAdded), "tuple-added");
  EXPECT_STREQ(ToString(SessionEvent::Kind::kTupleRemoved), "tuple-removed");
  EXPECT_STREQ(ToString(SessionEvent::Kind::kSelectedChanged), "selected-changed");
  EXPECT_STREQ(ToString(SessionEvent::Kind::kConnected), "connected");
  EXPECT_STREQ(ToString(SessionEvent::Kind::kDisconnected), "disconnected");
  EXPECT_STREQ(ToString(SessionEvent::Kind::kFailed), "failed");
}

}  // namespace
}  // namespace uturn::ice
