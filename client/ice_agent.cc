// IceAgent: the public API, remote signalling, gathering events, ICE
// generations (restart), the Ta pacer and the agent's state. Checks are in
// ice_agent_checks.cc, consent and the data path in ice_agent_consent.cc.
#include "client/ice_agent.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "client/ice_agent_impl.h"
#include "stun/integrity.h"

namespace uturn::client {

const char* ToString(IceState s) {
  switch (s) {
    case IceState::kNew: return "new";
    case IceState::kChecking: return "checking";
    case IceState::kConnected: return "connected";
    case IceState::kCompleted: return "completed";
    case IceState::kDisconnected: return "disconnected";
    case IceState::kFailed: return "failed";
    case IceState::kClosed: return "closed";
  }
  return "?";
}

namespace {

IceGathererConfig GathererConfigFrom(const IceAgentConfig& c) {
  IceGathererConfig g;
  g.stun_servers = c.stun_servers;
  for (const IceTurnServer& t : c.turn_servers) {
    if (t.transport == TurnTransport::kTls) continue;  // TLS: not built yet (issue 11)
    g.turn_servers.push_back(IceGathererConfig::Turn{t.address, t.credentials, t.transport});
  }
  g.relay_only = c.relay_only;
  g.software = c.software;
  return g;
}

std::string KeyOf(const std::string& pwd) {
  // RFC 8489 §9.1.1: the short-term key is OpaqueString(pwd); ice-chars
  // always pass, so a failure keeps the raw bytes (and the checks fail).
  absl::StatusOr<std::string> key = stun::ShortTermKey(pwd);
  return key.ok() ? *key : pwd;
}

}  // namespace

IceAgent::Impl::Impl(IceAgentConfig c, RandomSource r)
    : config(std::move(c)), random(std::move(r)), gatherer(GathererConfigFrom(config), random) {
  assert(random);
  role = config.role;
  // RFC 8445 §16.1: the tie-breaker is a random 64-bit value.
  tie_breaker = config.tie_breaker != 0 ? config.tie_breaker : RandomU64();
  ice::Credentials local = config.local_credentials;
  // RFC 8445 §5.3: ufrag and pwd with at least 24 and 128 bits of randomness.
  if (local.ufrag.empty()) local = ice::GenerateCredentials(random);
  current = NewGeneration(std::move(local));
}

uint64_t IceAgent::Impl::RandomU64() {
  std::array<uint8_t, 8> b{};
  random(b);
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return v;
}

std::unique_ptr<IceGeneration> IceAgent::Impl::NewGeneration(ice::Credentials local) {
  auto g = std::make_unique<IceGeneration>(config.max_pairs);
  g->number = next_generation++;
  g->local = std::move(local);
  g->local_key = KeyOf(g->local.pwd);
  return g;
}

IceGeneration* IceAgent::Impl::FindGeneration(uint32_t number) {
  if (current && current->number == number) return current.get();
  if (previous && previous->number == number) return previous.get();
  return nullptr;
}

void IceAgent::Impl::Emit(IceEvent e) { events.push_back(std::move(e)); }

void IceAgent::Impl::SetState(IceState s, std::string reason) {
  if (state == s || state == IceState::kClosed) return;
  state = s;
  IceEvent e;
  e.kind = IceEvent::Kind::kStateChanged;
  e.state = s;
  e.reason = std::move(reason);
  Emit(std::move(e));
}

void IceAgent::Impl::MaybeComplete() {
  // Completed: selected, and neither side has candidates to come (RFC 8838 §8).
  if (state == IceState::kConnected && current->selected && current->remote_end_of_candidates &&
      gathering_complete) {
    SetState(IceState::kCompleted);
  }
}

IceGeneration* IceAgent::Impl::DataGeneration() {
  if (current->selected && !current->consent_lost) return current.get();
  if (previous && previous->selected && !previous->consent_lost) return previous.get();
  return nullptr;
}

const IceGeneration* IceAgent::Impl::DataGeneration() const {
  return const_cast<Impl*>(this)->DataGeneration();
}

IceSelectedPair IceAgent::Impl::DescribePair(const IceGeneration& g, size_t pair_id) const {
  const CandidatePair& p = g.checklist.pair(pair_id);
  const GatheredCandidate& l = g.checklist.locals()[p.valid_local.value_or(p.local)];
  IceSelectedPair out;
  out.local = IceCandidateInfo{l.candidate, l.address};
  out.remote = g.checklist.remotes()[p.remote];
  out.nominated = p.nominated;
  return out;
}

void IceAgent::Impl::AddLocal(IceGeneration& g, const GatheredCandidate& c, bool announce,
                              absl::Time now) {
  // A candidate gathered again (Regather) is not a new one.
  if (std::optional<size_t> i = g.checklist.FindLocalByAddress(c.address)) {
    if (g.checklist.locals()[*i].candidate.type == c.candidate.type) return;
  }
  const size_t index = g.checklist.AddLocal(c);
  if (announce) {
    // RFC 8838 §4: each candidate is signalled as soon as it is known.
    IceEvent e;
    e.kind = IceEvent::Kind::kLocalCandidate;
    e.candidate = IceCandidateInfo{c.candidate, c.address};
    Emit(std::move(e));
  }
  // RFC 8838 §9/§10: checks start before gathering ends; pairs are formed
  // as candidates arrive, unless ICE has concluded (§8.1.2, see README).
  if (g.selected) return;
  OnPairsAdded(g, g.checklist.PairLocal(index, role), now);
}

void IceAgent::Impl::OnPairsAdded(IceGeneration& g, const std::vector<size_t>& ids,
                                  absl::Time now) {
  for (size_t id : ids) {
    const CandidatePair& p = g.checklist.pair(id);
    const GatheredCandidate& l = g.checklist.locals()[p.local];
    // RFC 8656 §9 / RFC 8445 §5.1.1.2: checks through a relay need a
    // permission for the remote's IP on that allocation.
    if (l.relay_id) {
      (void)gatherer.Permit(*l.relay_id, g.checklist.remotes()[p.remote].address, now);
    }
  }
  stats.pairs = current->checklist.live_pairs() + (previous ? previous->checklist.live_pairs() : 0);
}

void IceAgent::Impl::DrainGatherer(absl::Time now) {
  // Bounded: the gatherer reports each candidate once per gathering.
  for (int guard = 0; guard < 10000; ++guard) {
    std::optional<GathererEvent> e = gatherer.PollEvent();
    if (!e) return;
    switch (e->kind) {
      case GathererEvent::Kind::kCandidate:
        if (!closed) AddLocal(*current, e->candidate, true, now);
        break;
      case GathererEvent::Kind::kComplete: {
        if (gathering_complete) break;
        gathering_complete = true;
        IceEvent out;
        out.kind = IceEvent::Kind::kGatheringComplete;
        Emit(std::move(out));
        CheckFailure(now);
        MaybeComplete();
        break;
      }
      case GathererEvent::Kind::kTurnError: {
        IceEvent out;
        out.kind = IceEvent::Kind::kTurnError;
        out.reason = e->reason;
        Emit(std::move(out));
        break;
      }
      case GathererEvent::Kind::kRelayLost:
        // Pairs on a lost allocation cannot work any more.
        for (IceGeneration* g : {current.get(), previous.get()}) {
          if (g == nullptr) continue;
          for (const CandidatePair& p : g->checklist.pairs()) {
            const GatheredCandidate& l = g->checklist.locals()[p.local];
            if (!p.removed && l.relay_id == e->relay_id && p.state != PairState::kFailed) {
              CheckFailed(*g, p.id, now);
            }
          }
        }
        break;
    }
  }
}

void IceAgent::Impl::MaybeStartConnectTimer(absl::Time now) {
  if (connect_deadline != absl::InfiniteFuture() || !gathering_started || !current->remote) return;
  connect_deadline = now + config.connect_timeout;
  SetState(IceState::kChecking);
}

void IceAgent::Impl::StartNewGeneration(std::optional<ice::Credentials> remote, absl::Time now) {
  // RFC 8445 §9: new credentials and a new checklist; the old selected pair
  // carries data until the new generation selects one.
  CancelChecks(current->number, std::nullopt);
  if (previous) CancelChecks(previous->number, std::nullopt);
  std::unique_ptr<IceGeneration> old = std::move(current);
  current = NewGeneration(ice::GenerateCredentials(random));
  if (old->selected) {
    previous = std::move(old);
  } else if (previous && previous->selected) {
    // Keep the older pair that still carries data.
  } else {
    previous.reset();
  }
  if (previous) {
    // Its checklist is done: only consent runs on it.
    previous->checklist.Conclude(*previous->selected);
  }
  if (remote) {
    current->remote = *remote;
    current->remote_key = KeyOf(remote->pwd);
  }
  role_switches = 0;
  gathering_complete = false;
  // kRestarted first: the driver signals the new credentials, then the
  // candidates that follow belong to them.
  IceEvent e;
  e.kind = IceEvent::Kind::kRestarted;
  Emit(std::move(e));
  // Local candidates are signalled again for the new credentials.
  for (const GatheredCandidate& c : gatherer.candidates()) AddLocal(*current, c, true, now);
  if (gathering_started) gatherer.Regather(now);
  DrainGatherer(now);
  if (gathering_started && !gathering_complete && gatherer.complete()) {
    gathering_complete = true;
    IceEvent done;
    done.kind = IceEvent::Kind::kGatheringComplete;
    Emit(std::move(done));
  }
  if (!previous) {
    connect_deadline = absl::InfiniteFuture();
    if (state != IceState::kNew) SetState(IceState::kChecking);
    MaybeStartConnectTimer(now);
  }
}

bool IceAgent::Impl::HasPacedWork() const {
  if (closed) return false;
  if (gatherer.has_pending_start()) return true;
  return current->remote.has_value() && current->checklist.HasCheckToSend();
}

void IceAgent::Impl::RunPacer(absl::Time now) {
  // RFC 8445 §14.2: one new transaction (check or gathering) per Ta.
  for (int guard = 0; guard < 4 && HasPacedWork() && now >= last_paced + config.ta; ++guard) {
    const bool can_gather = gatherer.has_pending_start();
    const bool can_check = current->remote.has_value() && current->checklist.HasCheckToSend();
    // Gathering and checks take turns while both have work.
    if (can_gather && (!can_check || gather_turn)) {
      gatherer.StartNext(now);
      gather_turn = false;
      last_paced = now;
      DrainGatherer(now);
      continue;
    }
    gather_turn = true;
    std::optional<Checklist::NextCheck> next = current->checklist.PopNextCheck();
    if (!next) continue;
    // Aggressive nomination (option): USE-CANDIDATE on every check we send
    // as the controlling agent.
    const bool use_candidate =
        role == ice::Role::kControlling &&
        (next->nominate || config.nomination == NominationMode::kAggressive);
    if (SendCheck(*current, next->pair, use_candidate, now)) last_paced = now;
  }
}

void IceAgent::Impl::CheckFailure(absl::Time now) {
  (void)now;
  IceGeneration& g = *current;
  if (closed || g.selected || state == IceState::kFailed) return;
  // RFC 8838 §8: a checklist fails only once the remote signalled
  // end-of-candidates, local gathering is complete and every pair failed.
  if (!g.remote || !g.remote_end_of_candidates || !gathering_complete) return;
  if (gatherer.has_pending_start() || !g.early_checks.empty()) return;
  if (!g.checklist.AllFailed()) return;
  for (const auto& [id, tx] : transactions) {
    if (tx.generation == g.number && tx.purpose == IceCheckTransaction::Purpose::kCheck) return;
  }
  g.checklist.set_state(Checklist::State::kFailed);
  if (previous && previous->selected) return;  // the old pair still works
  SetState(IceState::kFailed, "checks");
}

// ---------------------------------------------------------------------------

IceAgent::IceAgent(IceAgentConfig config, RandomSource random)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(random))) {}

