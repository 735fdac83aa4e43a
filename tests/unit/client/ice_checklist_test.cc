// Rule-level tests of the checklist (RFC 8445 §6.1.2, §6.1.4.2, §7.2.5.3.3,
// §7.3.1.4, §8.1.2): pairing, priorities, pruning, states, scheduling.
#include "client/ice_checklist.h"

#include <gtest/gtest.h>

#include <string>

namespace uturn::client {
namespace {

using ice::CandidateType;
using ice::Role;

stun::SocketAddress V4(uint8_t last, uint16_t port) {
  return stun::SocketAddress::V4({192, 0, 2, last}, port);
}
stun::SocketAddress V6(uint8_t last, uint16_t port) {
  std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return stun::SocketAddress::V6(b, port);
}

GatheredCandidate Local(CandidateType type, const stun::SocketAddress& addr,
                        const stun::SocketAddress& base, uint32_t priority,
                        std::string foundation) {
  GatheredCandidate g;
  g.candidate.foundation = std::move(foundation);
  g.candidate.transport = "udp";
  g.candidate.type = type;
  g.candidate.priority = priority;
  g.candidate.ip = addr;
  g.candidate.port = addr.port;
  g.address = addr;
  g.base = base;
  g.socket = base;
  return g;
}

IceCandidateInfo Remote(CandidateType type, const stun::SocketAddress& addr, uint32_t priority,
                        std::string foundation) {
  IceCandidateInfo r;
  r.candidate.foundation = std::move(foundation);
  r.candidate.transport = "udp";
  r.candidate.type = type;
  r.candidate.priority = priority;
  r.candidate.ip = addr;
  r.candidate.port = addr.port;
  r.address = addr;
  return r;
}

TEST(PairPriorityTest, FollowsTheRfcFormula) {
  // RFC 8445 §6.1.2.3 with G=1, D=2: 2^32*1 + 2*2 + 0.
  EXPECT_EQ(PairPriority(1, 2), (uint64_t{1} << 32) + 4);
  // G=2, D=1: 2^32*1 + 2*2 + 1 — the controlling side's higher priority wins ties.
  EXPECT_EQ(PairPriority(2, 1), (uint64_t{1} << 32) + 5);
  const uint32_t max = 0xFFFFFFFFu;
  EXPECT_EQ(PairPriority(max, max), (uint64_t{max} << 32) + 2 * uint64_t{max});
}

TEST(ChecklistTest, PairsOnlySameFamily) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 2000, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V6(1, 5000), V6(1, 5000), 3000, "2"));
  const size_t r4 = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 1000, "a"));
  const std::vector<size_t> ids = cl.PairRemote(r4, Role::kControlling);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(cl.pair(ids[0]).local, 0u);
  const size_t r6 = cl.AddRemote(Remote(CandidateType::kHost, V6(9, 6000), 1000, "b"));
  const std::vector<size_t> ids6 = cl.PairRemote(r6, Role::kControlling);
  ASSERT_EQ(ids6.size(), 1u);
  EXPECT_EQ(cl.pair(ids6[0]).local, 1u);
}

TEST(ChecklistTest, ServerReflexiveLocalIsReplacedByItsBase) {
  Checklist cl(100);
  const size_t host = cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 2000, "1"));
  cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 1000, "a"));
  EXPECT_EQ(cl.PairLocal(host, Role::kControlling).size(), 1u);
  // RFC 8445 §6.1.2.4: the srflx pair would be the host pair again: redundant.
  const size_t srflx = cl.AddLocal(
      Local(CandidateType::kServerReflexive, V4(77, 40000), V4(1, 5000), 1500, "3"));
  EXPECT_TRUE(cl.PairLocal(srflx, Role::kControlling).empty());
  EXPECT_EQ(cl.live_pairs(), 1u);
  // A srflx candidate whose base is no local candidate cannot be checked.
  const size_t orphan = cl.AddLocal(
      Local(CandidateType::kServerReflexive, V4(78, 40000), V4(2, 5000), 1500, "4"));
  EXPECT_TRUE(cl.PairLocal(orphan, Role::kControlling).empty());
}

