// The header uturn-load writes at the start of every payload, so that the
// receiving side (peer, or client in echo mode) can tell which allocation and
// packet it is and how long it took. Little-endian; the rest of the payload
// is filler. 24 bytes: magic(4) allocation(4) sequence(8) sent_ns(8).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace uturn::loadtest {

inline constexpr uint32_t kProbeMagic = 0x554c4f44;  // "ULOD"
inline constexpr size_t kProbeSize = 24;

struct Probe {
  uint32_t allocation = 0;
  uint64_t sequence = 0;
  uint64_t sent_ns = 0;  // the sender's monotonic clock
  friend bool operator==(const Probe&, const Probe&) = default;
};

// Writes the header into out[0..24); `out` must hold at least kProbeSize.
void WriteProbe(const Probe& p, std::span<uint8_t> out);
// nullopt if too short or the magic differs (not one of ours).
std::optional<Probe> ReadProbe(std::span<const uint8_t> in);

// Packet k of a run goes to allocation (k / burst) % allocations: burst = 1
// interleaves one packet per allocation in turn, burst = B sends B in a row.
// Due(elapsed) is how many packets should have been sent by then at `rate`
// packets/s (rate 0: unpaced, the caller sends as fast as it can).
class Pacer {
 public:
  Pacer(double rate, uint32_t allocations, uint32_t burst);
  uint64_t Due(double elapsed_seconds) const;
  uint32_t AllocationOf(uint64_t packet) const;
  // Packets from `packet` on that go to the same allocation, at most `limit`.
  uint64_t RunLength(uint64_t packet, uint64_t limit) const;
  double rate() const { return rate_; }

 private:
  double rate_;
  uint32_t allocations_;
  uint32_t burst_;
};

}  // namespace uturn::loadtest
