#include "loadtest/schedule.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace uturn::loadtest {
namespace {

using Runs = std::vector<SendRun>;

TEST(PlanTick, InterleavedIsOneRunPerPacket) {
  const Pacer p(1000, 3, 1);
  Runs runs;
  EXPECT_EQ(PlanTick(p, 0, 5, 100, &runs), 5u);
  EXPECT_EQ(runs, (Runs{{0, 0, 1}, {1, 1, 1}, {2, 2, 1}, {0, 3, 1}, {1, 4, 1}}));
}

TEST(PlanTick, BurstsStartMidwayAndEndAtDue) {
  const Pacer p(1, 2, 4);
  Runs runs;
  // Packets 2..10: the rest of allocation 0's burst, a whole burst of 1,
  // then three of allocation 0's next burst.
  EXPECT_EQ(PlanTick(p, 2, 11, 100, &runs), 11u);
  EXPECT_EQ(runs, (Runs{{0, 2, 2}, {1, 4, 4}, {0, 8, 3}}));
}

TEST(PlanTick, CapBoundsAnUnpacedTick) {
  const Pacer p(0, 2, 4);
  Runs runs;
  EXPECT_EQ(PlanTick(p, 0, p.Due(1.0), 6, &runs), 6u);
  EXPECT_EQ(runs, (Runs{{0, 0, 4}, {1, 4, 2}}));
  // The next tick carries on where this one stopped.
  EXPECT_EQ(PlanTick(p, 6, p.Due(1.0), 6, &runs), 12u);
  EXPECT_EQ(runs, (Runs{{1, 6, 2}, {0, 8, 4}}));
}

TEST(PlanTick, NothingDueClearsThePlan) {
  const Pacer p(1000, 2, 1);
  Runs runs{{1, 2, 3}};
  EXPECT_EQ(PlanTick(p, 7, 7, 100, &runs), 7u);
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(PlanTick(p, 9, 4, 100, &runs), 9u);  // behind schedule never goes back
  EXPECT_TRUE(runs.empty());
}

TEST(PlanTick, OneAllocationIsOneRun) {
  const Pacer p(1, 1, 3);
  Runs runs;
  EXPECT_EQ(PlanTick(p, 0, 10, 100, &runs), 10u);
  EXPECT_EQ(runs, (Runs{{0, 0, 10}}));
}

TEST(PlanTick, CoversEveryPacketOnceAndKeepsItsStorage) {
  const Pacer p(1, 5, 3);
  Runs runs;
  runs.reserve(64);
  const SendRun* storage = runs.data();
  uint64_t next = 0, expected_first = 0;
  for (int tick = 0; tick < 50; ++tick) {
    next = PlanTick(p, next, next + 17, 11, &runs);
    for (const SendRun& r : runs) {
      EXPECT_EQ(r.first, expected_first);
      EXPECT_GT(r.count, 0u);
      EXPECT_LE(r.count, 3u);
      EXPECT_EQ(r.allocation, p.AllocationOf(r.first));
      EXPECT_EQ(r.allocation, p.AllocationOf(r.first + r.count - 1));
      expected_first += r.count;
    }
  }
  EXPECT_EQ(next, 50u * 11);  // the cap, not the 17 due, bounds each tick
  EXPECT_EQ(expected_first, next);
  EXPECT_EQ(runs.data(), storage);  // no reallocation in a steady loop
}

TEST(SizeBuffers, DefaultPayload) {
  const BufferSizes s = SizeBuffers(172);
  EXPECT_EQ(s.slot_size, 512u);  // the floor for control answers
  EXPECT_EQ(s.pool_slots, 8192u);
  EXPECT_EQ(s.tick_cap, 1024u);
  EXPECT_EQ(s.recv_size, 512u + 16 + 128);
  EXPECT_EQ(s.recv_buffers, 4096u);
}

TEST(SizeBuffers, LargestPayloadStaysNear64MiB) {
  const BufferSizes s = SizeBuffers(65000);
  EXPECT_EQ(s.slot_size, 65152u);  // 65000 + 128 rounded up to 64
  EXPECT_EQ(s.pool_slots, 1030u);  // 64 MiB / 65152
  EXPECT_EQ(s.tick_cap, 257u);
  EXPECT_EQ(s.recv_size, 65152u + 144);
  EXPECT_EQ(s.recv_buffers, 1024u);  // largest power of two <= 64 MiB / 65296
}

TEST(SizeBuffers, InvariantsAcrossPayloads) {
  for (uint32_t payload = 24; payload <= 65000; payload += 997) {
    const BufferSizes s = SizeBuffers(payload);
    EXPECT_GE(s.slot_size, payload + 128) << payload;
    EXPECT_EQ(s.slot_size % 64, 0u) << payload;
    EXPECT_GT(s.recv_size, s.slot_size) << payload;
    EXPECT_EQ(s.recv_buffers & (s.recv_buffers - 1), 0u) << payload;
    EXPECT_GE(s.recv_buffers, 64u) << payload;
    EXPECT_LE(s.recv_buffers, 4096u) << payload;
    EXPECT_GE(s.pool_slots, 4 * s.tick_cap) << payload;
    EXPECT_GT(s.tick_cap, 0u) << payload;
  }
}

}  // namespace
}  // namespace uturn::loadtest
