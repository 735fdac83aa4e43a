#include "loadtest/histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace uturn::loadtest {

int Histogram::BucketOf(uint64_t value) {
  if (value < static_cast<uint64_t>(kSub)) return static_cast<int>(value);
  // The top kSubBits+1 bits select the bucket: the leading 1 picks the power
  // of two, the next kSubBits the slice of it.
  const int shift = 63 - std::countl_zero(value) - kSubBits;
  const int b = (shift + 1) * kSub + static_cast<int>((value >> shift) - kSub);
  assert(b >= 0 && b < kBuckets);
  return b;
}

uint64_t Histogram::BucketLow(int bucket) {
  if (bucket < kSub) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kSub - 1;
  return (static_cast<uint64_t>(kSub) + static_cast<uint64_t>(bucket % kSub)) << shift;
}

uint64_t Histogram::BucketHigh(int bucket) {
  if (bucket < kSub) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kSub - 1;
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Add(uint64_t value) {
  ++counts_[BucketOf(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the sample wanted, 1-based (nearest-rank definition).
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      // Middle of the bucket, within the observed range.
      const uint64_t mid = BucketLow(b) + (BucketHigh(b) - BucketLow(b)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace uturn::loadtest
