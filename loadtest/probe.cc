#include "loadtest/probe.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace uturn::loadtest {
namespace {

void Put(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t Get(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

void WriteProbe(const Probe& p, std::span<uint8_t> out) {
  assert(out.size() >= kProbeSize);
  Put(out.data(), kProbeMagic, 4);
  Put(out.data() + 4, p.allocation, 4);
  Put(out.data() + 8, p.sequence, 8);
  Put(out.data() + 16, p.sent_ns, 8);
}

std::optional<Probe> ReadProbe(std::span<const uint8_t> in) {
  if (in.size() < kProbeSize || Get(in.data(), 4) != kProbeMagic) return std::nullopt;
  Probe p;
  p.allocation = static_cast<uint32_t>(Get(in.data() + 4, 4));
  p.sequence = Get(in.data() + 8, 8);
  p.sent_ns = Get(in.data() + 16, 8);
  return p;
}

Pacer::Pacer(double rate, uint32_t allocations, uint32_t burst)
    : rate_(rate), allocations_(allocations), burst_(burst) {
  assert(rate >= 0 && allocations > 0 && burst > 0);
}

uint64_t Pacer::Due(double elapsed_seconds) const {
  if (rate_ <= 0) return UINT64_MAX;
  if (elapsed_seconds <= 0) return 0;
  return static_cast<uint64_t>(std::floor(rate_ * elapsed_seconds));
}

uint32_t Pacer::AllocationOf(uint64_t packet) const {
  return static_cast<uint32_t>((packet / burst_) % allocations_);
}

uint64_t Pacer::RunLength(uint64_t packet, uint64_t limit) const {
  const uint64_t left_in_burst = burst_ - packet % burst_;
  // With one allocation every packet goes to the same place.
  if (allocations_ == 1) return limit;
  return std::min(left_in_burst, limit);
}

}  // namespace uturn::loadtest
