// IceAgent: connectivity checks — sending (RFC 8445 §7.2.4), answering
// (§7.3), processing responses (§7.2.5), role conflicts (§7.3.1.1),
// nomination (§8.1.1, §7.3.1.5) and concluding ICE (§8.1.2).
#include <algorithm>
#include <cassert>
#include <string_view>

#include "client/ice_agent_impl.h"
#include "stun/attributes.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"

namespace uturn::client {

namespace {

using stun::MessageClass;

// RFC 8489 §9.1.4: a response is authentic when its MESSAGE-INTEGRITY
// verifies with the key the request used.
bool Authentic(const stun::MessageView& m, const std::string& key) {
  return stun::VerifyMessageIntegrity(m, stun::KeyBytes(key)) == stun::IntegrityCheck::kOk;
}

// Remembered checks per generation before the remote credentials arrive.
constexpr size_t kMaxEarlyChecks = 32;
// Authenticated sources remembered per generation (data accepted from them).
constexpr size_t kMaxAuthenticatedSources = 32;

}  // namespace

stun::TransactionId IceAgent::Impl::NewTransactionId() {
  // RFC 8489 §6: "uniformly and randomly chosen", cryptographically random.
  stun::TransactionId id{};
  random(id);
  return id;
}

IceVia IceAgent::Impl::ViaOf(const GatheredCandidate& local) const {
  return IceVia{local.socket, local.relay_id};
}

void IceAgent::Impl::SendOnVia(const IceVia& via, const stun::SocketAddress& to,
                               std::span<const uint8_t> bytes, absl::Time now) {
  if (via.relay_id) {
    // Relayed candidates send through the TURN server (RFC 8656 §10/§12).
    (void)gatherer.SendThroughRelay(*via.relay_id, to, bytes, now);
    return;
  }
  transmits.push_back(IceTransmit{via.base, to, std::vector<uint8_t>(bytes.begin(), bytes.end())});
}

std::span<const uint8_t> IceAgent::Impl::BuildCheck(const IceGeneration& g, size_t pair_id,
                                                    bool use_candidate,
                                                    const stun::TransactionId& id,
                                                    uint32_t* priority) {
  assert(g.remote);
  const CandidatePair& p = g.checklist.pair(pair_id);
  const GatheredCandidate& l = g.checklist.locals()[p.local];
  // RFC 8445 §7.2.4: PRIORITY is what a peer-reflexive candidate learnt
  // from this check would get: type preference 110 with the base's local
  // preference (§5.1.2.1).
  *priority = ice::CandidatePriority(
      ice::RecommendedTypePreference(ice::CandidateType::kPeerReflexive), l.local_preference, 1);
  stun::MessageBuilder b(buffer, stun::EncodeMessageType(stun::Method::kBinding,
                                                         MessageClass::kRequest),
                         id);
  // RFC 8445 §7.2.2: USERNAME is "remote ufrag:local ufrag".
  b.AddString(stun::attr::kUsername, g.remote->ufrag + ":" + g.local.ufrag);
  b.AddU32(stun::attr::kPriority, *priority);
  // RFC 8445 §7.2.4: ICE-CONTROLLING or ICE-CONTROLLED with the tie-breaker.
  b.AddU64(role == ice::Role::kControlling ? stun::attr::kIceControlling
                                           : stun::attr::kIceControlled,
           tie_breaker);
  if (use_candidate) b.AddFlag(stun::attr::kUseCandidate);  // RFC 8445 §7.2.4 / §8.1.1
  // RFC 8445 §7.2.2: short-term credentials with the remote password, then FINGERPRINT.
  b.AddMessageIntegrity(stun::KeyBytes(g.remote_key));
  b.AddFingerprint();
  return b.bytes();
}

bool IceAgent::Impl::SendCheck(IceGeneration& g, size_t pair_id, bool use_candidate,
                               absl::Time now) {
  if (!g.remote) return false;
  const stun::TransactionId id = NewTransactionId();
  uint32_t priority = 0;
  const std::span<const uint8_t> bytes = BuildCheck(g, pair_id, use_candidate, id, &priority);
  if (bytes.empty()) {
    CheckFailed(g, pair_id, now);
    return false;
  }
  const CandidatePair& p = g.checklist.pair(pair_id);
  IceCheckTransaction tx;
  tx.purpose = IceCheckTransaction::Purpose::kCheck;
  tx.generation = g.number;
  tx.pair = pair_id;
  tx.use_candidate = use_candidate;
  tx.role = role;
  tx.priority = priority;
  tx.via = ViaOf(g.checklist.locals()[p.local]);
  tx.destination = g.checklist.remotes()[p.remote].address;
  tx.bytes.assign(bytes.begin(), bytes.end());
  // RFC 8445 §14.3: "RTO = MAX (500ms, Ta * N * (Num-Waiting +
  // Num-In-Progress))", N the number of checklists (1 here).
  const int64_t active = static_cast<int64_t>(g.checklist.CountState(PairState::kWaiting) +
                                              g.checklist.CountState(PairState::kInProgress));
  stun::TransactionConfig timers;
  timers.initial_rto = std::max(config.min_check_rto, config.ta * active);
  timers.rc = std::max(1, config.check_transmissions);
  tx.timer.emplace(timers, stun::TransportKind::kUnreliable, timers.initial_rto, now);
  SendOnVia(tx.via, tx.destination, tx.bytes, now);
  ++stats.checks_sent;
  transactions.insert_or_assign(id, std::move(tx));
  return true;
}

void IceAgent::Impl::CancelChecks(uint32_t generation, std::optional<size_t> except) {
  for (auto it = transactions.begin(); it != transactions.end();) {
    const IceCheckTransaction& tx = it->second;
    if (tx.generation == generation && tx.purpose == IceCheckTransaction::Purpose::kCheck &&
        (!except || tx.pair != *except)) {
      transactions.erase(it++);
    } else {
      ++it;
    }
  }
}

void IceAgent::Impl::HandleTransactionTimeouts(absl::Time now) {
  std::vector<stun::TransactionId> due;
  for (const auto& [id, tx] : transactions) {
    if ((tx.timer && now >= tx.timer->deadline()) || now >= tx.expires) due.push_back(id);
  }
  for (const stun::TransactionId& id : due) {
    auto it = transactions.find(id);
    if (it == transactions.end()) continue;
    IceCheckTransaction& tx = it->second;
    if (!tx.timer) {  // consent request: its answer is no longer awaited
      transactions.erase(it);
      continue;
    }
    const stun::ClientTransaction::Action action = tx.timer->HandleTimeout(now);
    if (action == stun::ClientTransaction::Action::kRetransmit) {
      if (tx.cancelled) continue;  // RFC 8445 §7.3.1.4: no retransmission
      // RFC 8489 §6.2.1: a retransmission is the same request.
      SendOnVia(tx.via, tx.destination, tx.bytes, now);
      ++stats.checks_sent;
      continue;
    }
    if (action != stun::ClientTransaction::Action::kTimedOut) continue;
    const bool cancelled = tx.cancelled;
    const uint32_t gen = tx.generation;
    const size_t pair = tx.pair;
    transactions.erase(it);
    IceGeneration* g = FindGeneration(gen);
    // RFC 8445 §7.2.5.2.2 (via RFC 8489): no answer fails the check; a
    // cancelled one's silence is no failure (§7.3.1.4).
    if (g != nullptr && !cancelled) CheckFailed(*g, pair, now);
  }
}

void IceAgent::Impl::HandleStun(const IceVia& via, const stun::SocketAddress& from,
                                std::span<const uint8_t> bytes, absl::Time now,
                                IceIncoming* result) {
  stun::MessageView m;
  stun::ParseOptions options;
  options.allow_rfc3489 = false;  // ICE is RFC 5389+ only
  if (stun::MessageView::Parse(bytes, &m, options) != stun::ParseError::kNone) return;
  if (m.method() != static_cast<uint16_t>(stun::Method::kBinding)) return;
  switch (m.message_class()) {
    case MessageClass::kRequest:
      HandleRequest(via, from, m, now, result);
      return;
    case MessageClass::kSuccessResponse:
    case MessageClass::kErrorResponse:
      HandleResponse(via, from, m, now, result);
      return;
    case MessageClass::kIndication:
      // RFC 8445 §11: Binding indications are keepalives; nothing to answer.
      result->kind = IceIncoming::Kind::kHandled;
      return;
  }
}

void IceAgent::Impl::HandleRequest(const IceVia& via, const stun::SocketAddress& from,
                                   const stun::MessageView& m, absl::Time now,
                                   IceIncoming* result) {
  // RFC 8445 §7.2.2: checks carry FINGERPRINT (Parse verified it when
  // present); without one this is not an ICE check: discarded.
  if (!m.fingerprint_offset()) return;
  // Relay-only (iceTransportPolicy "relay"): the host sockets are no
  // candidates, and answering there would reveal them.
  if (config.relay_only && !via.relay_id) return;
  result->kind = IceIncoming::Kind::kHandled;
  const auto reply_error = [&](int code, const IceGeneration* g,
                               std::span<const uint16_t> unknown = {}) {
    stun::MessageBuilder b =
        stun::MessageBuilder::ResponseTo(m, MessageClass::kErrorResponse, buffer);
    b.AddErrorCode(code);
    if (!unknown.empty()) b.AddUnknownAttributes(unknown);
    // RFC 8489 §9.1.3: errors of the authentication step carry no MI.
    if (g != nullptr) b.AddMessageIntegrity(stun::KeyBytes(g->local_key));
    b.AddFingerprint();
    if (b.ok()) SendOnVia(via, from, b.bytes(), now);
    ++stats.checks_rejected;
  };

  // RFC 8489 §9.1.3: USERNAME and MESSAGE-INTEGRITY both present, else 400.
  const stun::AttrResult<std::string_view> username = stun::GetUsername(m);
  if (!username.ok() || !m.message_integrity_offset()) {
    reply_error(stun::error::kBadRequest, nullptr);
    return;
  }
  // RFC 8445 §7.3: USERNAME is "local ufrag:remote ufrag"; the remote part
  // is checked once the remote credentials are known.
  const size_t colon = username.value.find(':');
  IceGeneration* g = nullptr;
  if (colon != std::string_view::npos) {
    const std::string_view lpart = username.value.substr(0, colon);
    const std::string_view rpart = username.value.substr(colon + 1);
    for (IceGeneration* cand : {current.get(), previous.get()}) {
      if (cand == nullptr || cand->local.ufrag != lpart) continue;
      if (cand->remote && cand->remote->ufrag != rpart) continue;
      g = cand;
      break;
    }
  }
  if (g == nullptr || !Authentic(m, g->local_key)) {
    reply_error(stun::error::kUnauthorized, nullptr);  // RFC 8489 §9.1.3
    return;
  }
  // RFC 8489 §7.3.1: unknown comprehension-required attributes earn 420.
  std::array<uint16_t, 8> unknown{};
  const size_t n_unknown =
      stun::CollectUnknownComprehensionRequired(m, stun::IsKnownAttribute, unknown);
  if (n_unknown > 0) {
    reply_error(stun::error::kUnknownAttribute, g,
                std::span<const uint16_t>(unknown.data(), std::min(n_unknown, unknown.size())));
    return;
  }
  // RFC 8445 §7.3: a check carries PRIORITY (400 without); the role
  // attributes must be well formed.
  const stun::AttrResult<uint32_t> priority = stun::GetPriority(m);
  const stun::AttrResult<uint64_t> controlling = stun::GetIceControlling(m);
  const stun::AttrResult<uint64_t> controlled = stun::GetIceControlled(m);
  if (!priority.ok() || controlling.malformed() || controlled.malformed()) {
    reply_error(stun::error::kBadRequest, g);
    return;
  }

  // RFC 8445 §7.3.1.1: role conflicts, decided by the tie-breakers.
  const bool can_switch = role_switches < config.max_role_switches;
  if (role == ice::Role::kControlling && controlling.ok()) {
    ++stats.role_conflicts;
    // "If the agent's tiebreaker value is larger than or equal to the
    // contents of the ICE-CONTROLLING attribute, the agent generates a
    // Binding error response ... 487"; else it switches to controlled.
    if (tie_breaker >= controlling.value || !can_switch || remote_lite) {
      reply_error(stun::error::kRoleConflict, g);
      return;
    }
    SwitchRole(ice::Role::kControlled, now);
  } else if (role == ice::Role::kControlled && controlled.ok()) {
    ++stats.role_conflicts;
    // "If the agent's tiebreaker value is larger than or equal to the
    // contents of the ICE-CONTROLLED attribute, the agent switches to the
    // controlling role"; else 487.
    if (tie_breaker < controlled.value || !can_switch) {
      reply_error(stun::error::kRoleConflict, g);
      return;
    }
    SwitchRole(ice::Role::kControlling, now);
  }

  // RFC 8445 §7.3 / RFC 8489 §7.3.1: success with XOR-MAPPED-ADDRESS (the
  // request's source), MESSAGE-INTEGRITY with the local password, FINGERPRINT.
  stun::MessageBuilder b =
      stun::MessageBuilder::ResponseTo(m, MessageClass::kSuccessResponse, buffer);
  b.AddXorAddress(stun::attr::kXorMappedAddress, from)
      .AddMessageIntegrity(stun::KeyBytes(g->local_key))
      .AddFingerprint();
  assert(b.ok());
  SendOnVia(via, from, b.bytes(), now);
  ++stats.checks_received;

  bool known_source = false;
  for (const IceGeneration::Source& src : g->authenticated_sources) {
    if (src.via == via && src.from == from) known_source = true;
  }
  if (!known_source && g->authenticated_sources.size() < kMaxAuthenticatedSources) {
    g->authenticated_sources.push_back({via, from});
  }
  const std::optional<size_t> local = g->checklist.FindReceivingLocal(via.base, via.relay_id);
  if (!local || g != current.get()) return;  // answered only (old generation, no candidate)
  const bool use_candidate = stun::HasUseCandidate(m);
  if (!g->remote) {
    // RFC 8445 §7.3: "the agent MUST respond" before it has the remote
    // credentials, and acts on the check once it has them.
    if (g->early_checks.size() < kMaxEarlyChecks) {
      g->early_checks.push_back({*local, from, priority.value, use_candidate});
    }
    return;
  }
  ProcessCheck(*g, *local, from, priority.value, use_candidate, now);
}

void IceAgent::Impl::ProcessCheck(IceGeneration& g, size_t local, const stun::SocketAddress& from,
                                  uint32_t priority, bool use_candidate, absl::Time now) {
  if (g.selected) {
    // RFC 8445 §8.1.2: concluded; consent traffic only. But a remote
    // nominating several pairs (aggressive, RFC 5245 §8.1.2) ends on the
    // highest-priority nominated valid pair.
    const std::optional<size_t> r = g.checklist.FindRemote(from);
    const std::optional<size_t> id = r ? g.checklist.FindPair(local, *r) : std::nullopt;
    if (id && use_candidate && role == ice::Role::kControlled) {
      CandidatePair& p = g.checklist.pair(*id);
      p.remote_nominated = true;
      if (p.valid() && p.state == PairState::kSucceeded) MaybeReselect(g, *id, now);
    }
    return;
  }
  std::optional<size_t> remote = g.checklist.FindRemote(from);
  if (!remote) {
    // RFC 8445 §7.3.1.3: an unknown source is a peer-reflexive remote
    // candidate with the PRIORITY of the check and a fresh foundation.
    if (g.checklist.remotes().size() >= config.max_remote_candidates) return;
    ice::Candidate c;
    c.foundation = "prflx" + std::to_string(++g.prflx_count);
    c.component = 1;
    c.transport = "udp";
    c.priority = priority;
    c.address = from.IpString();
    c.ip = from;
    c.port = from.port;
    c.type = ice::CandidateType::kPeerReflexive;
    remote = g.checklist.AddRemote(IceCandidateInfo{c, from});
  }
  const bool known = g.checklist.FindPair(local, *remote).has_value();
  const std::optional<size_t> id = g.checklist.FindOrAddPair(local, *remote, role);
  if (!id) return;
  if (!known) OnPairsAdded(g, {*id}, now);
  CandidatePair& p = g.checklist.pair(*id);
  // RFC 8445 §7.3.1.4 triggered checks.
  switch (p.state) {
    case PairState::kSucceeded:
      break;  // "the agent MUST NOT enqueue it"
    case PairState::kInProgress: {
      // "the agent cancels the In-Progress transaction" and checks again;
      // a cancelled nominating check hands USE-CANDIDATE to its replacement.
      bool nominate = g.nominating && g.nominee == *id;
      for (auto& [tid, tx] : transactions) {
        if (tx.generation == g.number && tx.pair == *id &&
            tx.purpose == IceCheckTransaction::Purpose::kCheck) {
          tx.cancelled = true;
          nominate = nominate || tx.use_candidate;
        }
      }
      g.checklist.EnqueueTriggered(*id, nominate && role == ice::Role::kControlling);
      break;
    }
    case PairState::kWaiting:
    case PairState::kFrozen:
    case PairState::kFailed:
      g.checklist.EnqueueTriggered(*id, false);
      break;
  }
  // RFC 8445 §7.3.1.5: USE-CANDIDATE on the controlled side nominates the
  // pair when it is valid, or when its triggered check makes it valid.
  if (use_candidate && role == ice::Role::kControlled) {
    p.remote_nominated = true;
    if (p.valid() && p.state == PairState::kSucceeded) Select(g, *id, now);
  }
}

void IceAgent::Impl::HandleResponse(const IceVia& via, const stun::SocketAddress& from,
                                    const stun::MessageView& m, absl::Time now,
                                    IceIncoming* result) {
  stun::TransactionId id{};
  std::copy(m.transaction_id().begin(), m.transaction_id().end(), id.begin());
  auto it = transactions.find(id);
  if (it == transactions.end()) return;  // not ours (or long gone): ignored
  IceGeneration* g = FindGeneration(it->second.generation);
  if (g == nullptr) {
    transactions.erase(it);
    return;
  }
  // RFC 8489 §9.1.4: answers are authenticated with the remote password;
  // a success without a valid MI is discarded (the check goes on). Error
  // responses from the authentication step carry none.
  const bool has_mi = m.message_integrity_offset().has_value();
  if ((m.message_class() == MessageClass::kSuccessResponse || has_mi) &&
      !Authentic(m, g->remote_key)) {
    return;
  }
  result->kind = IceIncoming::Kind::kHandled;
  IceCheckTransaction tx = std::move(it->second);
  transactions.erase(it);
  // RFC 8445 §7.2.5.2.1: "the source and destination transport addresses
  // in the Binding request and response are symmetric", else the check fails.
  const bool symmetric = from == tx.destination && via == tx.via;

  if (tx.purpose == IceCheckTransaction::Purpose::kConsent) {
    // RFC 7675 §5.1: only an authenticated success on the same 5-tuple grants consent.
    if (symmetric && m.message_class() == MessageClass::kSuccessResponse) {
      ConsentSucceeded(*g, now);
    }
    return;
  }
  ++stats.responses_received;
  if (!symmetric) {
    CheckFailed(*g, tx.pair, now);
    return;
  }
  if (m.message_class() == MessageClass::kErrorResponse) {
    const stun::AttrResult<stun::ErrorCodeValue> code = stun::GetErrorCode(m);
    if (code.ok() && code.value.code == stun::error::kRoleConflict) {
      // RFC 8445 §7.2.5.1: switch to the role opposite to the one the
      // request carried (if not done since) and check the pair again.
      if (tx.role == role) {
        if (role_switches >= config.max_role_switches || remote_lite) {
          CheckFailed(*g, tx.pair, now);  // a 487 storm: stop switching
          return;
        }
        ++stats.role_conflicts;
        SwitchRole(role == ice::Role::kControlling ? ice::Role::kControlled
                                                   : ice::Role::kControlling,
                   now);
      }
      if (!g->checklist.pair(tx.pair).removed) {
        g->checklist.EnqueueTriggered(tx.pair, tx.use_candidate && role == ice::Role::kControlling);
      }
      return;
    }
    // RFC 8445 §7.2.5.2.4 (unrecoverable error): the check fails.
    CheckFailed(*g, tx.pair, now);
    return;
  }
  const stun::AttrResult<stun::SocketAddress> mapped = stun::GetXorMappedAddress(m);
  if (!mapped.ok()) {
    CheckFailed(*g, tx.pair, now);
    return;
  }
  CheckSucceeded(*g, tx, mapped.value, now);
}

void IceAgent::Impl::CheckSucceeded(IceGeneration& g, IceCheckTransaction& tx,
                                    const stun::SocketAddress& mapped, absl::Time now) {
  CandidatePair& p = g.checklist.pair(tx.pair);
  if (p.removed) return;
  const GatheredCandidate checked = g.checklist.locals()[p.local];
  std::optional<size_t> local = g.checklist.FindLocalByAddress(mapped);
  if (!local) {
    // RFC 8445 §7.2.5.3.1: a mapped address that is no local candidate is a
    // peer-reflexive local candidate, with the PRIORITY the request carried
    // and the base of the checked candidate. It is not signalled.
    GatheredCandidate c = checked;
    c.candidate.type = ice::CandidateType::kPeerReflexive;
    c.candidate.priority = tx.priority;
    c.candidate.foundation = "prflx" + std::to_string(++g.prflx_count);
    c.candidate.address = mapped.IpString();
    c.candidate.ip = mapped;
    c.candidate.port = mapped.port;
    c.candidate.related_address = checked.address.IpString();
    c.candidate.related_port = checked.address.port;
    c.address = mapped;
    local = g.checklist.AddLocal(c);
  }
  CandidatePair& pair = g.checklist.pair(tx.pair);  // AddLocal does not touch pairs
  // RFC 8445 §7.2.5.3.2: the pair (its valid-list twin) is valid;
  // §7.2.5.3.3: the pair succeeded and its foundation unfreezes.
  pair.valid_local = *local;
  pair.state = PairState::kSucceeded;
  g.checklist.UnfreezeFoundation(tx.pair);
  if (g.nominate_deadline == absl::InfiniteFuture()) {
    g.nominate_deadline = now + config.nomination_wait;
  }
  if (g.selected) {
    // Aggressive nomination: a higher-priority pair whose USE-CANDIDATE
    // check succeeds after the selection takes over (RFC 5245 §8.1.2); on
    // the controlled side, one the remote nominated.
    const bool nominated_by_us =
        tx.use_candidate && tx.role == ice::Role::kControlling && role == ice::Role::kControlling;
    if (nominated_by_us || (role == ice::Role::kControlled && pair.remote_nominated)) {
      MaybeReselect(g, tx.pair, now);
    }
    return;
  }
  if (tx.use_candidate && tx.role == ice::Role::kControlling && role == ice::Role::kControlling) {
    // RFC 8445 §8.1.1: the check with USE-CANDIDATE succeeded: nominated.
    Select(g, tx.pair, now);
    return;
  }
  if (role == ice::Role::kControlled && pair.remote_nominated) {
    Select(g, tx.pair, now);  // RFC 8445 §7.3.1.5
    return;
  }
  if (g.nominating && g.nominee == tx.pair && role == ice::Role::kControlling) {
    // The nominee succeeded on a check without USE-CANDIDATE (one that
    // replaced the nominating check): nominate it again.
    SendNomination(g, tx.pair, now);
    return;
  }
  MaybeNominate(g, now);
}

void IceAgent::Impl::CheckFailed(IceGeneration& g, size_t pair_id, absl::Time now) {
  CandidatePair& p = g.checklist.pair(pair_id);
  if (p.state != PairState::kSucceeded || !p.valid()) p.state = PairState::kFailed;
  if (g.nominating && g.nominee == pair_id) {
    // The nomination check failed: the pair is not usable; pick another.
    p.state = PairState::kFailed;
    p.valid_local.reset();
    g.nominating = false;
    MaybeNominate(g, now);
  }
  CheckFailure(now);
}

void IceAgent::Impl::SwitchRole(ice::Role to, absl::Time now) {
  role = to;
  ++role_switches;
  // RFC 8445 §7.3.1.1: "the agent MUST recompute the pair priorities".
  for (IceGeneration* g : {current.get(), previous.get()}) {
    if (g != nullptr) g->checklist.RecomputePriorities(role);
  }
  if (to == ice::Role::kControlled) current->nominating = false;
  IceEvent e;
  e.kind = IceEvent::Kind::kRoleChanged;
  e.role = to;
  Emit(std::move(e));
  if (to == ice::Role::kControlling) MaybeNominate(*current, now);
}

void IceAgent::Impl::MaybeNominate(IceGeneration& g, absl::Time now) {
  if (closed || g.selected || g.nominating || role != ice::Role::kControlling) return;
  if (config.nomination == NominationMode::kAggressive) return;  // every check nominates
  const std::vector<size_t> order = g.checklist.Ordered();
  std::optional<size_t> best;
  bool better_pending = false;
  for (size_t id : order) {
    const CandidatePair& p = g.checklist.pair(id);
    if (p.valid() && p.state == PairState::kSucceeded) {
      best = id;
      break;
    }
    if (p.state == PairState::kFrozen || p.state == PairState::kWaiting ||
        p.state == PairState::kInProgress) {
      better_pending = true;
    }
  }
  if (!best) return;
  // RFC 8445 §8.1.1: nominate once nothing better is left to check, or
  // after the wait for better pairs (nomination_wait).
  if (better_pending && !g.nominate_wait_over && now < g.nominate_deadline) return;
  g.nominating = true;
  g.nominee = *best;
  SendNomination(g, *best, now);
}

void IceAgent::Impl::SendNomination(IceGeneration& g, size_t pair_id, absl::Time now) {
  // The nominating check of a pair that already succeeded goes out now, not
  // in the next Ta slot (a deviation, client/README.md): it is one request
  // per checklist on a path just proven, and waiting behind gathering cost
  // up to two Ta of connect time. A retransmission or replacement of it goes
  // through the triggered-check queue as usual (§7.3.1.4).
  CandidatePair& p = g.checklist.pair(pair_id);
  p.state = PairState::kInProgress;
  (void)SendCheck(g, pair_id, /*use_candidate=*/true, now);
}

void IceAgent::Impl::Select(IceGeneration& g, size_t pair_id, absl::Time now) {
  if (g.selected) return;
  CandidatePair& p = g.checklist.pair(pair_id);
  p.nominated = true;
  g.selected = pair_id;
  g.nominating = false;
  // RFC 8445 §8.1.2: concluded — Waiting/Frozen pairs removed, other
  // checks stopped (we do not renominate, so higher ones are stopped too).
  g.checklist.Conclude(pair_id);
  if (config.nomination == NominationMode::kAggressive && role == ice::Role::kControlling) {
    // Higher-priority checks in flight may still win (RFC 8445 §8.1.2
    // lets them go on); the lower ones stop.
    for (auto it = transactions.begin(); it != transactions.end();) {
      const IceCheckTransaction& tx = it->second;
      if (tx.generation == g.number && tx.purpose == IceCheckTransaction::Purpose::kCheck &&
          tx.pair != pair_id && g.checklist.pair(tx.pair).priority < p.priority) {
        transactions.erase(it++);
      } else {
        ++it;
      }
    }
  } else {
    CancelChecks(g.number, pair_id);
  }
  const GatheredCandidate& l = g.checklist.locals()[p.local];
  if (l.relay_id) {
    // Relayed data goes as ChannelData once a relayed pair is selected.
    (void)gatherer.BindChannel(*l.relay_id, g.checklist.remotes()[p.remote].address, now);
  }
  // RFC 7675 §5.1: the successful check is the first consent.
  g.last_consent = now;
  ScheduleConsent(g, now);
  if (&g == current.get() && previous) {
    // RFC 8445 §9: the new generation took over; the old one ends.
    previous.reset();
  }
  IceEvent e;
  e.kind = IceEvent::Kind::kSelectedPair;
  e.pair = DescribePair(g, pair_id);
  Emit(std::move(e));
  SetState(IceState::kConnected);
  MaybeComplete();
}

void IceAgent::Impl::MaybeReselect(IceGeneration& g, size_t pair_id, absl::Time now) {
  assert(g.selected);
  if (*g.selected == pair_id) return;
  CandidatePair& p = g.checklist.pair(pair_id);
  if (p.priority <= g.checklist.pair(*g.selected).priority) return;
  p.nominated = true;
  g.selected = pair_id;
  const GatheredCandidate& l = g.checklist.locals()[p.local];
  if (l.relay_id) {
    (void)gatherer.BindChannel(*l.relay_id, g.checklist.remotes()[p.remote].address, now);
  }
  g.last_consent = std::max(g.last_consent, now);
  IceEvent e;
  e.kind = IceEvent::Kind::kSelectedPair;
  e.pair = DescribePair(g, pair_id);
  Emit(std::move(e));
}

}  // namespace uturn::client
