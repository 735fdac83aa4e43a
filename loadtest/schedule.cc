#include "loadtest/schedule.h"

#include <algorithm>
#include <cassert>

namespace uturn::loadtest {
namespace {

constexpr uint64_t kAreaBytes = 64ull << 20;
// A STUN header, XOR-PEER-ADDRESS for IPv6, the DATA attribute header and
// padding, DONT-FRAGMENT and FINGERPRINT (RFC 8656 §10, §11.4) fit in 128.
constexpr uint32_t kWrapping = 128;
// Allocate, 401 and error answers (NONCE, REALM, PASSWORD-ALGORITHMS,
// SOFTWARE, integrity) stay well under this.
constexpr uint32_t kMinSlot = 512;
// io_uring's recvmsg puts its header (io_uring_recvmsg_out) and the source
// address in front of the payload in a provided buffer.
constexpr uint32_t kRecvHeader = 16 + 128;

uint32_t FloorPowerOfTwo(uint64_t x) {
  assert(x > 0);
  uint32_t p = 1;
  while (static_cast<uint64_t>(p) * 2 <= x && p < (1u << 30)) p *= 2;
  return p;
}

}  // namespace

uint64_t PlanTick(const Pacer& pacer, uint64_t next, uint64_t due, uint32_t cap,
                  std::vector<SendRun>* runs) {
  runs->clear();
  const uint64_t end = std::min(due, next + cap);
  while (next < end) {
    const uint64_t run = pacer.RunLength(next, end - next);
    assert(run > 0 && run <= end - next);
    runs->push_back({pacer.AllocationOf(next), next, static_cast<uint32_t>(run)});
    next += run;
  }
  return next;
}

BufferSizes SizeBuffers(uint32_t payload) {
  BufferSizes s;
  s.slot_size = std::max(kMinSlot, (payload + kWrapping + 63) / 64 * 64);
  s.pool_slots = static_cast<uint32_t>(std::clamp<uint64_t>(kAreaBytes / s.slot_size, 256, 8192));
  // A quarter of the pool per turn leaves the rest for echoes, requests and
  // sends whose completions were not reaped yet.
  s.tick_cap = std::min<uint32_t>(1024, s.pool_slots / 4);
  s.recv_size = s.slot_size + kRecvHeader;
  s.recv_buffers = std::clamp<uint32_t>(FloorPowerOfTwo(kAreaBytes / s.recv_size), 64, 4096);
  return s;
}

}  // namespace uturn::loadtest
