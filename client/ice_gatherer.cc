#include "client/ice_gatherer.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "client/ice_candidates.h"
#include "client/ice_relay.h"

namespace uturn::client {
namespace {

constexpr const char* kUdp = "udp";

}  // namespace

struct IceGatherer::Impl {
  // One Binding request of one base to one STUN server (RFC 8445 §5.1.1.1).
  struct StunJob {
    size_t base = 0;    // index into `bases`
    size_t server = 0;  // index into config.stun_servers
    std::optional<BindingClient> client;
    bool finished = false;
  };
  // One allocation of one base on one TURN server (RFC 8445 §5.1.1.1).
  struct TurnJob {
    size_t base = 0;
    size_t server = 0;  // index into config.turn_servers
    uint32_t relay_id = 0;
    std::unique_ptr<RelayAllocation> relay;
    bool settled = false;  // the Allocate answered or failed
  };
  struct PendingStart {
    bool turn = false;
    size_t job = 0;
  };

  IceGathererConfig config;
  RandomSource random;
  bool started = false;
  bool closed = false;
  bool complete_reported = false;
  std::vector<stun::SocketAddress> bases;
  std::vector<uint32_t> base_preferences;  // parallel to `bases`
  FoundationTable foundations;
  std::vector<GatheredCandidate> candidates;
  std::vector<StunJob> stun_jobs;
  std::vector<TurnJob> turn_jobs;
  std::deque<PendingStart> pending;
  std::deque<GathererEvent> events;
  std::deque<IceTransmit> transmits;
  uint32_t next_relay_id = 1;

