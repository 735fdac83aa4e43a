// Requests are written byte by byte and responses read back by hand, so the
// responder is checked against the RFC layouts, not against the codec it uses.
#include "turn/stun_responder.h"

#include <zlib.h>

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uturn::turn {
namespace {

using ::testing::ElementsAre;
using Bytes = std::vector<uint8_t>;

constexpr uint32_t kCookie = 0x2112A442;  // RFC 8489 §5
const Bytes kTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

void PutU16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void PutU32(Bytes& b, uint32_t v) {
  PutU16(b, static_cast<uint16_t>(v >> 16));
  PutU16(b, static_cast<uint16_t>(v));
}
uint16_t GetU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(GetU16(p)) << 16 | GetU16(p + 2);
}
void SetLength(Bytes& m) {
  const size_t body = m.size() - 20;
  m[2] = static_cast<uint8_t>(body >> 8);
  m[3] = static_cast<uint8_t>(body);
}
uint32_t Crc(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(crc32(0, p, static_cast<uInt>(n)));
}

struct Attr {
  uint16_t type;
  Bytes value;
};

// type: the 16-bit message type (0x0001 Binding request, 0x0011 indication).
Bytes Message(uint16_t type, std::vector<Attr> attrs = {}, bool fingerprint = false,
              uint32_t cookie = kCookie, const Bytes& tid = kTid) {
  Bytes m;
  PutU16(m, type);
  PutU16(m, 0);
  PutU32(m, cookie);
  m.insert(m.end(), tid.begin(), tid.end());
  for (const Attr& a : attrs) {
    PutU16(m, a.type);
    PutU16(m, static_cast<uint16_t>(a.value.size()));
    m.insert(m.end(), a.value.begin(), a.value.end());
    while (m.size() % 4 != 0) m.push_back(0);
  }
  if (fingerprint) {
    m.resize(m.size() + 8);
    SetLength(m);
    m.resize(m.size() - 8);
    const uint32_t fp = Crc(m.data(), m.size()) ^ 0x5354554e;  // RFC 8489 §14.7
    PutU16(m, 0x8028);
    PutU16(m, 4);
    PutU32(m, fp);
  }
  SetLength(m);
  return m;
}

struct Parsed {
  uint16_t type = 0;
  uint32_t cookie = 0;
  Bytes tid;
  std::vector<uint16_t> order;
  std::map<uint16_t, Bytes> attrs;
};

Parsed Read(std::span<const uint8_t> r) {
  Parsed p;
  EXPECT_GE(r.size(), 20u);
  if (r.size() < 20) return p;
  p.type = GetU16(r.data());
  EXPECT_EQ(GetU16(r.data() + 2), r.size() - 20) << "length field";
  p.cookie = GetU32(r.data() + 4);
  p.tid.assign(r.begin() + 8, r.begin() + 20);
  size_t at = 20;
  while (at + 4 <= r.size()) {
    const uint16_t t = GetU16(r.data() + at);
    const uint16_t len = GetU16(r.data() + at + 2);
    EXPECT_LE(at + 4 + len, r.size());
    p.order.push_back(t);
    p.attrs[t].assign(r.begin() + static_cast<long>(at) + 4,
                      r.begin() + static_cast<long>(at) + 4 + len);
    at += 4 + ((len + 3u) & ~3u);
  }
  EXPECT_EQ(at, r.size());
  return p;
}

class ResponderTest : public ::testing::Test {
 protected:
  StunResponder::Result Handle(const Bytes& m, Transport t = Transport::kUdp) {
    response_.assign(StunResponder::kMaxResponseSize, 0xEE);
    auto r = responder_.Handle(m, peer_, t, response_);
    response_.resize(r.response_size);
    return r;
  }

  StunResponder responder_{ResponderOptions{.software = "uturn/test"}};
  stun::SocketAddress peer_ = stun::SocketAddress::V4({192, 0, 2, 1}, 32853);
  Bytes response_;
};

TEST_F(ResponderTest, BindingSuccessIpv4HasXorMappedAddressAndSoftware) {
  auto r = Handle(Message(0x0001));
  ASSERT_EQ(r.outcome, Outcome::kSuccess);
  Parsed p = Read(response_);
  EXPECT_EQ(p.type, 0x0101);
  EXPECT_EQ(p.cookie, kCookie);
  EXPECT_EQ(p.tid, kTid);
  EXPECT_THAT(p.order, ElementsAre(0x0020, 0x8022));
  // RFC 8489 §14.2: port XOR top 16 bits of the cookie, IPv4 XOR the cookie.
  const Bytes& x = p.attrs[0x0020];
  ASSERT_EQ(x.size(), 8u);
  EXPECT_EQ(x[1], 0x01);
  EXPECT_EQ(GetU16(&x[2]) ^ 0x2112, 32853);
  EXPECT_EQ(GetU32(&x[4]) ^ kCookie, 0xC0000201u);
  EXPECT_EQ(std::string(p.attrs[0x8022].begin(), p.attrs[0x8022].end()), "uturn/test");
  EXPECT_EQ(responder_.count(Outcome::kSuccess), 1u);
  EXPECT_EQ(responder_.count(Transport::kUdp), 1u);
}

TEST_F(ResponderTest, BindingSuccessIpv6XorsWithCookieAndTransactionId) {
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd};
  peer_ = stun::SocketAddress::V6(ip, 443);
  ASSERT_EQ(Handle(Message(0x0001), Transport::kTcp).outcome, Outcome::kSuccess);
  Parsed p = Read(response_);
  const Bytes& x = p.attrs[0x0020];
  ASSERT_EQ(x.size(), 20u);
  EXPECT_EQ(x[1], 0x02);
  EXPECT_EQ(GetU16(&x[2]) ^ 0x2112, 443);
  Bytes pad = {0x21, 0x12, 0xA4, 0x42};
  pad.insert(pad.end(), kTid.begin(), kTid.end());
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(x[4 + i] ^ pad[i], ip[i]) << i;
  EXPECT_EQ(responder_.count(Transport::kTcp), 1u);
}