TEST(ChecklistTest, PriorityDependsOnRole) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 7, "1"));
  const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 3, "a"));
  const size_t id = cl.PairRemote(r, Role::kControlling).at(0);
  EXPECT_EQ(cl.pair(id).priority, PairPriority(7, 3));
  cl.RecomputePriorities(Role::kControlled);
  EXPECT_EQ(cl.pair(id).priority, PairPriority(3, 7));
}

TEST(ChecklistTest, InitialStatesPerFoundation) {
  Checklist cl(100);
  // Two locals of the same foundation, one remote: one foundation "1:a".
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 100, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5001), V4(1, 5001), 200, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(2, 5000), V4(2, 5000), 50, "2"));
  const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const std::vector<size_t> ids = cl.PairRemote(r, Role::kControlling);
  ASSERT_EQ(ids.size(), 3u);
  // RFC 8445 §6.1.2.6: per foundation the highest-priority pair is Waiting.
  EXPECT_EQ(cl.pair(ids[0]).state, PairState::kFrozen);   // "1:a", lower
  EXPECT_EQ(cl.pair(ids[1]).state, PairState::kWaiting);  // "1:a", higher
  EXPECT_EQ(cl.pair(ids[2]).state, PairState::kWaiting);  // "2:a", alone
}

TEST(ChecklistTest, SuccessUnfreezesTheFoundation) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 100, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5001), V4(1, 5001), 200, "1"));
  const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const std::vector<size_t> ids = cl.PairRemote(r, Role::kControlling);
  ASSERT_EQ(cl.pair(ids[0]).state, PairState::kFrozen);
  const std::optional<Checklist::NextCheck> n = cl.PopNextCheck();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pair, ids[1]);
  cl.SetState(ids[1], PairState::kSucceeded);
  cl.UnfreezeFoundation(ids[1]);  // RFC 8445 §7.2.5.3.3
  EXPECT_EQ(cl.pair(ids[0]).state, PairState::kWaiting);
}

TEST(ChecklistTest, TriggeredFirstThenHighestWaitingThenUnfreeze) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 300, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5001), V4(1, 5001), 200, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(2, 5000), V4(2, 5000), 100, "2"));
  const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const std::vector<size_t> ids = cl.PairRemote(r, Role::kControlling);
  // ids[0] Waiting (1:a best), ids[1] Frozen, ids[2] Waiting (2:a).
  cl.EnqueueTriggered(ids[2], false);
  std::optional<Checklist::NextCheck> n = cl.PopNextCheck();
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->triggered);
  EXPECT_EQ(n->pair, ids[2]);  // RFC 8445 §6.1.4.2 step 1
  n = cl.PopNextCheck();
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->triggered);
  EXPECT_EQ(n->pair, ids[0]);  // highest Waiting
  // ids[1] is Frozen and its foundation has ids[0] In-Progress: nothing to send.
  EXPECT_FALSE(cl.HasCheckToSend());
  EXPECT_FALSE(cl.PopNextCheck());
  cl.SetState(ids[0], PairState::kFailed);
  // Step 2: no Waiting pair and the foundation is idle: ids[1] unfrozen.
  EXPECT_TRUE(cl.HasCheckToSend());
  n = cl.PopNextCheck();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pair, ids[1]);
  EXPECT_EQ(cl.pair(ids[1]).state, PairState::kInProgress);
}

TEST(ChecklistTest, TriggeredSucceededPairIsSkippedUnlessNominating) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 300, "1"));
  const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const size_t id = cl.PairRemote(r, Role::kControlling).at(0);
  ASSERT_TRUE(cl.PopNextCheck());
  cl.EnqueueTriggered(id, false);
  cl.SetState(id, PairState::kSucceeded);  // the cancelled check's late answer
  EXPECT_FALSE(cl.PopNextCheck());
  cl.EnqueueTriggered(id, true);
  const std::optional<Checklist::NextCheck> n = cl.PopNextCheck();
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->nominate);
}