  void AddHostCandidates();
  void QueueStunJobs();
  void StartStunJob(StunJob& job, absl::Time now);
  void StartTurnJob(TurnJob& job, absl::Time now);
  void FinishStunJob(StunJob& job);
  void PumpRelay(TurnJob& job);
  void AddSrflx(size_t base, const stun::SocketAddress& mapped,
                const stun::SocketAddress& server, uint32_t local_preference);
  void AddRelay(const TurnJob& job, const RelayedAddresses& a);
  // Reports `c` unless it is redundant (RFC 8445 §5.1.3).
  void Report(GatheredCandidate c);
  void Emit(GathererEvent::Kind kind, std::string reason, uint32_t relay_id = 0);
  void MaybeComplete();
  TurnJob* FindRelay(uint32_t relay_id);
};

void IceGatherer::Impl::AddHostCandidates() {
  // RFC 8445 §5.1.1.1: one host candidate per base (the socket's address);
  // with relay_only (iceTransportPolicy "relay") none is reported.
  if (config.relay_only) return;
  for (size_t i = 0; i < bases.size(); ++i) {
    CandidateSpec spec;
    spec.type = ice::CandidateType::kHost;
    spec.address = bases[i];
    spec.base = bases[i];
    spec.foundation = foundations.Get(spec.type, bases[i], nullptr, kUdp);
    spec.local_preference = base_preferences[i];
    GatheredCandidate g;
    g.candidate = MakeCandidate(spec);
    g.address = bases[i];
    g.base = bases[i];
    g.socket = bases[i];
    g.local_preference = base_preferences[i];
    Report(std::move(g));
  }
}

void IceGatherer::Impl::QueueStunJobs() {
  // Server-reflexive candidates are host candidates seen from outside: none
  // with relay_only. One request per (base, STUN server) of the same family
  // (a socket cannot reach the other family), bases in preference order.
  if (config.relay_only) return;
  for (size_t b = 0; b < bases.size(); ++b) {
    for (size_t s = 0; s < config.stun_servers.size(); ++s) {
      if (config.stun_servers[s].family != bases[b].family) continue;
      stun_jobs.push_back({b, s, std::nullopt, false});
      pending.push_back({false, stun_jobs.size() - 1});
    }
  }
}

void IceGatherer::Impl::StartStunJob(StunJob& job, absl::Time now) {
  BindingClientConfig bc;
  bc.transaction = config.transaction;
  bc.software = config.software;
  job.client.emplace(bc, random);
  if (!job.client->Start(now).ok()) {
    job.finished = true;  // no random source, or SOFTWARE too long: nothing to wait for
    return;
  }
  const std::span<const uint8_t> req = job.client->request();
  transmits.push_back({bases[job.base], config.stun_servers[job.server], {req.begin(), req.end()}});
}

void IceGatherer::Impl::FinishStunJob(StunJob& job) {
  job.finished = true;
  const BindingResult& r = job.client->result();
  // A failed Binding only means no srflx candidate from that server (RFC
  // 8445 §5.1.1.1); it is not an error the application must see.
  if (r.status != BindingStatus::kSuccess) return;
  const size_t server_count = config.stun_servers.size() + config.turn_servers.size();
  AddSrflx(job.base, r.mapped, config.stun_servers[job.server],
           ServerLocalPreference(base_preferences[job.base], job.server, server_count));
}

void IceGatherer::Impl::AddSrflx(size_t base, const stun::SocketAddress& mapped,
                                 const stun::SocketAddress& server, uint32_t local_preference) {
  if (config.relay_only) return;
  CandidateSpec spec;
  spec.type = ice::CandidateType::kServerReflexive;
  spec.address = mapped;
  spec.base = bases[base];
  spec.related = bases[base];  // RFC 8839 §5.1: raddr of srflx is the base
  spec.foundation = foundations.Get(spec.type, bases[base], &server, kUdp);
  spec.local_preference = local_preference;
  GatheredCandidate g;
  g.candidate = MakeCandidate(spec);
  g.address = mapped;
  g.base = bases[base];
  g.socket = bases[base];
  g.local_preference = local_preference;
  Report(std::move(g));
}

void IceGatherer::Impl::StartTurnJob(TurnJob& job, absl::Time now) {
  TurnClientConfig tc;
  tc.transaction = config.transaction;
  tc.credentials = config.turn_servers[job.server].credentials;
  tc.software = config.software;
  RelayTimers timers;
  timers.permission_refresh_margin = config.permission_refresh_margin;
  timers.channel_refresh_margin = config.channel_refresh_margin;
  timers.allocation_refresh_margin = config.allocation_refresh_margin;
  job.relay = std::make_unique<RelayAllocation>(bases[job.base], config.turn_servers[job.server].address,
                                                std::move(tc), random, timers,
                                                config.turn_servers[job.server].transport);
  if (absl::Status s = job.relay->Start(now); !s.ok()) {
    job.settled = true;
    Emit(GathererEvent::Kind::kTurnError,
         "TURN server " + config.turn_servers[job.server].address.ToString() +
             ": Allocate could not be sent: " + std::string(s.message()));
  }
  PumpRelay(job);
}

void IceGatherer::Impl::PumpRelay(TurnJob& job) {
  while (std::optional<IceTransmit> t = job.relay->PollTransmit()) transmits.push_back(std::move(*t));
  while (std::optional<RelayEvent> e = job.relay->PollEvent()) {
    switch (e->kind) {
      case RelayEvent::Kind::kAllocated:
        job.settled = true;
        AddRelay(job, e->allocation);
        break;
      case RelayEvent::Kind::kFailed:
        // A TURN failure costs the relay candidate only; gathering goes on.
        job.settled = true;
        Emit(GathererEvent::Kind::kTurnError, std::move(e->reason), job.relay_id);
        break;
      case RelayEvent::Kind::kLost: {
        // A stream that ended is a TURN error the application hears of;
        // UDP losses (refresh failed, expiry) have always been silent.
        if (job.relay->transport() != TurnTransport::kUdp) {
          Emit(GathererEvent::Kind::kTurnError, e->reason, job.relay_id);
        }
        // Its relayed candidate is gone: the agent prunes its pairs.
        candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                        [&](const GatheredCandidate& c) {
                                          return c.relay_id == job.relay_id;
                                        }),
                         candidates.end());
        Emit(GathererEvent::Kind::kRelayLost, std::move(e->reason), job.relay_id);
        break;
      }
      case RelayEvent::Kind::kError:
        Emit(GathererEvent::Kind::kTurnError, std::move(e->reason), job.relay_id);
        break;
    }
  }
}