IceAgent::~IceAgent() = default;

absl::Status IceAgent::AddLocalInterface(const stun::SocketAddress& base) {
  Impl& a = *impl_;
  if (a.closed) return absl::FailedPreconditionError("agent closed");
  if (a.gathering_started) return absl::FailedPreconditionError("gathering already started");
  if (base.port == 0) return absl::InvalidArgumentError("interface without a port");
  if (std::find(a.bases.begin(), a.bases.end(), base) != a.bases.end()) {
    return absl::AlreadyExistsError("interface already added");
  }
  a.bases.push_back(base);
  return absl::OkStatus();
}

absl::Status IceAgent::StartGathering(absl::Time now) {
  Impl& a = *impl_;
  if (a.closed) return absl::FailedPreconditionError("agent closed");
  if (a.gathering_started) return absl::FailedPreconditionError("gathering already started");
  if (a.bases.empty()) return absl::FailedPreconditionError("no local interface");
  absl::Status s = a.gatherer.Start(a.bases, now);
  if (!s.ok()) return s;
  a.gathering_started = true;
  a.DrainGatherer(now);
  a.SetState(IceState::kChecking);
  a.MaybeStartConnectTimer(now);
  return absl::OkStatus();
}

const ice::Credentials& IceAgent::local_credentials() const { return impl_->current->local; }

