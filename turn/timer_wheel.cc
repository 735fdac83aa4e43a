#include "turn/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace uturn::turn {
namespace {

constexpr uint64_t kSlotMask = TimerWheel::kSlotsPerLevel - 1;

constexpr int Shift(int level) { return level * TimerWheel::kSlotBits; }

// Floor division (ticks of times before 1970 round down, not toward zero).
int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

TimerWheel::Node::~Node() {
  if (wheel_ != nullptr) wheel_->Cancel(this);
}

TimerWheel::TimerWheel(absl::Duration resolution)
    : resolution_ns_(absl::ToInt64Nanoseconds(resolution)) {
  assert(resolution_ns_ > 0);
  if (resolution_ns_ <= 0) resolution_ns_ = 1;
}

TimerWheel::~TimerWheel() {
  for (Slot& s : slots_) {
    for (Node* n = s.head; n != nullptr;) {
      Node* next = n->next_;
      n->prev_ = n->next_ = nullptr;
      n->wheel_ = nullptr;
      n = next;
    }
    s.head = nullptr;
  }
}

int64_t TimerWheel::TickOf(int64_t ns) const { return FloorDiv(ns, resolution_ns_); }

void TimerWheel::Link(Node* node, uint16_t slot) {
  Slot& s = slots_[slot];
  node->slot_ = slot;
  node->prev_ = nullptr;
  node->next_ = s.head;
  if (s.head != nullptr) s.head->prev_ = node;
  s.head = node;
  if (slot < kWheelSlots) {
    occupied_[slot / kSlotsPerLevel] |= uint64_t{1} << (slot % kSlotsPerLevel);
    if (slot < kSlotsPerLevel) s.min_ns = std::min(s.min_ns, node->deadline_ns_);
  }
}

void TimerWheel::Unlink(Node* node) {
  Slot& s = slots_[node->slot_];
  if (node->prev_ != nullptr) {
    node->prev_->next_ = node->next_;
  } else {
    assert(s.head == node);
    s.head = node->next_;
  }
  if (node->next_ != nullptr) node->next_->prev_ = node->prev_;
  node->prev_ = node->next_ = nullptr;
  if (s.head == nullptr && node->slot_ < kWheelSlots) {
    occupied_[node->slot_ / kSlotsPerLevel] &= ~(uint64_t{1} << (node->slot_ % kSlotsPerLevel));
    s.min_ns = INT64_MAX;
  }
}

void TimerWheel::Insert(Node* node) {
  // A deadline already past goes in the current slot: it fires at once.
  const int64_t tick = std::max(TickOf(node->deadline_ns_), current_);
  const uint64_t differ = static_cast<uint64_t>(tick) ^ static_cast<uint64_t>(current_);
  const int level = differ == 0 ? 0 : (std::bit_width(differ) - 1) / kSlotBits;
  if (level >= kLevels) {
    Link(node, kOverflowSlot);
    return;
  }
  const uint64_t index = (static_cast<uint64_t>(tick) >> Shift(level)) & kSlotMask;
  Link(node, static_cast<uint16_t>(level * kSlotsPerLevel + static_cast<int>(index)));
}

void TimerWheel::Schedule(Node* node, absl::Time deadline, absl::Time now) {
  assert(node != nullptr);
  assert(deadline != absl::InfiniteFuture() && deadline != absl::InfinitePast());
  assert(node->wheel_ == nullptr || node->wheel_ == this);
  if (node->wheel_ != nullptr) {
    Unlink(node);
    node->wheel_ = nullptr;
    --count_;
  }
  // An empty wheel may stand anywhere: move it to `now`, so that a wheel
  // that sat idle does not walk through the empty ticks in between.
  if (count_ == 0) current_ = TickOf(absl::ToUnixNanos(now));
  node->deadline_ns_ = absl::ToUnixNanos(deadline);
  node->wheel_ = this;
  ++count_;
  Insert(node);
}

void TimerWheel::Cancel(Node* node) {
  assert(node != nullptr);
  if (node->wheel_ == nullptr) return;
  assert(node->wheel_ == this);
  Unlink(node);
  node->wheel_ = nullptr;
  --count_;
}

TimerWheel::Node* TimerWheel::Take(uint16_t slot) {
  Slot& s = slots_[slot];
  Node* head = s.head;
  s.head = nullptr;
  s.min_ns = INT64_MAX;
  if (slot < kWheelSlots) {
    occupied_[slot / kSlotsPerLevel] &= ~(uint64_t{1} << (slot % kSlotsPerLevel));
  }
  assert(slots_[kFiringSlot].head == nullptr);
  slots_[kFiringSlot].head = head;
  for (Node* n = head; n != nullptr; n = n->next_) n->slot_ = kFiringSlot;
  return head;
}

int64_t TimerWheel::NextEventTick() const {
  // Level 0 holds ticks of the current 64-tick block, at or after current_.
  const uint64_t cur = static_cast<uint64_t>(current_);
  const uint64_t at0 = occupied_[0] & (~uint64_t{0} << (cur & kSlotMask));
  if (at0 != 0) {
    return static_cast<int64_t>((cur & ~kSlotMask) + static_cast<uint64_t>(std::countr_zero(at0)));
  }
  // Level l holds slots strictly after the current digit l, within the
  // current block of level l + 1; lower levels always come first.
  for (int l = 1; l < kLevels; ++l) {
    const uint64_t digit = (cur >> Shift(l)) & kSlotMask;
    const uint64_t later = digit == kSlotMask ? 0 : (~uint64_t{0} << (digit + 1));
    const uint64_t bits = occupied_[l] & later;
    if (bits != 0) {
      const uint64_t block = (cur >> Shift(l + 1)) << Shift(l + 1);
      return static_cast<int64_t>(block +
                                  (static_cast<uint64_t>(std::countr_zero(bits)) << Shift(l)));
    }
  }
  if (slots_[kOverflowSlot].head != nullptr) {
    return static_cast<int64_t>(((cur >> Shift(kLevels)) + 1) << Shift(kLevels));
  }
  return kNoTick;
}

void TimerWheel::Cascade() {
  const uint64_t cur = static_cast<uint64_t>(current_);
  auto reinsert = [this](uint16_t slot) {
    for (Node* n = Take(slot); n != nullptr; n = slots_[kFiringSlot].head) {
      Unlink(n);
      Insert(n);
    }
  };
  // Top down: an entry moved from level l may land in the slot of level
  // l - 1 that starts at this same tick, which is then moved in turn.
  if ((cur & ((uint64_t{1} << Shift(kLevels)) - 1)) == 0 &&
      slots_[kOverflowSlot].head != nullptr) {
    reinsert(kOverflowSlot);
  }
  for (int l = kLevels - 1; l >= 1; --l) {
    if ((cur & ((uint64_t{1} << Shift(l)) - 1)) != 0) continue;  // not a slot start
    const uint16_t slot =
        static_cast<uint16_t>(l * kSlotsPerLevel + static_cast<int>((cur >> Shift(l)) & kSlotMask));
    if (slots_[slot].head != nullptr) reinsert(slot);
  }
}

size_t TimerWheel::FireCurrentSlot(int64_t now_ns, absl::FunctionRef<void(Node*)> fire) {
  const uint16_t slot = static_cast<uint16_t>(static_cast<uint64_t>(current_) & kSlotMask);
  if (slots_[slot].head == nullptr) return 0;
  size_t fired = 0;
  Take(slot);
  // The callback may cancel any node, including ones still in the firing
  // list; popping from the head each time stays correct.
  while (Node* n = slots_[kFiringSlot].head) {
    Unlink(n);
    if (n->deadline_ns_ <= now_ns) {
      n->wheel_ = nullptr;
      --count_;
      ++fired;
      fire(n);
    } else {
      Insert(n);  // later within this tick: back into the same slot
    }
  }
  return fired;
}

size_t TimerWheel::Advance(absl::Time now, absl::FunctionRef<void(Node*)> fire) {
  assert(slots_[kFiringSlot].head == nullptr && "Advance is not reentrant");
  const int64_t now_ns = absl::ToUnixNanos(now);
  const int64_t target = TickOf(now_ns);
  if (count_ == 0) {
    current_ = std::max(current_, target);
    return 0;
  }
  if (target < current_) {
    // The clock went back: only entries already in the current slot can be
    // due (their deadlines were past when scheduled).
    return FireCurrentSlot(now_ns, fire);
  }
  size_t fired = 0;
  for (;;) {
    const int64_t event = NextEventTick();
    if (event > target) {
      // Nothing to do before `target`: every entry keeps its level there.
      current_ = target;
      break;
    }
    assert(event >= current_);
    current_ = event;
    Cascade();
    fired += FireCurrentSlot(now_ns, fire);
    if (event == target) break;
    // Before `target` the slot is empty now (all its deadlines are < now),
    // so the next event lies later: the loop always progresses.
  }
  return fired;
}

absl::Time TimerWheel::NextDeadline() const {
  if (count_ == 0) return absl::InfiniteFuture();
  const int64_t event = NextEventTick();
  assert(event != kNoTick);
  const uint64_t cur = static_cast<uint64_t>(current_);
  const uint64_t block0 = cur & ~kSlotMask;
  if (static_cast<uint64_t>(event) >= block0 &&
      static_cast<uint64_t>(event) < block0 + kSlotsPerLevel &&
      slots_[static_cast<uint64_t>(event) & kSlotMask].head != nullptr) {
    // A level-0 slot: its (lower-bound) minimum deadline.
    return absl::FromUnixNanos(slots_[static_cast<uint64_t>(event) & kSlotMask].min_ns);
  }
  return absl::FromUnixNanos(event * resolution_ns_);
}

}  // namespace uturn::turn
