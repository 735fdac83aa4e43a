#include "server/port_pool.h"

#include <cassert>

namespace uturn::server {

PortPool::PortPool(uint16_t min_port, uint16_t max_port, uint32_t random_start)
    : min_(min_port), used_(static_cast<size_t>(max_port - min_port) + 1, false) {
  assert(min_port <= max_port);
  cursor_ = random_start % size();
}

std::optional<uint16_t> PortPool::Take(bool even, bool with_next) {
  const uint32_t n = size();
  for (uint32_t step = 0; step < n; ++step) {
    const uint32_t i = (cursor_ + step) % n;
    const uint32_t port = min_ + i;
    if (used_[i]) continue;
    if (even && port % 2 != 0) continue;
    if (with_next && (i + 1 >= n || used_[i + 1])) continue;
    used_[i] = true;
    ++used_count_;
    if (with_next) {
      used_[i + 1] = true;
      ++used_count_;
    }
    cursor_ = (i + (with_next ? 2 : 1)) % n;
    return static_cast<uint16_t>(port);
  }
  return std::nullopt;
}

void PortPool::Release(uint16_t port) {
  assert(port >= min_ && port - min_ < static_cast<int>(size()));
  const uint32_t i = port - min_;
  assert(used_[i] && "port released twice");
  if (!used_[i]) return;
  used_[i] = false;
  --used_count_;
}

bool PortPool::in_use(uint16_t port) const {
  if (port < min_ || static_cast<uint32_t>(port - min_) >= size()) return false;
  return used_[port - min_];
}

void Reservations::Add(const Entry& entry) { entries_.push_back(entry); }

std::optional<Reservations::Entry> Reservations::Claim(uint64_t token, int64_t now_ns) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].token != token) continue;
    const Entry e = entries_[i];
    if (e.expires_ns <= now_ns) return std::nullopt;
    entries_[i] = entries_.back();
    entries_.pop_back();
    return e;
  }
  return std::nullopt;
}

std::vector<Reservations::Entry> Reservations::TakeExpired(int64_t now_ns) {
  std::vector<Entry> out;
  for (size_t i = 0; i < entries_.size();) {
    if (entries_[i].expires_ns <= now_ns) {
      out.push_back(entries_[i]);
      entries_[i] = entries_.back();
      entries_.pop_back();
    } else {
      ++i;
    }
  }
  return out;
}

std::vector<Reservations::Entry> Reservations::TakeAll() {
  std::vector<Entry> out;
  out.swap(entries_);
  return out;
}

}  // namespace uturn::server
