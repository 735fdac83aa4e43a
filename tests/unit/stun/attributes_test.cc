#include "stun/attributes.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stun/message_builder.h"

namespace uturn::stun {
namespace {

using Bytes = std::vector<uint8_t>;
struct RawAttr {
  uint16_t type;
  Bytes value;
};

// RFC 5769 §2.2 transaction ID.
constexpr std::array<uint8_t, 12> kTid = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                          0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
const std::array<uint8_t, 16> kV6 = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                     0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

// Hand-assembled message (independent of MessageBuilder).
Bytes Raw(const std::vector<RawAttr>& attrs) {
  Bytes m(20);
  const uint8_t head[] = {0x01, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42};
  std::copy(std::begin(head), std::end(head), m.begin());
  std::copy(kTid.begin(), kTid.end(), m.begin() + 8);
  for (const RawAttr& a : attrs) {
    m.push_back(static_cast<uint8_t>(a.type >> 8));
    m.push_back(static_cast<uint8_t>(a.type));
    m.push_back(static_cast<uint8_t>(a.value.size() >> 8));
    m.push_back(static_cast<uint8_t>(a.value.size()));
    m.insert(m.end(), a.value.begin(), a.value.end());
    while (m.size() % 4) m.push_back(0);
  }
  m[2] = static_cast<uint8_t>((m.size() - 20) >> 8);
  m[3] = static_cast<uint8_t>(m.size() - 20);
  return m;
}

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Owns the bytes a MessageView refers to.
struct Parsed {
  explicit Parsed(Bytes b) : bytes(std::move(b)) {
    ok = MessageView::Parse(bytes, &view) == ParseError::kNone;
  }
  Bytes bytes;
  MessageView view;
  bool ok = false;
};

Parsed One(uint16_t type, Bytes value) { return Parsed(Raw({{type, std::move(value)}})); }

// Builds with MessageBuilder and parses back.
template <typename Fn>
Parsed Built(Fn&& fn) {
  Bytes buf(2048);
  MessageBuilder b(buf, 0x0101, kTid);
  fn(b);
  EXPECT_TRUE(b.ok());
  return Parsed(Bytes(b.bytes().begin(), b.bytes().end()));
}

TEST(AddressAttributesTest, RoundTripEveryAddressAttribute) {
  const SocketAddress v4 = SocketAddress::V4({192, 0, 2, 1}, 32853);
  const SocketAddress v6 = SocketAddress::V6(kV6, 443);
  for (const SocketAddress& a : {v4, v6}) {
    Parsed p = Built([&](MessageBuilder& b) {
      b.AddAddress(attr::kMappedAddress, a)
          .AddXorAddress(attr::kXorMappedAddress, a)
          .AddXorAddress(attr::kXorPeerAddress, a)
          .AddXorAddress(attr::kXorRelayedAddress, a)
          .AddAddress(attr::kAlternateServer, a);
    });
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(GetMappedAddress(p.view).value, a);
    EXPECT_EQ(GetXorMappedAddress(p.view).value, a);
    EXPECT_EQ(GetXorPeerAddress(p.view).value, a);
    EXPECT_EQ(GetXorRelayedAddress(p.view).value, a);
    EXPECT_EQ(GetAlternateServer(p.view).value, a);
    EXPECT_TRUE(GetAlternateServer(p.view).ok());
    EXPECT_FALSE(FindMalformedAttribute(p.view));
  }
}

TEST(AddressAttributesTest, HandWrittenRfc5769Values) {
  Parsed p4 = One(attr::kXorMappedAddress, {0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43});
  ASSERT_TRUE(p4.ok);
  EXPECT_EQ(GetXorMappedAddress(p4.view).value, SocketAddress::V4({192, 0, 2, 1}, 32853));
  Parsed p6 = One(attr::kXorMappedAddress,
                  {0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
                   0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9});
  ASSERT_TRUE(p6.ok);
  EXPECT_EQ(GetXorMappedAddress(p6.view).value, SocketAddress::V6(kV6, 32853));
  Parsed plain = One(attr::kMappedAddress, {0x00, 0x01, 0x80, 0x55, 0xc0, 0x00, 0x02, 0x01});
  EXPECT_EQ(GetMappedAddress(plain.view).value, SocketAddress::V4({192, 0, 2, 1}, 32853));
}

TEST(AddressAttributesTest, AbsentAndMalformed) {
  Parsed empty(Raw({}));
  EXPECT_TRUE(GetMappedAddress(empty.view).absent());
  EXPECT_TRUE(GetXorPeerAddress(empty.view).absent());
  for (uint16_t t : {attr::kMappedAddress, attr::kXorMappedAddress, attr::kXorPeerAddress,
                     attr::kXorRelayedAddress, attr::kAlternateServer}) {
    Parsed p = One(t, {0x00, 0x01, 0x00, 0x01, 1, 2, 3});  // 7 bytes
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(FindMalformedAttribute(p.view), t);
  }
  Parsed bad = One(attr::kXorPeerAddress, {0x00, 0x03, 0, 0, 1, 2, 3, 4});
  EXPECT_TRUE(GetXorPeerAddress(bad.view).malformed());
  Parsed bad2 = One(attr::kMappedAddress, {0x00, 0x02, 0, 0, 1, 2, 3, 4});
  EXPECT_TRUE(GetMappedAddress(bad2.view).malformed());
}

TEST(AddressAttributesTest, ForEachXorAddress) {
  const SocketAddress a = SocketAddress::V4({10, 0, 0, 1}, 1000);
  const SocketAddress b = SocketAddress::V6(kV6, 2000);
  Parsed p = Built([&](MessageBuilder& m) {
    m.AddXorAddress(attr::kXorPeerAddress, a).AddXorAddress(attr::kXorPeerAddress, b);
  });
  std::vector<SocketAddress> seen;
  EXPECT_EQ(ForEachXorAddress(p.view, attr::kXorPeerAddress,
                              [&](const SocketAddress& s) { seen.push_back(s); }),
            AttrStatus::kOk);
  EXPECT_EQ(seen, (std::vector<SocketAddress>{a, b}));
  seen.clear();
  EXPECT_EQ(ForEachXorAddress(p.view, attr::kXorRelayedAddress,
                              [&](const SocketAddress& s) { seen.push_back(s); }),
            AttrStatus::kAbsent);
  EXPECT_TRUE(seen.empty());

  Bytes good(8);
  EncodeXorAddress(a, kTid, good);
  Parsed mixed(Raw({{attr::kXorPeerAddress, good}, {attr::kXorPeerAddress, {0, 1, 0}},
                    {attr::kXorPeerAddress, good}}));
  ASSERT_TRUE(mixed.ok);
  EXPECT_EQ(ForEachXorAddress(mixed.view, attr::kXorPeerAddress,
                              [&](const SocketAddress& s) { seen.push_back(s); }),
            AttrStatus::kMalformed);
  EXPECT_EQ(seen.size(), 1u);  // stopped at the bad one
}

TEST(StringAttributesTest, RoundTrip) {
  Parsed p = Built([](MessageBuilder& b) {
    b.AddString(attr::kUsername, "alice")
        .AddString(attr::kRealm, "example.org")
        .AddString(attr::kNonce, "f//499k954d6OL34oL9FSTvy64sA")
        .AddString(attr::kSoftware, "uturn \xC3\xA9")
        .AddString(attr::kAlternateDomain, "turn.example.org");
  });
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(GetUsername(p.view).value, "alice");
  EXPECT_EQ(GetRealm(p.view).value, "example.org");
  EXPECT_EQ(GetNonce(p.view).value, "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(GetSoftware(p.view).value, "uturn \xC3\xA9");
  EXPECT_EQ(GetAlternateDomain(p.view).value, "turn.example.org");
  EXPECT_FALSE(FindMalformedAttribute(p.view));
  Parsed empty(Raw({}));
  EXPECT_TRUE(GetUsername(empty.view).absent());
  EXPECT_TRUE(GetRealm(empty.view).absent());
  EXPECT_TRUE(GetNonce(empty.view).absent());
  EXPECT_TRUE(GetSoftware(empty.view).absent());
  EXPECT_TRUE(GetAlternateDomain(empty.view).absent());
}

TEST(StringAttributesTest, UsernameLimit) {
  EXPECT_TRUE(GetUsername(One(attr::kUsername, Bytes(512, 'u')).view).ok());
  EXPECT_TRUE(GetUsername(One(attr::kUsername, Bytes(513, 'u')).view).malformed());
}

TEST(StringAttributesTest, CharacterLimits) {
  std::string euro127;
  for (int i = 0; i < 127; ++i) euro127 += "\xE2\x82\xAC";
  for (uint16_t t : {attr::kRealm, attr::kNonce, attr::kSoftware}) {
    EXPECT_FALSE(FindMalformedAttribute(One(t, Bytes(127, 'a')).view)) << t;
    EXPECT_FALSE(FindMalformedAttribute(One(t, Str(euro127)).view)) << t;
    EXPECT_EQ(FindMalformedAttribute(One(t, Bytes(128, 'a')).view), t);
    EXPECT_EQ(FindMalformedAttribute(One(t, Str(euro127 + "a")).view), t);
  }
  EXPECT_TRUE(GetRealm(One(attr::kRealm, Bytes(128, 'r')).view).malformed());
  EXPECT_TRUE(GetNonce(One(attr::kNonce, Bytes(128, 'n')).view).malformed());
  EXPECT_TRUE(GetSoftware(One(attr::kSoftware, Bytes(128, 's')).view).malformed());
  EXPECT_TRUE(GetAlternateDomain(One(attr::kAlternateDomain, Bytes(255, 'd')).view).ok());
  EXPECT_TRUE(
      GetAlternateDomain(One(attr::kAlternateDomain, Bytes(256, 'd')).view).malformed());
}

TEST(StringAttributesTest, InvalidUtf8) {
  const std::vector<Bytes> bad = {
      {0xFF},                    // never valid
      {0x80},                    // lone continuation
      {0xC3},                    // truncated 2-byte
      {0xC0, 0x80},              // overlong NUL
      {0xE0, 0x80, 0x80},        // overlong 3-byte
      {0xED, 0xA0, 0x80},        // UTF-16 surrogate
      {0xF4, 0x90, 0x80, 0x80},  // above U+10FFFF
      {0xF0, 0x9F, 0x98},        // truncated 4-byte
      {'a', 0xE2, 0x28, 0xA1},   // bad continuation
  };
  for (const Bytes& b : bad) {
    for (uint16_t t : {attr::kUsername, attr::kRealm, attr::kNonce, attr::kSoftware,
                       attr::kAlternateDomain}) {
      EXPECT_EQ(FindMalformedAttribute(One(t, b).view), t);
    }
    EXPECT_TRUE(GetUsername(One(attr::kUsername, b).view).malformed());
  }
  // Four-byte characters are fine.
  EXPECT_TRUE(GetSoftware(One(attr::kSoftware, {0xF0, 0x9F, 0x98, 0x80}).view).ok());
}

TEST(UserhashTest, ExactlyThirtyTwoBytes) {
  Bytes h(32);
  for (size_t i = 0; i < 32; ++i) h[i] = static_cast<uint8_t>(i);
  Parsed p = One(attr::kUserhash, h);
  AttrResult<Userhash> r = GetUserhash(p.view);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Bytes(r.value.begin(), r.value.end()), h);
  EXPECT_TRUE(GetUserhash(One(attr::kUserhash, Bytes(31)).view).malformed());
  EXPECT_TRUE(GetUserhash(One(attr::kUserhash, Bytes(33)).view).malformed());
  EXPECT_TRUE(GetUserhash(Parsed(Raw({})).view).absent());
}

TEST(ErrorCodeTest, HandWrittenAndRoundTrip) {
  Parsed hand = One(attr::kErrorCode, {0, 0, 4, 1, 'N', 'o', 'p', 'e'});
  AttrResult<ErrorCodeValue> r = GetErrorCode(hand.view);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.code, 401);
  EXPECT_EQ(r.value.reason, "Nope");
  for (int code : {300, 399, 420, 500, 699}) {
    Parsed p = Built([&](MessageBuilder& b) { b.AddErrorCode(code, "why"); });
    EXPECT_EQ(GetErrorCode(p.view).value.code, code);
    EXPECT_EQ(GetErrorCode(p.view).value.reason, "why");
  }
  Parsed dflt = Built([](MessageBuilder& b) { b.AddErrorCode(error::kUnauthorized); });
  EXPECT_EQ(GetErrorCode(dflt.view).value.reason, DefaultReasonPhrase(401));
  // Empty reason is allowed on the wire.
  EXPECT_TRUE(GetErrorCode(One(attr::kErrorCode, {0, 0, 5, 0}).view).ok());
}

TEST(ErrorCodeTest, ReservedBitsIgnored) {
  Parsed p = One(attr::kErrorCode, {0xFF, 0xFF, 0xF8 | 4, 38});
  EXPECT_EQ(GetErrorCode(p.view).value.code, 438);
}

TEST(ErrorCodeTest, Malformed) {
  const std::vector<Bytes> bad = {
      {}, {0, 0, 4}, {0, 0, 2, 0}, {0, 0, 7, 0}, {0, 0, 0, 0}, {0, 0, 4, 100},
      {0, 0, 4, 0xFF}, {0, 0, 4, 0, 0xFF}};
  for (const Bytes& b : bad) {
    Parsed p = One(attr::kErrorCode, b);
    ASSERT_TRUE(p.ok);
    EXPECT_TRUE(GetErrorCode(p.view).malformed());
    EXPECT_EQ(FindMalformedAttribute(p.view), attr::kErrorCode);
  }
  Bytes long_reason = {0, 0, 4, 0};
  long_reason.resize(4 + 128, 'x');
  EXPECT_TRUE(GetErrorCode(One(attr::kErrorCode, long_reason).view).malformed());
  EXPECT_TRUE(GetErrorCode(Parsed(Raw({})).view).absent());
}

TEST(UnknownAttributesTest, ListAndMalformed) {
  Parsed p = One(attr::kUnknownAttributes, {0x00, 0x31, 0x80, 0x99, 0x00, 0x33});
  std::vector<uint16_t> seen;
  EXPECT_EQ(ForEachUnknownAttribute(p.view, [&](uint16_t t) { seen.push_back(t); }),
            AttrStatus::kOk);
  EXPECT_EQ(seen, (std::vector<uint16_t>{0x0031, 0x8099, 0x0033}));
  const uint16_t types[] = {0x7001};
  Parsed built = Built([&](MessageBuilder& b) { b.AddUnknownAttributes(types); });
  seen.clear();
  ForEachUnknownAttribute(built.view, [&](uint16_t t) { seen.push_back(t); });
  EXPECT_EQ(seen, (std::vector<uint16_t>{0x7001}));
  Parsed odd = One(attr::kUnknownAttributes, {0x00, 0x31, 0x80});
  EXPECT_EQ(ForEachUnknownAttribute(odd.view, [](uint16_t) { FAIL(); }), AttrStatus::kMalformed);
  EXPECT_EQ(FindMalformedAttribute(odd.view), attr::kUnknownAttributes);
  EXPECT_EQ(ForEachUnknownAttribute(Parsed(Raw({})).view, [](uint16_t) {}), AttrStatus::kAbsent);
}

TEST(AddressErrorCodeTest, HandWrittenRoundTripAndMalformed) {
  Parsed hand = One(attr::kAddressErrorCode, {0x02, 0x00, 4, 40, 'n', 'o'});
  AttrResult<AddressErrorCodeValue> r = GetAddressErrorCode(hand.view);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.family, kFamilyIPv6);
  EXPECT_EQ(r.value.code, 440);
  EXPECT_EQ(r.value.reason, "no");
  Parsed built =
      Built([](MessageBuilder& b) { b.AddAddressErrorCode(kFamilyIPv4, 508, "full"); });
  EXPECT_EQ(GetAddressErrorCode(built.view).value.family, kFamilyIPv4);
  EXPECT_EQ(GetAddressErrorCode(built.view).value.code, 508);
  EXPECT_EQ(GetAddressErrorCode(built.view).value.reason, "full");
  for (const Bytes& b : std::vector<Bytes>{{0x02, 0, 4}, {0x03, 0, 4, 40}, {0x00, 0, 4, 40},
                                           {0x01, 0, 8, 0}, {0x01, 0, 4, 120},
                                           {0x01, 0, 4, 40, 0xC3}}) {
    Parsed p = One(attr::kAddressErrorCode, b);
    EXPECT_TRUE(GetAddressErrorCode(p.view).malformed());
    EXPECT_EQ(FindMalformedAttribute(p.view), attr::kAddressErrorCode);
  }
  EXPECT_TRUE(GetAddressErrorCode(Parsed(Raw({})).view).absent());
}