TEST_F(ResponderTest, Rfc3489RequestGetsMappedAddressAndEchoedId) {
  // RFC 8489 §11.2: no magic cookie, so MAPPED-ADDRESS, no XOR, no SOFTWARE.
  const uint32_t old_id = 0x01020304;
  auto r = Handle(Message(0x0001, {}, false, old_id));
  ASSERT_EQ(r.outcome, Outcome::kSuccess);
  Parsed p = Read(response_);
  EXPECT_EQ(p.type, 0x0101);
  EXPECT_EQ(p.cookie, old_id);
  EXPECT_EQ(p.tid, kTid);
  EXPECT_THAT(p.order, ElementsAre(0x0001));
  const Bytes& m = p.attrs[0x0001];
  ASSERT_EQ(m.size(), 8u);
  EXPECT_EQ(m[1], 0x01);
  EXPECT_EQ(GetU16(&m[2]), 32853);
  EXPECT_THAT(Bytes(m.begin() + 4, m.end()), ElementsAre(192, 0, 2, 1));
}

TEST_F(ResponderTest, FingerprintIsEchoedOnlyWhenRequestHadOne) {
  ASSERT_EQ(Handle(Message(0x0001, {}, true)).outcome, Outcome::kSuccess);
  Parsed p = Read(response_);
  ASSERT_EQ(p.order.back(), 0x8028);
  const size_t prefix = response_.size() - 8;
  EXPECT_EQ(GetU32(p.attrs[0x8028].data()), Crc(response_.data(), prefix) ^ 0x5354554e);

  ASSERT_EQ(Handle(Message(0x0001)).outcome, Outcome::kSuccess);
  EXPECT_EQ(Read(response_).attrs.count(0x8028), 0u);
}

