// IceAgent: consent freshness (RFC 7675) and keepalives (RFC 8445 §11) on
// the selected pair, and the receive path: RFC 7983 demultiplexing of STUN,
// TURN and application data arriving on one socket.
#include <algorithm>
#include <cassert>

#include "client/ice_agent_impl.h"
#include "stun/demux.h"

namespace uturn::client {

void IceAgent::Impl::ScheduleConsent(IceGeneration& g, absl::Time from) {
  // RFC 7675 §5.1: "the interval ... MUST be randomized from 0.8 to 1.2
  // times the basic period" (5 s): 4 to 6 s. These requests are also the
  // pair's keepalives (RFC 8445 §11 asks for one at least every Tr = 15 s).
  std::array<uint8_t, 2> r{};
  random(r);
  const double u = static_cast<double>((r[0] << 8) | r[1]) / 65535.0;  // [0, 1]
  g.next_consent = from + config.consent_interval * (0.8 + 0.4 * u);
}

void IceAgent::Impl::SendConsent(IceGeneration& g, absl::Time now) {
  assert(g.selected && g.remote);
  const stun::TransactionId id = NewTransactionId();
  IceCheckTransaction tx;
  tx.purpose = IceCheckTransaction::Purpose::kConsent;
  tx.generation = g.number;
  tx.pair = *g.selected;
  tx.role = role;
  // RFC 7675 §5.1: a consent request is an ICE check (same credentials and
  // attributes), without USE-CANDIDATE, and a new transaction each time.
  const std::span<const uint8_t> bytes = BuildCheck(g, tx.pair, false, id, &tx.priority);
  if (bytes.empty()) return;
  const CandidatePair& p = g.checklist.pair(tx.pair);
  tx.via = ViaOf(g.checklist.locals()[p.local]);
  tx.destination = g.checklist.remotes()[p.remote].address;
  // RFC 7675 §5.1: an answer to any request "sent in the last 30 seconds"
  // still grants consent.
  tx.expires = now + config.consent_timeout;
  SendOnVia(tx.via, tx.destination, bytes, now);
  transactions.insert_or_assign(id, std::move(tx));
}

void IceAgent::Impl::ConsentSucceeded(IceGeneration& g, absl::Time now) {
  if (g.consent_lost || !g.selected) return;
  g.last_consent = std::max(g.last_consent, now);
  if (!g.disconnected) return;
  g.disconnected = false;
  // A success brings kDisconnected back.
  if (DataGeneration() == &g && state == IceState::kDisconnected) {
    SetState(g.remote_end_of_candidates && gathering_complete ? IceState::kCompleted
                                                              : IceState::kConnected);
  }
}

void IceAgent::Impl::HandleConsentTimers(absl::Time now) {
  for (IceGeneration* g : {current.get(), previous.get()}) {
    if (g == nullptr || !g->selected || g->consent_lost) continue;
    if (now >= g->next_consent) {
      SendConsent(*g, now);
      ScheduleConsent(*g, now);
    }
    const bool carries_data = DataGeneration() == g;
    // RFC 7675 §5.1: "If a valid STUN Binding response ... has not been
    // received ... in the last 30 seconds, the endpoint MUST cease
    // transmission on that 5-tuple."
    if (now >= g->last_consent + config.consent_timeout) {
      g->consent_lost = true;
      g->next_consent = absl::InfiniteFuture();
      if (carries_data) SetState(IceState::kFailed, "consent");
      continue;
    }
    if (!g->disconnected && now >= g->last_consent + config.disconnected_after) {
      g->disconnected = true;
      if (carries_data) SetState(IceState::kDisconnected, "consent");
    }
  }
  if (previous && previous->consent_lost) previous.reset();
}

bool IceAgent::Impl::FromValidPair(const IceVia& via, const stun::SocketAddress& from) const {
  // Fast path: the selected pair carries nearly all data.
  if (const IceGeneration* d = DataGeneration()) {
    const CandidatePair& p = d->checklist.pair(*d->selected);
    if (d->checklist.remotes()[p.remote].address == from &&
        ViaOf(d->checklist.locals()[p.local]) == via) {
      return true;
    }
  }
  for (const IceGeneration* g : {current.get(), previous.get()}) {
    if (g == nullptr) continue;
    for (const IceGeneration::Source& src : g->authenticated_sources) {
      if (src.via == via && src.from == from) return true;
    }
    for (const CandidatePair& p : g->checklist.pairs()) {
      if (!p.valid() || p.removed) continue;
      if (g->checklist.remotes()[p.remote].address != from) continue;
      if (ViaOf(g->checklist.locals()[p.local]) == via) return true;
    }
  }
  return false;
}

IceIncoming IceAgent::Impl::HandleDatagram(const IceVia& via, const stun::SocketAddress& from,
                                           std::span<const uint8_t> bytes, absl::Time now,
                                           TurnTransport transport) {
  IceIncoming result;
  if (bytes.empty()) return result;
  if (transport != TurnTransport::kUdp) {
    // A stream carries only our TURN traffic (checks and data are UDP, the
    // relayed candidate being a UDP relay): the gatherer's or nobody's.
    const stun::PacketKind k = stun::Classify(bytes);
    if (k != stun::PacketKind::kStun && k != stun::PacketKind::kChannelData) return result;
  }
  const stun::PacketKind kind = stun::Classify(bytes);
  const auto application_data = [&](std::span<const uint8_t> data, const IceVia& v,
                                    const stun::SocketAddress& peer) {
    // RFC 7983: 20-63 (DTLS) and 128-191 (RTP/RTCP) are the application's;
    // taken only from the remote of a valid pair (RFC 7675 §5.1 in spirit:
    // no data from addresses ICE did not check).
    if (closed || !FromValidPair(v, peer)) return;
    result.kind = IceIncoming::Kind::kData;
    result.data = data;
    ++stats.data_received;
  };
  switch (kind) {
    case stun::PacketKind::kStun:
    case stun::PacketKind::kChannelData: {
      // RFC 7983 §7: 0-3 STUN and 64-79 ChannelData; the gatherer takes its
      // own answers and everything a TURN server relays.
      const GathererIncoming g = gatherer.HandlePacket(via.base, from, bytes, now, transport);
      DrainGatherer(now);
      if (g.kind == GathererIncoming::Kind::kConsumed) {
        result.kind = IceIncoming::Kind::kHandled;
        return result;
      }
      if (g.kind == GathererIncoming::Kind::kRelayed) {
        const IceVia relayed{via.base, g.relay_id};
        if (g.payload.empty()) return result;
        const stun::PacketKind inner = stun::Classify(g.payload);
        if (inner == stun::PacketKind::kStun) {
          if (!closed) HandleStun(relayed, g.peer, g.payload, now, &result);
        } else if (inner == stun::PacketKind::kDtls || inner == stun::PacketKind::kRtpRtcp) {
          application_data(g.payload, relayed, g.peer);
        }
        return result;
      }
      // ChannelData only ever comes from a TURN server (the gatherer's).
      if (kind == stun::PacketKind::kStun && !closed && transport == TurnTransport::kUdp) {
        HandleStun(via, from, bytes, now, &result);
      }
      return result;
    }
    case stun::PacketKind::kDtls:
    case stun::PacketKind::kRtpRtcp:
      application_data(bytes, via, from);
      return result;
    case stun::PacketKind::kZrtp:
    case stun::PacketKind::kUnknown:
      return result;
  }
  return result;
}

}  // namespace uturn::client