TEST(IcmpTest, HandWrittenRoundTripAndMalformed) {
  Parsed hand = One(attr::kIcmp, {0xFF, 0xFF, 3, 4, 0x00, 0x00, 0x05, 0xDC});
  AttrResult<IcmpValue> r = GetIcmp(hand.view);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.type, 3);
  EXPECT_EQ(r.value.code, 4);
  EXPECT_EQ(r.value.error_data, 1500u);
  Parsed built = Built([](MessageBuilder& b) { b.AddIcmp(1, 2, 0x01020304); });
  EXPECT_EQ(GetIcmp(built.view).value.type, 1);
  EXPECT_EQ(GetIcmp(built.view).value.code, 2);
  EXPECT_EQ(GetIcmp(built.view).value.error_data, 0x01020304u);
  EXPECT_TRUE(GetIcmp(One(attr::kIcmp, Bytes(4)).view).malformed());
  EXPECT_TRUE(GetIcmp(One(attr::kIcmp, Bytes(12)).view).malformed());
  EXPECT_TRUE(GetIcmp(Parsed(Raw({})).view).absent());
}

TEST(PasswordAlgorithmsTest, RoundTrip) {
  const PasswordAlgorithm algs[] = {PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5};
  Parsed p = Built([&](MessageBuilder& b) {
    b.AddPasswordAlgorithms(algs).AddPasswordAlgorithm(PasswordAlgorithm::kSha256);
  });
  std::vector<uint16_t> seen;
  EXPECT_EQ(ForEachPasswordAlgorithm(p.view, [&](const PasswordAlgorithmEntry& e) {
              seen.push_back(e.algorithm);
              EXPECT_TRUE(e.parameters.empty());
            }),
            AttrStatus::kOk);
  EXPECT_EQ(seen, (std::vector<uint16_t>{2, 1}));
  AttrResult<PasswordAlgorithmEntry> one = GetPasswordAlgorithm(p.view);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value.algorithm, 2);
}

