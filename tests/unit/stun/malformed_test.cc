// Hostile and truncated input across the codec: nothing may crash or read
// out of bounds (run under ASan/UBSan), and failures must be clean errors.
#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "stun/stream_framing.h"

namespace uturn::stun {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr std::array<uint8_t, 12> kTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// A message exercising most attribute shapes, ending with the integrity
// family and FINGERPRINT.
Bytes RichMessage() {
  Bytes buf(2048);
  const std::array<uint8_t, 16> v6 = {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const uint16_t unknown[] = {0x0031, 0x0032, 0x0033};
  const PasswordAlgorithm algs[] = {PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5};
  MessageBuilder b(buf, EncodeMessageType(Method::kAllocate, MessageClass::kErrorResponse), kTid);
  b.AddXorAddress(attr::kXorMappedAddress, SocketAddress::V4({192, 0, 2, 1}, 1))
      .AddXorAddress(attr::kXorRelayedAddress, SocketAddress::V6(v6, 2))
      .AddXorAddress(attr::kXorRelayedAddress, SocketAddress::V4({198, 51, 100, 1}, 3))
      .AddAddress(attr::kAlternateServer, SocketAddress::V6(v6, 4))
      .AddString(attr::kUsername, "user")
      .AddString(attr::kRealm, "realm")
      .AddString(attr::kNonce, "nonce-123")
      .AddErrorCode(420)
      .AddUnknownAttributes(unknown)
      .AddPasswordAlgorithms(algs)
      .AddChannelNumber(0x4001)
      .AddU32(attr::kLifetime, 600)
      .Add(attr::kData, Bytes{1, 2, 3, 4, 5})
      .AddEvenPort(true)
      .AddRequestedTransport(kTransportUdp)
      .AddAddressErrorCode(kFamilyIPv6, 440)
      .AddIcmp(3, 3, 0)
      .AddU64(attr::kIceControlling, 42)
      .AddFlag(attr::kUseCandidate)
      .AddString(attr::kSoftware, "uturn")
      .AddMessageIntegrity(KeyBytes("key"))
      .AddMessageIntegritySha256(KeyBytes("key"))
      .AddFingerprint();
  EXPECT_TRUE(b.ok());
  return Bytes(b.bytes().begin(), b.bytes().end());
}

// Touches every decoder on a parsed message.
void DecodeEverything(const MessageView& m) {
  (void)GetMappedAddress(m);
  (void)GetXorMappedAddress(m);
  (void)GetXorPeerAddress(m);
  (void)GetXorRelayedAddress(m);
  (void)GetAlternateServer(m);
  ForEachXorAddress(m, attr::kXorPeerAddress, [](const SocketAddress&) {});
  ForEachXorAddress(m, attr::kXorRelayedAddress, [](const SocketAddress&) {});
  (void)GetUsername(m);
  (void)GetRealm(m);
  (void)GetNonce(m);
  (void)GetSoftware(m);
  (void)GetAlternateDomain(m);
  (void)GetUserhash(m);
  (void)GetErrorCode(m);
  ForEachUnknownAttribute(m, [](uint16_t) {});
  (void)GetAddressErrorCode(m);
  (void)GetIcmp(m);
  ForEachPasswordAlgorithm(m, [](const PasswordAlgorithmEntry&) {});
  (void)GetPasswordAlgorithm(m);
  (void)GetChannelNumber(m);
  (void)GetLifetime(m);
  (void)GetData(m);
  (void)GetRequestedAddressFamily(m);
  (void)GetAdditionalAddressFamily(m);
  (void)GetEvenPort(m);
  (void)GetRequestedTransport(m);
  (void)HasDontFragment(m);
  (void)GetReservationToken(m);
  (void)GetPriority(m);
  (void)HasUseCandidate(m);
  (void)GetIceControlled(m);
  (void)GetIceControlling(m);
  (void)GetNomination(m);
  (void)FindMalformedAttribute(m);
  std::array<uint16_t, 4> out;
  CollectUnknownComprehensionRequired(m, IsKnownAttribute, out);
  for (size_t i = 0; i < m.attribute_count(); ++i) {
    const AttributeView a = m.attribute(i);
    // Every value lies inside the message.
    ASSERT_GE(a.value.data(), m.bytes().data() + kHeaderSize);
    ASSERT_LE(a.value.data() + a.value.size(), m.bytes().data() + m.bytes().size());
  }
}

// Copies into an exactly-sized heap buffer so ASan sees any overread.
// `kept_fingerprint` (optional) says whether an accepted message still had
// a FINGERPRINT.
ParseError ParseExact(const Bytes& data, const ParseOptions& o = {},
                      bool* kept_fingerprint = nullptr) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[data.size()]);
  std::copy(data.begin(), data.end(), copy.get());
  MessageView v;
  const ParseError e = MessageView::Parse(std::span(copy.get(), data.size()), &v, o);
  if (e == ParseError::kNone) DecodeEverything(v);
  if (kept_fingerprint) *kept_fingerprint = e == ParseError::kNone && v.fingerprint_offset();
  return e;
}

