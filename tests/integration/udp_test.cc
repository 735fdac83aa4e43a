// STUN Binding over UDP against the real server on loopback.
#include <gtest/gtest.h>

#include <random>

#include "absl/time/clock.h"
#include "stun/message_builder.h"
#include "tests/integration/fixture.h"

namespace uturn::testing {
namespace {

using client::BindingStatus;

class UdpTest : public LoopbackServerTest {};

TEST_F(UdpTest, BindingReturnsTheClientSocketAsXorMappedAddress) {
  Fd fd = UdpSocket();
  ASSERT_TRUE(fd.valid());
  const client::BindingResult r = BindingOverUdp(fd.get(), udp_);
  ASSERT_EQ(r.status, BindingStatus::kSuccess) << client::ToString(r.status) << r.malformed_reason;
  EXPECT_TRUE(r.from_xor_mapped);
  EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
  EXPECT_EQ(r.mapped.ToString().rfind("127.0.0.1:", 0), 0u);
}

TEST_F(UdpTest, FingerprintIsEchoedOnlyWhenSent) {
  Fd fd = UdpSocket();
  client::BindingClientConfig with = FastConfig();
  with.fingerprint = true;
  const client::BindingResult a = BindingOverUdp(fd.get(), udp_, with);
  ASSERT_EQ(a.status, BindingStatus::kSuccess);
  EXPECT_TRUE(a.response_had_fingerprint);

  client::BindingClientConfig without = FastConfig();
  without.fingerprint = false;
  const client::BindingResult b = BindingOverUdp(fd.get(), udp_, without);
  ASSERT_EQ(b.status, BindingStatus::kSuccess);
  EXPECT_FALSE(b.response_had_fingerprint);
  EXPECT_EQ(b.mapped, LocalAddress(fd.get()));
}

// RFC 8489 §12: a request without the magic cookie comes from an RFC 3489
// client and is answered with MAPPED-ADDRESS.
TEST_F(UdpTest, Rfc3489RequestGetsMappedAddress) {
  Fd fd = UdpSocket();
  client::BindingClientConfig config = FastConfig();
  config.rfc3489 = true;
  config.fingerprint = false;
  config.software.clear();
  const client::BindingResult r = BindingOverUdp(fd.get(), udp_, config);
  ASSERT_EQ(r.status, BindingStatus::kSuccess) << client::ToString(r.status) << r.malformed_reason;
  EXPECT_FALSE(r.from_xor_mapped);
  EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
}

// RFC 8489 §7.3.1: unknown comprehension-required attributes earn 420 with
// UNKNOWN-ATTRIBUTES listing them; unknown comprehension-optional ones are
// ignored and not listed.
TEST_F(UdpTest, UnknownComprehensionRequiredAttributeGets420) {
  Fd fd = UdpSocket();
  client::BindingClientConfig config = FastConfig();
  config.extra_attributes.push_back({0x7F01, {1, 2, 3, 4}});
  config.extra_attributes.push_back({0xBEEF, {5, 6}});
  const client::BindingResult r = BindingOverUdp(fd.get(), udp_, config);
  ASSERT_EQ(r.status, BindingStatus::kErrorResponse) << client::ToString(r.status);
  EXPECT_EQ(r.error_code, 420);
  EXPECT_EQ(r.unknown_attributes, std::vector<uint16_t>{0x7F01});
}

TEST_F(UdpTest, OnlyUnknownOptionalAttributesStillSucceeds) {
  Fd fd = UdpSocket();
  client::BindingClientConfig config = FastConfig();
  config.extra_attributes.push_back({0xBEEF, {5, 6}});
  const client::BindingResult r = BindingOverUdp(fd.get(), udp_, config);
  ASSERT_EQ(r.status, BindingStatus::kSuccess) << client::ToString(r.status);
  EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
}

// Sends `first`, then a Binding request, and checks that the first datagram
// that comes back is the answer to the request: `first` got no reply.
void ExpectNoReplyTo(int fd, const stun::SocketAddress& server,
                     const std::vector<std::vector<uint8_t>>& first) {
  for (const auto& d : first) ASSERT_TRUE(SendTo(fd, d, server));
  client::BindingClient c(FastConfig(), TestRandom());
  ASSERT_TRUE(c.Start(absl::Now()).ok());
  ASSERT_TRUE(SendTo(fd, c.request(), server));
  const auto reply = RecvDatagram(fd, milliseconds(5000));
  ASSERT_TRUE(reply.has_value()) << "no answer to the request";
  EXPECT_EQ(c.HandleMessage(*reply, absl::Now()), client::Disposition::kAnswered)
      << "the first datagram received answers something else";
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
}

std::vector<uint8_t> BindingIndication() {
  std::vector<uint8_t> buf(64);
  stun::TransactionId id{};
  TestRandom()(id);
  stun::MessageBuilder b(
      buf, stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kIndication), id);
  b.AddFingerprint();
  EXPECT_TRUE(b.ok());
  buf.resize(b.size());
  return buf;
}

// RFC 8489 §6.3.2: indications are never answered.
TEST_F(UdpTest, BindingIndicationGetsNoAnswer) {
  Fd fd = UdpSocket();
  ExpectNoReplyTo(fd.get(), udp_, {BindingIndication()});
}

// Non-STUN datagrams (RFC 7983 demultiplexing) are dropped without a reply.
TEST_F(UdpTest, NonStunDatagramsGetNoReply) {
  Fd fd = UdpSocket();
  std::vector<std::vector<uint8_t>> junk = {
      {0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1},  // RTP
      {0x16, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0},        // DTLS handshake
      {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4},              // ChannelData, no allocation
      {'h', 'e', 'l', 'l', 'o'},
      std::vector<uint8_t>(20, 0xFF),
      {},                                                // empty datagram
  };
  // A STUN-sized header whose first two bits are not zero (RFC 8489 §5).
  std::vector<uint8_t> not_stun = BindingIndication();
  not_stun[0] |= 0xC0;
  junk.push_back(not_stun);
  ExpectNoReplyTo(fd.get(), udp_, junk);
}

// Every shape of damage, many times over: the server must neither crash nor
// stop answering.
std::vector<std::vector<uint8_t>> MalformedDatagrams(size_t count) {
  std::mt19937 rng(0x5EED);  // fixed: a failure is reproducible
  auto byte = [&] { return static_cast<uint8_t>(rng()); };
  client::BindingClientConfig config;
  config.software = "flood";
  client::BindingClient valid(config);
  EXPECT_TRUE(valid.Start(absl::UnixEpoch(), client::RequestId{{1, 2, 3}}).ok());
  const std::vector<uint8_t> good(valid.request().begin(), valid.request().end());

  std::vector<std::vector<uint8_t>> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::vector<uint8_t> d;
    switch (i % 6) {
      case 0:  // random bytes
        d.resize(rng() % 200);
        for (uint8_t& b : d) b = byte();
        break;
      case 1:  // a valid request cut short
        d.assign(good.begin(), good.begin() + static_cast<long>(rng() % good.size()));
        break;
      case 2:  // a valid request with a few bits flipped
        d = good;
        for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) {
          d[rng() % d.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        }
        break;
      case 3: {  // a plausible header, then random attribute bytes
        const size_t body = 4 * (rng() % 40);
        d = {0x00, static_cast<uint8_t>(rng() % 2 ? 0x01 : 0x03), static_cast<uint8_t>(body >> 8),
             static_cast<uint8_t>(body), 0x21, 0x12, 0xA4, 0x42};
        for (int k = 0; k < 12; ++k) d.push_back(byte());
        for (size_t k = 0; k < body; ++k) d.push_back(byte());
        if (rng() % 4 == 0) d.resize(d.size() - 4);  // length now disagrees
        break;
      }
      case 4: {  // many (possibly too many) attributes, some duplicated
        d = {0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42};
        for (int k = 0; k < 12; ++k) d.push_back(byte());
        const size_t n = rng() % 80;
        for (size_t k = 0; k < n; ++k) {
          static constexpr uint16_t kTypes[] = {0x0020, 0x0009, 0x8022, 0x8028, 0x0008, 0xC0DE, 0x7F00};
          const uint16_t t = kTypes[rng() % 7];
          d.insert(d.end(), {static_cast<uint8_t>(t >> 8), static_cast<uint8_t>(t), 0, 4});
          for (int v = 0; v < 4; ++v) d.push_back(byte());
        }
        const size_t body = d.size() - 20;
        d[2] = static_cast<uint8_t>(body >> 8);
        d[3] = static_cast<uint8_t>(body);
        break;
      }
      case 5:  // an attribute whose length runs past the end
        d = good;
        d.insert(d.begin() + 20, {0x80, 0x22, 0xFF, 0xF0});
        d[3] = static_cast<uint8_t>(d[3] + 4);
        break;
    }
    out.push_back(std::move(d));
  }
  return out;
}

TEST_F(UdpTest, SurvivesTwentyThousandMalformedDatagrams) {
  Fd flood = UdpSocket();
  for (const auto& d : MalformedDatagrams(20'000)) {
    ASSERT_TRUE(SendTo(flood.get(), d, udp_));
  }
  Fd fd = UdpSocket();
  const client::BindingResult r = BindingOverUdp(fd.get(), udp_);
  ASSERT_EQ(r.status, BindingStatus::kSuccess) << client::ToString(r.status) << "\n" << server_.Log();
  EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
  EXPECT_TRUE(server_.Alive());
  // The flooding socket is still served too.
  EXPECT_EQ(BindingOverUdp(flood.get(), udp_).status, BindingStatus::kSuccess);
}

}  // namespace
}  // namespace uturn::testing