absl::Status IceAgent::Restart(absl::Time now) {
  Impl& a = *impl_;
  if (a.closed) return absl::FailedPreconditionError("agent closed");
  a.StartNewGeneration(std::nullopt, now);
  return absl::OkStatus();
}

void IceAgent::Close(absl::Time now) {
  Impl& a = *impl_;
  if (a.closed) return;
  a.CancelChecks(a.current->number, std::nullopt);
  if (a.previous) a.CancelChecks(a.previous->number, std::nullopt);
  a.transactions.clear();
  a.gatherer.Close(now);
  a.SetState(IceState::kClosed);
  a.closed = true;
}

absl::Status IceAgent::SetRemoteCredentials(const ice::Credentials& remote, absl::Time now) {
  Impl& a = *impl_;
  if (a.closed) return absl::FailedPreconditionError("agent closed");
  // RFC 8839 §5.4 grammar (ufrag 4..256, pwd 22..256 ice-chars).
  if (!ice::IsValidUfrag(remote.ufrag)) return absl::InvalidArgumentError("bad remote ufrag");
  if (!ice::IsValidPwd(remote.pwd)) return absl::InvalidArgumentError("bad remote pwd");
  IceGeneration& g = *a.current;
  if (g.remote) {
    if (*g.remote == remote) return absl::OkStatus();
    // RFC 8445 §9: different credentials are a remote ICE restart; we
    // answer with new credentials of our own (RFC 8839 §4.4.1.1.2).
    a.StartNewGeneration(remote, now);
    a.MaybeStartConnectTimer(now);
    return absl::OkStatus();
  }
  g.remote = remote;
  g.remote_key = KeyOf(remote.pwd);
  // RFC 8445 §7.3: checks answered before the credentials arrived now get
  // their peer-reflexive candidates and triggered checks.
  std::vector<IceGeneration::EarlyCheck> early = std::move(g.early_checks);
  g.early_checks.clear();
  for (const IceGeneration::EarlyCheck& c : early) {
    a.ProcessCheck(g, c.local, c.from, c.priority, c.use_candidate, now);
  }
  a.MaybeStartConnectTimer(now);
  return absl::OkStatus();
}