TEST(MalformedTest, RichMessageIsValid) {
  const Bytes m = RichMessage();
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  EXPECT_FALSE(FindMalformedAttribute(v));
  EXPECT_TRUE(v.fingerprint_offset());
}

TEST(MalformedTest, EveryPrefixFailsCleanly) {
  const Bytes m = RichMessage();
  for (size_t n = 0; n < m.size(); ++n) {
    const ParseError e = ParseExact(Bytes(m.begin(), m.begin() + n));
    EXPECT_EQ(e, n < kHeaderSize ? ParseError::kTooShort : ParseError::kLengthMismatch) << n;
  }
}

TEST(MalformedTest, EveryPrefixWithPatchedLengthNeverCrashes) {
  // Truncate, then make the header agree, so the attribute walker meets cut
  // attributes. The integrity family is gone or cut, so there is no
  // FINGERPRINT to fail; results vary, but each is a clean verdict.
  const Bytes m = RichMessage();
  size_t accepted = 0;
  for (size_t n = kHeaderSize; n < m.size(); ++n) {
    Bytes cut(m.begin(), m.begin() + n);
    cut[2] = static_cast<uint8_t>((n - kHeaderSize) >> 8);
    cut[3] = static_cast<uint8_t>(n - kHeaderSize);
    const ParseError e = ParseExact(cut);
    if (n % 4 != 0) {
      EXPECT_EQ(e, ParseError::kLengthNotMultipleOf4) << n;
    }
    if (e == ParseError::kNone) ++accepted;
  }
  EXPECT_GT(accepted, 0u);  // cuts on attribute boundaries are valid messages
}

TEST(MalformedTest, EverySingleBitFlip) {
  const Bytes m = RichMessage();
  size_t accepted_without_fp = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = m;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      ParseOptions no_fp;
      no_fp.verify_fingerprint = false;
      // With the CRC checked, a corruption is accepted only when it turned
      // FINGERPRINT itself into something else (nothing left to check)...
      bool kept_fp = false;
      const ParseError checked = ParseExact(bad, {}, &kept_fp);
      if (checked == ParseError::kNone) {
        EXPECT_FALSE(kept_fp) << i << "/" << bit;
        ++accepted_without_fp;
      }
      // ...and without it, whatever is accepted must decode safely.
      ParseExact(bad, no_fp);
    }
  }
  // Only flips in FINGERPRINT's own type field, or in a length that makes an
  // earlier attribute swallow it, can hide it; everything else is caught.
  EXPECT_LE(accepted_without_fp, 32u);
}

TEST(MalformedTest, HostileAttributeLengths) {
  const Bytes m = RichMessage();
  MessageView v;
  ASSERT_EQ(MessageView::Parse(m, &v), ParseError::kNone);
  // Rewrite each attribute's length to extreme values.
  size_t pos = kHeaderSize;
  while (pos < m.size()) {
    const size_t len = static_cast<size_t>(m[pos + 2] << 8 | m[pos + 3]);
    for (uint16_t hostile : {0xFFFF, 0xFFFC, 0x8000, 0x0001, 0x0000}) {
      Bytes bad = m;
      bad[pos + 2] = static_cast<uint8_t>(hostile >> 8);
      bad[pos + 3] = static_cast<uint8_t>(hostile);
      ParseExact(bad);  // must not crash; the verdict depends on the layout
      if (hostile >= 0x8000) {
        EXPECT_EQ(ParseExact(bad), ParseError::kAttributeOverrun);
      }
    }
    pos += 4 + ((len + 3) & ~size_t{3});
  }
}

