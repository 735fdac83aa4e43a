#include "client/ice_gatherer.h"

#include <cassert>
#include <utility>

#include "client/ice_candidates.h"

namespace uturn::client {

struct IceGatherer::Impl {
  IceGathererConfig config;
  RandomSource random;
  bool started = false;
  bool complete_reported = false;
  std::vector<stun::SocketAddress> bases;
  std::vector<uint32_t> base_preferences;  // parallel to `bases`
  FoundationTable foundations;
  std::vector<GatheredCandidate> candidates;
  std::deque<GathererEvent> events;
  std::deque<IceTransmit> transmits;

  void AddHostCandidates();
  // Reports `c` unless it is redundant (RFC 8445 §5.1.3).
  void Report(GatheredCandidate c);
  void MaybeComplete();
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
    spec.foundation = foundations.Get(spec.type, bases[i], nullptr, "udp");
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

void IceGatherer::Impl::Report(GatheredCandidate c) {
  std::vector<KnownCandidate> known;
  known.reserve(candidates.size());
  for (const GatheredCandidate& k : candidates) {
    known.push_back({k.address, k.base, k.candidate.priority});
  }
  if (IsRedundant(known, c.address, c.base, c.candidate.priority)) return;
  candidates.push_back(c);
  GathererEvent e;
  e.kind = GathererEvent::Kind::kCandidate;
  e.candidate = std::move(c);
  events.push_back(std::move(e));
}

void IceGatherer::Impl::MaybeComplete() {
  if (complete_reported || !started) return;
  // Server-reflexive and relayed gathering are not built yet: with servers
  // configured, gathering never completes rather than claiming it did.
  if (!config.stun_servers.empty() || !config.turn_servers.empty()) return;
  complete_reported = true;
  GathererEvent e;
  e.kind = GathererEvent::Kind::kComplete;
  events.push_back(std::move(e));
}

IceGatherer::IceGatherer(IceGathererConfig config, RandomSource random)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->random = std::move(random);
}

IceGatherer::~IceGatherer() = default;

absl::Status IceGatherer::Start(std::span<const stun::SocketAddress> bases, absl::Time now) {
  (void)now;
  if (impl_->started) return absl::FailedPreconditionError("gathering already started");
  if (bases.empty()) return absl::InvalidArgumentError("no base to gather on");
  for (size_t i = 0; i < bases.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (bases[i] == bases[j]) {
        return absl::InvalidArgumentError("base given twice: " + bases[i].ToString());
      }
    }
  }
  impl_->started = true;
  impl_->bases.assign(bases.begin(), bases.end());
  impl_->base_preferences = LocalPreferences(bases);
  impl_->AddHostCandidates();
  impl_->MaybeComplete();
  return absl::OkStatus();
}

bool IceGatherer::has_pending_start() const { return false; }

void IceGatherer::StartNext(absl::Time now) { (void)now; }

bool IceGatherer::complete() const { return impl_->complete_reported; }

GathererIncoming IceGatherer::HandlePacket(const stun::SocketAddress& base,
                                           const stun::SocketAddress& from,
                                           std::span<const uint8_t> bytes, absl::Time now) {
  (void)base;
  (void)from;
  (void)bytes;
  (void)now;
  return {};
}

void IceGatherer::HandleTimeout(absl::Time now) { (void)now; }

absl::Time IceGatherer::PollTimeout() const { return absl::InfiniteFuture(); }

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
  (void)relay_id;
  (void)peer;
  (void)now;
  return absl::UnimplementedError("relay not built yet");
}

absl::Status IceGatherer::BindChannel(uint32_t relay_id, const stun::SocketAddress& peer,
                                      absl::Time now) {
  (void)relay_id;
  (void)peer;
  (void)now;
  return absl::UnimplementedError("relay not built yet");
}

absl::Status IceGatherer::SendThroughRelay(uint32_t relay_id, const stun::SocketAddress& peer,
                                           std::span<const uint8_t> payload, absl::Time now) {
  (void)relay_id;
  (void)peer;
  (void)payload;
  (void)now;
  return absl::UnimplementedError("relay not built yet");
}

const std::vector<GatheredCandidate>& IceGatherer::candidates() const {
  return impl_->candidates;
}

void IceGatherer::Regather(absl::Time now) {
  (void)now;
  if (!impl_->started) return;
  // RFC 8445 §9: the host candidates are announced again.
  impl_->candidates.clear();
  impl_->complete_reported = false;
  impl_->AddHostCandidates();
  impl_->MaybeComplete();
}

void IceGatherer::Close(absl::Time now) { (void)now; }

}  // namespace uturn::client
