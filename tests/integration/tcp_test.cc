// STUN Binding over TCP (RFC 8489 §6.2.2 stream framing) against the real
// server on loopback.
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/integration/fixture.h"

namespace uturn::testing {
namespace {

using client::BindingStatus;

class TcpTest : public LoopbackServerTest {
 protected:
  client::BindingClientConfig TcpConfig() {
    client::BindingClientConfig c = FastConfig();
    c.transport = stun::TransportKind::kReliable;
    return c;
  }
};

TEST_F(TcpTest, OneRequest) {
  Fd fd = TcpConnect(tcp_);
  ASSERT_TRUE(fd.valid());
  const client::BindingResult r = BindingOverTcp(fd.get());
  ASSERT_EQ(r.status, BindingStatus::kSuccess) << client::ToString(r.status) << r.malformed_reason;
  EXPECT_TRUE(r.from_xor_mapped);
  EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
  EXPECT_TRUE(r.response_had_fingerprint);
}

TEST_F(TcpTest, ConnectionServesSeveralTransactionsInTurn) {
  Fd fd = TcpConnect(tcp_);
  ASSERT_TRUE(fd.valid());
  for (int i = 0; i < 3; ++i) {
    const client::BindingResult r = BindingOverTcp(fd.get());
    ASSERT_EQ(r.status, BindingStatus::kSuccess) << i;
    EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
  }
}

TEST_F(TcpTest, SeveralRequestsInOneWrite) {
  Fd fd = TcpConnect(tcp_);
  ASSERT_TRUE(fd.valid());
  constexpr int kCount = 5;
  std::vector<std::unique_ptr<client::BindingClient>> clients;
  std::vector<uint8_t> batch;
  for (int i = 0; i < kCount; ++i) {
    clients.push_back(std::make_unique<client::BindingClient>(TcpConfig(), TestRandom()));
    ASSERT_TRUE(clients.back()->Start(absl::Now()).ok());
    const auto req = clients.back()->request();
    batch.insert(batch.end(), req.begin(), req.end());
  }
  ASSERT_TRUE(SendAll(fd.get(), batch));  // one send(): one segment on loopback

  stun::StreamFramer framer;
  for (int i = 0; i < kCount; ++i) {
    const auto frame = RecvFrame(fd.get(), framer, milliseconds(5000));
    ASSERT_TRUE(frame.has_value()) << "answer " << i << " missing";
    int answered = 0;
    for (auto& c : clients) {
      if (c->HandleMessage(*frame, absl::Now()) == client::Disposition::kAnswered) ++answered;
    }
    EXPECT_EQ(answered, 1) << "answer " << i << " matches no request";
  }
  for (auto& c : clients) {
    ASSERT_EQ(c->result().status, BindingStatus::kSuccess);
    EXPECT_EQ(c->result().mapped, LocalAddress(fd.get()));
  }
}

TEST_F(TcpTest, RequestsSplitByteByByte) {
  Fd fd = TcpConnect(tcp_);  // TCP_NODELAY: each send() leaves as its own segment
  ASSERT_TRUE(fd.valid());
  stun::StreamFramer framer;
  for (int round = 0; round < 2; ++round) {
    client::BindingClient c(TcpConfig(), TestRandom());
    ASSERT_TRUE(c.Start(absl::Now()).ok());
    for (uint8_t b : c.request()) {
      ASSERT_TRUE(SendAll(fd.get(), std::span<const uint8_t>(&b, 1)));
    }
    const auto frame = RecvFrame(fd.get(), framer, milliseconds(5000));
    ASSERT_TRUE(frame.has_value()) << "round " << round;
    EXPECT_EQ(c.HandleMessage(*frame, absl::Now()), client::Disposition::kAnswered);
    ASSERT_EQ(c.result().status, BindingStatus::kSuccess);
    EXPECT_EQ(c.result().mapped, LocalAddress(fd.get()));
  }
}

TEST_F(TcpTest, UnknownComprehensionRequiredAttributeGets420) {
  Fd fd = TcpConnect(tcp_);
  ASSERT_TRUE(fd.valid());
  client::BindingClientConfig config = TcpConfig();
  config.extra_attributes.push_back({0x7F02, {9, 9, 9, 9}});
  const client::BindingResult r = BindingOverTcp(fd.get(), config);
  ASSERT_EQ(r.status, BindingStatus::kErrorResponse) << client::ToString(r.status);
  EXPECT_EQ(r.error_code, 420);
  EXPECT_EQ(r.unknown_attributes, std::vector<uint16_t>{0x7F02});
}

// A stream whose first byte is neither STUN (0b00) nor ChannelData (0b01)
// cannot be resynchronised: the server closes it (and keeps serving others).
TEST_F(TcpTest, GarbageClosesTheConnection) {
  for (uint8_t first : {uint8_t{0xFF}, uint8_t{0x80}, uint8_t{0xC0}}) {
    Fd fd = TcpConnect(tcp_);
    ASSERT_TRUE(fd.valid());
    std::vector<uint8_t> junk(32, 0xA5);
    junk[0] = first;
    ASSERT_TRUE(SendAll(fd.get(), junk));
    EXPECT_EQ(WaitForClose(fd.get(), milliseconds(5000)), StreamEnd::kClosed)
        << "first byte " << int{first};
  }
  Fd fd = TcpConnect(tcp_);
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(BindingOverTcp(fd.get()).status, BindingStatus::kSuccess);
}

TEST_F(TcpTest, GarbageAfterAGoodRequestStillGetsTheAnswerThenClose) {
  Fd fd = TcpConnect(tcp_);
  ASSERT_TRUE(fd.valid());
  client::BindingClient c(TcpConfig(), TestRandom());
  ASSERT_TRUE(c.Start(absl::Now()).ok());
  std::vector<uint8_t> bytes(c.request().begin(), c.request().end());
  bytes.insert(bytes.end(), {0xFF, 0xFF, 0xFF, 0xFF});
  ASSERT_TRUE(SendAll(fd.get(), bytes));
  stun::StreamFramer framer;
  const auto frame = RecvFrame(fd.get(), framer, milliseconds(5000));
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(c.HandleMessage(*frame, absl::Now()), client::Disposition::kAnswered);
  EXPECT_EQ(c.result().status, BindingStatus::kSuccess);
  EXPECT_EQ(WaitForClose(fd.get(), milliseconds(5000)), StreamEnd::kClosed);
}

}  // namespace
}  // namespace uturn::testing
