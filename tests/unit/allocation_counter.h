// Counts calls of the global operator new, for the tests that check "no heap
// allocation per packet" (DESIGN.md §The data plane). Include it in exactly
// ONE source file of a test binary: it replaces the global operator
// new/delete for that whole binary (they forward to malloc/free).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace uturn::testing {

inline std::atomic<size_t> g_operator_new_calls{0};

// Operator new calls made since construction (by any thread of the binary).
class AllocationCounter {
 public:
  AllocationCounter() : start_(g_operator_new_calls.load()) {}
  size_t count() const { return g_operator_new_calls.load() - start_; }

 private:
  size_t start_;
};

}  // namespace uturn::testing

// Not inlined: GCC 12 would otherwise see malloc()/free() pairs at the call
// sites of new/delete and warn (-Wmismatched-new-delete).
__attribute__((noinline)) void* operator new(std::size_t n) {
  uturn::testing::g_operator_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }
