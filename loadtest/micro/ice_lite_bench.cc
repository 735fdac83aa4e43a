// Microbenchmark of the ICE-lite library's per-check path (issue 5): a
// Chrome-shaped connectivity check (USERNAME, PRIORITY, ICE-CONTROLLING,
// USE-CANDIDATE, short-term MESSAGE-INTEGRITY, FINGERPRINT) through
// ice::Router::OnPacket: parse, route by tuple, FINGERPRINT and integrity
// verified, success response with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and
// FINGERPRINT built. No sockets: the library's own cost per check.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "benchmark/benchmark.h"
#include "ice-lite/router.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"

namespace uturn::ice {
namespace {

class CountingOutput : public RouterOutput {
 public:
  void Send(const Tuple&, std::span<const uint8_t> bytes) override { bytes_ += bytes.size(); }
  void OnSessionEvent(SessionId, const SessionEvent&) override {}
  void OnMedia(SessionId, const Tuple&, std::span<const uint8_t>) override {}
  uint64_t bytes_ = 0;
};

void BM_IceLiteAnswerCheck(benchmark::State& state) {
  CountingOutput out;
  Router router(RouterConfig{}, &out);
  const Credentials local{"srvUfrag", "serverpasswordserverpass"};
  const Credentials remote{"clnt", "clientpasswordclientpass"};
  if (!router.AddSession(SessionConfig{}, local, remote).ok()) {
    state.SkipWithError("AddSession failed");
    return;
  }
  const Tuple tuple{*stun::SocketAddress::Parse("192.0.2.7:50000"),
                    *stun::SocketAddress::Parse("198.51.100.1:3478"), Transport::kUdp};
  const auto key = stun::ShortTermKey(local.pwd);
  std::array<uint8_t, 256> buf{};
  const stun::TransactionId tid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  stun::MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kBinding,
                                                      stun::MessageClass::kRequest),
                         tid);
  b.AddString(stun::attr::kUsername, local.ufrag + ":" + remote.ufrag)
      .AddU32(stun::attr::kPriority, 1853817087)
      .AddU64(stun::attr::kIceControlling, 0x1122334455667788ULL)
      .AddFlag(stun::attr::kUseCandidate)
      .AddMessageIntegrity(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(key->data()), key->size()))
      .AddFingerprint();
  const std::vector<uint8_t> check(b.bytes().begin(), b.bytes().end());
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  for (auto _ : state) {
    router.OnPacket(tuple, check, now);
    now += absl::Microseconds(1);
  }
  if (router.counters().checks_answered != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("not every check was answered");
  }
  benchmark::DoNotOptimize(out.bytes_);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IceLiteAnswerCheck);

}  // namespace
}  // namespace uturn::ice