TEST_F(ResponderTest, AnswersRfc5769SampleRequest) {
  // RFC 5769 §2.1: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
  // MESSAGE-INTEGRITY, FINGERPRINT; all known, so a success with FINGERPRINT.
  const Bytes req = {
      0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
      0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
      0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
      0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
      0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
      0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
      0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
      0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};
  ASSERT_EQ(Handle(req).outcome, Outcome::kSuccess);
  Parsed p = Read(response_);
  EXPECT_THAT(p.tid, ElementsAre(0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
                                 0xdf, 0xae));
  EXPECT_THAT(p.order, ElementsAre(0x0020, 0x8022, 0x8028));
}

TEST_F(ResponderTest, EmptySoftwareLeavesAttributeOut) {
  StunResponder quiet(ResponderOptions{});
  Bytes out(StunResponder::kMaxResponseSize);
  auto r = quiet.Handle(Message(0x0001), peer_, Transport::kUdp, out);
  ASSERT_EQ(r.outcome, Outcome::kSuccess);
  out.resize(r.response_size);
  EXPECT_THAT(Read(out).order, ElementsAre(0x0020));
}

TEST_F(ResponderTest, BindingIndicationIsAcceptedSilently) {
  auto r = Handle(Message(0x0011));
  EXPECT_EQ(r.outcome, Outcome::kIndication);
  EXPECT_EQ(r.response_size, 0u);
  EXPECT_EQ(responder_.count(Outcome::kIndication), 1u);
}

TEST_F(ResponderTest, IndicationWithUnknownRequiredAttributeIsDropped) {
  // RFC 8489 §6.3.2.
  auto r = Handle(Message(0x0011, {{0x0031, {1, 2, 3, 4}}}));
  EXPECT_EQ(r.outcome, Outcome::kMalformedDropped);
  EXPECT_EQ(r.response_size, 0u);
}

TEST_F(ResponderTest, UnknownRequiredAttributesGet420WithTheList) {
  auto r = Handle(Message(0x0001, {{0x0031, {1, 2, 3, 4}},
                                   {0x8123, {9}},  // unknown but optional: ignored
                                   {0x7FFF, {}}},
                          true));
  ASSERT_EQ(r.outcome, Outcome::kUnknownAttribute);
  Parsed p = Read(response_);
  EXPECT_EQ(p.type, 0x0111);
  EXPECT_EQ(p.tid, kTid);
  const Bytes& ec = p.attrs[0x0009];
  ASSERT_GE(ec.size(), 4u);
  EXPECT_EQ(ec[2], 4);   // class
  EXPECT_EQ(ec[3], 20);  // number
  const Bytes& list = p.attrs[0x000A];
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(GetU16(&list[0]), 0x0031);
  EXPECT_EQ(GetU16(&list[2]), 0x7FFF);
  EXPECT_EQ(p.order.back(), 0x8028);  // the request had FINGERPRINT
  EXPECT_EQ(responder_.count(Outcome::kUnknownAttribute), 1u);
}

TEST_F(ResponderTest, UnknownOptionalAttributeIsIgnored) {
  EXPECT_EQ(Handle(Message(0x0001, {{0xC0DE, {1, 2}}})).outcome, Outcome::kSuccess);
}

TEST_F(ResponderTest, MalformedKnownAttributeGets400) {
  // ICE-CONTROLLING carries a 64-bit tie-breaker (RFC 8445 §16.1); 4 bytes is malformed.
  auto r = Handle(Message(0x0001, {{0x802A, {1, 2, 3, 4}}}));
  ASSERT_EQ(r.outcome, Outcome::kBadRequest);
  Parsed p = Read(response_);
  EXPECT_EQ(p.type, 0x0111);
  EXPECT_EQ(p.tid, kTid);
  ASSERT_GE(p.attrs[0x0009].size(), 4u);
  EXPECT_EQ(p.attrs[0x0009][2], 4);
  EXPECT_EQ(p.attrs[0x0009][3], 0);
}

