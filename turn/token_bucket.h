// A byte-rate limiter for one allocation (--max-bps). Time comes from the
// caller, so it is deterministic under an injected clock.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "absl/time/time.h"

namespace uturn::turn {

class TokenBucket {
 public:
  // A bucket always holds at least one maximal UDP datagram's worth, or a
  // packet larger than one second's allowance could never pass.
  static constexpr uint64_t kMinBurst = 65535;

  TokenBucket() = default;
  // `bytes_per_second` = 0 disables the limit.
  TokenBucket(uint64_t bytes_per_second, absl::Time now)
      : rate_(static_cast<double>(bytes_per_second)),
        capacity_(static_cast<double>(std::max(bytes_per_second, kMinBurst))),
        tokens_(capacity_),
        last_(now) {}

  bool enabled() const { return rate_ > 0; }

  // Takes `bytes` tokens if there are enough; otherwise takes none.
  bool TryConsume(uint64_t bytes, absl::Time now) {
    if (!enabled()) return true;
    if (now > last_) {
      const double elapsed = absl::ToDoubleSeconds(now - last_);
      tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    const double need = static_cast<double>(bytes);
    if (tokens_ < need) return false;
    tokens_ -= need;
    assert(tokens_ >= 0);
    return true;
  }

 private:
  double rate_ = 0;
  double capacity_ = 0;
  double tokens_ = 0;
  absl::Time last_ = absl::InfinitePast();
};

}  // namespace uturn::turn