void IceAgent::SetRemoteLite(bool lite) {
  Impl& a = *impl_;
  a.remote_lite = lite;
  // RFC 8445 §6.1.1: "If one agent is full and the other lite, the full
  // agent MUST take the controlling role".
  if (lite && a.role != ice::Role::kControlling) {
    a.role = ice::Role::kControlling;
    a.current->checklist.RecomputePriorities(a.role);
  }
}

absl::Status IceAgent::AddRemoteCandidate(const ice::Candidate& candidate, absl::Time now) {
  Impl& a = *impl_;
  if (a.closed) return absl::FailedPreconditionError("agent closed");
  if (!candidate.is_udp()) return absl::InvalidArgumentError("only UDP candidates are used");
  if (candidate.component != 1) return absl::InvalidArgumentError("component other than 1");
  if (!candidate.ip) return absl::InvalidArgumentError("not an IP address (FQDN/mDNS)");
  if (candidate.port == 0) return absl::InvalidArgumentError("port 0");
  IceGeneration& g = *a.current;
  if (g.remote_end_of_candidates) {
    return absl::FailedPreconditionError("remote signalled end-of-candidates");
  }
  stun::SocketAddress address = *candidate.ip;
  address.port = candidate.port;
  IceCandidateInfo info{candidate, address};
  if (std::optional<size_t> i = g.checklist.FindRemote(address)) {
    IceCandidateInfo& known = g.checklist.mutable_remote(*i);
    if (known.candidate.type != ice::CandidateType::kPeerReflexive) {
      return absl::AlreadyExistsError("duplicate remote candidate");
    }
    // A peer-reflexive candidate learnt from a check is now signalled:
    // the signalled one replaces it (RFC 8445 §7.3.1.3 / RFC 8838 §11).
    known = info;
    a.current->checklist.RecomputePriorities(a.role);
  } else {
    if (g.checklist.remotes().size() >= a.config.max_remote_candidates) {
      return absl::ResourceExhaustedError("too many remote candidates");
    }
    const size_t index = g.checklist.AddRemote(info);
    if (g.selected) return absl::OkStatus();  // concluded (§8.1.2): kept, not paired
    a.OnPairsAdded(g, g.checklist.PairRemote(index, a.role), now);
    return absl::OkStatus();
  }
  if (!g.selected) {
    a.OnPairsAdded(g, g.checklist.PairRemote(*g.checklist.FindRemote(address), a.role), now);
  }
  return absl::OkStatus();
}

