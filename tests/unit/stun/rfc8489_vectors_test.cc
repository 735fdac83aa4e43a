// RFC 8489 Appendix B.1 "Sample Request with Long-Term Authentication with
// MESSAGE-INTEGRITY-SHA256 and USERHASH", typed in from the RFC as corrected
// by erratum 6268 (https://www.rfc-editor.org/errata/eid6268): the published
// bytes have a header length of 0x9c (the whole message, not the body) and
// no PASSWORD-ALGORITHM, and their HMAC does not verify; the erratum fixes
// the length to 0x90, adds PASSWORD-ALGORITHM SHA-256 and gives the HMAC.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "stun/nonce_cookie.h"

namespace uturn::stun {
namespace {

const std::vector<uint8_t> kRequest = {
    0x00, 0x01, 0x00, 0x90,  // Request type and message length
    0x21, 0x12, 0xa4, 0x42,  // Magic cookie
    0x78, 0xad, 0x34, 0x33,  // }
    0xc6, 0xad, 0x72, 0xc0,  // } Transaction ID
    0x29, 0xda, 0x41, 0x2e,  // }
    0x00, 0x1e, 0x00, 0x20,  // USERHASH attribute header
    0x4a, 0x3c, 0xf3, 0x8f,  // }
    0xef, 0x69, 0x92, 0xbd,  // }
    0xa9, 0x52, 0xc6, 0x78,  // }
    0x04, 0x17, 0xda, 0x0f,  // } Userhash value (32 bytes)
    0x24, 0x81, 0x94, 0x15,  // }
    0x56, 0x9e, 0x60, 0xb2,  // }
    0x05, 0xc4, 0x6e, 0x41,  // }
    0x40, 0x7f, 0x17, 0x04,  // }
    0x00, 0x15, 0x00, 0x29,  // NONCE attribute header
    0x6f, 0x62, 0x4d, 0x61,  // }
    0x74, 0x4a, 0x6f, 0x73,  // }
    0x32, 0x41, 0x41, 0x41,  // }
    0x43, 0x66, 0x2f, 0x2f,  // }
    0x34, 0x39, 0x39, 0x6b,  // } Nonce value and padding (3 bytes)
    0x39, 0x35, 0x34, 0x64,  // }
    0x36, 0x4f, 0x4c, 0x33,  // }
    0x34, 0x6f, 0x4c, 0x39,  // }
    0x46, 0x53, 0x54, 0x76,  // }
    0x79, 0x36, 0x34, 0x73,  // }
    0x41, 0x00, 0x00, 0x00,  // }
    0x00, 0x14, 0x00, 0x0b,  // REALM attribute header
    0x65, 0x78, 0x61, 0x6d,  // }
    0x70, 0x6c, 0x65, 0x2e,  // } Realm value (11 bytes) and padding (1 byte)
    0x6f, 0x72, 0x67, 0x00,  // }
    0x00, 0x1d, 0x00, 0x04,  // PASSWORD-ALGORITHM attribute header
    0x00, 0x02, 0x00, 0x00,  // PASSWORD-ALGORITHM value (4 bytes)
    0x00, 0x1c, 0x00, 0x20,  // MESSAGE-INTEGRITY-SHA256 attribute header
    0xb5, 0xc7, 0xbf, 0x00,  // }
    0x5b, 0x6c, 0x52, 0xa2,  // }
    0x1c, 0x51, 0xc5, 0xe8,  // }
    0x92, 0xf8, 0x19, 0x24,  // } HMAC-SHA256 value
    0x13, 0x62, 0x96, 0xcb,  // }
    0x92, 0x7c, 0x43, 0x14,  // }
    0x93, 0x09, 0x27, 0x8c,  // }
    0xc6, 0x51, 0x8e, 0x65,  // }
};

// The bytes as published in RFC 8489 (before erratum 6268).
const std::vector<uint8_t> kPublished = {
    0x00, 0x01, 0x00, 0x9c, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
    0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x1e, 0x00, 0x20, 0x4a, 0x3c, 0xf3, 0x8f,
    0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78, 0x04, 0x17, 0xda, 0x0f, 0x24, 0x81,
    0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4, 0x6e, 0x41, 0x40, 0x7f, 0x17, 0x04,
    0x00, 0x15, 0x00, 0x29, 0x6f, 0x62, 0x4d, 0x61, 0x74, 0x4a, 0x6f, 0x73, 0x32, 0x41,
    0x41, 0x41, 0x43, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64,
    0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36,
    0x34, 0x73, 0x41, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x1c, 0x00, 0x20, 0xe4, 0x68,
    0x6c, 0x8f, 0x0e, 0xde, 0xb5, 0x90, 0x13, 0xe0, 0x70, 0x90, 0x01, 0x0a, 0x93, 0xef,
    0xcc, 0xbc, 0xcc, 0x54, 0x4c, 0x0a, 0x45, 0xd9, 0xf8, 0x30, 0xaa, 0x6d, 0x6f, 0x73,
    0x5a, 0x01,
};

constexpr std::array<uint8_t, 12> kTid = {0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
                                          0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e};
const std::string kUsername = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9";
const std::string kPassword = "The\u00ADM\u00AAtr\u2168";
constexpr std::string_view kNonce = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
constexpr std::string_view kRealm = "example.org";

std::vector<uint8_t> Copy(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

MessageView MustParse(const std::vector<uint8_t>& bytes) {
  MessageView m;
  const ParseError e = MessageView::Parse(bytes, &m);
  EXPECT_EQ(e, ParseError::kNone) << ToString(e);
  return m;
}

TEST(Rfc8489AppendixBTest, Parses) {
  const MessageView m = MustParse(kRequest);
  EXPECT_TRUE(m.Is(Method::kBinding, MessageClass::kRequest));
  EXPECT_EQ(Copy(m.transaction_id()), Copy(kTid));
  ASSERT_EQ(m.attribute_count(), 5u);
  EXPECT_FALSE(m.Has(attr::kUsername));  // anonymity: USERHASH instead
  EXPECT_EQ(GetNonce(m).value, kNonce);
  EXPECT_EQ(GetRealm(m).value, kRealm);
  const auto algorithm = GetPasswordAlgorithm(m);
  ASSERT_TRUE(algorithm.ok());
  EXPECT_EQ(algorithm.value.algorithm, static_cast<uint16_t>(PasswordAlgorithm::kSha256));
  EXPECT_TRUE(algorithm.value.parameters.empty());
  EXPECT_EQ(m.message_integrity_sha256_offset(), 128u);
  EXPECT_FALSE(m.message_integrity_offset().has_value());
  EXPECT_FALSE(m.fingerprint_offset().has_value());
}

TEST(Rfc8489AppendixBTest, NonceCookie) {
  const MessageView m = MustParse(kRequest);
  // "AAAC": 0,0,0,2 in base64 -> 0x000002.
  EXPECT_EQ(ParseNonceCookie(GetNonce(m).value), 0x000002u);
}

TEST(Rfc8489AppendixBTest, Userhash) {
  const MessageView m = MustParse(kRequest);
  const auto userhash = GetUserhash(m);
  ASSERT_TRUE(userhash.ok());
  const Sha256Key computed = ComputeUserhash(kUsername, kRealm).value();
  EXPECT_EQ(Copy(userhash.value), Copy(computed));
  EXPECT_NE(Copy(userhash.value), Copy(ComputeUserhash(kUsername, "example.com").value()));
}

TEST(Rfc8489AppendixBTest, MessageIntegritySha256) {
  const MessageView m = MustParse(kRequest);
  const Sha256Key key = LongTermKeySha256(kUsername, kRealm, kPassword).value();
  EXPECT_EQ(VerifyMessageIntegritySha256(m, key), IntegrityCheck::kOk);
  EXPECT_EQ(VerifyMessageIntegrity(m, key), IntegrityCheck::kAbsent);
  EXPECT_EQ(VerifyMessageIntegritySha256(m, LongTermKeyMd5(kUsername, kRealm, kPassword).value()),
            IntegrityCheck::kMismatch);
  EXPECT_EQ(VerifyMessageIntegritySha256(
                m, LongTermKeySha256(kUsername, kRealm, "TheMatrix").value()),
            IntegrityCheck::kMismatch);
}

TEST(Rfc8489AppendixBTest, Tampering) {
  const Sha256Key key = LongTermKeySha256(kUsername, kRealm, kPassword).value();
  for (size_t bit = 0; bit < kRequest.size() * 8; ++bit) {
    std::vector<uint8_t> bad = kRequest;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    MessageView m;
    if (MessageView::Parse(bad, &m) != ParseError::kNone) continue;
    EXPECT_NE(VerifyMessageIntegritySha256(m, key), IntegrityCheck::kOk) << "bit " << bit;
  }
}

TEST(Rfc8489AppendixBTest, Rebuilt) {
  const Sha256Key key = LongTermKeySha256(kUsername, kRealm, kPassword).value();
  const Sha256Key userhash = ComputeUserhash(kUsername, kRealm).value();
  std::vector<uint8_t> buf(256, 0xEE);
  MessageBuilder b(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
  b.Add(attr::kUserhash, userhash)
      .AddString(attr::kNonce, kNonce)
      .AddString(attr::kRealm, kRealm)
      .AddPasswordAlgorithm(PasswordAlgorithm::kSha256)
      .AddMessageIntegritySha256(key);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Copy(b.bytes()), kRequest);
}

TEST(Rfc8489AppendixBTest, PublishedBytesAreInconsistent) {
  // Header length 0x9c counts the 20-byte header too (RFC 8489 §5 says it
  // must not), so a correct parser refuses the published message.
  MessageView m;
  EXPECT_NE(MessageView::Parse(kPublished, &m), ParseError::kNone);
  // With the length corrected as the erratum says (0x88), it parses, but its
  // HMAC is not the one for this key.
  std::vector<uint8_t> fixed = kPublished;
  fixed[3] = 0x88;
  ASSERT_EQ(MessageView::Parse(fixed, &m), ParseError::kNone);
  EXPECT_EQ(VerifyMessageIntegritySha256(m, LongTermKeySha256(kUsername, kRealm, kPassword).value()),
            IntegrityCheck::kMismatch);
}

}  // namespace
}  // namespace uturn::stun
