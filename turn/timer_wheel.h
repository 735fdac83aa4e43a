// A hierarchical timing wheel for one shard's deadlines (DESIGN.md §Time):
// allocation lifetimes (up to 3600 s), permissions (300 s), channels (600 s)
// and their cooldowns. Sans-IO: time only comes in as arguments.
//
// Deadlines are kept exactly (nanoseconds); the wheel only uses ticks of
// `resolution` to place them. Four levels of 64 slots cover 64^4 ticks
// (46.6 hours at 10 ms); later deadlines wait in an overflow list that is
// re-sorted every 64^4 ticks. A timer sits in the level of the highest 6-bit
// digit in which its tick differs from the wheel's current tick, so every
// entry of level l shares the current tick's digits above l, and firing
// never needs to look at more than the slots that are due.
//
// Costs: Schedule, Cancel and reschedule are O(1) on intrusive lists (no
// heap allocation: the Node lives in the caller's object). Advance is
// O(slots that hold something + entries moved), however far time jumps.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace uturn::turn {

class TimerWheel {
 public:
  // One timer, embedded in its owner (for the TURN core: the Allocation).
  // Not copyable or movable: the wheel points at it while it is scheduled.
  // Destroying a scheduled node cancels it.
  class Node {
   public:
    Node() = default;
    explicit Node(uint64_t k) : key(k) {}
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    ~Node();

    bool scheduled() const { return wheel_ != nullptr; }
    // The deadline it was scheduled for (meaningful while scheduled).
    absl::Time deadline() const { return absl::FromUnixNanos(deadline_ns_); }

    uint64_t key = 0;  // the owner's id, for the fire callback

   private:
    friend class TimerWheel;
    Node* prev_ = nullptr;
    Node* next_ = nullptr;
    TimerWheel* wheel_ = nullptr;
    int64_t deadline_ns_ = 0;
    uint16_t slot_ = 0;  // index into TimerWheel::slots_
  };

  static constexpr int kLevels = 4;
  static constexpr int kSlotBits = 6;
  static constexpr int kSlotsPerLevel = 1 << kSlotBits;  // 64: one uint64_t bitmap

  // `resolution`: the tick; deadlines within one tick share a slot. Must be
  // positive (asserted). 10 ms is far below any TURN timer's tolerance.
  explicit TimerWheel(absl::Duration resolution = absl::Milliseconds(10));
  // Unlinks every node still scheduled (they become unscheduled).
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Schedules `node` for `deadline`, or moves it there if it is scheduled
  // already. `now` is the caller's current time (the wheel never runs ahead
  // of it). A deadline at or before now fires on the next Advance. The
  // deadline must be finite.
  void Schedule(Node* node, absl::Time deadline, absl::Time now);
  // Unschedules `node`; nothing if it is not scheduled.
  void Cancel(Node* node);

  // Fires, in deadline order by tick (and in no particular order within one
  // tick), every node whose deadline is at or before `now`: each is
  // unscheduled, then passed to `fire`, which may schedule or cancel any
  // node (including the one fired) or destroy it. Returns how many fired.
  size_t Advance(absl::Time now, absl::FunctionRef<void(Node*)> fire);

  // No later than the earliest deadline: exact for deadlines due within the
  // current 64-tick block, otherwise the start of the slot that holds the
  // earliest one (Advance at that time moves it closer, which the next call
  // then reports). InfiniteFuture when nothing is scheduled.
  absl::Time NextDeadline() const;

  size_t size() const { return count_; }
  absl::Duration resolution() const { return absl::Nanoseconds(resolution_ns_); }

 private:
  static constexpr size_t kWheelSlots = size_t{kLevels} * kSlotsPerLevel;
  static constexpr uint16_t kOverflowSlot = kWheelSlots;      // beyond the top level
  static constexpr uint16_t kFiringSlot = kWheelSlots + 1;    // taken out by Advance
  static constexpr int64_t kNoTick = INT64_MAX;

  struct Slot {
    Node* head = nullptr;
    // A lower bound of the deadlines in the slot (exact after a rescan);
    // only kept for level 0, which NextDeadline reports exactly.
    int64_t min_ns = INT64_MAX;
  };

  int64_t TickOf(int64_t ns) const;
  void Insert(Node* node);
  void Link(Node* node, uint16_t slot);
  void Unlink(Node* node);
  // Moves every node of `slot` into the firing list and returns its head.
  Node* Take(uint16_t slot);
  // The tick of the next thing Advance must do (fire a level-0 slot or
  // cascade a higher one), or kNoTick.
  int64_t NextEventTick() const;
  // Re-inserts the slots whose time has come at tick `current_`, top down.
  void Cascade();
  size_t FireCurrentSlot(int64_t now_ns, absl::FunctionRef<void(Node*)> fire);

  int64_t resolution_ns_;
  int64_t current_ = 0;  // the tick the wheel stands at
  size_t count_ = 0;     // scheduled nodes, wherever they are
  std::array<uint64_t, kLevels> occupied_{};  // bit s of [l]: slot l*64+s non-empty
  std::array<Slot, kWheelSlots + 2> slots_{};
};

}  // namespace uturn::turn