void IceAgent::SetRemoteEndOfCandidates(absl::Time now) {
  Impl& a = *impl_;
  a.current->remote_end_of_candidates = true;
  a.CheckFailure(now);
  a.MaybeComplete();
}

absl::Status IceAgent::SendData(std::span<const uint8_t> payload, absl::Time now) {
  Impl& a = *impl_;
  if (a.closed) return absl::FailedPreconditionError("agent closed");
  IceGeneration* g = a.DataGeneration();
  if (g == nullptr || a.state == IceState::kFailed) {
    return absl::FailedPreconditionError("no selected pair");
  }
  const CandidatePair& p = g->checklist.pair(*g->selected);
  const GatheredCandidate& l = g->checklist.locals()[p.local];
  a.SendOnVia(a.ViaOf(l), g->checklist.remotes()[p.remote].address, payload, now);
  ++a.stats.data_sent;
  return absl::OkStatus();
}

IceIncoming IceAgent::HandlePacket(const stun::SocketAddress& base,
                                   const stun::SocketAddress& from,
                                   std::span<const uint8_t> bytes, absl::Time now) {
  return HandlePacket(base, from, bytes, now, TurnTransport::kUdp);
}

IceIncoming IceAgent::HandlePacket(const stun::SocketAddress& base,
                                   const stun::SocketAddress& from,
                                   std::span<const uint8_t> bytes, absl::Time now,
                                   TurnTransport transport) {
  Impl& a = *impl_;
  IceIncoming r = a.HandleDatagram(IceVia{base, std::nullopt}, from, bytes, now, transport);
  if (r.kind == IceIncoming::Kind::kIgnored) ++a.stats.packets_ignored;
  return r;
}

void IceAgent::HandleStreamClosed(const stun::SocketAddress& base,
                                  const stun::SocketAddress& server, TurnTransport transport,
                                  std::string_view reason, absl::Time now) {
  Impl& a = *impl_;
  // The gatherer reports the failure (kTurnError) and, for a live
  // allocation, kRelayLost, which fails the pairs on it (DrainGatherer).
  if (a.gatherer.StreamClosed(base, server, transport, reason)) a.DrainGatherer(now);
}

