// BindingClient driven with an injected clock and hand-built server answers.
#include "client/binding_client.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "stun/attributes.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::client {
namespace {

using stun::MessageClass;
using stun::Method;

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);
constexpr stun::TransactionId kId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const stun::SocketAddress kMapped = stun::SocketAddress::V4({192, 0, 2, 1}, 32853);

RequestId Id() { return RequestId{kId, stun::kMagicCookie}; }

BindingClientConfig Config() {
  BindingClientConfig c;
  c.software = "test-client";
  return c;
}

// A server answer built by the codec, independently of BindingClient.
struct Answer {
  std::array<uint8_t, 512> buffer{};
  size_t size = 0;
  std::span<const uint8_t> bytes() const { return {buffer.data(), size}; }
};

template <typename Fill>
Answer Build(uint16_t type, const stun::TransactionId& id, Fill fill,
             uint32_t cookie = stun::kMagicCookie) {
  Answer a;
  stun::MessageBuilder b(a.buffer, type, id, cookie);
  fill(b);
  EXPECT_TRUE(b.ok());
  a.size = b.size();
  return a;
}

uint16_t Type(Method m, MessageClass c) { return stun::EncodeMessageType(m, c); }

Answer XorSuccess(const stun::TransactionId& id = kId) {
  return Build(Type(Method::kBinding, MessageClass::kSuccessResponse), id, [](auto& b) {
    b.AddXorAddress(stun::attr::kXorMappedAddress, kMapped);
    b.AddString(stun::attr::kSoftware, "test-server");
    b.AddFingerprint();
  });
}

TEST(BindingClientTest, RequestIsABindingRequestWithOurIdSoftwareAndFingerprint) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const std::span<const uint8_t> req = c.request();
  ASSERT_GE(req.size(), 20u);
  // RFC 8489 §5: type 0x0001 (Binding request), magic cookie at offset 4.
  EXPECT_EQ(req[0], 0x00);
  EXPECT_EQ(req[1], 0x01);
  EXPECT_EQ(req[4], 0x21);
  EXPECT_EQ(req[5], 0x12);
  EXPECT_EQ(req[6], 0xA4);
  EXPECT_EQ(req[7], 0x42);
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(req, &m), stun::ParseError::kNone);
  EXPECT_TRUE(m.Is(Method::kBinding, MessageClass::kRequest));
  EXPECT_TRUE(std::equal(kId.begin(), kId.end(), m.transaction_id().begin()));
  ASSERT_TRUE(stun::GetSoftware(m).ok());
  EXPECT_EQ(stun::GetSoftware(m).value, "test-client");
  ASSERT_TRUE(m.fingerprint_offset().has_value());
  EXPECT_EQ(*m.fingerprint_offset(), req.size() - 8);  // last (RFC 8489 §14.7)
  EXPECT_EQ(c.result().status, BindingStatus::kPending);
  EXPECT_EQ(c.deadline(), kT0 + absl::Milliseconds(500));
}

TEST(BindingClientTest, BareRequestWithoutFingerprintOrSoftwareIsJustTheHeader) {
  BindingClientConfig config;
  config.fingerprint = false;
  BindingClient c(config);
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  EXPECT_EQ(c.request().size(), 20u);
  EXPECT_EQ(c.request()[3], 0);  // length 0
}

TEST(BindingClientTest, ExtraAttributesGoBeforeFingerprint) {
  BindingClientConfig config;
  config.extra_attributes.push_back({0x7F01, {0xAA, 0xBB}});
  BindingClient c(config);
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(c.request(), &m), stun::ParseError::kNone);
  ASSERT_EQ(m.attribute_count(), 2u);
  EXPECT_EQ(m.attribute(0).type, 0x7F01);
  EXPECT_EQ(m.attribute(0).value.size(), 2u);
  EXPECT_EQ(m.attribute(1).type, stun::attr::kFingerprint);
}

TEST(BindingClientTest, StartDrawsTheIdFromTheRandomSource) {
  uint8_t next = 100;
  BindingClient c(Config(), [&](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = next++;
  });
  ASSERT_TRUE(c.Start(kT0).ok());
  const stun::TransactionId expected = {100, 101, 102, 103, 104, 105,
                                        106, 107, 108, 109, 110, 111};
  EXPECT_EQ(c.request_id().transaction_id, expected);
  EXPECT_EQ(c.request_id().cookie, stun::kMagicCookie);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), c.request().begin() + 8));
}

