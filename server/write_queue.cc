#include "server/write_queue.h"

#include <cassert>

namespace uturn::server {

bool WriteQueue::Append(std::span<const uint8_t> bytes) {
  if (size() + bytes.size() > limit_) return false;
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  return true;
}

std::span<const uint8_t> WriteQueue::Next() {
  if (offset_ == inflight_.size()) {
    // Swap rather than copy, keeping both capacities for reuse.
    inflight_.swap(pending_);
    pending_.clear();
    offset_ = 0;
  }
  return std::span<const uint8_t>(inflight_).subspan(offset_);
}

void WriteQueue::Sent(size_t n) {
  assert(offset_ + n <= inflight_.size());
  offset_ += n;
}

}  // namespace uturn::server