void IceAgent::HandleTimeout(absl::Time now) {
  Impl& a = *impl_;
  a.gatherer.HandleTimeout(now);
  a.DrainGatherer(now);
  if (a.closed) return;
  a.HandleTransactionTimeouts(now);
  IceGeneration& g = *a.current;
  if (!g.selected && !g.nominate_wait_over && now >= g.nominate_deadline) {
    g.nominate_wait_over = true;
    a.MaybeNominate(g, now);
  }
  a.HandleConsentTimers(now);
  // Last: what the steps above queued goes out in this Ta slot.
  a.RunPacer(now);
  if (!a.DataGeneration() && now >= a.connect_deadline && a.state != IceState::kFailed) {
    // No pair selected within connect_timeout of the checks' start.
    a.CancelChecks(g.number, std::nullopt);
    a.SetState(IceState::kFailed, "timeout");
  }
}

absl::Time IceAgent::PollTimeout() const {
  const Impl& a = *impl_;
  absl::Time t = a.gatherer.PollTimeout();
  if (a.closed) return t;
  if (a.HasPacedWork()) t = std::min(t, a.last_paced + a.config.ta);
  for (const auto& [id, tx] : a.transactions) {
    if (tx.timer && !tx.cancelled) t = std::min(t, tx.timer->deadline());
    t = std::min(t, tx.expires);
  }
  if (!a.current->selected && !a.current->nominate_wait_over) {
    t = std::min(t, a.current->nominate_deadline);
  }
  for (const IceGeneration* g : {a.current.get(), a.previous.get()}) {
    if (g == nullptr || !g->selected || g->consent_lost) continue;
    t = std::min(t, g->next_consent);
    if (g->last_consent != absl::InfinitePast()) {
      if (!g->disconnected) t = std::min(t, g->last_consent + a.config.disconnected_after);
      t = std::min(t, g->last_consent + a.config.consent_timeout);
    }
  }
  if (a.state != IceState::kFailed && !a.DataGeneration()) t = std::min(t, a.connect_deadline);
  return t;
}

std::optional<IceTransmit> IceAgent::PollTransmit() {
  Impl& a = *impl_;
  if (!a.transmits.empty()) {
    IceTransmit t = std::move(a.transmits.front());
    a.transmits.pop_front();
    return t;
  }
  return a.gatherer.PollTransmit();
}

std::optional<IceEvent> IceAgent::PollEvent() {
  Impl& a = *impl_;
  if (a.events.empty()) return std::nullopt;
  IceEvent e = std::move(a.events.front());
  a.events.pop_front();
  return e;
}

IceState IceAgent::state() const { return impl_->state; }
ice::Role IceAgent::role() const { return impl_->role; }

std::optional<IceSelectedPair> IceAgent::selected_pair() const {
  const IceGeneration* g = impl_->DataGeneration();
  if (g == nullptr) return std::nullopt;
  return impl_->DescribePair(*g, *g->selected);
}

std::vector<IceCandidateInfo> IceAgent::local_candidates() const {
  std::vector<IceCandidateInfo> out;
  for (const GatheredCandidate& c : impl_->current->checklist.locals()) {
    // Peer-reflexive locals are not signalled (RFC 8445 §7.2.5.3.1).
    if (c.candidate.type == ice::CandidateType::kPeerReflexive) continue;
    out.push_back(IceCandidateInfo{c.candidate, c.address});
  }
  return out;
}

IceAgentStats IceAgent::stats() const {
  IceAgentStats s = impl_->stats;
  s.pairs = 0;
  s.valid_pairs = 0;
  for (const IceGeneration* g : {impl_->current.get(), impl_->previous.get()}) {
    if (g == nullptr) continue;
    s.pairs += g->checklist.live_pairs();
    for (const CandidatePair& p : g->checklist.pairs()) {
      if (p.valid()) ++s.valid_pairs;
    }
  }
  return s;
}

}  // namespace uturn::client