TEST(ChecklistTest, LimitDropsTheLowestPriorityPairs) {
  Checklist cl(3);  // RFC 8445 §6.1.2.5 with a small limit
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 1000, "1"));
  for (uint8_t i = 0; i < 3; ++i) {
    const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(10 + i, 6000), 10 + i, "a"));
    cl.PairRemote(r, Role::kControlling);
  }
  EXPECT_EQ(cl.live_pairs(), 3u);
  // Lower than all: refused.
  size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(20, 6000), 1, "b"));
  EXPECT_TRUE(cl.PairRemote(r, Role::kControlling).empty());
  // Higher: the lowest (priority 10) goes.
  r = cl.AddRemote(Remote(CandidateType::kHost, V4(21, 6000), 500, "c"));
  EXPECT_EQ(cl.PairRemote(r, Role::kControlling).size(), 1u);
  EXPECT_EQ(cl.live_pairs(), 3u);
  EXPECT_TRUE(cl.pair(0).removed);
}

TEST(ChecklistTest, ConcludeRemovesWaitingAndFrozen) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 300, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5001), V4(1, 5001), 200, "1"));
  cl.AddLocal(Local(CandidateType::kHost, V4(2, 5000), V4(2, 5000), 100, "2"));
  const size_t r = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const std::vector<size_t> ids = cl.PairRemote(r, Role::kControlling);
  const std::optional<Checklist::NextCheck> n = cl.PopNextCheck();  // ids[0] In-Progress
  ASSERT_TRUE(n);
  cl.SetState(ids[2], PairState::kSucceeded);
  const std::vector<size_t> in_progress = cl.Conclude(ids[2]);  // RFC 8445 §8.1.2
  EXPECT_EQ(in_progress, std::vector<size_t>{ids[0]});
  EXPECT_TRUE(cl.pair(ids[1]).removed);
  EXPECT_FALSE(cl.pair(ids[2]).removed);
  EXPECT_EQ(cl.state(), Checklist::State::kCompleted);
}

TEST(ChecklistTest, AllFailedOnlyWhenEveryPairFailed) {
  Checklist cl(100);
  EXPECT_TRUE(cl.AllFailed());  // no pairs at all
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 300, "1"));
  const size_t r1 = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const size_t r2 = cl.AddRemote(Remote(CandidateType::kHost, V4(8, 6000), 10, "b"));
  const size_t a = cl.PairRemote(r1, Role::kControlling).at(0);
  const size_t b = cl.PairRemote(r2, Role::kControlling).at(0);
  EXPECT_FALSE(cl.AllFailed());
  cl.SetState(a, PairState::kFailed);
  EXPECT_FALSE(cl.AllFailed());
  cl.SetState(b, PairState::kFailed);
  EXPECT_TRUE(cl.AllFailed());
  cl.EnqueueTriggered(b, false);  // a triggered retry is pending
  EXPECT_FALSE(cl.AllFailed());
}

TEST(ChecklistTest, TrickledPairsOfASucceededFoundationStartWaiting) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 300, "1"));
  const size_t r1 = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6000), 10, "a"));
  const size_t first = cl.PairRemote(r1, Role::kControlling).at(0);
  ASSERT_TRUE(cl.PopNextCheck());
  const size_t r2 = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6001), 5, "a"));
  const size_t second = cl.PairRemote(r2, Role::kControlling).at(0);
  EXPECT_EQ(cl.pair(second).state, PairState::kFrozen);  // foundation busy
  cl.SetState(first, PairState::kSucceeded);
  const size_t r3 = cl.AddRemote(Remote(CandidateType::kHost, V4(9, 6002), 4, "a"));
  const size_t third = cl.PairRemote(r3, Role::kControlling).at(0);
  EXPECT_EQ(cl.pair(third).state, PairState::kWaiting);  // RFC 8838 §10
}

TEST(ChecklistTest, FindsReceivingLocal) {
  Checklist cl(100);
  cl.AddLocal(Local(CandidateType::kHost, V4(1, 5000), V4(1, 5000), 300, "1"));
  GatheredCandidate relay =
      Local(CandidateType::kRelay, V4(50, 7000), V4(50, 7000), 10, "9");
  relay.socket = V4(1, 5000);
  relay.relay_id = 4;
  cl.AddLocal(relay);
  EXPECT_EQ(cl.FindReceivingLocal(V4(1, 5000), std::nullopt), 0u);
  EXPECT_EQ(cl.FindReceivingLocal(V4(1, 5000), 4u), 1u);
  EXPECT_FALSE(cl.FindReceivingLocal(V4(1, 5000), 5u));
  EXPECT_FALSE(cl.FindReceivingLocal(V4(3, 5000), std::nullopt));
}

}  // namespace
}  // namespace uturn::client
