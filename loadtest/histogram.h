// Latency histogram with bounded relative error: values below 2^kSubBits are
// exact, above that each power of two is split into 2^kSubBits buckets, so a
// percentile is within 1/2^kSubBits (about 1.6%) of the true sample. Fixed
// size, no allocation per sample.
#pragma once

#include <array>
#include <cstdint>

namespace uturn::loadtest {

class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void Add(uint64_t value);
  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  // Smallest bucket value v such that at least q of the samples are <= v's
  // bucket (q in [0, 1]); clamped to [min, max]; 0 when empty.
  uint64_t Percentile(double q) const;

  static int BucketOf(uint64_t value);
  static uint64_t BucketLow(int bucket);
  static uint64_t BucketHigh(int bucket);  // inclusive

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace uturn::loadtest
