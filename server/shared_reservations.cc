#include "server/shared_reservations.h"

#include <unistd.h>

#include <cassert>

namespace uturn::server {

SharedReservations::SharedReservations(uint32_t shards) : by_owner_(shards), returned_(shards) {
  assert(shards > 0);
}

SharedReservations::~SharedReservations() {
  for (Reservations& r : by_owner_) {
    for (const Reservations::Entry& e : r.TakeAll()) ::close(e.fd);
  }
}

void SharedReservations::Add(uint32_t owner, const Reservations::Entry& entry) {
  assert(owner < by_owner_.size());
  std::lock_guard<std::mutex> lock(mu_);
  by_owner_[owner].Add(entry);
}

std::optional<SharedReservations::Claimed> SharedReservations::Claim(uint64_t token,
                                                                     int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t owner = 0; owner < by_owner_.size(); ++owner) {
    if (auto e = by_owner_[owner].Claim(token, now_ns)) return Claimed{*e, owner};
  }
  return std::nullopt;
}

std::vector<Reservations::Entry> SharedReservations::TakeExpired(uint32_t owner, int64_t now_ns) {
  assert(owner < by_owner_.size());
  std::lock_guard<std::mutex> lock(mu_);
  return by_owner_[owner].TakeExpired(now_ns);
}

void SharedReservations::ReturnPort(uint32_t owner, stun::Family family, uint16_t port) {
  assert(owner < returned_.size());
  std::lock_guard<std::mutex> lock(mu_);
  returned_[owner].emplace_back(family, port);
}

std::vector<std::pair<stun::Family, uint16_t>> SharedReservations::TakeReturnedPorts(
    uint32_t owner) {
  assert(owner < returned_.size());
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(returned_[owner], {});
}

size_t SharedReservations::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Reservations& r : by_owner_) n += r.size();
  return n;
}

}  // namespace uturn::server
