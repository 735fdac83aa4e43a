// The relay port range of one relay address: which ports this shard has
// handed out, scanned from a random start so that consecutive allocations do
// not get predictable ports (RFC 8656 §7.2 leaves the choice to the server;
// RFC 6056 explains why randomness helps). Plus the EVEN-PORT reservations
// (RFC 8656 §7.2, §18.10): a port held for a later Allocate that presents
// its RESERVATION-TOKEN. Sans-IO: the driver binds; time comes in.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stun/address.h"

namespace uturn::server {

class PortPool {
 public:
  // [min_port, max_port]; `random_start` picks where the first scan begins.
  PortPool(uint16_t min_port, uint16_t max_port, uint32_t random_start);

  // The next free port after the previous one handed out (wrapping), marked
  // in use; `even` asks for an even port; `with_next` also takes port+1 (the
  // EVEN-PORT R bit). nullopt when no port in the range qualifies. A caller
  // whose bind fails releases the port and calls again: the scan moves on.
  std::optional<uint16_t> Take(bool even, bool with_next);
  void Release(uint16_t port);
  bool in_use(uint16_t port) const;

  uint32_t size() const { return static_cast<uint32_t>(used_.size()); }
  uint32_t free_count() const { return size() - used_count_; }

 private:
  uint16_t min_;
  std::vector<bool> used_;
  uint32_t used_count_ = 0;
  uint32_t cursor_;  // index of the next port to try
};

// RFC 8656 §7.2: "the server ... reserves the next highest port ... for
// possible use in a future allocation ... for approximately 30 seconds".
// The socket bound to the reserved port (`fd`) is kept so nothing else takes
// the port; claiming the token hands it over.
class Reservations {
 public:
  static constexpr int64_t kLifetimeNs = 30'000'000'000;

  struct Entry {
    uint64_t token = 0;
    stun::Family family = stun::Family::kIPv4;
    uint16_t port = 0;
    int fd = -1;
    int64_t expires_ns = 0;
  };

  void Add(const Entry& entry);
  // The reservation for `token` if it exists, has not expired and is of
  // `family`; only a returned reservation is removed (expired ones go with
  // TakeExpired).
  std::optional<Entry> Claim(uint64_t token, int64_t now_ns);
  // Removes and returns the expired ones (the caller closes and releases).
  std::vector<Entry> TakeExpired(int64_t now_ns);
  // Removes and returns all (shutdown).
  std::vector<Entry> TakeAll();
  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;  // few at a time: a linear scan is fine
};

}  // namespace uturn::server