TEST(BindingClientTest, StartWithoutRandomSourceFails) {
  BindingClient c(Config());
  EXPECT_EQ(c.Start(kT0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(c.request().empty());
  EXPECT_EQ(c.result().status, BindingStatus::kIdle);
}

TEST(BindingClientTest, StartTwiceFails) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  EXPECT_EQ(c.Start(kT0, Id()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(BindingClientTest, CookieMustMatchTheMode) {
  BindingClient modern(Config());
  EXPECT_EQ(modern.Start(kT0, RequestId{kId, 0x01020304}).code(),
            absl::StatusCode::kInvalidArgument);
  BindingClientConfig config;
  config.rfc3489 = true;
  BindingClient legacy(config);
  EXPECT_EQ(legacy.Start(kT0, Id()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BindingClientTest, OverlongSoftwareIsRefused) {
  BindingClientConfig config;
  config.software = std::string(510, 'x');  // RFC 8489 §14.14: < 128 chars, <= 509 bytes
  BindingClient c(config);
  EXPECT_EQ(c.Start(kT0, Id()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BindingClientTest, AttributesBeyondTheLengthFieldAreRefused) {
  BindingClientConfig config;
  config.extra_attributes.push_back({0x7F01, std::vector<uint8_t>(65532, 0)});
  BindingClient c(config);
  EXPECT_EQ(c.Start(kT0, Id()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BindingClientTest, XorMappedAddressSuccess) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const Answer a = XorSuccess();
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0 + absl::Milliseconds(30)), Disposition::kAnswered);
  ASSERT_TRUE(c.done());
  const BindingResult& r = c.result();
  EXPECT_EQ(r.status, BindingStatus::kSuccess);
  EXPECT_EQ(r.mapped, kMapped);
  EXPECT_TRUE(r.from_xor_mapped);
  EXPECT_TRUE(r.response_had_fingerprint);
  EXPECT_EQ(r.server_software, "test-server");
  ASSERT_TRUE(r.rtt.has_value());
  EXPECT_EQ(*r.rtt, absl::Milliseconds(30));
  EXPECT_EQ(r.transmissions, 1);
  EXPECT_EQ(c.deadline(), absl::InfiniteFuture());
}

TEST(BindingClientTest, MappedAddressIsAcceptedFromOlderServers) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const Answer a = Build(Type(Method::kBinding, MessageClass::kSuccessResponse), kId,
                         [](auto& b) { b.AddAddress(stun::attr::kMappedAddress, kMapped); });
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
  EXPECT_EQ(c.result().mapped, kMapped);
  EXPECT_FALSE(c.result().from_xor_mapped);
  EXPECT_FALSE(c.result().response_had_fingerprint);
}

TEST(BindingClientTest, Rfc3489RequestAndAnswer) {
  BindingClientConfig config;
  config.rfc3489 = true;
  config.fingerprint = false;
  // The random source first yields the ID, then the cookie word; make the
  // latter equal the magic cookie to check it is altered.
  int call = 0;
  BindingClient c(config, [&](std::span<uint8_t> out) {
    if (call++ == 0) {
      std::copy(kId.begin(), kId.end(), out.begin());
    } else {
      const uint8_t cookie[4] = {0x21, 0x12, 0xA4, 0x42};
      std::copy(cookie, cookie + 4, out.begin());
    }
  });
  ASSERT_TRUE(c.Start(kT0).ok());
  const uint32_t cookie = c.request_id().cookie;
  EXPECT_NE(cookie, stun::kMagicCookie);
  EXPECT_EQ(c.request()[4], 0x21);  // the first bytes are still the drawn ones
  const Answer a = Build(
      Type(Method::kBinding, MessageClass::kSuccessResponse), kId,
      [](auto& b) { b.AddAddress(stun::attr::kMappedAddress, kMapped); }, cookie);
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
  EXPECT_EQ(c.result().mapped, kMapped);
}

TEST(BindingClientTest, AnswersToOtherTransactionsAreIgnored) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  stun::TransactionId other = kId;
  other[11] ^= 1;
  EXPECT_EQ(c.HandleMessage(XorSuccess(other).bytes(), kT0), Disposition::kIgnored);
  // Same ID behind another cookie word (an RFC 3489 message) is not ours either.
  const Answer legacy = Build(
      Type(Method::kBinding, MessageClass::kSuccessResponse), kId,
      [](auto& b) { b.AddAddress(stun::attr::kMappedAddress, kMapped); }, 0x01020304);
  EXPECT_EQ(c.HandleMessage(legacy.bytes(), kT0), Disposition::kIgnored);
  const uint8_t tiny[3] = {0, 1, 0};
  EXPECT_EQ(c.HandleMessage(tiny, kT0), Disposition::kIgnored);
  EXPECT_EQ(c.result().status, BindingStatus::kPending);
}

TEST(BindingClientTest, RequestsAndIndicationsWithOurIdAreIgnored) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  EXPECT_EQ(c.HandleMessage(c.request(), kT0), Disposition::kIgnored);
  const Answer ind =
      Build(Type(Method::kBinding, MessageClass::kIndication), kId, [](auto&) {});
  EXPECT_EQ(c.HandleMessage(ind.bytes(), kT0), Disposition::kIgnored);
  EXPECT_FALSE(c.done());
}

TEST(BindingClientTest, MessagesBeforeStartAndAfterTheEndAreIgnored) {
  BindingClient c(Config());
  EXPECT_EQ(c.HandleMessage(XorSuccess().bytes(), kT0), Disposition::kIgnored);
  EXPECT_FALSE(c.HandleTimeout(kT0 + absl::Hours(1)));
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  ASSERT_EQ(c.HandleMessage(XorSuccess().bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.HandleMessage(XorSuccess().bytes(), kT0), Disposition::kIgnored);
  EXPECT_FALSE(c.HandleTimeout(kT0 + absl::Hours(1)));
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
}

TEST(BindingClientTest, ErrorResponse420ListsUnknownAttributes) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const uint16_t unknown[] = {0x7F01, 0x7F02};
  const Answer a = Build(Type(Method::kBinding, MessageClass::kErrorResponse), kId, [&](auto& b) {
    b.AddErrorCode(420, "Unknown Attribute");
    b.AddUnknownAttributes(unknown);
  });
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  const BindingResult& r = c.result();
  EXPECT_EQ(r.status, BindingStatus::kErrorResponse);
  EXPECT_EQ(r.error_code, 420);
  EXPECT_EQ(r.error_reason, "Unknown Attribute");
  EXPECT_EQ(r.unknown_attributes, (std::vector<uint16_t>{0x7F01, 0x7F02}));
}

TEST(BindingClientTest, ErrorResponseWithoutErrorCodeIsMalformed) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const Answer a =
      Build(Type(Method::kBinding, MessageClass::kErrorResponse), kId, [](auto&) {});
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
  EXPECT_NE(c.result().malformed_reason.find("ERROR-CODE"), std::string::npos);
}

TEST(BindingClientTest, MalformedErrorCodeIsMalformed) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const uint8_t short_value[2] = {0, 4};  // ERROR-CODE needs at least 4 bytes
  const Answer a = Build(Type(Method::kBinding, MessageClass::kErrorResponse), kId,
                         [&](auto& b) { b.Add(stun::attr::kErrorCode, short_value); });
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
}

TEST(BindingClientTest, MalformedUnknownAttributesIsMalformed) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const uint8_t odd[3] = {0x7F, 0x01, 0x7F};  // not a list of 16-bit types
  const Answer a = Build(Type(Method::kBinding, MessageClass::kErrorResponse), kId, [&](auto& b) {
    b.AddErrorCode(420);
    b.Add(stun::attr::kUnknownAttributes, odd);
  });
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
}

TEST(BindingClientTest, SuccessWithoutAnyMappedAddressIsMalformed) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const Answer a =
      Build(Type(Method::kBinding, MessageClass::kSuccessResponse), kId, [](auto&) {});
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
}

