// What uturn-load sends in one turn of its loop, and how big its fixed
// buffers are. Pure functions, unit-tested; the runner queues every packet
// of a turn and hands them to the kernel together (one io_uring_enter).
#pragma once

#include <cstdint>
#include <vector>

#include "loadtest/probe.h"

namespace uturn::loadtest {

// Consecutive packets `first` .. `first + count - 1` of the run, all for
// the allocation at position `allocation` of the list that carries data.
struct SendRun {
  uint32_t allocation = 0;
  uint64_t first = 0;
  uint32_t count = 0;
  friend bool operator==(const SendRun&, const SendRun&) = default;
};

// Splits packets [next, min(due, next + cap)) into runs (`runs` is cleared
// first and keeps its capacity, so a steady loop does not allocate).
// Returns the packet number after the last one planned.
uint64_t PlanTick(const Pacer& pacer, uint64_t next, uint64_t due, uint32_t cap,
                  std::vector<SendRun>* runs);

struct BufferSizes {
  uint32_t slot_size = 0;     // bytes per outgoing datagram slot
  uint32_t pool_slots = 0;    // outgoing slots (PacketPool)
  uint32_t tick_cap = 0;      // packets planned per loop turn at most
  uint32_t recv_size = 0;     // bytes per receive buffer
  uint32_t recv_buffers = 0;  // receive buffers, a power of two (io_uring's rule)
};

// Room for a `payload`-byte probe wrapped in a Send indication or Data
// indication (header and attributes, IPv6 peer), or any control response;
// each of the two buffer areas stays around 64 MiB even for 65000-byte payloads.
BufferSizes SizeBuffers(uint32_t payload);

}  // namespace uturn::loadtest
