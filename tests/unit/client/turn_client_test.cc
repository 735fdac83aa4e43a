// TurnClient against responses built with the stun codec, with an injected
// clock and a deterministic random source. Expected keys and encodings are
// computed with the codec (stun/integrity.h, stun/address.h), never with the
// client under test.
#include "client/turn_client.h"

#include <gtest/gtest.h>

#include <functional>

#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/nonce_cookie.h"

namespace uturn::client {
namespace {

using stun::MessageBuilder;
using stun::MessageClass;
using stun::MessageView;
using stun::SocketAddress;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const SocketAddress kRelayed = SocketAddress::V4({203, 0, 113, 5}, 50000);
const SocketAddress kMapped = SocketAddress::V4({198, 51, 100, 7}, 40000);
const SocketAddress kPeerA = SocketAddress::V4({192, 0, 2, 10}, 7000);
const SocketAddress kPeerB = SocketAddress::V4({192, 0, 2, 11}, 7001);
constexpr char kRealm[] = "example.org";
constexpr char kUser[] = "alice";
constexpr char kPass[] = "secret";

RandomSource CountingRandom() {
  auto counter = std::make_shared<uint8_t>(0);
  return [counter](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = ++*counter;
  };
}

TurnClientConfig AuthConfig() {
  TurnClientConfig c;
  c.credentials = TurnCredentials{kUser, kPass};
  return c;
}

MessageView Parse(const std::vector<uint8_t>& bytes) {
  MessageView m;
  EXPECT_EQ(MessageView::Parse(bytes, &m), stun::ParseError::kNone);
  return m;
}

std::vector<uint8_t> Md5Key() {
  auto k = stun::LongTermKeyMd5(kUser, kRealm, kPass);
  EXPECT_TRUE(k.ok());
  return {k->begin(), k->end()};
}
std::vector<uint8_t> Sha256Key() {
  auto k = stun::LongTermKeySha256(kUser, kRealm, kPass);
  EXPECT_TRUE(k.ok());
  return {k->begin(), k->end()};
}

// Builds an answer to `request` of class `cls`; `fill` adds attributes.
std::vector<uint8_t> Answer(const std::vector<uint8_t>& request, MessageClass cls,
                            const std::function<void(MessageBuilder&)>& fill) {
  MessageView req = Parse(request);
  std::vector<uint8_t> buf(2048);
  MessageBuilder b = MessageBuilder::ResponseTo(req, cls, buf);
  fill(b);
  EXPECT_TRUE(b.ok());
  buf.resize(b.size());
  return buf;
}

std::vector<uint8_t> Challenge(const std::vector<uint8_t>& request, int code, const std::string& nonce,
                               bool offer_algorithms = false) {
  return Answer(request, MessageClass::kErrorResponse, [&](MessageBuilder& b) {
    b.AddErrorCode(code);
    b.AddString(stun::attr::kRealm, kRealm);
    b.AddString(stun::attr::kNonce, nonce);
    if (offer_algorithms) {
      const stun::PasswordAlgorithm algs[] = {stun::PasswordAlgorithm::kMd5,
                                              stun::PasswordAlgorithm::kSha256};
      b.AddPasswordAlgorithms(algs);
    }
  });
}

std::vector<uint8_t> AllocateSuccess(const std::vector<uint8_t>& request,
                                     const std::vector<uint8_t>& key, uint32_t lifetime = 600,
                                     bool sha256 = false) {
  return Answer(request, MessageClass::kSuccessResponse, [&](MessageBuilder& b) {
    b.AddXorAddress(stun::attr::kXorRelayedAddress, kRelayed);
    b.AddXorAddress(stun::attr::kXorMappedAddress, kMapped);
    b.AddU32(stun::attr::kLifetime, lifetime);
    if (sha256) {
      b.AddMessageIntegritySha256(key);
    } else if (!key.empty()) {
      b.AddMessageIntegrity(key);
    }
  });
}

std::vector<uint8_t> SignedSuccess(const std::vector<uint8_t>& request, const std::vector<uint8_t>& key,
                                   const std::function<void(MessageBuilder&)>& fill = {}) {
  return Answer(request, MessageClass::kSuccessResponse, [&](MessageBuilder& b) {
    if (fill) fill(b);
    if (!key.empty()) b.AddMessageIntegrity(key);
  });
}

std::vector<uint8_t> Take(TurnClient& c) {
  auto out = c.PollTransmit();
  EXPECT_TRUE(out.has_value());
  return out.value_or(std::vector<uint8_t>{});
}

TurnEvent NextEvent(TurnClient& c) {
  auto ev = c.PollEvent();
  EXPECT_TRUE(ev.has_value());
  return ev.value_or(TurnEvent{});
}

// Runs the whole 401 → authenticated Allocate → success exchange (MD5).
void AllocateMd5(TurnClient& c, const std::string& nonce = "nonce-1") {
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto first = Take(c);
  EXPECT_EQ(c.HandleIncoming(Challenge(first, 401, nonce), kT0).kind, Incoming::Kind::kResponse);
  const auto second = Take(c);
  c.HandleIncoming(AllocateSuccess(second, Md5Key()), kT0);
  const TurnEvent ev = NextEvent(c);
  ASSERT_EQ(ev.kind, TurnEvent::Kind::kAllocated) << ev.reason;
}

// ------------------------------------------------------------------ Allocate

TEST(TurnClientTest, AllocateWithoutCredentials) {
  TurnClient c(TurnClientConfig{}, CountingRandom());
  auto h = c.Allocate(kT0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(c.state(), TurnState::kAllocating);
  const auto req = Take(c);
  MessageView m = Parse(req);
  EXPECT_TRUE(m.Is(stun::Method::kAllocate, MessageClass::kRequest));
  EXPECT_EQ(stun::GetRequestedTransport(m).value, stun::kTransportUdp);  // RFC 8656 §7.1
  EXPECT_FALSE(m.Has(stun::attr::kUsername));
  EXPECT_FALSE(m.Has(stun::attr::kMessageIntegrity));
  EXPECT_TRUE(m.Has(stun::attr::kFingerprint));

  EXPECT_EQ(c.HandleIncoming(AllocateSuccess(req, {}), kT0 + absl::Milliseconds(5)).kind,
            Incoming::Kind::kResponse);
  const TurnEvent ev = NextEvent(c);
  ASSERT_EQ(ev.kind, TurnEvent::Kind::kAllocated);
  EXPECT_EQ(ev.request, *h);
  ASSERT_EQ(ev.allocation.relayed.size(), 1u);
  EXPECT_EQ(ev.allocation.relayed[0], kRelayed);
  EXPECT_TRUE(ev.allocation.has_mapped);
  EXPECT_EQ(ev.allocation.mapped, kMapped);
  EXPECT_EQ(ev.allocation.lifetime_seconds, 600u);
  EXPECT_EQ(c.state(), TurnState::kAllocated);
  EXPECT_EQ(c.allocation().expires, kT0 + absl::Milliseconds(5) + absl::Seconds(600));
  EXPECT_EQ(c.pending_requests(), 0u);
}

TEST(TurnClientTest, ChallengeThenMd5Credentials) {
  TurnClient c(AuthConfig(), CountingRandom());
  auto h = c.Allocate(kT0);
  ASSERT_TRUE(h.ok());
  const auto first = Take(c);
  c.HandleIncoming(Challenge(first, 401, "nonce-1"), kT0);
  EXPECT_FALSE(c.PollEvent().has_value());  // the retry is not an outcome
  const auto second = Take(c);
  MessageView m = Parse(second);
  // RFC 8489 §9.2.4: a new transaction with USERNAME, REALM, NONCE, MI.
  EXPECT_NE(std::vector<uint8_t>(m.transaction_id().begin(), m.transaction_id().end()),
            std::vector<uint8_t>(first.begin() + 8, first.begin() + 20));
  EXPECT_EQ(stun::GetUsername(m).value, kUser);
  EXPECT_EQ(stun::GetRealm(m).value, kRealm);
  EXPECT_EQ(stun::GetNonce(m).value, "nonce-1");
  EXPECT_FALSE(m.Has(stun::attr::kPasswordAlgorithms));
  EXPECT_FALSE(m.Has(stun::attr::kMessageIntegritySha256));
  EXPECT_EQ(stun::VerifyMessageIntegrity(m, Md5Key()), stun::IntegrityCheck::kOk);
  EXPECT_EQ(c.realm(), kRealm);

  c.HandleIncoming(AllocateSuccess(second, Md5Key()), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kAllocated);
  EXPECT_EQ(ev.request, *h);  // same handle across the retry

  // Later requests reuse the nonce directly.
  ASSERT_TRUE(c.Refresh(kT0, 300).ok());
  const auto r_bytes = Take(c);
  MessageView r = Parse(r_bytes);
  EXPECT_EQ(stun::GetLifetime(r).value, 300u);
  EXPECT_EQ(stun::VerifyMessageIntegrity(r, Md5Key()), stun::IntegrityCheck::kOk);
}

TEST(TurnClientTest, Sha256WhenOffered) {
  TurnClient c(AuthConfig(), CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto first = Take(c);
  const std::string nonce = stun::EncodeNonceCookie(stun::kFeaturePasswordAlgorithms) + "abc";
  c.HandleIncoming(Challenge(first, 401, nonce, /*offer_algorithms=*/true), kT0);
  const auto second = Take(c);
  MessageView m = Parse(second);
  ASSERT_TRUE(m.Has(stun::attr::kPasswordAlgorithms));
  const auto challenge_bytes = Challenge(first, 401, nonce, true);
  MessageView challenge = Parse(challenge_bytes);
  // RFC 8489 §9.2.4: PASSWORD-ALGORITHMS echoed verbatim.
  const auto echoed = m.Find(stun::attr::kPasswordAlgorithms)->value;
  const auto offered = challenge.Find(stun::attr::kPasswordAlgorithms)->value;
  EXPECT_TRUE(std::equal(echoed.begin(), echoed.end(), offered.begin(), offered.end()));
  EXPECT_EQ(stun::GetPasswordAlgorithm(m).value.algorithm,
            static_cast<uint16_t>(stun::PasswordAlgorithm::kSha256));
  EXPECT_FALSE(m.Has(stun::attr::kMessageIntegrity));
  EXPECT_EQ(stun::VerifyMessageIntegritySha256(m, Sha256Key()), stun::IntegrityCheck::kOk);

  c.HandleIncoming(AllocateSuccess(second, Sha256Key(), 600, /*sha256=*/true), kT0);
  EXPECT_EQ(NextEvent(c).kind, TurnEvent::Kind::kAllocated);
}

TEST(TurnClientTest, Md5ChosenFromOfferWhenSha256NotPreferred) {
  TurnClientConfig config = AuthConfig();
  config.prefer_sha256 = false;
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const std::string nonce = stun::EncodeNonceCookie(stun::kFeaturePasswordAlgorithms) + "abc";
  c.HandleIncoming(Challenge(Take(c), 401, nonce, true), kT0);
  const auto m_bytes = Take(c);
  MessageView m = Parse(m_bytes);
  EXPECT_EQ(stun::GetPasswordAlgorithm(m).value.algorithm,
            static_cast<uint16_t>(stun::PasswordAlgorithm::kMd5));
  EXPECT_EQ(stun::VerifyMessageIntegrity(m, Md5Key()), stun::IntegrityCheck::kOk);
}

TEST(TurnClientTest, AlgorithmsIgnoredWithoutNonceCookie) {
  TurnClient c(AuthConfig(), CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(Challenge(Take(c), 401, "plain-nonce", true), kT0);
  const auto m_bytes = Take(c);
  MessageView m = Parse(m_bytes);
  EXPECT_FALSE(m.Has(stun::attr::kPasswordAlgorithms));
  EXPECT_EQ(stun::VerifyMessageIntegrity(m, Md5Key()), stun::IntegrityCheck::kOk);
}

TEST(TurnClientTest, NoSupportedAlgorithmFails) {
  TurnClient c(AuthConfig(), CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto req = Take(c);
  const std::string nonce = stun::EncodeNonceCookie(stun::kFeaturePasswordAlgorithms) + "x";
  const uint8_t only_unknown[] = {0x00, 0x09, 0x00, 0x00};
  c.HandleIncoming(Answer(req, MessageClass::kErrorResponse,
                          [&](MessageBuilder& b) {
                            b.AddErrorCode(401);
                            b.AddString(stun::attr::kRealm, kRealm);
                            b.AddString(stun::attr::kNonce, nonce);
                            b.Add(stun::attr::kPasswordAlgorithms, only_unknown);
                          }),
                   kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
  EXPECT_EQ(ev.error_code, 401);
  EXPECT_NE(ev.reason.find("algorithm"), std::string::npos);
  EXPECT_EQ(c.state(), TurnState::kIdle);
  EXPECT_FALSE(c.PollTransmit().has_value());
}

TEST(TurnClientTest, StaleNonceRetriesThenGivesUp) {
  TurnClientConfig config = AuthConfig();
  config.max_stale_nonce_retries = 2;
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(Challenge(Take(c), 401, "n1"), kT0);
  auto req = Take(c);
  for (const char* fresh : {"n2", "n3"}) {
    c.HandleIncoming(Challenge(req, 438, fresh), kT0);
    req = Take(c);
    MessageView m = Parse(req);
    EXPECT_EQ(stun::GetNonce(m).value, fresh);  // RFC 8489 §9.2.5
    EXPECT_EQ(stun::VerifyMessageIntegrity(m, Md5Key()), stun::IntegrityCheck::kOk);
    EXPECT_FALSE(c.PollEvent().has_value());
  }
  c.HandleIncoming(Challenge(req, 438, "n4"), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
  EXPECT_EQ(ev.error_code, 438);
  EXPECT_FALSE(c.PollTransmit().has_value());
}

TEST(TurnClientTest, UnauthorizedAfterCredentialsIsFinal) {
  TurnClient c(AuthConfig(), CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(Challenge(Take(c), 401, "n1"), kT0);
  c.HandleIncoming(Challenge(Take(c), 401, "n2"), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
  EXPECT_EQ(ev.error_code, 401);
  EXPECT_EQ(c.state(), TurnState::kIdle);
  EXPECT_FALSE(c.PollTransmit().has_value());
}

TEST(TurnClientTest, UnauthorizedWithoutCredentialsIsFinal) {
  TurnClient c(TurnClientConfig{}, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(Challenge(Take(c), 401, "n1"), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.error_code, 401);
  EXPECT_FALSE(c.PollTransmit().has_value());
}

TEST(TurnClientTest, UnsignedOrBadlySignedSuccessIsDiscarded) {
  TurnClient c(AuthConfig(), CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(Challenge(Take(c), 401, "n1"), kT0);
  const auto req = Take(c);
  // RFC 8489 §9.2.5: discarded as if never received.
  EXPECT_EQ(c.HandleIncoming(AllocateSuccess(req, {}), kT0).kind, Incoming::Kind::kIgnored);
  const std::vector<uint8_t> wrong(16, 0x42);
  EXPECT_EQ(c.HandleIncoming(AllocateSuccess(req, wrong), kT0).kind, Incoming::Kind::kIgnored);
  EXPECT_FALSE(c.PollEvent().has_value());
  EXPECT_EQ(c.pending_requests(), 1u);
  EXPECT_EQ(c.state(), TurnState::kAllocating);
  // A badly signed error response is discarded too.
  EXPECT_EQ(c.HandleIncoming(Answer(req, MessageClass::kErrorResponse,
                                    [&](MessageBuilder& b) {
                                      b.AddErrorCode(486);
                                      b.AddMessageIntegrity(wrong);
                                    }),
                             kT0)
                .kind,
            Incoming::Kind::kIgnored);
  c.HandleIncoming(AllocateSuccess(req, Md5Key()), kT0);
  EXPECT_EQ(NextEvent(c).kind, TurnEvent::Kind::kAllocated);
}

TEST(TurnClientTest, ErrorResponsesReported) {
  for (int code : {437, 440, 441, 442, 486, 508}) {
    TurnClient c(AuthConfig(), CountingRandom());
    ASSERT_TRUE(c.Allocate(kT0).ok());
    c.HandleIncoming(Challenge(Take(c), 401, "n1"), kT0);
    c.HandleIncoming(Answer(Take(c), MessageClass::kErrorResponse,
                            [&](MessageBuilder& b) {
                              b.AddErrorCode(code, "why");
                              b.AddMessageIntegrity(Md5Key());
                            }),
                     kT0);
    const TurnEvent ev = NextEvent(c);
    EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
    EXPECT_EQ(ev.error_code, code);
    EXPECT_EQ(ev.reason, "why");
    EXPECT_FALSE(ev.response.empty());
    EXPECT_EQ(c.state(), TurnState::kIdle) << code;
    EXPECT_TRUE(c.Allocate(kT0).ok()) << "may try again after " << code;
  }
}

TEST(TurnClientTest, UnknownAttributeErrorListsTypes) {
  TurnClientConfig config;
  config.allocate_extra_attributes.push_back({0x7F01, {1, 2, 3, 4}});
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto req = Take(c);
  MessageView m = Parse(req);
  ASSERT_TRUE(m.Has(0x7F01));
  const uint16_t unknown[] = {0x7F01};
  c.HandleIncoming(Answer(req, MessageClass::kErrorResponse,
                          [&](MessageBuilder& b) {
                            b.AddErrorCode(420);
                            b.AddUnknownAttributes(unknown);
                          }),
                   kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.error_code, 420);
  EXPECT_EQ(ev.unknown_attributes, std::vector<uint16_t>{0x7F01});
}

TEST(TurnClientTest, UnusableAnswersFailTheRequest) {
  struct Case {
    const char* name;
    std::function<std::vector<uint8_t>(const std::vector<uint8_t>&)> answer;
  };
  const Case cases[] = {
      {"no ERROR-CODE",
       [](const auto& r) { return Answer(r, MessageClass::kErrorResponse, [](MessageBuilder&) {}); }},
      {"no relayed address",
       [](const auto& r) {
         return Answer(r, MessageClass::kSuccessResponse,
                       [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 600); });
       }},
      {"no lifetime",
       [](const auto& r) {
         return Answer(r, MessageClass::kSuccessResponse, [](MessageBuilder& b) {
           b.AddXorAddress(stun::attr::kXorRelayedAddress, kRelayed);
         });
       }},
      {"unknown comprehension-required attribute",
       [](const auto& r) {
         return Answer(r, MessageClass::kSuccessResponse, [](MessageBuilder& b) {
           b.AddXorAddress(stun::attr::kXorRelayedAddress, kRelayed);
           b.AddU32(stun::attr::kLifetime, 600);
           b.AddU32(0x7F02, 0);
         });
       }},
      {"other method",
       [](const auto& r) {
         std::vector<uint8_t> buf(64);
         MessageView req = Parse(r);
         MessageBuilder b(buf,
                          stun::EncodeMessageType(stun::Method::kRefresh, MessageClass::kSuccessResponse),
                          req.transaction_id());
         buf.resize(b.size());
         return buf;
       }},
  };
  for (const Case& k : cases) {
    TurnClient c(TurnClientConfig{}, CountingRandom());
    ASSERT_TRUE(c.Allocate(kT0).ok());
    EXPECT_EQ(c.HandleIncoming(k.answer(Take(c)), kT0).kind, Incoming::Kind::kResponse) << k.name;
    const TurnEvent ev = NextEvent(c);
    EXPECT_EQ(ev.kind, TurnEvent::Kind::kError) << k.name;
    EXPECT_EQ(ev.error_code, 0) << k.name;
    EXPECT_FALSE(ev.reason.empty()) << k.name;
    EXPECT_EQ(c.state(), TurnState::kIdle) << k.name;
  }
}

TEST(TurnClientTest, IgnoresNoiseAndOtherTransactions) {
  TurnClient c(TurnClientConfig{}, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  auto req = Take(c);
  const std::vector<uint8_t> empty;
  EXPECT_EQ(c.HandleIncoming(empty, kT0).kind, Incoming::Kind::kIgnored);
  const std::vector<uint8_t> rtp = {0x80, 0x60, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(c.HandleIncoming(rtp, kT0).kind, Incoming::Kind::kIgnored);
  std::vector<uint8_t> truncated(req.begin(), req.begin() + 24);
  EXPECT_EQ(c.HandleIncoming(truncated, kT0).kind, Incoming::Kind::kIgnored);
  auto other = AllocateSuccess(req, {});
  other[19] ^= 0xFF;  // another transaction ID
  EXPECT_EQ(c.HandleIncoming(other, kT0).kind, Incoming::Kind::kIgnored);
  EXPECT_EQ(c.HandleIncoming(req, kT0).kind, Incoming::Kind::kIgnored);  // a request, reflected
  EXPECT_EQ(c.pending_requests(), 1u);
  EXPECT_FALSE(c.PollEvent().has_value());
}

TEST(TurnClientTest, AllocateOptionsAndDualStackAnswer) {
  TurnClientConfig config;
  config.lifetime_seconds = 1200;
  config.additional_ipv6 = true;
  config.even_port = true;
  config.dont_fragment = true;
  config.software = "test-client";
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto req = Take(c);
  MessageView m = Parse(req);
  EXPECT_EQ(stun::GetLifetime(m).value, 1200u);
  EXPECT_EQ(stun::GetAdditionalAddressFamily(m).value, stun::kFamilyIPv6);  // RFC 8656 §18.11
  EXPECT_TRUE(stun::GetEvenPort(m).ok());
  EXPECT_TRUE(stun::GetEvenPort(m).value);
  EXPECT_TRUE(stun::HasDontFragment(m));
  EXPECT_EQ(stun::GetSoftware(m).value, "test-client");
  EXPECT_FALSE(m.Has(stun::attr::kRequestedAddressFamily));

  const SocketAddress relayed6 = SocketAddress::V6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, 50002);
  const uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  c.HandleIncoming(Answer(req, MessageClass::kSuccessResponse,
                          [&](MessageBuilder& b) {
                            b.AddXorAddress(stun::attr::kXorRelayedAddress, kRelayed);
                            b.AddXorAddress(stun::attr::kXorRelayedAddress, relayed6);
                            b.AddU32(stun::attr::kLifetime, 1200);
                            b.Add(stun::attr::kReservationToken, token);
                          }),
                   kT0);
  const TurnEvent ev = NextEvent(c);
  ASSERT_EQ(ev.kind, TurnEvent::Kind::kAllocated);
  ASSERT_EQ(ev.allocation.relayed.size(), 2u);
  EXPECT_EQ(ev.allocation.relayed[1], relayed6);
  ASSERT_TRUE(ev.allocation.reservation_token.has_value());
  EXPECT_EQ((*ev.allocation.reservation_token)[7], 8);
  EXPECT_FALSE(ev.allocation.has_mapped);
  EXPECT_FALSE(ev.allocation.address_error_family.has_value());
}

TEST(TurnClientTest, RequestedFamilyTokenAndAddressErrorCode) {
  TurnClientConfig config;
  config.requested_address_family = stun::kFamilyIPv6;
  config.reservation_token = std::array<uint8_t, 8>{9, 9, 9, 9, 9, 9, 9, 9};
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto req = Take(c);
  MessageView m = Parse(req);
  EXPECT_EQ(stun::GetRequestedAddressFamily(m).value, stun::kFamilyIPv6);
  ASSERT_TRUE(stun::GetReservationToken(m).ok());
  EXPECT_EQ(stun::GetReservationToken(m).value[0], 9);
  EXPECT_FALSE(m.Has(stun::attr::kEvenPort));
  c.HandleIncoming(Answer(req, MessageClass::kSuccessResponse,
                          [&](MessageBuilder& b) {
                            b.AddXorAddress(stun::attr::kXorRelayedAddress, kRelayed);
                            b.AddU32(stun::attr::kLifetime, 600);
                            b.AddAddressErrorCode(stun::kFamilyIPv6, 440);
                          }),
                   kT0);
  const TurnEvent ev = NextEvent(c);
  ASSERT_EQ(ev.kind, TurnEvent::Kind::kAllocated);
  ASSERT_TRUE(ev.allocation.address_error_family.has_value());
  EXPECT_EQ(*ev.allocation.address_error_family, stun::kFamilyIPv6);
  EXPECT_EQ(ev.allocation.address_error_code, 440);
}

// ------------------------------------------------------------------ timers

TEST(TurnClientTest, RetransmitsOnRtoThenTimesOut) {
  TurnClientConfig config;
  config.transaction.initial_rto = absl::Milliseconds(100);
  config.transaction.rc = 3;
  config.transaction.rm = 4;
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto req = Take(c);
  // RFC 8489 §6.2.1: sends at 0, 100, 300 ms; gives up Rm*RTO after the last.
  EXPECT_EQ(c.deadline(), kT0 + absl::Milliseconds(100));
  c.HandleTimeout(kT0 + absl::Milliseconds(99));
  EXPECT_FALSE(c.PollTransmit().has_value());
  c.HandleTimeout(kT0 + absl::Milliseconds(100));
  EXPECT_EQ(Take(c), req);  // identical bytes
  EXPECT_EQ(c.deadline(), kT0 + absl::Milliseconds(300));
  c.HandleTimeout(kT0 + absl::Milliseconds(300));
  EXPECT_EQ(Take(c), req);
  EXPECT_EQ(c.deadline(), kT0 + absl::Milliseconds(700));
  c.HandleTimeout(kT0 + absl::Milliseconds(700));
  EXPECT_FALSE(c.PollTransmit().has_value());
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
  EXPECT_TRUE(ev.timed_out);
  EXPECT_EQ(c.state(), TurnState::kIdle);
  EXPECT_EQ(c.deadline(), absl::InfiniteFuture());
}

TEST(TurnClientTest, AllocationExpiresWithoutRefresh) {
  TurnClient c(TurnClientConfig{}, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(AllocateSuccess(Take(c), {}, 60), kT0);
  NextEvent(c);
  EXPECT_EQ(c.deadline(), kT0 + absl::Seconds(60));
  c.HandleTimeout(kT0 + absl::Seconds(59));
  EXPECT_EQ(c.state(), TurnState::kAllocated);
  c.HandleTimeout(kT0 + absl::Seconds(60));
  EXPECT_EQ(c.state(), TurnState::kIdle);
  EXPECT_EQ(NextEvent(c).kind, TurnEvent::Kind::kExpired);
}

// ------------------------------------------------------------------ Refresh

TEST(TurnClientTest, RefreshExtendsAndZeroDeletes) {
  TurnClient c(AuthConfig(), CountingRandom());
  AllocateMd5(c);
  ASSERT_TRUE(c.Refresh(kT0 + absl::Seconds(10), std::nullopt).ok());
  auto req = Take(c);
  EXPECT_FALSE(Parse(req).Has(stun::attr::kLifetime));
  c.HandleIncoming(SignedSuccess(req, Md5Key(), [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 900); }),
                   kT0 + absl::Seconds(10));
  TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kRefreshed);
  EXPECT_EQ(ev.lifetime_seconds, 900u);
  EXPECT_EQ(c.allocation().expires, kT0 + absl::Seconds(910));

  ASSERT_TRUE(c.Refresh(kT0, 0).ok());
  req = Take(c);
  EXPECT_EQ(stun::GetLifetime(Parse(req)).value, 0u);
  c.HandleIncoming(SignedSuccess(req, Md5Key(), [](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 0); }), kT0);
  ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kRefreshed);
  EXPECT_EQ(ev.lifetime_seconds, 0u);
  EXPECT_EQ(c.state(), TurnState::kIdle);
  // RFC 8656 §8.3: a new Allocate may follow at once.
  ASSERT_TRUE(c.Allocate(kT0).ok());
  const auto again_bytes = Take(c);
  MessageView again = Parse(again_bytes);
  EXPECT_EQ(stun::GetNonce(again).value, "nonce-1");  // known nonce reused
}

TEST(TurnClientTest, RefreshErrors) {
  TurnClient c(AuthConfig(), CountingRandom());
  EXPECT_EQ(c.Refresh(kT0, 600).status().code(), absl::StatusCode::kFailedPrecondition);
  AllocateMd5(c);
  // Success without LIFETIME is unusable for a non-zero refresh.
  ASSERT_TRUE(c.Refresh(kT0, 600).ok());
  c.HandleIncoming(SignedSuccess(Take(c), Md5Key()), kT0);
  TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
  EXPECT_EQ(c.state(), TurnState::kAllocated);
  // 437: the server no longer has the allocation.
  ASSERT_TRUE(c.Refresh(kT0, 600).ok());
  c.HandleIncoming(Answer(Take(c), MessageClass::kErrorResponse, [](MessageBuilder& b) { b.AddErrorCode(437); }),
                   kT0);
  ev = NextEvent(c);
  EXPECT_EQ(ev.error_code, 437);
  EXPECT_EQ(c.state(), TurnState::kIdle);
}

// ------------------------------------------------------- permissions, data

TEST(TurnClientTest, CreatePermissionAndDataIndications) {
  TurnClient c(AuthConfig(), CountingRandom());
  const SocketAddress peers[] = {kPeerA, kPeerB};
  EXPECT_EQ(c.CreatePermission(kT0, peers).status().code(), absl::StatusCode::kFailedPrecondition);
  AllocateMd5(c);
  EXPECT_EQ(c.CreatePermission(kT0, {}).status().code(), absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(c.CreatePermission(kT0, peers).ok());
  const auto req = Take(c);
  MessageView m = Parse(req);
  std::vector<SocketAddress> seen;
  EXPECT_EQ(stun::ForEachXorAddress(m, stun::attr::kXorPeerAddress,
                                    [&](const SocketAddress& a) { seen.push_back(a); }),
            stun::AttrStatus::kOk);
  EXPECT_EQ(seen, (std::vector<SocketAddress>{kPeerA, kPeerB}));

  // Before the permission is confirmed, Data indications are dropped (§10.4).
  auto data_from = [&](const SocketAddress& peer, std::vector<uint8_t> payload) {
    std::vector<uint8_t> buf(256);
    const stun::TransactionId id{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kData, MessageClass::kIndication), id);
    b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
    b.Add(stun::attr::kData, payload);
    buf.resize(b.size());
    return buf;
  };
  const auto early = data_from(kPeerA, {1, 2, 3});
  EXPECT_EQ(c.HandleIncoming(early, kT0).kind, Incoming::Kind::kIgnored);

  c.HandleIncoming(SignedSuccess(req, Md5Key()), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kPermissionCreated);
  EXPECT_EQ(ev.peers.size(), 2u);

  const auto d = data_from(SocketAddress::V4({192, 0, 2, 11}, 9999), {9, 8, 7});  // any port
  const Incoming in = c.HandleIncoming(d, kT0);
  ASSERT_EQ(in.kind, Incoming::Kind::kData);
  EXPECT_EQ(in.peer, SocketAddress::V4({192, 0, 2, 11}, 9999));
  EXPECT_EQ(std::vector<uint8_t>(in.payload.begin(), in.payload.end()), (std::vector<uint8_t>{9, 8, 7}));
  EXPECT_FALSE(in.channel.has_value());
  EXPECT_GE(in.payload.data(), d.data());  // a view, not a copy
  EXPECT_LT(in.payload.data(), d.data() + d.size());

  EXPECT_EQ(c.HandleIncoming(data_from(SocketAddress::V4({192, 0, 2, 99}, 1), {1}), kT0).kind,
            Incoming::Kind::kIgnored);
  // A Data indication without DATA is discarded.
  std::vector<uint8_t> buf(64);
  const stun::TransactionId id{};
  MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kData, MessageClass::kIndication), id);
  b.AddXorAddress(stun::attr::kXorPeerAddress, kPeerA);
  buf.resize(b.size());
  EXPECT_EQ(c.HandleIncoming(buf, kT0).kind, Incoming::Kind::kIgnored);
}

TEST(TurnClientTest, SendIndicationEncoding) {
  TurnClientConfig config = AuthConfig();
  config.dont_fragment = true;
  TurnClient c(config, CountingRandom());
  std::vector<uint8_t> out(128);
  const std::vector<uint8_t> payload = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(c.WriteSendIndication(kPeerA, payload, out).status().code(), absl::StatusCode::kFailedPrecondition);
  AllocateMd5(c);
  auto n = c.WriteSendIndication(kPeerA, payload, out);
  ASSERT_TRUE(n.ok());
  out.resize(*n);
  MessageView m = Parse(out);
  EXPECT_TRUE(m.Is(stun::Method::kSend, MessageClass::kIndication));
  EXPECT_EQ(stun::GetXorPeerAddress(m).value, kPeerA);
  const auto data = stun::GetData(m).value;
  EXPECT_EQ(std::vector<uint8_t>(data.begin(), data.end()), payload);
  EXPECT_TRUE(stun::HasDontFragment(m));
  EXPECT_FALSE(m.Has(stun::attr::kMessageIntegrity));  // RFC 8656 §10: indications are not authenticated

  std::vector<uint8_t> small(30);
  EXPECT_EQ(c.WriteSendIndication(kPeerA, payload, small).status().code(), absl::StatusCode::kResourceExhausted);
  std::vector<uint8_t> huge(70000), big_out(80000);
  EXPECT_EQ(c.WriteSendIndication(kPeerA, huge, big_out).status().code(), absl::StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------ channels

TEST(TurnClientTest, ChannelBindAndChannelData) {
  TurnClient c(AuthConfig(), CountingRandom());
  EXPECT_EQ(c.ChannelBind(kT0, 0x4000, kPeerA).status().code(), absl::StatusCode::kFailedPrecondition);
  AllocateMd5(c);
  // RFC 8656 §12: 0x4000-0x4FFF only.
  EXPECT_EQ(c.ChannelBind(kT0, 0x3FFF, kPeerA).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.ChannelBind(kT0, 0x5000, kPeerA).status().code(), absl::StatusCode::kInvalidArgument);

  std::vector<uint8_t> out(64);
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
  EXPECT_EQ(c.WriteChannelData(0x4001, payload, out).status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(c.ChannelBind(kT0, 0x4001, kPeerA).ok());
  const auto req = Take(c);
  MessageView m = Parse(req);
  EXPECT_EQ(stun::GetChannelNumber(m).value, 0x4001);
  EXPECT_EQ(stun::GetXorPeerAddress(m).value, kPeerA);
  c.HandleIncoming(SignedSuccess(req, Md5Key()), kT0);
  const TurnEvent ev = NextEvent(c);
  ASSERT_EQ(ev.kind, TurnEvent::Kind::kChannelBound);
  EXPECT_EQ(ev.channel, 0x4001);
  EXPECT_EQ(c.ChannelFor(kPeerA), 0x4001);
  EXPECT_FALSE(c.ChannelFor(kPeerB).has_value());

  // RFC 8656 §12.1: one peer per channel and one channel per peer.
  EXPECT_EQ(c.ChannelBind(kT0, 0x4001, kPeerB).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.ChannelBind(kT0, 0x4002, kPeerA).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(c.ChannelBind(kT0, 0x4001, kPeerA).ok());  // refresh of the same binding
  Take(c);

  auto n = c.WriteChannelData(0x4001, payload, out);
  ASSERT_TRUE(n.ok());
  const std::vector<uint8_t> expected = {0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5};  // RFC 8656 §12.4
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n)), expected);
  std::vector<uint8_t> small(8);
  EXPECT_EQ(c.WriteChannelData(0x4001, payload, small).status().code(), absl::StatusCode::kResourceExhausted);
  std::vector<uint8_t> huge(70000), big_out(80000);
  EXPECT_EQ(c.WriteChannelData(0x4001, huge, big_out).status().code(), absl::StatusCode::kInvalidArgument);

  // Incoming ChannelData on the bound channel: the peer is known; trailing
  // UDP padding is ignored.
  const std::vector<uint8_t> in_frame = {0x40, 0x01, 0x00, 0x03, 7, 8, 9, 0};
  const Incoming in = c.HandleIncoming(in_frame, kT0);
  ASSERT_EQ(in.kind, Incoming::Kind::kData);
  EXPECT_EQ(in.peer, kPeerA);
  EXPECT_EQ(in.channel, 0x4001);
  EXPECT_EQ(std::vector<uint8_t>(in.payload.begin(), in.payload.end()), (std::vector<uint8_t>{7, 8, 9}));
  // Unbound channel, overrunning length: dropped.
  EXPECT_EQ(c.HandleIncoming(std::vector<uint8_t>{0x40, 0x02, 0x00, 0x01, 7}, kT0).kind, Incoming::Kind::kIgnored);
  EXPECT_EQ(c.HandleIncoming(std::vector<uint8_t>{0x40, 0x01, 0x00, 0x09, 7}, kT0).kind, Incoming::Kind::kIgnored);
  // A ChannelBind also installs the permission: Data indications pass.
  std::vector<uint8_t> buf(64);
  const stun::TransactionId id{};
  MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kData, MessageClass::kIndication), id);
  b.AddXorAddress(stun::attr::kXorPeerAddress, kPeerA);
  b.Add(stun::attr::kData, payload);
  buf.resize(b.size());
  EXPECT_EQ(c.HandleIncoming(buf, kT0).kind, Incoming::Kind::kData);
}

// RFC 8656 §12.2: the server binds on accepting the request, so ChannelData
// can arrive while the response is lost or still on its way.
TEST(TurnClientTest, ChannelDataWhileTheBindIsUnansweredComesFromItsPeer) {
  TurnClient c(AuthConfig(), CountingRandom());
  AllocateMd5(c);
  ASSERT_TRUE(c.ChannelBind(kT0, 0x4003, kPeerB).ok());
  Take(c);  // the request; its response never comes
  EXPECT_FALSE(c.ChannelFor(kPeerB).has_value());
  const Incoming in = c.HandleIncoming(std::vector<uint8_t>{0x40, 0x03, 0x00, 0x02, 5, 6}, kT0);
  ASSERT_EQ(in.kind, Incoming::Kind::kData);
  EXPECT_EQ(in.peer, kPeerB);
  EXPECT_EQ(in.channel, 0x4003);
  // Another channel, not requested: still dropped (RFC 8656 §12.6).
  EXPECT_EQ(c.HandleIncoming(std::vector<uint8_t>{0x40, 0x04, 0x00, 0x02, 5, 6}, kT0).kind,
            Incoming::Kind::kIgnored);
}

TEST(TurnClientTest, ChannelDataPaddedOverStreams) {
  TurnClientConfig config;
  config.transport = stun::TransportKind::kReliable;
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(AllocateSuccess(Take(c), {}), kT0);
  NextEvent(c);
  ASSERT_TRUE(c.ChannelBind(kT0, 0x4FFF, kPeerB).ok());
  c.HandleIncoming(SignedSuccess(Take(c), {}), kT0);
  ASSERT_EQ(NextEvent(c).kind, TurnEvent::Kind::kChannelBound);
  std::vector<uint8_t> out(16, 0xEE);
  const std::vector<uint8_t> payload = {1, 2, 3, 4, 5};
  auto n = c.WriteChannelData(0x4FFF, payload, out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 12u);  // RFC 8656 §12.5: padded to a multiple of 4
  const std::vector<uint8_t> expected = {0x4F, 0xFF, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0};
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 12), expected);
  // Over a stream an unpadded frame is invalid.
  EXPECT_EQ(c.HandleIncoming(std::vector<uint8_t>{0x4F, 0xFF, 0x00, 0x03, 7, 8, 9}, kT0).kind,
            Incoming::Kind::kIgnored);
  EXPECT_EQ(c.HandleIncoming(std::vector<uint8_t>{0x4F, 0xFF, 0x00, 0x03, 7, 8, 9, 0}, kT0).kind,
            Incoming::Kind::kData);
}

TEST(TurnClientTest, CustomRequestCarriesCallerAttributes) {
  TurnClient c(AuthConfig(), CountingRandom());
  AllocateMd5(c);
  const std::vector<uint8_t> bad_channel = {0x3F, 0xFF, 0x00, 0x00};
  auto h = c.CustomRequest(kT0, stun::Method::kChannelBind, {{stun::attr::kChannelNumber, bad_channel}},
                           {kPeerB});
  ASSERT_TRUE(h.ok());
  const auto req = Take(c);
  MessageView m = Parse(req);
  EXPECT_TRUE(m.Is(stun::Method::kChannelBind, MessageClass::kRequest));
  EXPECT_EQ(stun::GetChannelNumber(m).value, 0x3FFF);
  EXPECT_EQ(stun::GetXorPeerAddress(m).value, kPeerB);
  EXPECT_EQ(stun::VerifyMessageIntegrity(m, Md5Key()), stun::IntegrityCheck::kOk);
  c.HandleIncoming(Answer(req, MessageClass::kErrorResponse, [](MessageBuilder& b) { b.AddErrorCode(400); }), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.request, *h);
  EXPECT_EQ(ev.error_code, 400);
  EXPECT_EQ(c.state(), TurnState::kAllocated);

  ASSERT_TRUE(c.CustomRequest(kT0, stun::Method::kBinding, {}).ok());
  c.HandleIncoming(SignedSuccess(Take(c), Md5Key()), kT0);
  EXPECT_EQ(NextEvent(c).kind, TurnEvent::Kind::kSuccess);
}

TEST(TurnClientTest, PreconditionsOnStart) {
  TurnClient no_random(TurnClientConfig{}, RandomSource{});
  EXPECT_EQ(no_random.Allocate(kT0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(no_random.state(), TurnState::kIdle);

  TurnClient c(TurnClientConfig{}, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  // RFC 8656 §7.1: one allocation per 5-tuple.
  EXPECT_EQ(c.Allocate(kT0).status().code(), absl::StatusCode::kFailedPrecondition);
  c.HandleIncoming(AllocateSuccess(Take(c), {}), kT0);
  NextEvent(c);
  EXPECT_EQ(c.Allocate(kT0).status().code(), absl::StatusCode::kFailedPrecondition);

  TurnClientConfig big;
  big.allocate_extra_attributes.push_back({0x8055, std::vector<uint8_t>(70000)});
  TurnClient too_big(big, CountingRandom());
  EXPECT_EQ(too_big.Allocate(kT0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(too_big.state(), TurnState::kIdle);
  EXPECT_EQ(std::string(ToString(TurnState::kAllocating)), "allocating");
}

TEST(TurnClientTest, BadCredentialStringsFailTheRequest) {
  TurnClientConfig config;
  config.credentials = TurnCredentials{kUser, std::string("\x01\x02", 2)};  // not OpaqueString
  TurnClient c(config, CountingRandom());
  ASSERT_TRUE(c.Allocate(kT0).ok());
  c.HandleIncoming(Challenge(Take(c), 401, "n1"), kT0);
  const TurnEvent ev = NextEvent(c);
  EXPECT_EQ(ev.kind, TurnEvent::Kind::kError);
  EXPECT_FALSE(c.PollTransmit().has_value());
  EXPECT_EQ(c.state(), TurnState::kIdle);
}

}  // namespace
}  // namespace uturn::client
