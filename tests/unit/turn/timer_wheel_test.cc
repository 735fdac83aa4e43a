// The hierarchical timer wheel on its own: exact firing, ordering, cascading
// between levels, the overflow beyond the top level, cancel/reschedule, time
// jumps, and a randomized comparison with a plain ordered map.
#include "turn/timer_wheel.h"

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace uturn::turn {
namespace {

using Node = TimerWheel::Node;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// Collects fired keys.
struct Fired {
  std::vector<uint64_t> keys;
  auto fn() {
    return [this](Node* n) { keys.push_back(n->key); };
  }
};

// Follows NextDeadline() as a host would until `limit`; returns the wake-ups.
int WalkTo(TimerWheel& w, absl::Time limit, Fired& fired) {
  int wakeups = 0;
  for (absl::Time t = w.NextDeadline(); t <= limit; t = w.NextDeadline()) {
    ++wakeups;
    w.Advance(t, fired.fn());
    if (wakeups > 1000) break;
  }
  return wakeups;
}

TEST(TimerWheel, EmptyHasNoDeadlineAndAdvancesHarmlessly) {
  TimerWheel w;
  EXPECT_EQ(w.NextDeadline(), absl::InfiniteFuture());
  Fired f;
  EXPECT_EQ(w.Advance(kT0, f.fn()), 0u);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.resolution(), absl::Milliseconds(10));
}

TEST(TimerWheel, FiresExactlyAtItsDeadlineNotOneNanosecondBefore) {
  TimerWheel w;
  Node n(7);
  const absl::Time d = kT0 + absl::Milliseconds(123) + absl::Nanoseconds(456);
  w.Schedule(&n, d, kT0);
  EXPECT_TRUE(n.scheduled());
  EXPECT_EQ(n.deadline(), d);
  EXPECT_EQ(w.NextDeadline(), d);  // within the first level: exact
  Fired f;
  EXPECT_EQ(w.Advance(d - absl::Nanoseconds(1), f.fn()), 0u);
  EXPECT_TRUE(f.keys.empty());
  EXPECT_EQ(w.NextDeadline(), d);
  EXPECT_EQ(w.Advance(d, f.fn()), 1u);
  EXPECT_EQ(f.keys, std::vector<uint64_t>{7});
  EXPECT_FALSE(n.scheduled());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerWheel, FiresInDeadlineOrderAcrossLevels) {
  TimerWheel w;
  // 1 ms .. 1 h apart: every level is used.
  const absl::Duration offsets[] = {absl::Seconds(3600), absl::Milliseconds(1),
                                    absl::Seconds(300),  absl::Milliseconds(650),
                                    absl::Seconds(41),   absl::Seconds(600),
                                    absl::Milliseconds(20), absl::Seconds(2700)};
  std::vector<std::unique_ptr<Node>> nodes;
  for (size_t i = 0; i < std::size(offsets); ++i) {
    nodes.push_back(std::make_unique<Node>(i));
    w.Schedule(nodes.back().get(), kT0 + offsets[i], kT0);
  }
  Fired f;
  absl::Time now = kT0;
  int wakeups = 0;
  while (w.size() > 0) {
    const absl::Time next = w.NextDeadline();
    ASSERT_GE(next, now - absl::Milliseconds(10)) << "NextDeadline went back";
    now = next;
    const size_t before = f.keys.size();
    w.Advance(now, f.fn());
    for (size_t i = before; i < f.keys.size(); ++i) {
      // Fired exactly at its deadline: NextDeadline led the host there.
      EXPECT_EQ(now, kT0 + offsets[f.keys[i]]) << f.keys[i];
    }
    ASSERT_LT(++wakeups, 40) << "NextDeadline does not converge";
  }
  EXPECT_EQ(f.keys, (std::vector<uint64_t>{1, 6, 3, 4, 2, 5, 7, 0}));
}

TEST(TimerWheel, FarDeadlinesCascadeWithFewWakeups) {
  TimerWheel w;
  Node n(1);
  const absl::Time d = kT0 + absl::Seconds(3599) + absl::Milliseconds(3);
  w.Schedule(&n, d, kT0);
  EXPECT_LE(w.NextDeadline(), d);
  EXPECT_GT(w.NextDeadline(), kT0);
  Fired f;
  // One wake-up per level at most, then the exact deadline.
  const int wakeups = WalkTo(w, d, f);
  EXPECT_LE(wakeups, TimerWheel::kLevels + 1);
  EXPECT_EQ(f.keys, std::vector<uint64_t>{1});
}

TEST(TimerWheel, BeyondTheTopLevelWaitsInOverflowAndStillFiresOnTime) {
  TimerWheel w;
  // 64^4 ticks of 10 ms is 46.6 h; 100 h and 30 days are past it.
  Node a(1), b(2);
  const absl::Time da = kT0 + absl::Hours(100) + absl::Milliseconds(5);
  const absl::Time db = kT0 + absl::Hours(24 * 30);
  w.Schedule(&a, da, kT0);
  w.Schedule(&b, db, kT0);
  EXPECT_LE(w.NextDeadline(), da);
  Fired f;
  EXPECT_EQ(w.Advance(da - absl::Nanoseconds(1), f.fn()), 0u);
  EXPECT_EQ(w.NextDeadline(), da);  // cascaded all the way down
  EXPECT_EQ(w.Advance(da, f.fn()), 1u);
  EXPECT_EQ(w.Advance(db - absl::Milliseconds(1), f.fn()), 0u);
  EXPECT_EQ(w.Advance(db, f.fn()), 1u);
  EXPECT_EQ(f.keys, (std::vector<uint64_t>{1, 2}));
}

TEST(TimerWheel, OneBigTimeJumpFiresEverythingDueOnceAndKeepsTheRest) {
  TimerWheel w;
  std::vector<std::unique_ptr<Node>> nodes;
  for (uint64_t i = 0; i < 1000; ++i) {
    nodes.push_back(std::make_unique<Node>(i));
    // Deadlines every 7.3 s: the first 500 within the jump below.
    w.Schedule(nodes.back().get(), kT0 + absl::Milliseconds(7300 * (i + 1)), kT0);
  }
  Fired f;
  const absl::Time jump = kT0 + absl::Milliseconds(7300 * 500);
  EXPECT_EQ(w.Advance(jump, f.fn()), 500u);
  std::set<uint64_t> got(f.keys.begin(), f.keys.end());
  EXPECT_EQ(got.size(), 500u);
  EXPECT_EQ(*got.rbegin(), 499u);
  EXPECT_EQ(w.size(), 500u);
  EXPECT_LE(w.NextDeadline(), kT0 + absl::Milliseconds(7300 * 501));
  EXPECT_GT(w.NextDeadline(), jump);
  EXPECT_EQ(w.Advance(jump + absl::Hours(1000), f.fn()), 500u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CancelAndDestroyUnschedule) {
  TimerWheel w;
  Node a(1), b(2);
  w.Schedule(&a, kT0 + absl::Seconds(1), kT0);
  w.Schedule(&b, kT0 + absl::Seconds(1), kT0);
  {
    Node c(3);
    w.Schedule(&c, kT0 + absl::Seconds(1), kT0);
    EXPECT_EQ(w.size(), 3u);
  }  // destroyed while scheduled: cancelled
  EXPECT_EQ(w.size(), 2u);
  w.Cancel(&a);
  w.Cancel(&a);  // twice: nothing
  EXPECT_FALSE(a.scheduled());
  EXPECT_EQ(w.size(), 1u);
  Fired f;
  EXPECT_EQ(w.Advance(kT0 + absl::Seconds(2), f.fn()), 1u);
  EXPECT_EQ(f.keys, std::vector<uint64_t>{2});
  // Cancelling the last one leaves an empty wheel.
  w.Schedule(&a, kT0 + absl::Seconds(5), kT0 + absl::Seconds(2));
  w.Cancel(&a);
  EXPECT_EQ(w.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerWheel, RescheduleMovesEarlierAndLater) {
  TimerWheel w;
  Node n(1);
  w.Schedule(&n, kT0 + absl::Seconds(300), kT0);
  w.Schedule(&n, kT0 + absl::Milliseconds(50), kT0);  // earlier
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.NextDeadline(), kT0 + absl::Milliseconds(50));
  w.Schedule(&n, kT0 + absl::Seconds(600), kT0);  // later
  Fired f;
  EXPECT_EQ(w.Advance(kT0 + absl::Seconds(599), f.fn()), 0u);
  EXPECT_EQ(w.Advance(kT0 + absl::Seconds(600), f.fn()), 1u);
}

TEST(TimerWheel, PastDeadlineFiresOnTheNextAdvance) {
  TimerWheel w;
  Node n(1);
  w.Schedule(&n, kT0 - absl::Seconds(5), kT0);
  EXPECT_LE(w.NextDeadline(), kT0);
  Fired f;
  EXPECT_EQ(w.Advance(kT0, f.fn()), 1u);
}

TEST(TimerWheel, ClockGoingBackDoesNothingHarmful) {
  TimerWheel w;
  Node n(1);
  w.Schedule(&n, kT0 + absl::Seconds(10), kT0);
  Fired f;
  EXPECT_EQ(w.Advance(kT0 + absl::Seconds(5), f.fn()), 0u);
  EXPECT_EQ(w.Advance(kT0, f.fn()), 0u);  // back 5 s
  EXPECT_EQ(w.Advance(kT0 + absl::Seconds(10), f.fn()), 1u);
}

TEST(TimerWheel, CallbackMayRescheduleCancelOrDestroy) {
  TimerWheel w;
  auto a = std::make_unique<Node>(1);
  auto b = std::make_unique<Node>(2);
  auto c = std::make_unique<Node>(3);
  // All three share one slot (same 10 ms tick).
  const absl::Time d = kT0 + absl::Milliseconds(101);
  w.Schedule(a.get(), d, kT0);
  w.Schedule(b.get(), d + absl::Milliseconds(1), kT0);
  w.Schedule(c.get(), d + absl::Milliseconds(2), kT0);
  std::vector<uint64_t> fired;
  const size_t n = w.Advance(d + absl::Milliseconds(5), [&](Node* node) {
    fired.push_back(node->key);
    if (node->key == 1) w.Schedule(node, d + absl::Seconds(1), d);  // again, later
    if (node->key != 1) {
      // Whichever of 2 and 3 fires first cancels the other, then dies.
      w.Cancel(node->key == 2 ? c.get() : b.get());
      (node->key == 2 ? b : c).reset();
    }
  });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(fired.size(), 2u);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(a->scheduled());
  EXPECT_EQ(w.NextDeadline() <= d + absl::Seconds(1), true);
  Fired f;
  EXPECT_EQ(w.Advance(d + absl::Seconds(1), f.fn()), 1u);
}

TEST(TimerWheel, SameTickLaterDeadlineStaysUntilDue) {
  TimerWheel w;
  Node a(1), b(2);
  w.Schedule(&a, kT0 + absl::Milliseconds(1), kT0);
  w.Schedule(&b, kT0 + absl::Milliseconds(9), kT0);  // same 10 ms tick
  Fired f;
  EXPECT_EQ(w.Advance(kT0 + absl::Milliseconds(1), f.fn()), 1u);
  EXPECT_EQ(w.NextDeadline(), kT0 + absl::Milliseconds(9));  // exact, not the tick
  EXPECT_EQ(w.Advance(kT0 + absl::Milliseconds(8), f.fn()), 0u);
  EXPECT_EQ(w.Advance(kT0 + absl::Milliseconds(9), f.fn()), 1u);
}

TEST(TimerWheel, IdleWheelRestartsAtNow) {
  TimerWheel w;
  Node n(1);
  Fired f;
  w.Advance(kT0, f.fn());
  // Years later, an empty wheel takes `now` as its position.
  const absl::Time later = kT0 + absl::Hours(24 * 365 * 3);
  w.Schedule(&n, later + absl::Seconds(1), later);
  EXPECT_EQ(WalkTo(w, later + absl::Seconds(1), f), 2);  // one cascade, then exact
  EXPECT_EQ(f.keys, std::vector<uint64_t>{1});
}

TEST(TimerWheel, DestroyingTheWheelFirstDetachesItsNodes) {
  Node n(1);
  {
    TimerWheel w;
    w.Schedule(&n, kT0 + absl::Seconds(1), kT0);
  }
  EXPECT_FALSE(n.scheduled());
}

TEST(TimerWheel, OtherResolutions) {
  TimerWheel w(absl::Milliseconds(100));
  EXPECT_EQ(w.resolution(), absl::Milliseconds(100));
  Node n(1);
  w.Schedule(&n, kT0 + absl::Milliseconds(150), kT0);
  Fired f;
  EXPECT_EQ(w.Advance(kT0 + absl::Milliseconds(149), f.fn()), 0u);
  EXPECT_EQ(w.Advance(kT0 + absl::Milliseconds(150), f.fn()), 1u);
}

// Random schedules, reschedules, cancels and advances (small steps and big
// jumps) against a multimap of deadlines: the same nodes must fire, each at
// the first Advance at or after its deadline, and NextDeadline must never be
// later than the earliest deadline.
TEST(TimerWheel, MatchesAnOrderedMapUnderRandomOperations) {
  TimerWheel w;
  constexpr size_t kNodes = 300;
  std::vector<std::unique_ptr<Node>> nodes;
  for (size_t i = 0; i < kNodes; ++i) nodes.push_back(std::make_unique<Node>(i));
  std::map<uint64_t, absl::Time> model;  // key -> deadline
  uint64_t rng = 0x2545F4914F6CDD1Dull;
  auto next = [&rng](uint64_t bound) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % bound;
  };
  absl::Time now = kT0;
  for (int step = 0; step < 20000; ++step) {
    const uint64_t op = next(100);
    const uint64_t k = next(kNodes);
    if (op < 45) {
      // Deadlines from the past to ~2 days ahead, most within an hour.
      const int64_t span_ms = next(10) == 0 ? 2 * 86'400'000 : 3'600'000;
      const absl::Time d = now + absl::Milliseconds(static_cast<int64_t>(next(
                                     static_cast<uint64_t>(span_ms)))) -
                           absl::Milliseconds(50);
      w.Schedule(nodes[k].get(), d, now);
      model[k] = d;
    } else if (op < 55) {
      w.Cancel(nodes[k].get());
      model.erase(k);
    } else {
      const uint64_t kind = next(10);
      const absl::Duration dt = kind < 6   ? absl::Milliseconds(static_cast<int64_t>(next(30)))
                                : kind < 9 ? absl::Seconds(static_cast<int64_t>(next(120)))
                                           : absl::Hours(static_cast<int64_t>(next(60)));
      // Before moving: NextDeadline is no later than the earliest deadline.
      absl::Time earliest = absl::InfiniteFuture();
      for (const auto& [key, d] : model) earliest = std::min(earliest, d);
      ASSERT_LE(w.NextDeadline(), earliest) << "step " << step;
      now += dt;
      std::set<uint64_t> due;
      for (const auto& [key, d] : model) {
        if (d <= now) due.insert(key);
      }
      std::set<uint64_t> fired;
      w.Advance(now, [&](Node* n) {
        EXPECT_TRUE(fired.insert(n->key).second) << "fired twice";
        EXPECT_FALSE(n->scheduled());
      });
      ASSERT_EQ(fired, due) << "step " << step;
      for (uint64_t key : due) model.erase(key);
    }
    ASSERT_EQ(w.size(), model.size());
  }
}

}  // namespace
}  // namespace uturn::turn