void IceGatherer::Impl::AddRelay(const TurnJob& job, const RelayedAddresses& a) {
  assert(!a.relayed.empty());  // TurnClient refuses an Allocate success without one
  const stun::SocketAddress& server = config.turn_servers[job.server].address;
  const TurnTransport transport = config.turn_servers[job.server].transport;
  // RFC 8445 §5.1.1.2: the mapped address of the allocation is a srflx
  // candidate too, when it is a UDP mapping; over TCP it is the stream's
  // mapping, which no UDP check can use.
  if (a.has_mapped && transport == TurnTransport::kUdp) {
    AddSrflx(job.base, a.mapped, server,
             ServerLocalPreference(base_preferences[job.base], config.stun_servers.size() + job.server,
                                   config.stun_servers.size() + config.turn_servers.size()));
  }
  const stun::SocketAddress& relayed = a.relayed.front();
  CandidateSpec spec;
  spec.type = ice::CandidateType::kRelay;
  spec.address = relayed;
  spec.base = relayed;  // RFC 8445 §5.1.1.2: a relayed candidate is its own base
  // RFC 8839 §5.1: raddr of a relayed candidate is the allocation's mapped
  // address; a server that sent none leaves us the host socket's address.
  spec.related = a.has_mapped ? a.mapped : bases[job.base];
  // §5.1.1.3: same type, same base IP (for a relayed candidate, the relayed
  // address: ports may differ), same server IP, same transport (the one
  // used to reach the server: a relay reached over TCP is another foundation).
  spec.foundation = foundations.Get(spec.type, relayed, &server, ToString(transport));
  spec.local_preference =
      ServerLocalPreference(base_preferences[job.base], job.server, config.turn_servers.size());
  GatheredCandidate g;
  g.candidate = MakeCandidate(spec);
  g.address = relayed;
  g.base = relayed;
  g.socket = bases[job.base];
  g.relay_id = job.relay_id;
  g.local_preference = spec.local_preference;
  Report(std::move(g));
}

void IceGatherer::Impl::Report(GatheredCandidate c) {
  std::vector<KnownCandidate> known;
  known.reserve(candidates.size());
  for (const GatheredCandidate& k : candidates) {
    known.push_back({k.address, k.base, k.candidate.priority});
  }
  if (IsRedundant(known, c.address, c.base, c.candidate.priority)) return;
  // RFC 8445 §5.1.3: a lower-priority redundant one already known goes (it
  // was announced already; trickle cannot take it back).
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [&](const GatheredCandidate& k) {
                                    return k.address == c.address && k.base == c.base;
                                  }),
                   candidates.end());
  candidates.push_back(c);
  GathererEvent e;
  e.kind = GathererEvent::Kind::kCandidate;
  e.candidate = std::move(c);
  events.push_back(std::move(e));
}

void IceGatherer::Impl::Emit(GathererEvent::Kind kind, std::string reason, uint32_t relay_id) {
  GathererEvent e;
  e.kind = kind;
  e.reason = std::move(reason);
  e.relay_id = relay_id;
  events.push_back(std::move(e));
}

void IceGatherer::Impl::MaybeComplete() {
  if (complete_reported || !started || !pending.empty()) return;
  for (const StunJob& j : stun_jobs) {
    if (!j.finished) return;
  }
  for (const TurnJob& j : turn_jobs) {
    if (!j.settled) return;
  }
  complete_reported = true;
  Emit(GathererEvent::Kind::kComplete, "");
}

IceGatherer::Impl::TurnJob* IceGatherer::Impl::FindRelay(uint32_t relay_id) {
  for (TurnJob& j : turn_jobs) {
    if (j.relay_id == relay_id && j.relay) return &j;
  }
  return nullptr;
}

IceGatherer::IceGatherer(IceGathererConfig config, RandomSource random)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->random = std::move(random);
}

IceGatherer::~IceGatherer() = default;

absl::Status IceGatherer::Start(std::span<const stun::SocketAddress> bases, absl::Time now) {
  (void)now;  // host candidates need no transaction
  Impl& m = *impl_;
  if (m.started) return absl::FailedPreconditionError("gathering already started");
  if (bases.empty()) return absl::InvalidArgumentError("no base to gather on");
  for (size_t i = 0; i < bases.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (bases[i] == bases[j]) {
        return absl::InvalidArgumentError("base given twice: " + bases[i].ToString());
      }
    }
  }
  m.started = true;
  m.bases.assign(bases.begin(), bases.end());
  m.base_preferences = LocalPreferences(bases);
  m.AddHostCandidates();
  m.QueueStunJobs();
  // One allocation per (base, TURN server) of the same family.
  for (size_t b = 0; b < m.bases.size(); ++b) {
    for (size_t s = 0; s < m.config.turn_servers.size(); ++s) {
      if (m.config.turn_servers[s].address.family != m.bases[b].family) continue;
      Impl::TurnJob job;
      job.base = b;
      job.server = s;
      job.relay_id = m.next_relay_id++;
      m.turn_jobs.push_back(std::move(job));
      m.pending.push_back({true, m.turn_jobs.size() - 1});
    }
  }
  m.MaybeComplete();
  return absl::OkStatus();
}

