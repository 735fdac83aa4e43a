// The checklist of one ICE session (RFC 8445 §6.1.2): local and remote
// candidates, the candidate pairs formed from them, their states and the
// frozen algorithm, the triggered-check queue and the choice of the next
// check. Pure bookkeeping: no STUN, no time, no I/O — the agent
// (ice_agent*.cc) sends the checks this decides on and reports their
// outcome back. One data stream with one component (see ice_agent.h), so
// the "checklist set" of the RFC is this single checklist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "client/ice_agent.h"
#include "client/ice_gatherer.h"
#include "ice-lite/ice_types.h"
#include "stun/address.h"

namespace uturn::client {

// RFC 8445 §6.1.2.3: pair priority = 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0),
// G the controlling agent's candidate priority, D the controlled one's.
uint64_t PairPriority(uint32_t controlling, uint32_t controlled);

// RFC 8445 §6.1.2.6 candidate pair states.
enum class PairState : uint8_t { kFrozen, kWaiting, kInProgress, kSucceeded, kFailed };
const char* ToString(PairState s);

struct CandidatePair {
  size_t id = 0;      // index in Checklist::pairs(); never reused
  size_t local = 0;   // index in Checklist::locals()
  size_t remote = 0;  // index in Checklist::remotes()
  uint64_t priority = 0;
  // RFC 8445 §6.1.2.6: the pair foundation is the local and remote
  // candidates' foundations together.
  std::string foundation;
  PairState state = PairState::kFrozen;
  // RFC 8445 §7.2.5.3.2: set once a check succeeded. The valid pair is made
  // of the local candidate the mapped address names (possibly a
  // peer-reflexive one, §7.2.5.3.1) and this pair's remote; it shares this
  // pair's base and remote, so it is sent on exactly as this pair is.
  std::optional<size_t> valid_local;
  bool nominated = false;         // RFC 8445 §8.1.1: nominated (by us or the remote)
  bool remote_nominated = false;  // RFC 8445 §7.3.1.5: USE-CANDIDATE received on it
  // RFC 8445 §6.1.2.5 (over the limit) or §8.1.2 (ICE concluded): out of the
  // checklist; kept so ids stay stable.
  bool removed = false;

  bool valid() const { return valid_local.has_value(); }
};

class Checklist {
 public:
  enum class State : uint8_t { kRunning, kCompleted, kFailed };  // RFC 8445 §6.1.2.1

  explicit Checklist(size_t max_pairs) : max_pairs_(max_pairs) {}

  // ---- Candidates ----
  // A local candidate; returns its index. Pairs are formed by PairLocal.
  size_t AddLocal(const GatheredCandidate& c);
  size_t AddRemote(const IceCandidateInfo& c);
  const std::vector<GatheredCandidate>& locals() const { return locals_; }
  const std::vector<IceCandidateInfo>& remotes() const { return remotes_; }
  IceCandidateInfo& mutable_remote(size_t i) { return remotes_[i]; }
  std::optional<size_t> FindRemote(const stun::SocketAddress& address) const;
  // A local candidate whose transport address is `address` (any type).
  std::optional<size_t> FindLocalByAddress(const stun::SocketAddress& address) const;
  // The local candidate a datagram reached: the relayed candidate of
  // `relay_id`, or else the host candidate bound to `base`.
  std::optional<size_t> FindReceivingLocal(const stun::SocketAddress& base,
                                           std::optional<uint32_t> relay_id) const;

  // ---- Pairs ----
  // RFC 8445 §6.1.2.2 / §6.1.2.4: pairs `local` (or, if it is
  // server-reflexive, its base's host candidate) with every remote
  // candidate of the same family; redundant pairs are not added. Returns
  // the ids of the pairs added.
  std::vector<size_t> PairLocal(size_t local, ice::Role role);
  std::vector<size_t> PairRemote(size_t remote, ice::Role role);
  // One pair (a triggered check's, §7.3.1.4): the existing one, or a new
  // one (nullopt if the family differs or the limit refuses it).
  std::optional<size_t> FindOrAddPair(size_t local, size_t remote, ice::Role role);
  std::optional<size_t> FindPair(size_t local, size_t remote) const;
  const std::vector<CandidatePair>& pairs() const { return pairs_; }
  CandidatePair& pair(size_t id) { return pairs_.at(id); }
  const CandidatePair& pair(size_t id) const { return pairs_.at(id); }
  // Live (not removed) pair ids, highest priority first (RFC 8445 §6.1.2.3
  // "sorted in decreasing order of priority"; equal priorities by id).
  std::vector<size_t> Ordered() const;
  size_t live_pairs() const;
  size_t CountState(PairState s) const;
  // RFC 8445 §7.3.1.1: after a role switch the priorities are recomputed.
  void RecomputePriorities(ice::Role role);

  // ---- States ----
  void SetState(size_t id, PairState s);
  // RFC 8445 §7.2.5.3.3: a check on `id` succeeded; every Frozen pair with
  // the same foundation becomes Waiting.
  void UnfreezeFoundation(size_t id);
  // RFC 8445 §7.3.1.4: `id` goes to the triggered-check queue (and becomes
  // Waiting); `nominate` asks for USE-CANDIDATE on that check.
  void EnqueueTriggered(size_t id, bool nominate);
  bool triggered_pending() const { return !triggered_.empty(); }

  struct NextCheck {
    size_t pair = 0;
    bool triggered = false;
    bool nominate = false;
  };
  // RFC 8445 §6.1.4.2: the check to send in this Ta slot — the triggered
  // queue first, else the highest-priority Waiting pair, else a Frozen one
  // unfrozen for it. The pair returned is In-Progress.
  std::optional<NextCheck> PopNextCheck();
  // True if PopNextCheck would return a check.
  bool HasCheckToSend() const;

  // RFC 8445 §8.1.2: `selected` concludes the checklist: Waiting and Frozen
  // pairs are removed, the triggered queue is emptied; returns the ids
  // still In-Progress (the agent cancels those of lower priority).
  std::vector<size_t> Conclude(size_t selected);
  // True when every live pair failed and nothing is queued or in progress
  // (the failure half of RFC 8445 §6.1.2.1; the agent adds the trickle
  // conditions of RFC 8838 §8).
  bool AllFailed() const;
  State state() const { return state_; }
  void set_state(State s) { state_ = s; }

 private:
  std::optional<size_t> AddPair(size_t local, size_t remote, ice::Role role);
  uint64_t ComputePriority(size_t local, size_t remote, ice::Role role) const;
  // RFC 8445 §6.1.2.4: the local candidate a pair is checked from: a
  // server-reflexive candidate is replaced by its base (the host candidate
  // there); nullopt when that base is not a local candidate.
  std::optional<size_t> PairingLocal(size_t local) const;
  bool FoundationActive(const std::string& foundation) const;  // Waiting or In-Progress
  bool FoundationSucceeded(const std::string& foundation) const;

  size_t max_pairs_;
  std::vector<GatheredCandidate> locals_;
  std::vector<IceCandidateInfo> remotes_;
  std::vector<CandidatePair> pairs_;
  struct Triggered {
    size_t pair;
    bool nominate;
  };
  std::deque<Triggered> triggered_;
  State state_ = State::kRunning;
};

}  // namespace uturn::client