TEST_F(ResponderTest, AttributeOverrunGets400FromTheHeaderAlone) {
  Bytes m = Message(0x0001, {{0x8022, {'a', 'b', 'c', 'd'}}});
  m[20 + 3] = 40;  // attribute length runs past the message
  auto r = Handle(m);
  ASSERT_EQ(r.outcome, Outcome::kBadRequest);
  Parsed p = Read(response_);
  EXPECT_EQ(p.type, 0x0111);
  EXPECT_EQ(p.cookie, kCookie);
  EXPECT_EQ(p.tid, kTid);
  EXPECT_EQ(p.attrs[0x0009][3], 0);
  EXPECT_EQ(p.attrs.count(0x8028), 0u);
}

TEST_F(ResponderTest, AttributeOverrunInIndicationOrOtherMethodIsDropped) {
  Bytes ind = Message(0x0011, {{0x8022, {'a', 'b', 'c', 'd'}}});
  ind[20 + 3] = 40;
  EXPECT_EQ(Handle(ind).outcome, Outcome::kMalformedDropped);
  Bytes alloc = Message(0x0003, {{0x8022, {'a', 'b', 'c', 'd'}}});
  alloc[20 + 3] = 40;
  EXPECT_EQ(Handle(alloc).outcome, Outcome::kUnsupportedMethod);
  EXPECT_EQ(response_.size(), 0u);
}

TEST_F(ResponderTest, NonStunIsDroppedSilently) {
  EXPECT_EQ(Handle(Bytes{0x00, 0x01, 0x00}).outcome, Outcome::kNotStun);  // too short
  Bytes rtp = Message(0x0001);
  rtp[0] = 0x80;  // RFC 7983: RTP, first two bits not 0
  EXPECT_EQ(Handle(rtp).outcome, Outcome::kNotStun);
  Bytes bad_len = Message(0x0001, {{0x8022, {'a', 'b', 'c', 'd'}}});
  bad_len[3] = 6;  // not a multiple of 4
  EXPECT_EQ(Handle(bad_len).outcome, Outcome::kNotStun);
  Bytes mismatch = Message(0x0001);
  mismatch[3] = 8;  // says 8 bytes of body, has none
  EXPECT_EQ(Handle(mismatch).outcome, Outcome::kNotStun);
  EXPECT_EQ(response_.size(), 0u);
  EXPECT_EQ(responder_.count(Outcome::kNotStun), 4u);
}

TEST_F(ResponderTest, WrongFingerprintIsDroppedSilently) {
  Bytes m = Message(0x0001, {}, true);
  m.back() ^= 0xFF;
  auto r = Handle(m);
  EXPECT_EQ(r.outcome, Outcome::kBadFingerprint);
  EXPECT_EQ(r.response_size, 0u);
}

TEST_F(ResponderTest, UnsupportedMethodIsDroppedSilently) {
  // RFC 8489 §6.3: Allocate (0x003) is not served until the TURN core exists.
  auto r = Handle(Message(0x0003));
  EXPECT_EQ(r.outcome, Outcome::kUnsupportedMethod);
  EXPECT_EQ(r.response_size, 0u);
  EXPECT_EQ(responder_.count(Outcome::kUnsupportedMethod), 1u);
}

TEST_F(ResponderTest, ResponsesAreDroppedSilently) {
  EXPECT_EQ(Handle(Message(0x0101)).outcome, Outcome::kUnexpectedClass);
  EXPECT_EQ(Handle(Message(0x0111)).outcome, Outcome::kUnexpectedClass);
  EXPECT_EQ(response_.size(), 0u);
}

TEST_F(ResponderTest, TooSmallOutputBufferDropsAndCounts) {
  Bytes out(30);
  auto r = responder_.Handle(Message(0x0001), peer_, Transport::kUdp, out);
  EXPECT_EQ(r.outcome, Outcome::kResponseTooLarge);
  EXPECT_EQ(r.response_size, 0u);
  EXPECT_EQ(responder_.count(Outcome::kResponseTooLarge), 1u);
}

TEST(OutcomeTest, EveryOutcomeHasAName) {
  for (size_t i = 0; i < static_cast<size_t>(Outcome::kCount); ++i) {
    EXPECT_STRNE(ToString(static_cast<Outcome>(i)), "unknown") << i;
  }
}

}  // namespace
}  // namespace uturn::turn
