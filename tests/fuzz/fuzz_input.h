// Pieces every fuzz harness here shares: CHECK (an invariant that fails
// aborts, which libFuzzer reports with the input) and Input, a reader of the
// fuzzer's bytes front to back where everything past the end reads as zero.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

namespace uturn::fuzz {

class Input {
 public:
  explicit Input(std::span<const uint8_t> data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  uint8_t U8() { return pos_ < data_.size() ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>((U8() << 8) | U8()); }
  uint32_t U32() { return (uint32_t{U16()} << 16) | U16(); }
  std::span<const uint8_t> Bytes(size_t n) {
    const size_t at = std::min(pos_, data_.size());
    const size_t take = std::min(n, data_.size() - at);
    pos_ += take;
    return data_.subspan(at, take);
  }
  std::span<const uint8_t> Rest() { return Bytes(data_.size()); }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace uturn::fuzz