TEST(BindingClientTest, MalformedAddressesAreMalformed) {
  const uint8_t bad_family[8] = {0, 7, 0, 1, 1, 2, 3, 4};
  for (uint16_t type : {stun::attr::kXorMappedAddress, stun::attr::kMappedAddress}) {
    BindingClient c(Config());
    ASSERT_TRUE(c.Start(kT0, Id()).ok());
    const Answer a = Build(Type(Method::kBinding, MessageClass::kSuccessResponse), kId,
                           [&](auto& b) { b.Add(type, bad_family); });
    EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
    EXPECT_EQ(c.result().status, BindingStatus::kMalformed) << type;
  }
}

TEST(BindingClientTest, UnknownComprehensionRequiredAttributeFailsTheTransaction) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const uint8_t v[4] = {};
  const Answer a = Build(Type(Method::kBinding, MessageClass::kSuccessResponse), kId, [&](auto& b) {
    b.AddXorAddress(stun::attr::kXorMappedAddress, kMapped);
    b.Add(0x7F33, v);
  });
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
  EXPECT_NE(c.result().malformed_reason.find("0x7f33"), std::string::npos);
}

TEST(BindingClientTest, AnswerWithAnotherMethodIsMalformed) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const Answer a = Build(Type(Method::kAllocate, MessageClass::kSuccessResponse), kId,
                         [](auto& b) { b.AddXorAddress(stun::attr::kXorMappedAddress, kMapped); });
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
}