bool IceGatherer::has_pending_start() const { return !impl_->closed && !impl_->pending.empty(); }

void IceGatherer::StartNext(absl::Time now) {
  Impl& m = *impl_;
  if (m.closed || m.pending.empty()) return;
  // RFC 8445 §5.1.1.1: one new transaction per call; the agent paces calls by Ta.
  const Impl::PendingStart p = m.pending.front();
  m.pending.pop_front();
  if (p.turn) {
    m.StartTurnJob(m.turn_jobs[p.job], now);
  } else {
    Impl::StunJob& job = m.stun_jobs[p.job];
    m.StartStunJob(job, now);
  }
  m.MaybeComplete();
}

bool IceGatherer::complete() const { return impl_->complete_reported; }

GathererIncoming IceGatherer::HandlePacket(const stun::SocketAddress& base,
                                           const stun::SocketAddress& from,
                                           std::span<const uint8_t> bytes, absl::Time now,
                                           TurnTransport transport) {
  Impl& m = *impl_;
  GathererIncoming out;
  // Binding requests to STUN servers go over UDP only.
  for (Impl::StunJob& job : m.stun_jobs) {
    if (transport != TurnTransport::kUdp) break;
    if (!job.client || job.finished || !(m.bases[job.base] == base) ||
        !(m.config.stun_servers[job.server] == from)) {
      continue;
    }
    if (job.client->HandleMessage(bytes, now) == Disposition::kAnswered) {
      m.FinishStunJob(job);
      m.MaybeComplete();
      out.kind = GathererIncoming::Kind::kConsumed;
      return out;
    }
  }
  for (Impl::TurnJob& job : m.turn_jobs) {
    if (!job.relay || !(job.relay->base() == base) || !(job.relay->server() == from) ||
        job.relay->transport() != transport) {
      continue;
    }
    Incoming in = job.relay->HandleIncoming(bytes, now);
    m.PumpRelay(job);
    m.MaybeComplete();
    switch (in.kind) {
      case Incoming::Kind::kResponse:
        out.kind = GathererIncoming::Kind::kConsumed;
        return out;
      case Incoming::Kind::kData:
        out.kind = GathererIncoming::Kind::kRelayed;
        out.relay_id = job.relay_id;
        out.peer = in.peer;
        out.payload = in.payload;
        return out;
      case Incoming::Kind::kIgnored:
        break;  // one allocation per (base, server): nobody else to ask
    }
    // From our TURN server on this base but unusable (stale, unverifiable,
    // from an unpermitted peer, garbage): RFC 8656 §10.4 / §12.6 say drop it.
    out.kind = GathererIncoming::Kind::kConsumed;
    return out;
  }
  return out;  // kNotMine: the agent's (a connectivity check, media, ...)
}

bool IceGatherer::StreamClosed(const stun::SocketAddress& base, const stun::SocketAddress& server,
                               TurnTransport transport, std::string_view reason) {
  Impl& m = *impl_;
  if (transport == TurnTransport::kUdp) return false;
  for (Impl::TurnJob& job : m.turn_jobs) {
    if (!job.relay || !(job.relay->base() == base) || !(job.relay->server() == server) ||
        job.relay->transport() != transport) {
      continue;
    }
    job.relay->StreamClosed(reason);
    m.PumpRelay(job);
    m.MaybeComplete();
    return true;
  }
  return false;
}

