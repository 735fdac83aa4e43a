// The LiteSession test fixture: one session with an injected clock and a
// recording output, plus shorthands for sending shaped checks.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "ice-lite/lite_session.h"
#include "ice_test_util.h"

namespace uturn::ice::testing {

class LiteSessionTest : public ::testing::Test {
 protected:
  void Make(SessionConfig c = {}) { s_ = std::make_unique<LiteSession>(c, local_, &out_); }
  void SetUp() override { Make(); }

  LiteSession::CheckOutcome Check(const Tuple& t, const CheckSpec& spec) {
    const Packet p = BuildCheck(spec);
    last_txid_ = TxidOf(p);
    return s_->OnBindingRequest(t, p.View(), now_);
  }
  Response Last(const std::string& pwd) {
    EXPECT_FALSE(out_.sent.empty());
    if (out_.sent.empty()) return {};
    return Decode(out_.sent.back().bytes, pwd);
  }
  Response Last() { return Last(local_.pwd); }
  CheckSpec Chrome(bool nominate = false, std::optional<uint32_t> nomination = {}) {
    return ChromeCheck(local_, client_, nominate, nomination);
  }
  void ExpectError(int code, bool with_integrity) {
    const Response r = Last();
    EXPECT_EQ(r.cls, stun::MessageClass::kErrorResponse);
    EXPECT_EQ(r.error_code, code);
    EXPECT_EQ(r.has_integrity, with_integrity);
    if (with_integrity) {
      EXPECT_TRUE(r.integrity_ok);
    }
    EXPECT_TRUE(r.fingerprint_ok);
    EXPECT_EQ(r.txid, last_txid_);
  }
  void Connect(const Tuple& t) {
    ASSERT_EQ(Check(t, Chrome(true)), LiteSession::CheckOutcome::kAnswered);
    ASSERT_EQ(s_->state(), SessionState::kConnected);
  }

  Credentials local_ = Creds("srvA");
  std::string client_ = "clnt";
  RecordingOutput out_;
  std::unique_ptr<LiteSession> s_;
  absl::Time now_ = T0();
  std::array<uint8_t, stun::kTransactionIdSize> last_txid_{};
  const Tuple a_ = UdpTuple(V4(1, 50000));
  const Tuple b_ = UdpTuple(V4(2, 50001));
  const Tuple c_ = UdpTuple(V4(3, 50002));
};

}  // namespace uturn::ice::testing
