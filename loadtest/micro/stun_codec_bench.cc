// Microbenchmarks of the STUN codec paths a TURN server runs per packet:
// parse, build a response, integrity (SHA-1 / SHA-256), FINGERPRINT and
// ChannelData parsing. Each reports items/s (one item = one message).
#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "benchmark/benchmark.h"
#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/constants.h"
#include "stun/fingerprint.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::stun {
namespace {

constexpr TransactionId kTid = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
// A long-term style 16-byte key and a 32-byte one; the HMAC cost does not
// depend on the key's origin.
constexpr std::array<uint8_t, 16> kKey16 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr std::array<uint8_t, 32> kKey32 = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                            12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                            23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

using Buffer = std::array<uint8_t, 512>;

std::vector<uint8_t> Copy(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

// What browsers and stunclients send: SOFTWARE + FINGERPRINT.
std::vector<uint8_t> BindingRequest() {
  Buffer buf;
  MessageBuilder b(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
  b.AddString(attr::kSoftware, "STUN test client").AddFingerprint();
  return Copy(b.bytes());
}

// Shaped like RFC 5769 §2.4: USERNAME (6 katakana, 18 bytes), NONCE, REALM,
// MESSAGE-INTEGRITY; no FINGERPRINT.
std::vector<uint8_t> AuthRequest() {
  Buffer buf;
  MessageBuilder b(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
  b.AddString(attr::kUsername, "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9")
      .AddString(attr::kNonce, "f//499k954d6OL34oL9FSTvy64sA")
      .AddString(attr::kRealm, "example.org")
      .AddMessageIntegrity(kKey16);
  return Copy(b.bytes());
}

void CheckOk(benchmark::State& state, bool ok) {
  if (!ok) state.SkipWithError("setup or operation failed");
}

void BM_ParseBindingRequest(benchmark::State& state) {
  const std::vector<uint8_t> msg = BindingRequest();
  MessageView view;
  for (auto _ : state) {
    const ParseError e = MessageView::Parse(msg, &view);  // verifies FINGERPRINT
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(view);
  }
  CheckOk(state, MessageView::Parse(msg, &view) == ParseError::kNone);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_ParseBindingRequest);

void BM_ParseAuthRequest(benchmark::State& state) {
  const std::vector<uint8_t> msg = AuthRequest();
  MessageView view;
  for (auto _ : state) {
    const ParseError e = MessageView::Parse(msg, &view);
    benchmark::DoNotOptimize(e);
    // The decoders a server calls next on this message.
    benchmark::DoNotOptimize(GetUsername(view));
    benchmark::DoNotOptimize(GetRealm(view));
    benchmark::DoNotOptimize(GetNonce(view));
  }
  CheckOk(state, MessageView::Parse(msg, &view) == ParseError::kNone);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAuthRequest);

void BM_BuildBindingSuccess(benchmark::State& state) {
  const std::vector<uint8_t> req = BindingRequest();
  MessageView request;
  CheckOk(state, MessageView::Parse(req, &request) == ParseError::kNone);
  const SocketAddress mapped = SocketAddress::V4({192, 0, 2, 1}, 32853);
  Buffer out;
  for (auto _ : state) {
    MessageBuilder b = MessageBuilder::ResponseTo(request, MessageClass::kSuccessResponse, out);
    b.AddXorAddress(attr::kXorMappedAddress, mapped).AddFingerprint();
    benchmark::DoNotOptimize(b.size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildBindingSuccess);

// Builds the §2.4-shaped request; the integrity attribute dominates.
void BM_MessageIntegritySha1Build(benchmark::State& state) {
  Buffer out;
  for (auto _ : state) {
    MessageBuilder b(out, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
    b.AddString(attr::kUsername, "user").AddString(attr::kRealm, "example.org");
    b.AddMessageIntegrity(kKey16);
    benchmark::DoNotOptimize(b.size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessageIntegritySha1Build);

void BM_MessageIntegritySha1Verify(benchmark::State& state) {
  const std::vector<uint8_t> msg = AuthRequest();
  MessageView view;
  CheckOk(state, MessageView::Parse(msg, &view) == ParseError::kNone);
  CheckOk(state, VerifyMessageIntegrity(view, kKey16) == IntegrityCheck::kOk);
  for (auto _ : state) {
    benchmark::DoNotOptimize(VerifyMessageIntegrity(view, kKey16));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessageIntegritySha1Verify);

void BM_MessageIntegritySha256Build(benchmark::State& state) {
  Buffer out;
  for (auto _ : state) {
    MessageBuilder b(out, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
    b.AddString(attr::kUsername, "user").AddString(attr::kRealm, "example.org");
    b.AddMessageIntegritySha256(kKey32);
    benchmark::DoNotOptimize(b.size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessageIntegritySha256Build);

void BM_MessageIntegritySha256Verify(benchmark::State& state) {
  Buffer buf;
  MessageBuilder b(buf, EncodeMessageType(Method::kBinding, MessageClass::kRequest), kTid);
  b.AddString(attr::kUsername, "user").AddString(attr::kRealm, "example.org");
  b.AddMessageIntegritySha256(kKey32);
  const std::vector<uint8_t> msg = Copy(b.bytes());
  MessageView view;
  CheckOk(state, MessageView::Parse(msg, &view) == ParseError::kNone);
  CheckOk(state, VerifyMessageIntegritySha256(view, kKey32) == IntegrityCheck::kOk);
  for (auto _ : state) {
    benchmark::DoNotOptimize(VerifyMessageIntegritySha256(view, kKey32));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessageIntegritySha256Verify);

// CRC-32 over the Binding request prefix (everything before FINGERPRINT).
void BM_Fingerprint(benchmark::State& state) {
  const std::vector<uint8_t> msg = BindingRequest();
  const std::span<const uint8_t> prefix = std::span(msg).first(msg.size() - 8);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ComputeFingerprint(prefix));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(prefix.size()));
}
BENCHMARK(BM_Fingerprint);

// Arg: payload bytes (a small audio frame, a full-size video packet).
void BM_ParseChannelData(benchmark::State& state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> frame(ChannelDataFrameSize(payload, /*stream=*/false), 0xab);
  WriteChannelDataHeader(frame.data(), 0x4001, static_cast<uint16_t>(payload));
  ChannelDataView view;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseChannelData(frame, /*stream=*/false, &view));
    benchmark::DoNotOptimize(view);
  }
  CheckOk(state, ParseChannelData(frame, false, &view) == ChannelDataError::kNone);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseChannelData)->Arg(160)->Arg(1200);

}  // namespace
}  // namespace uturn::stun
