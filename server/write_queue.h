// Bounded outgoing byte queue for one stream connection: responses are
// appended while at most one send is in flight; the in-flight chunk stays put
// (the kernel reads it) and later bytes collect in a second buffer. When the
// peer does not read and the bound is passed, the caller closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace uturn::server {

class WriteQueue {
 public:
  explicit WriteQueue(size_t limit) : limit_(limit) {}

  // False (and nothing queued) if the queue would exceed its limit.
  bool Append(std::span<const uint8_t> bytes);
  // The bytes to hand to the next send: the unsent rest of the in-flight
  // chunk, or, if that is done, everything queued since. Stable until Sent().
  std::span<const uint8_t> Next();
  // `n` bytes of Next() were sent (a short write leaves the rest in place).
  void Sent(size_t n);

  size_t size() const { return (inflight_.size() - offset_) + pending_.size(); }
  bool empty() const { return size() == 0; }

 private:
  size_t limit_;
  std::vector<uint8_t> inflight_;
  size_t offset_ = 0;
  std::vector<uint8_t> pending_;
};

}  // namespace uturn::server