void IceGatherer::HandleTimeout(absl::Time now) {
  Impl& m = *impl_;
  for (Impl::StunJob& job : m.stun_jobs) {
    if (!job.client || job.finished || now < job.client->deadline()) continue;
    // RFC 8489 §6.2.1: retransmit the same request until Rc transmissions.
    if (job.client->HandleTimeout(now)) {
      const std::span<const uint8_t> req = job.client->request();
      m.transmits.push_back({m.bases[job.base], m.config.stun_servers[job.server],
                             {req.begin(), req.end()}});
    }
    if (job.client->done()) m.FinishStunJob(job);
  }
  for (Impl::TurnJob& job : m.turn_jobs) {
    if (!job.relay) continue;
    if (now >= job.relay->PollTimeout()) job.relay->HandleTimeout(now);
    m.PumpRelay(job);
  }
  m.MaybeComplete();
}

absl::Time IceGatherer::PollTimeout() const {
  const Impl& m = *impl_;
  absl::Time t = absl::InfiniteFuture();
  for (const Impl::StunJob& job : m.stun_jobs) {
    if (job.client && !job.finished) t = std::min(t, job.client->deadline());
  }
  for (const Impl::TurnJob& job : m.turn_jobs) {
    if (job.relay) t = std::min(t, job.relay->PollTimeout());
  }
  return t;
}

std::optional<IceTransmit> IceGatherer::PollTransmit() {
  if (impl_->transmits.empty()) return std::nullopt;
  IceTransmit t = std::move(impl_->transmits.front());
  impl_->transmits.pop_front();
  return t;
}

std::optional<GathererEvent> IceGatherer::PollEvent() {
  if (impl_->events.empty()) return std::nullopt;
  GathererEvent e = std::move(impl_->events.front());
  impl_->events.pop_front();
  return e;
}

absl::Status IceGatherer::Permit(uint32_t relay_id, const stun::SocketAddress& peer,
                                 absl::Time now) {
  Impl::TurnJob* job = impl_->FindRelay(relay_id);
  if (job == nullptr) return absl::NotFoundError("no such allocation");
  absl::Status s = job->relay->Permit(peer, now);
  impl_->PumpRelay(*job);
  return s;
}

absl::Status IceGatherer::BindChannel(uint32_t relay_id, const stun::SocketAddress& peer,
                                      absl::Time now) {
  Impl::TurnJob* job = impl_->FindRelay(relay_id);
  if (job == nullptr) return absl::NotFoundError("no such allocation");
  absl::Status s = job->relay->BindChannel(peer, now);
  impl_->PumpRelay(*job);
  return s;
}

absl::Status IceGatherer::SendThroughRelay(uint32_t relay_id, const stun::SocketAddress& peer,
                                           std::span<const uint8_t> payload, absl::Time now) {
  Impl::TurnJob* job = impl_->FindRelay(relay_id);
  if (job == nullptr) return absl::NotFoundError("no such allocation");
  absl::Status s = job->relay->Send(peer, payload, now);
  impl_->PumpRelay(*job);
  return s;
}

const std::vector<GatheredCandidate>& IceGatherer::candidates() const {
  return impl_->candidates;
}

void IceGatherer::Regather(absl::Time now) {
  (void)now;  // new requests wait for StartNext
  Impl& m = *impl_;
  if (!m.started || m.closed) return;
  // RFC 8445 §9: an ICE restart gathers again: host candidates are
  // announced again, srflx asked for anew, live allocations are kept and
  // their candidates (relayed and the TURN-mapped srflx) announced again.
  m.candidates.clear();
  m.complete_reported = false;
  m.AddHostCandidates();
  for (Impl::TurnJob& job : m.turn_jobs) {
    if (job.relay && job.relay->phase() == RelayAllocation::Phase::kAllocated) {
      m.AddRelay(job, job.relay->allocation());
    }
  }
  // Requests not started yet stay queued; finished Binding jobs are redone.
  std::deque<Impl::PendingStart> still;
  for (const Impl::PendingStart& p : m.pending) {
    if (p.turn) still.push_back(p);
  }
  m.pending = std::move(still);
  m.stun_jobs.clear();
  m.QueueStunJobs();
  m.MaybeComplete();
}

void IceGatherer::Close(absl::Time now) {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  m.pending.clear();
  for (Impl::StunJob& job : m.stun_jobs) job.finished = true;
  // RFC 8656 §8: deallocate (Refresh LIFETIME 0) every allocation.
  for (Impl::TurnJob& job : m.turn_jobs) {
    if (!job.relay) continue;
    job.relay->Close(now);
    m.PumpRelay(job);
  }
}

}  // namespace uturn::client
