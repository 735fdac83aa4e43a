// Microbenchmark of the full ICE agent (issue 10): two IceAgents with one
// host candidate each, wired back to back in memory on a fake clock, from
// construction to both sides having a selected pair. No sockets: the
// library's own cost. Reported per connection, per STUN check sent or
// answered (checks_sent + checks_received of both agents), and the heap
// an agent holds once connected (glibc mallinfo2, both agents / 2).
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "benchmark/benchmark.h"
#include "client/ice_agent.h"

namespace uturn::client {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

RandomSource SeededRandom(uint64_t seed) {
  auto state = std::make_shared<uint64_t>(seed);
  return [state](std::span<uint8_t> out) {
    for (uint8_t& b : out) {
      *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG step
      b = static_cast<uint8_t>(*state >> 56);
    }
  };
}

struct Side {
  std::unique_ptr<IceAgent> agent;
  stun::SocketAddress base;
};

// Delivers every queued transmit to the agent whose base is its destination
// and every candidate/end-of-candidates event to the other agent. Returns
// false if nothing moved.
bool Pump(Side& a, Side& b, absl::Time now) {
  bool moved = false;
  Side* sides[2] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    Side& self = *sides[i];
    Side& other = *sides[1 - i];
    while (std::optional<IceTransmit> t = self.agent->PollTransmit()) {
      moved = true;
      if (t->destination == other.base) {
        other.agent->HandlePacket(other.base, t->source, t->bytes, now);
      }
    }
    while (std::optional<IceEvent> e = self.agent->PollEvent()) {
      moved = true;
      if (e->kind == IceEvent::Kind::kLocalCandidate) {
        (void)other.agent->AddRemoteCandidate(e->candidate.candidate, now);
      } else if (e->kind == IceEvent::Kind::kGatheringComplete) {
        other.agent->SetRemoteEndOfCandidates(now);
      }
    }
  }
  return moved;
}

size_t HeapInUse() { return mallinfo2().uordblks; }

void BM_IceAgentConnectHostPair(benchmark::State& state) {
  uint64_t checks = 0;
  uint64_t connections = 0;
  size_t heap_per_agent = 0;
  uint64_t seed = 1;
  for (auto _ : state) {
    const size_t heap_before = HeapInUse();
    IceAgentConfig ca;
    ca.role = ice::Role::kControlling;
    IceAgentConfig cb;
    cb.role = ice::Role::kControlled;
    Side a{std::make_unique<IceAgent>(ca, SeededRandom(seed++)),
           *stun::SocketAddress::Parse("192.0.2.1:5000")};
    Side b{std::make_unique<IceAgent>(cb, SeededRandom(seed++)),
           *stun::SocketAddress::Parse("192.0.2.2:5000")};
    absl::Time now = kStart;
    if (!a.agent->AddLocalInterface(a.base).ok() || !b.agent->AddLocalInterface(b.base).ok() ||
        !a.agent->SetRemoteCredentials(b.agent->local_credentials(), now).ok() ||
        !b.agent->SetRemoteCredentials(a.agent->local_credentials(), now).ok() ||
        !a.agent->StartGathering(now).ok() || !b.agent->StartGathering(now).ok()) {
      state.SkipWithError("agent set-up failed");
      return;
    }
    // Bounded: a host pair connects within a few Ta and the nomination wait.
    for (int step = 0; step < 10'000; ++step) {
      while (Pump(a, b, now)) {
      }
      if (a.agent->selected_pair() && b.agent->selected_pair()) break;
      const absl::Time next = std::min(a.agent->PollTimeout(), b.agent->PollTimeout());
      if (next == absl::InfiniteFuture()) break;
      now = std::max(now, next);
      a.agent->HandleTimeout(now);
      b.agent->HandleTimeout(now);
    }
    if (!a.agent->selected_pair() || !b.agent->selected_pair()) {
      state.SkipWithError("the agents did not connect");
      return;
    }
    heap_per_agent = (HeapInUse() - heap_before) / 2;
    const IceAgentStats sa = a.agent->stats();
    const IceAgentStats sb = b.agent->stats();
    checks += sa.checks_sent + sb.checks_sent + sa.checks_received + sb.checks_received;
    ++connections;
  }
  state.counters["checks_per_connection"] =
      benchmark::Counter(static_cast<double>(checks) / static_cast<double>(connections));
  state.counters["checks"] = benchmark::Counter(static_cast<double>(checks),
                                                benchmark::Counter::kIsRate);
  state.counters["heap_bytes_per_agent"] =
      benchmark::Counter(static_cast<double>(heap_per_agent));
  state.SetItemsProcessed(static_cast<int64_t>(connections));
}
BENCHMARK(BM_IceAgentConnectHostPair);

}  // namespace
}  // namespace uturn::client