TEST(PasswordAlgorithmsTest, ParametersAndPadding) {
  // Entry with 3 parameter bytes padded to 4, then one without parameters.
  Parsed p = One(attr::kPasswordAlgorithms, {0x00, 0x07, 0x00, 0x03, 'a', 'b', 'c', 0x00,
                                             0x00, 0x01, 0x00, 0x00});
  std::vector<std::pair<uint16_t, Bytes>> seen;
  EXPECT_EQ(ForEachPasswordAlgorithm(p.view, [&](const PasswordAlgorithmEntry& e) {
              seen.emplace_back(e.algorithm, Bytes(e.parameters.begin(), e.parameters.end()));
            }),
            AttrStatus::kOk);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, 7);
  EXPECT_EQ(seen[0].second, Str("abc"));
  EXPECT_EQ(seen[1].first, 1);
  // The last entry's padding may be left to the attribute padding.
  Parsed unpadded = One(attr::kPasswordAlgorithm, {0x00, 0x07, 0x00, 0x02, 'x', 'y'});
  AttrResult<PasswordAlgorithmEntry> r = GetPasswordAlgorithm(unpadded.view);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Bytes(r.value.parameters.begin(), r.value.parameters.end()), Str("xy"));
}

TEST(PasswordAlgorithmsTest, Malformed) {
  const std::vector<Bytes> bad = {
      {0x00, 0x01},                                  // truncated header
      {0x00, 0x01, 0x00, 0x04, 'a'},                 // parameters run past the value
      {0x00, 0x01, 0x00, 0x00, 0x00},                // trailing partial entry
      {0x00, 0x01, 0x00, 0x01, 'a', 0, 0, 0, 0x00},  // trailing partial entry
  };
  for (const Bytes& b : bad) {
    Parsed list = One(attr::kPasswordAlgorithms, b);
    int calls = 0;
    EXPECT_EQ(ForEachPasswordAlgorithm(list.view, [&](const PasswordAlgorithmEntry&) { ++calls; }),
              AttrStatus::kMalformed);
    EXPECT_EQ(calls, 0);  // never a partial list
    EXPECT_EQ(FindMalformedAttribute(list.view), attr::kPasswordAlgorithms);
    Parsed single = One(attr::kPasswordAlgorithm, b);
    EXPECT_TRUE(GetPasswordAlgorithm(single.view).malformed());
  }
  // PASSWORD-ALGORITHM holds exactly one entry.
  EXPECT_TRUE(GetPasswordAlgorithm(One(attr::kPasswordAlgorithm, {0, 1, 0, 0, 0, 2, 0, 0}).view)
                  .malformed());
  EXPECT_TRUE(GetPasswordAlgorithm(One(attr::kPasswordAlgorithm, {}).view).malformed());
  EXPECT_TRUE(GetPasswordAlgorithm(Parsed(Raw({})).view).absent());
  EXPECT_EQ(ForEachPasswordAlgorithm(Parsed(Raw({})).view, [](const PasswordAlgorithmEntry&) {}),
            AttrStatus::kAbsent);
}

