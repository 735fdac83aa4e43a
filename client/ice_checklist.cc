#include "client/ice_checklist.h"

#include <algorithm>
#include <cassert>

namespace uturn::client {

uint64_t PairPriority(uint32_t controlling, uint32_t controlled) {
  // RFC 8445 §6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0).
  const uint64_t g = controlling;
  const uint64_t d = controlled;
  return (std::min(g, d) << 32) + 2 * std::max(g, d) + (g > d ? 1 : 0);
}

const char* ToString(PairState s) {
  switch (s) {
    case PairState::kFrozen: return "frozen";
    case PairState::kWaiting: return "waiting";
    case PairState::kInProgress: return "in-progress";
    case PairState::kSucceeded: return "succeeded";
    case PairState::kFailed: return "failed";
  }
  return "?";
}

size_t Checklist::AddLocal(const GatheredCandidate& c) {
  locals_.push_back(c);
  return locals_.size() - 1;
}

size_t Checklist::AddRemote(const IceCandidateInfo& c) {
  remotes_.push_back(c);
  return remotes_.size() - 1;
}

std::optional<size_t> Checklist::FindRemote(const stun::SocketAddress& address) const {
  for (size_t i = 0; i < remotes_.size(); ++i) {
    if (remotes_[i].address == address) return i;
  }
  return std::nullopt;
}

std::optional<size_t> Checklist::FindLocalByAddress(const stun::SocketAddress& address) const {
  for (size_t i = 0; i < locals_.size(); ++i) {
    if (locals_[i].address == address) return i;
  }
  return std::nullopt;
}

std::optional<size_t> Checklist::FindReceivingLocal(const stun::SocketAddress& base,
                                                    std::optional<uint32_t> relay_id) const {
  for (size_t i = 0; i < locals_.size(); ++i) {
    const GatheredCandidate& l = locals_[i];
    if (relay_id) {
      if (l.relay_id == relay_id && l.candidate.type == ice::CandidateType::kRelay) return i;
    } else if (l.candidate.type == ice::CandidateType::kHost && l.base == base) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<size_t> Checklist::PairingLocal(size_t local) const {
  const GatheredCandidate& l = locals_.at(local);
  if (l.candidate.type != ice::CandidateType::kServerReflexive &&
      l.candidate.type != ice::CandidateType::kPeerReflexive) {
    return local;
  }
  // RFC 8445 §6.1.2.4: "the agent MUST replace ... a server-reflexive
  // candidate ... with its base" (checks leave from the base anyway).
  for (size_t i = 0; i < locals_.size(); ++i) {
    if (locals_[i].candidate.type == ice::CandidateType::kHost && locals_[i].address == l.base) {
      return i;
    }
  }
  return std::nullopt;
}

uint64_t Checklist::ComputePriority(size_t local, size_t remote, ice::Role role) const {
  const uint32_t l = locals_.at(local).candidate.priority;
  const uint32_t r = remotes_.at(remote).candidate.priority;
  // RFC 8445 §6.1.2.3: G is the controlling agent's candidate.
  return role == ice::Role::kControlling ? PairPriority(l, r) : PairPriority(r, l);
}

std::optional<size_t> Checklist::FindPair(size_t local, size_t remote) const {
  for (const CandidatePair& p : pairs_) {
    if (!p.removed && p.local == local && p.remote == remote) return p.id;
  }
  return std::nullopt;
}

bool Checklist::FoundationActive(const std::string& foundation) const {
  for (const CandidatePair& p : pairs_) {
    if (!p.removed && p.foundation == foundation &&
        (p.state == PairState::kWaiting || p.state == PairState::kInProgress)) {
      return true;
    }
  }
  return false;
}

bool Checklist::FoundationSucceeded(const std::string& foundation) const {
  for (const CandidatePair& p : pairs_) {
    if (p.foundation == foundation && p.state == PairState::kSucceeded) return true;
  }
  return false;
}

std::optional<size_t> Checklist::AddPair(size_t local, size_t remote, ice::Role role) {
  const GatheredCandidate& l = locals_.at(local);
  const IceCandidateInfo& r = remotes_.at(remote);
  // RFC 8445 §6.1.2.2: same component (always 1 here) and same IP family.
  if (l.address.family != r.address.family) return std::nullopt;
  // RFC 8445 §6.1.2.4: a pair with the same local (base) and remote is redundant.
  if (FindPair(local, remote)) return std::nullopt;
  const uint64_t priority = ComputePriority(local, remote, role);

  // RFC 8445 §6.1.2.5: "a default of 100" pairs; the lowest-priority pairs
  // not yet checked go first (a new pair below all of them is refused).
  if (live_pairs() >= max_pairs_) {
    std::optional<size_t> victim;
    for (const CandidatePair& p : pairs_) {
      if (p.removed || (p.state != PairState::kFrozen && p.state != PairState::kWaiting)) continue;
      const bool queued = std::any_of(triggered_.begin(), triggered_.end(),
                                      [&](const Triggered& t) { return t.pair == p.id; });
      if (queued) continue;
      if (!victim || p.priority < pairs_[*victim].priority) victim = p.id;
    }
    if (!victim || pairs_[*victim].priority >= priority) return std::nullopt;
    pairs_[*victim].removed = true;
  }

  CandidatePair p;
  p.id = pairs_.size();
  p.local = local;
  p.remote = remote;
  p.priority = priority;
  p.foundation = l.candidate.foundation + ":" + r.candidate.foundation;
  // RFC 8445 §6.1.2.6: per foundation, the highest-priority pair (of the
  // lowest component, always 1 here) starts Waiting and the others Frozen.
  // With trickle (RFC 8838 §10) pairs arrive one by one: a pair whose
  // foundation already succeeded is Waiting (as §7.2.5.3.3 would have
  // made it), one whose foundation has no Waiting/In-Progress pair is
  // Waiting, and a pair above its foundation's unchecked Waiting pair takes
  // that place.
  p.state = PairState::kFrozen;
  if (FoundationSucceeded(p.foundation) || !FoundationActive(p.foundation)) {
    p.state = PairState::kWaiting;
  } else {
    bool in_progress = false;
    std::optional<size_t> waiting;
    for (const CandidatePair& q : pairs_) {
      if (q.removed || q.foundation != p.foundation) continue;
      if (q.state == PairState::kInProgress) in_progress = true;
      if (q.state == PairState::kWaiting) waiting = q.id;
    }
    const bool queued =
        waiting && std::any_of(triggered_.begin(), triggered_.end(),
                               [&](const Triggered& t) { return t.pair == *waiting; });
    if (!in_progress && waiting && !queued && pairs_[*waiting].priority < priority) {
      pairs_[*waiting].state = PairState::kFrozen;
      p.state = PairState::kWaiting;
    }
  }
  pairs_.push_back(std::move(p));
  return pairs_.back().id;
}

std::vector<size_t> Checklist::PairLocal(size_t local, ice::Role role) {
  std::vector<size_t> added;
  const std::optional<size_t> l = PairingLocal(local);
  if (!l) return added;
  for (size_t r = 0; r < remotes_.size(); ++r) {
    if (std::optional<size_t> id = AddPair(*l, r, role)) added.push_back(*id);
  }
  return added;
}

std::vector<size_t> Checklist::PairRemote(size_t remote, ice::Role role) {
  std::vector<size_t> added;
  for (size_t i = 0; i < locals_.size(); ++i) {
    // Server-reflexive locals pair through their base (§6.1.2.4), which is
    // itself a local candidate and pairs on its own.
    if (PairingLocal(i) != i) continue;
    if (std::optional<size_t> id = AddPair(i, remote, role)) added.push_back(*id);
  }
  return added;
}

std::optional<size_t> Checklist::FindOrAddPair(size_t local, size_t remote, ice::Role role) {
  if (std::optional<size_t> id = FindPair(local, remote)) return id;
  return AddPair(local, remote, role);
}

std::vector<size_t> Checklist::Ordered() const {
  std::vector<size_t> ids;
  for (const CandidatePair& p : pairs_) {
    if (!p.removed) ids.push_back(p.id);
  }
  std::sort(ids.begin(), ids.end(), [&](size_t a, size_t b) {
    if (pairs_[a].priority != pairs_[b].priority) return pairs_[a].priority > pairs_[b].priority;
    return a < b;
  });
  return ids;
}

size_t Checklist::live_pairs() const {
  return static_cast<size_t>(
      std::count_if(pairs_.begin(), pairs_.end(), [](const CandidatePair& p) { return !p.removed; }));
}

size_t Checklist::CountState(PairState s) const {
  return static_cast<size_t>(std::count_if(pairs_.begin(), pairs_.end(), [&](const CandidatePair& p) {
    return !p.removed && p.state == s;
  }));
}

void Checklist::RecomputePriorities(ice::Role role) {
  for (CandidatePair& p : pairs_) p.priority = ComputePriority(p.local, p.remote, role);
}

void Checklist::SetState(size_t id, PairState s) { pairs_.at(id).state = s; }

void Checklist::UnfreezeFoundation(size_t id) {
  const std::string& foundation = pairs_.at(id).foundation;
  // RFC 8445 §7.2.5.3.3: "the agent MUST set the states for all other
  // Frozen candidate pairs in all checklists with the same foundation to Waiting."
  for (CandidatePair& p : pairs_) {
    if (!p.removed && p.state == PairState::kFrozen && p.foundation == foundation) {
      p.state = PairState::kWaiting;
    }
  }
}

void Checklist::EnqueueTriggered(size_t id, bool nominate) {
  CandidatePair& p = pairs_.at(id);
  assert(!p.removed);
  for (Triggered& t : triggered_) {
    if (t.pair == id) {
      t.nominate = t.nominate || nominate;
      return;
    }
  }
  // RFC 8445 §7.3.1.4: the pair "is enqueued into the triggered-check
  // queue" with its state set to Waiting.
  if (p.state != PairState::kSucceeded || nominate) p.state = PairState::kWaiting;
  triggered_.push_back(Triggered{id, nominate});
}

std::optional<Checklist::NextCheck> Checklist::PopNextCheck() {
  // RFC 8445 §6.1.4.2 step 1: the triggered-check queue first.
  while (!triggered_.empty()) {
    const Triggered t = triggered_.front();
    triggered_.pop_front();
    CandidatePair& p = pairs_.at(t.pair);
    // A pair that succeeded meanwhile (a cancelled check's late answer)
    // needs no second check unless it is to carry USE-CANDIDATE.
    if (p.removed || (p.state == PairState::kSucceeded && !t.nominate)) continue;
    p.state = PairState::kInProgress;
    return NextCheck{t.pair, true, t.nominate};
  }
  const std::vector<size_t> order = Ordered();
  const auto first_waiting = [&]() -> std::optional<size_t> {
    for (size_t id : order) {
      if (pairs_[id].state == PairState::kWaiting) return id;
    }
    return std::nullopt;
  };
  std::optional<size_t> next = first_waiting();
  if (!next) {
    // Step 2: "if there is no pair (in any checklist in the checklist set)
    // in the Waiting or In-Progress state" for a Frozen pair's foundation,
    // it becomes Waiting.
    for (size_t id : order) {
      if (pairs_[id].state == PairState::kFrozen && !FoundationActive(pairs_[id].foundation)) {
        pairs_[id].state = PairState::kWaiting;
        next = id;
        break;
      }
    }
  }
  if (!next) return std::nullopt;
  // Step 3: the highest-priority Waiting pair goes In-Progress.
  pairs_[*next].state = PairState::kInProgress;
  return NextCheck{*next, false, false};
}

bool Checklist::HasCheckToSend() const {
  for (const Triggered& t : triggered_) {
    const CandidatePair& p = pairs_[t.pair];
    if (!p.removed && (p.state != PairState::kSucceeded || t.nominate)) return true;
  }
  for (const CandidatePair& p : pairs_) {
    if (p.removed) continue;
    if (p.state == PairState::kWaiting) return true;
    if (p.state == PairState::kFrozen && !FoundationActive(p.foundation)) return true;
  }
  return false;
}

std::vector<size_t> Checklist::Conclude(size_t selected) {
  std::vector<size_t> in_progress;
  triggered_.clear();
  for (CandidatePair& p : pairs_) {
    if (p.removed || p.id == selected) continue;
    // RFC 8445 §8.1.2: "remove all candidate pairs from the checklist that
    // are in the Waiting and Frozen states".
    if (p.state == PairState::kWaiting || p.state == PairState::kFrozen) p.removed = true;
    if (p.state == PairState::kInProgress) in_progress.push_back(p.id);
  }
  state_ = State::kCompleted;
  return in_progress;
}

bool Checklist::AllFailed() const {
  if (!triggered_.empty()) return false;
  return std::all_of(pairs_.begin(), pairs_.end(), [](const CandidatePair& p) {
    return p.removed || p.state == PairState::kFailed;
  });
}

}  // namespace uturn::client
