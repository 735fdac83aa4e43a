// EVEN-PORT reservations (RFC 8656 §7.2) shared by every shard. A client's
// second Allocate, the one that redeems the RESERVATION-TOKEN, comes from
// another socket, which the kernel's SO_REUSEPORT hash may hand to another
// shard than the one that reserved the port. So the registry is the
// process's, behind a mutex: it is touched by Allocates with EVEN-PORT R=1
// or a RESERVATION-TOKEN and by the once-a-second housekeeping, never per
// packet.
//
// A reserved port belongs to the slice of the shard that reserved it (its
// "owner"). A shard that redeems another's token reads the socket itself
// and, when it closes it, hands the port back to the owner through
// ReturnPort; the owner puts it back in its pool in its housekeeping.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "server/port_pool.h"
#include "stun/address.h"

namespace uturn::server {

class SharedReservations {
 public:
  explicit SharedReservations(uint32_t shards);
  ~SharedReservations();  // closes the sockets of reservations never redeemed
  SharedReservations(const SharedReservations&) = delete;
  SharedReservations& operator=(const SharedReservations&) = delete;

  struct Claimed {
    Reservations::Entry entry;
    uint32_t owner;  // the shard whose port slice the port is in
  };

  void Add(uint32_t owner, const Reservations::Entry& entry);
  // The reservation for `token` if it exists in any shard and has not
  // expired; it is removed (the caller now owns its socket). The token alone
  // names it: RFC 8656 §7.2 forbids REQUESTED-ADDRESS-FAMILY next to a
  // RESERVATION-TOKEN, so the reserved socket's family is the answer's.
  std::optional<Claimed> Claim(uint64_t token, int64_t now_ns);
  // `owner`'s expired reservations; the caller closes them and frees the ports.
  std::vector<Reservations::Entry> TakeExpired(uint32_t owner, int64_t now_ns);
  // A port of `owner`'s slice that another shard no longer uses.
  void ReturnPort(uint32_t owner, stun::Family family, uint16_t port);
  std::vector<std::pair<stun::Family, uint16_t>> TakeReturnedPorts(uint32_t owner);

  size_t size() const;
  uint32_t shards() const { return static_cast<uint32_t>(by_owner_.size()); }

 private:
  mutable std::mutex mu_;
  std::vector<Reservations> by_owner_;
  std::vector<std::vector<std::pair<stun::Family, uint16_t>>> returned_;
};

}  // namespace uturn::server