TEST(BindingClientTest, UnparsableAnswerWithOurIdIsMalformed) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  Answer a = XorSuccess();
  a.size -= 4;  // the length field now overruns the bytes
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kMalformed);
  EXPECT_NE(c.result().malformed_reason.find("unparsable"), std::string::npos);
}

TEST(BindingClientTest, FingerprintMismatchIsDiscardedSilently) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  Answer a = XorSuccess();
  a.buffer[a.size - 1] ^= 0xFF;  // RFC 8489 §7.3: not STUN, discard
  EXPECT_EQ(c.HandleMessage(a.bytes(), kT0), Disposition::kIgnored);
  EXPECT_FALSE(c.done());
  EXPECT_EQ(c.HandleMessage(XorSuccess().bytes(), kT0), Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
}

// RFC 8489 §6.2.1: with RTO 500 ms and Rc 7 the request is "sent at times
// 0 ms, 500 ms, 1500 ms, 3500 ms, 7500 ms, 15500 ms, and 31500 ms. If the
// client has not received a response after 39500 ms, the client will
// consider the transaction to have timed out."
TEST(BindingClientTest, UdpRetransmitsOnTheRfcScheduleThenTimesOut) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  const int64_t resend_ms[] = {500, 1500, 3500, 7500, 15500, 31500};
  for (int64_t ms : resend_ms) {
    const absl::Time at = kT0 + absl::Milliseconds(ms);
    EXPECT_EQ(c.deadline(), at);
    EXPECT_FALSE(c.HandleTimeout(at - absl::Milliseconds(1))) << ms;  // too early: nothing
    EXPECT_TRUE(c.HandleTimeout(at)) << ms;
  }
  EXPECT_EQ(c.result().transmissions, 7);
  EXPECT_EQ(c.deadline(), kT0 + absl::Milliseconds(39500));
  EXPECT_FALSE(c.HandleTimeout(kT0 + absl::Milliseconds(39500)));
  EXPECT_EQ(c.result().status, BindingStatus::kTimeout);
  EXPECT_FALSE(c.result().rtt.has_value());
  EXPECT_EQ(c.deadline(), absl::InfiniteFuture());
}

TEST(BindingClientTest, NoRttSampleAfterARetransmission) {
  BindingClient c(Config());
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  ASSERT_TRUE(c.HandleTimeout(kT0 + absl::Milliseconds(500)));
  ASSERT_EQ(c.HandleMessage(XorSuccess().bytes(), kT0 + absl::Milliseconds(600)),
            Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
  EXPECT_EQ(c.result().transmissions, 2);
  EXPECT_FALSE(c.result().rtt.has_value());  // Karn's rule
}

// RFC 8489 §6.2.2: over TCP the client does not retransmit and gives up after
// Ti = 39.5 s.
TEST(BindingClientTest, TcpNeverRetransmitsAndTimesOutAfterTi) {
  BindingClientConfig config = Config();
  config.transport = stun::TransportKind::kReliable;
  BindingClient c(config);
  ASSERT_TRUE(c.Start(kT0, Id()).ok());
  EXPECT_EQ(c.deadline(), kT0 + absl::Milliseconds(39500));
  EXPECT_FALSE(c.HandleTimeout(kT0 + absl::Milliseconds(39499)));
  EXPECT_FALSE(c.done());
  EXPECT_FALSE(c.HandleTimeout(kT0 + absl::Milliseconds(39500)));
  EXPECT_EQ(c.result().status, BindingStatus::kTimeout);
  EXPECT_EQ(c.result().transmissions, 1);
}

TEST(BindingClientTest, StatusNames) {
  EXPECT_STREQ(ToString(BindingStatus::kIdle), "idle");
  EXPECT_STREQ(ToString(BindingStatus::kPending), "pending");
  EXPECT_STREQ(ToString(BindingStatus::kSuccess), "success");
  EXPECT_STREQ(ToString(BindingStatus::kErrorResponse), "error-response");
  EXPECT_STREQ(ToString(BindingStatus::kTimeout), "timeout");
  EXPECT_STREQ(ToString(BindingStatus::kMalformed), "malformed");
}

}  // namespace
}  // namespace uturn::client