TEST(TurnAttributesTest, RoundTrip) {
  Parsed p = Built([](MessageBuilder& b) {
    b.AddChannelNumber(0x4ABC)
        .AddU32(attr::kLifetime, 600)
        .Add(attr::kData, Bytes{9, 8, 7})
        .AddRequestedAddressFamily(kFamilyIPv4)
        .AddAdditionalAddressFamily(kFamilyIPv6)
        .AddEvenPort(true)
        .AddRequestedTransport(kTransportUdp)
        .AddFlag(attr::kDontFragment)
        .Add(attr::kReservationToken, Bytes{1, 2, 3, 4, 5, 6, 7, 8});
  });
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(GetChannelNumber(p.view).value, 0x4ABC);
  EXPECT_EQ(GetLifetime(p.view).value, 600u);
  EXPECT_EQ(Bytes(GetData(p.view).value.begin(), GetData(p.view).value.end()), (Bytes{9, 8, 7}));
  EXPECT_EQ(GetRequestedAddressFamily(p.view).value, kFamilyIPv4);
  EXPECT_EQ(GetAdditionalAddressFamily(p.view).value, kFamilyIPv6);
  EXPECT_TRUE(GetEvenPort(p.view).value);
  EXPECT_EQ(GetRequestedTransport(p.view).value, kTransportUdp);
  EXPECT_TRUE(HasDontFragment(p.view));
  AttrResult<ReservationToken> token = GetReservationToken(p.view);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(Bytes(token.value.begin(), token.value.end()), (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_FALSE(FindMalformedAttribute(p.view));
}

TEST(TurnAttributesTest, HandWrittenValues) {
  EXPECT_EQ(GetChannelNumber(One(attr::kChannelNumber, {0x40, 0x00, 0xFF, 0xFF}).view).value,
            0x4000);  // RFFU ignored
  EXPECT_EQ(GetLifetime(One(attr::kLifetime, {0x00, 0x00, 0x0E, 0x10}).view).value, 3600u);
  EXPECT_EQ(GetRequestedTransport(One(attr::kRequestedTransport, {6, 1, 2, 3}).view).value, 6);
  EXPECT_EQ(GetRequestedAddressFamily(One(attr::kRequestedAddressFamily, {2, 0, 0, 0}).view).value,
            kFamilyIPv6);
  EXPECT_FALSE(GetEvenPort(One(attr::kEvenPort, {0x7F}).view).value);  // RFFU bits ignored
  EXPECT_TRUE(GetEvenPort(One(attr::kEvenPort, {0x80}).view).value);
  EXPECT_TRUE(GetData(One(attr::kData, {}).view).ok());  // empty DATA is allowed
}

TEST(TurnAttributesTest, Malformed) {
  EXPECT_TRUE(GetChannelNumber(One(attr::kChannelNumber, {0x40, 0x00}).view).malformed());
  EXPECT_TRUE(GetLifetime(One(attr::kLifetime, {0, 0, 0, 0, 0}).view).malformed());
  EXPECT_TRUE(GetRequestedAddressFamily(One(attr::kRequestedAddressFamily, {3, 0, 0, 0}).view)
                  .malformed());
  EXPECT_TRUE(GetRequestedAddressFamily(One(attr::kRequestedAddressFamily, {0, 0, 0, 0}).view)
                  .malformed());
  EXPECT_TRUE(GetRequestedAddressFamily(One(attr::kRequestedAddressFamily, {1}).view).malformed());
  // RFC 8656 §18.11: only IPv6 may be the additional family.
  EXPECT_TRUE(GetAdditionalAddressFamily(One(attr::kAdditionalAddressFamily, {1, 0, 0, 0}).view)
                  .malformed());
  EXPECT_TRUE(GetAdditionalAddressFamily(One(attr::kAdditionalAddressFamily, {2, 0}).view)
                  .malformed());
  EXPECT_TRUE(GetEvenPort(One(attr::kEvenPort, {0x80, 0, 0, 0}).view).malformed());
  EXPECT_TRUE(GetEvenPort(One(attr::kEvenPort, {}).view).malformed());
  EXPECT_TRUE(GetRequestedTransport(One(attr::kRequestedTransport, {17}).view).malformed());
  EXPECT_TRUE(GetReservationToken(One(attr::kReservationToken, Bytes(4)).view).malformed());
  EXPECT_TRUE(GetReservationToken(One(attr::kReservationToken, Bytes(12)).view).malformed());

  Parsed empty(Raw({}));
  EXPECT_TRUE(GetChannelNumber(empty.view).absent());
  EXPECT_TRUE(GetLifetime(empty.view).absent());
  EXPECT_TRUE(GetData(empty.view).absent());
  EXPECT_TRUE(GetRequestedAddressFamily(empty.view).absent());
  EXPECT_TRUE(GetAdditionalAddressFamily(empty.view).absent());
  EXPECT_TRUE(GetEvenPort(empty.view).absent());
  EXPECT_TRUE(GetRequestedTransport(empty.view).absent());
  EXPECT_FALSE(HasDontFragment(empty.view));
  EXPECT_TRUE(GetReservationToken(empty.view).absent());
}

TEST(IceAttributesTest, RoundTripHandWrittenAndMalformed) {
  Parsed p = Built([](MessageBuilder& b) {
    b.AddU32(attr::kPriority, 0x6E0001FF)
        .AddFlag(attr::kUseCandidate)
        .AddU64(attr::kIceControlled, 0x932FF9B151263B36ULL)
        .AddU64(attr::kIceControlling, 1)
        .AddU32(attr::kNomination, 7);
  });
  EXPECT_EQ(GetPriority(p.view).value, 0x6E0001FFu);
  EXPECT_TRUE(HasUseCandidate(p.view));
  EXPECT_EQ(GetIceControlled(p.view).value, 0x932FF9B151263B36ULL);
  EXPECT_EQ(GetIceControlling(p.view).value, 1u);
  EXPECT_EQ(GetNomination(p.view).value, 7u);
  EXPECT_FALSE(FindMalformedAttribute(p.view));

  EXPECT_EQ(GetIceControlled(One(attr::kIceControlled, {0x93, 0x2F, 0xF9, 0xB1, 0x51, 0x26,
                                                        0x3B, 0x36}).view).value,
            0x932FF9B151263B36ULL);
  EXPECT_EQ(GetPriority(One(attr::kPriority, {0x6E, 0, 1, 0xFF}).view).value, 0x6E0001FFu);

  EXPECT_TRUE(GetPriority(One(attr::kPriority, Bytes(3)).view).malformed());
  EXPECT_TRUE(GetIceControlled(One(attr::kIceControlled, Bytes(4)).view).malformed());
  EXPECT_TRUE(GetIceControlling(One(attr::kIceControlling, Bytes(9)).view).malformed());
  EXPECT_TRUE(GetNomination(One(attr::kNomination, Bytes(8)).view).malformed());
  Parsed empty(Raw({}));
  EXPECT_TRUE(GetPriority(empty.view).absent());
  EXPECT_FALSE(HasUseCandidate(empty.view));
  EXPECT_TRUE(GetIceControlled(empty.view).absent());
  EXPECT_TRUE(GetIceControlling(empty.view).absent());
  EXPECT_TRUE(GetNomination(empty.view).absent());
}

TEST(FindMalformedAttributeTest, EveryKnownFixedSizeAttribute) {
  // (type, a malformed value) for each attribute with a fixed shape.
  const std::vector<RawAttr> bad = {
      {attr::kMappedAddress, Bytes(4)},        {attr::kXorMappedAddress, Bytes(9)},
      {attr::kXorPeerAddress, Bytes(19)},      {attr::kXorRelayedAddress, Bytes(21)},
      {attr::kAlternateServer, Bytes(0)},      {attr::kUserhash, Bytes(16)},
      {attr::kChannelNumber, Bytes(8)},        {attr::kLifetime, Bytes(2)},
      {attr::kRequestedTransport, Bytes(0)},   {attr::kPriority, Bytes(5)},
      {attr::kNomination, Bytes(1)},           {attr::kRequestedAddressFamily, {9, 0, 0, 0}},
      {attr::kAdditionalAddressFamily, {1, 0, 0, 0}}, {attr::kEvenPort, Bytes(2)},
      {attr::kDontFragment, Bytes(1)},         {attr::kUseCandidate, Bytes(4)},
      {attr::kReservationToken, Bytes(7)},     {attr::kIceControlled, Bytes(0)},
      {attr::kIceControlling, Bytes(16)},      {attr::kIcmp, Bytes(7)},
      {attr::kErrorCode, Bytes(2)},            {attr::kAddressErrorCode, Bytes(1)},
      {attr::kUnknownAttributes, Bytes(1)},    {attr::kPasswordAlgorithm, Bytes(2)},
      {attr::kPasswordAlgorithms, Bytes(3)},
  };
  for (const RawAttr& a : bad) {
    // Preceded by a good attribute so the search has to look further.
    Parsed p(Raw({{attr::kSoftware, Str("ok")}, a}));
    ASSERT_TRUE(p.ok) << a.type;
    EXPECT_EQ(FindMalformedAttribute(p.view), a.type) << a.type;
  }
}

TEST(FindMalformedAttributeTest, UnknownAttributesAreNotJudged) {
  Parsed p(Raw({{0x7F7F, Bytes(3, 0xFF)}, {0xFF00, {0xFF}}, {attr::kData, Bytes(5)}}));
  ASSERT_TRUE(p.ok);
  EXPECT_FALSE(FindMalformedAttribute(p.view));
}

TEST(KnownAttributeTest, EveryConstantIsKnown) {
  for (uint16_t t :
       {attr::kMappedAddress, attr::kUsername, attr::kMessageIntegrity, attr::kErrorCode,
        attr::kUnknownAttributes, attr::kChannelNumber, attr::kLifetime, attr::kXorPeerAddress,
        attr::kData, attr::kRealm, attr::kNonce, attr::kXorRelayedAddress,
        attr::kRequestedAddressFamily, attr::kEvenPort, attr::kRequestedTransport,
        attr::kDontFragment, attr::kMessageIntegritySha256, attr::kPasswordAlgorithm,
        attr::kUserhash, attr::kXorMappedAddress, attr::kReservationToken, attr::kPriority,
        attr::kUseCandidate, attr::kPasswordAlgorithms, attr::kAlternateDomain,
        attr::kSoftware, attr::kAlternateServer, attr::kFingerprint, attr::kIceControlled,
        attr::kIceControlling, attr::kAdditionalAddressFamily, attr::kAddressErrorCode,
        attr::kIcmp, attr::kNomination}) {
    EXPECT_TRUE(IsKnownAttribute(t)) << t;
  }
  for (uint16_t t : {0x0000, 0x0002, 0x0003, 0x0004, 0x0005, 0x000B, 0x0010, 0x0021, 0x7FFF,
                     0x8005, 0x8021, 0xFFFF}) {
    EXPECT_FALSE(IsKnownAttribute(t)) << t;
  }
}

TEST(CollectUnknownTest, OnlyComprehensionRequiredOnceEach) {
  Parsed p(Raw({{0x0031, {}}, {attr::kSoftware, Str("s")}, {0x8031, {}}, {0x0032, {}},
                {0x0031, {}}, {0x0033, {}}}));
  ASSERT_TRUE(p.ok);
  std::array<uint16_t, 8> out{};
  EXPECT_EQ(CollectUnknownComprehensionRequired(p.view, IsKnownAttribute, out), 3u);
  EXPECT_EQ(out[0], 0x0031);
  EXPECT_EQ(out[1], 0x0032);
  EXPECT_EQ(out[2], 0x0033);
  // Room for fewer: writes what fits, still reports the total.
  std::array<uint16_t, 2> small{};
  EXPECT_EQ(CollectUnknownComprehensionRequired(p.view, IsKnownAttribute, small), 3u);
  EXPECT_EQ(small[1], 0x0032);
  // The caller's notion of "known" decides.
  EXPECT_EQ(CollectUnknownComprehensionRequired(
                p.view, [](uint16_t t) { return t != attr::kSoftware; }, out),
            0u);  // SOFTWARE is comprehension-optional
  EXPECT_EQ(CollectUnknownComprehensionRequired(
                p.view, [](uint16_t t) { return t == 0x0031 || t == 0x0033; }, out),
            1u);
  EXPECT_EQ(out[0], 0x0032);
}

}  // namespace
}  // namespace uturn::stun