TEST(MalformedTest, RandomBodiesBehindAValidHeader) {
  std::mt19937 rng(12345);  // fixed seed: reproducible
  for (int iter = 0; iter < 20000; ++iter) {
    const size_t body = 4 * (rng() % 40);
    Bytes m(kHeaderSize + body);
    for (uint8_t& b : m) b = static_cast<uint8_t>(rng());
    m[0] &= 0x3F;
    m[2] = static_cast<uint8_t>(body >> 8);
    m[3] = static_cast<uint8_t>(body);
    if (iter % 2) {  // half of them with the cookie
      m[4] = 0x21, m[5] = 0x12, m[6] = 0xA4, m[7] = 0x42;
    }
    // Bias attribute lengths small so that walks go deep.
    for (size_t p = kHeaderSize; p + 4 <= m.size(); p += 4) {
      if (rng() % 3 == 0) m[p + 2] = 0, m[p + 3] = static_cast<uint8_t>(rng() % 24);
    }
    ParseExact(m);
  }
}

TEST(MalformedTest, ChannelDataEveryPrefix) {
  Bytes frame = {0x40, 0x10, 0x00, 0x0A};
  frame.insert(frame.end(), 10, 0x55);
  frame.insert(frame.end(), 2, 0x00);  // stream padding
  for (size_t n = 0; n <= frame.size(); ++n) {
    std::unique_ptr<uint8_t[]> copy(new uint8_t[n + 1]);
    std::copy(frame.begin(), frame.begin() + n, copy.get());
    ChannelDataView v;
    const ChannelDataError udp = ParseChannelData(std::span(copy.get(), n), false, &v);
    const ChannelDataError tcp = ParseChannelData(std::span(copy.get(), n), true, &v);
    if (n < 4) {
      EXPECT_EQ(udp, ChannelDataError::kTooShort);
      EXPECT_EQ(tcp, ChannelDataError::kTooShort);
    } else if (n < 14) {
      EXPECT_EQ(udp, ChannelDataError::kLengthOverrun) << n;
      EXPECT_EQ(tcp, ChannelDataError::kLengthOverrun) << n;
    } else if (n < 16) {
      EXPECT_EQ(udp, ChannelDataError::kNone) << n;
      EXPECT_EQ(tcp, ChannelDataError::kMissingPadding) << n;
    } else {
      EXPECT_EQ(tcp, ChannelDataError::kNone);
      EXPECT_EQ(v.payload.size(), 10u);
    }
  }
}

TEST(MalformedTest, FramerSurvivesRandomStreams) {
  std::mt19937 rng(777);
  for (int iter = 0; iter < 200; ++iter) {
    StreamFramer f;
    for (int step = 0; step < 50; ++step) {
      Bytes chunk(rng() % 300);
      for (uint8_t& b : chunk) b = static_cast<uint8_t>(rng() & 0x7F);  // STUN/ChannelData bytes
      if (!f.Append(chunk)) break;
      for (FrameInfo i = f.Peek(); i.status == FrameInfo::Status::kComplete; i = f.Peek()) {
        ASSERT_LE(i.size, f.buffered().size());
        const std::span<const uint8_t> frame = f.buffered().first(i.size);
        if (i.kind == FrameKind::kStun) {
          MessageView v;
          if (MessageView::Parse(frame, &v) == ParseError::kNone) DecodeEverything(v);
        } else {
          ChannelDataView v;
          ParseChannelData(frame, true, &v);
        }
        f.Consume(i.size);
      }
      if (f.Peek().status == FrameInfo::Status::kInvalid) break;
    }
  }
}

}  // namespace
}  // namespace uturn::stun
