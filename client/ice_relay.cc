#include "client/ice_relay.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

#include "stun/channel_data.h"

namespace uturn::client {
namespace {

// RFC 8656 §9: "permissions ... last for 300 seconds" (the server's fixed
// Permission Lifetime).
constexpr absl::Duration kPermissionLifetime = absl::Seconds(300);
// RFC 8656 §12: "a channel binding lasts for 10 minutes unless refreshed".
constexpr absl::Duration kChannelLifetime = absl::Minutes(10);
// RFC 8656 §12: the last number a client may bind.
constexpr uint16_t kLastChannel = 0x4FFF;
// Peers per CreatePermission when refreshing in a batch: keeps the request
// far below any path MTU (24 bytes per IPv6 XOR-PEER-ADDRESS).
constexpr size_t kPeersPerPermission = 16;
// Send indication overhead over the payload: header 20, XOR-PEER-ADDRESS up
// to 24, DATA header 4 + padding 3, DONT-FRAGMENT 4.
constexpr size_t kSendOverhead = 64;

stun::SocketAddress IpOnly(stun::SocketAddress a) {
  a.port = 0;
  return a;
}

// Refresh at `margin` before `lifetime` ends, but no later than half-way.
absl::Duration RefreshAfter(absl::Duration lifetime, absl::Duration margin) {
  return std::max(lifetime - margin, lifetime / 2);
}

const char* MethodName(stun::Method m) {
  switch (m) {
    case stun::Method::kAllocate: return "Allocate";
    case stun::Method::kRefresh: return "Refresh";
    case stun::Method::kCreatePermission: return "CreatePermission";
    case stun::Method::kChannelBind: return "ChannelBind";
    default: return "request";
  }
}

// RFC 8489 §6.2.2: over TCP/TLS a request is sent once and fails after Ti
// (39.5 s); RFC 8656 §12.5: ChannelData is padded to 4 bytes both ways.
TurnClientConfig ReliableIfStream(TurnClientConfig config, TurnTransport transport) {
  if (transport != TurnTransport::kUdp) config.transport = stun::TransportKind::kReliable;
  return config;
}

}  // namespace

RelayAllocation::RelayAllocation(const stun::SocketAddress& base,
                                 const stun::SocketAddress& server, TurnClientConfig config,
                                 RandomSource random, RelayTimers timers,
                                 TurnTransport transport)
    : base_(base),
      server_(server),
      transport_(transport),
      timers_(timers),
      client_(ReliableIfStream(std::move(config), transport), std::move(random)) {}

absl::Status RelayAllocation::Start(absl::Time now) {
  if (phase_ != Phase::kIdle) return absl::FailedPreconditionError("allocation already started");
  absl::StatusOr<RequestHandle> h = client_.Allocate(now);
  if (!h.ok()) {
    phase_ = Phase::kFailed;
    return h.status();
  }
  phase_ = Phase::kAllocating;
  requests_[*h] = {Purpose::kAllocate, {}};
  Pump(now);
  return absl::OkStatus();
}

Incoming RelayAllocation::HandleIncoming(std::span<const uint8_t> bytes, absl::Time now) {
  if (phase_ == Phase::kIdle || phase_ == Phase::kFailed || stream_closed_) return {};
  Incoming in = client_.HandleIncoming(bytes, now);
  Pump(now);
  return in;
}

void RelayAllocation::HandleTimeout(absl::Time now) {
  if (stream_closed_) return;
  if (now >= client_.deadline()) client_.HandleTimeout(now);
  Pump(now);
  if (phase_ != Phase::kAllocated || closing_) return;
  // RFC 8656 §8: refresh the allocation before its lifetime runs out.
  if (!refresh_pending_ && now >= refresh_at_) {
    absl::StatusOr<RequestHandle> h = client_.Refresh(now, std::nullopt);
    if (!h.ok()) return Lose("Refresh could not be sent: " + std::string(h.status().message()));
    refresh_pending_ = *h;
    requests_[*h] = {Purpose::kRefresh, {}};
  }
  // RFC 8656 §9.1: a CreatePermission for an installed peer refreshes it;
  // all that are due go together.
  std::vector<stun::SocketAddress> due;
  for (auto& [ip, perm] : permissions_) {
    if (perm.installed && !perm.pending && now >= perm.refresh_at) due.push_back(ip);
  }
  for (size_t i = 0; i < due.size(); i += kPeersPerPermission) {
    const size_t end = std::min(due.size(), i + kPeersPerPermission);
    (void)SendPermission({due.begin() + static_cast<ptrdiff_t>(i),
                          due.begin() + static_cast<ptrdiff_t>(end)},
                         now);
  }
  // RFC 8656 §11: re-binding the same number to the same peer refreshes it.
  for (auto& [peer, ch] : channels_) {
    if (ch.bound && !ch.pending && now >= ch.refresh_at) (void)SendChannelBind(peer, ch, now);
  }
  Pump(now);
}

absl::Time RelayAllocation::PollTimeout() const {
  if (stream_closed_) return absl::InfiniteFuture();
  absl::Time t = client_.deadline();
  if (phase_ != Phase::kAllocated || closing_) return t;
  if (!refresh_pending_) t = std::min(t, refresh_at_);
  for (const auto& [ip, perm] : permissions_) {
    if (perm.installed && !perm.pending) t = std::min(t, perm.refresh_at);
  }
  for (const auto& [peer, ch] : channels_) {
    if (ch.bound && !ch.pending) t = std::min(t, ch.refresh_at);
  }
  return t;
}

std::optional<IceTransmit> RelayAllocation::PollTransmit() {
  if (transmits_.empty()) return std::nullopt;
  IceTransmit t = std::move(transmits_.front());
  transmits_.pop_front();
  return t;
}

std::optional<RelayEvent> RelayAllocation::PollEvent() {
  if (events_.empty()) return std::nullopt;
  RelayEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

absl::Status RelayAllocation::Permit(const stun::SocketAddress& peer, absl::Time now) {
  if (phase_ != Phase::kAllocated || closing_) {
    return absl::FailedPreconditionError("no allocation to install a permission on");
  }
  // RFC 8656 §9: permissions are per IP address, the port is ignored; one
  // request per new IP, none for one already installed or on its way.
  const stun::SocketAddress ip = IpOnly(peer);
  if (auto it = permissions_.find(ip); it != permissions_.end()) {
    if (it->second.installed || it->second.pending) return absl::OkStatus();
    if (now < it->second.refused_until) {
      return absl::FailedPreconditionError("the TURN server refused a permission for " +
                                           ip.IpString());
    }
    permissions_.erase(it);  // the refusal is old: ask again
  }
  permissions_.emplace(ip, Permission{});
  absl::Status s = SendPermission({ip}, now);
  if (!s.ok()) permissions_.erase(ip);
  Pump(now);
  return s;
}

absl::Status RelayAllocation::SendPermission(std::vector<stun::SocketAddress> peers,
                                             absl::Time now) {
  absl::StatusOr<RequestHandle> h = client_.CreatePermission(now, peers);
  if (!h.ok()) return h.status();
  for (const stun::SocketAddress& ip : peers) permissions_[ip].pending = *h;
  requests_[*h] = {Purpose::kPermission, std::move(peers)};
  return absl::OkStatus();
}

absl::Status RelayAllocation::BindChannel(const stun::SocketAddress& peer, absl::Time now) {
  if (phase_ != Phase::kAllocated || closing_) {
    return absl::FailedPreconditionError("no allocation to bind a channel on");
  }
  if (channels_.contains(peer)) return absl::OkStatus();  // bound or on its way
  if (next_channel_ > kLastChannel) {
    return absl::ResourceExhaustedError("every channel number 0x4000-0x4FFF is used (RFC 8656 §12)");
  }
  Channel ch;
  ch.number = next_channel_++;
  absl::Status s = SendChannelBind(peer, ch, now);
  if (s.ok()) channels_.emplace(peer, ch);
  Pump(now);
  return s;
}

absl::Status RelayAllocation::SendChannelBind(const stun::SocketAddress& peer, Channel& ch,
                                              absl::Time now) {
  absl::StatusOr<RequestHandle> h = client_.ChannelBind(now, ch.number, peer);
  if (!h.ok()) return h.status();
  ch.pending = *h;
  requests_[*h] = {Purpose::kChannel, {peer}};
  return absl::OkStatus();
}

absl::Status RelayAllocation::Send(const stun::SocketAddress& peer,
                                   std::span<const uint8_t> payload, absl::Time now) {
  if (phase_ != Phase::kAllocated || closing_) {
    return absl::FailedPreconditionError("no allocation to send through");
  }
  if (absl::Status s = Permit(peer, now); !s.ok()) return s;
  std::vector<uint8_t> out(payload.size() + kSendOverhead);
  absl::StatusOr<size_t> n;
  // RFC 8656 §12: once the channel is bound, ChannelData; until then (and
  // while the ChannelBind is in flight) a Send indication (§10.1).
  if (std::optional<uint16_t> ch = client_.ChannelFor(peer)) {
    n = client_.WriteChannelData(*ch, payload, out);
  } else {
    n = client_.WriteSendIndication(peer, payload, out);
  }
  if (!n.ok()) return n.status();
  out.resize(*n);
  transmits_.push_back({base_, server_, std::move(out), transport_});
  return absl::OkStatus();
}

std::optional<uint16_t> RelayAllocation::ChannelFor(const stun::SocketAddress& peer) const {
  return client_.ChannelFor(peer);
}

bool RelayAllocation::HasPermission(const stun::SocketAddress& peer) const {
  auto it = permissions_.find(IpOnly(peer));
  return it != permissions_.end() && it->second.installed;
}

void RelayAllocation::Close(absl::Time now) {
  if (closing_ || phase_ == Phase::kClosed) return;
  closing_ = true;
  if (phase_ == Phase::kAllocated) {
    // RFC 8656 §8: "a Refresh request with a requested lifetime of 0" deletes
    // the allocation.
    absl::StatusOr<RequestHandle> h = client_.Refresh(now, 0);
    if (h.ok()) requests_[*h] = {Purpose::kDeallocate, {}};
    phase_ = Phase::kClosed;
  } else if (phase_ != Phase::kAllocating) {
    phase_ = Phase::kClosed;
  }
  // kAllocating: deallocated as soon as the Allocate answers (OnTurnEvent).
  Pump(now);
}

void RelayAllocation::StreamClosed(std::string_view reason) {
  if (transport_ == TurnTransport::kUdp || stream_closed_) return;
  stream_closed_ = true;
  transmits_.clear();  // written nowhere: the stream they were for is gone
  const std::string why = "TURN server " + server_.ToString() + " over " + ToString(transport_) +
                          ": " + std::string(reason);
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kAllocating:
      phase_ = closing_ ? Phase::kClosed : Phase::kFailed;
      if (!closing_) Emit(RelayEvent::Kind::kFailed, why);
      return;
    case Phase::kAllocated:
      if (closing_) {
        phase_ = Phase::kClosed;
        return;
      }
      return Lose(why);
    case Phase::kFailed:
    case Phase::kLost:
    case Phase::kClosed:
      return;
  }
}

void RelayAllocation::Pump(absl::Time now) {
  // Events may issue requests (a late Allocate while closing), so loop until
  // both queues are empty; every event is consumed once, so this ends.
  for (;;) {
    std::optional<TurnEvent> ev = client_.PollEvent();
    if (!ev) break;
    OnTurnEvent(std::move(*ev), now);
  }
  while (std::optional<std::vector<uint8_t>> bytes = client_.PollTransmit()) {
    transmits_.push_back({base_, server_, std::move(*bytes), transport_});
  }
}

std::string RelayAllocation::Describe(const TurnEvent& ev) const {
  std::string s = "TURN server " + server_.ToString() + ": " + MethodName(ev.method) + " ";
  if (ev.timed_out) return s + "timed out";
  if (ev.error_code != 0) return s + "failed with " + std::to_string(ev.error_code) + " " + ev.reason;
  return s + "failed: " + ev.reason;
}

void RelayAllocation::Emit(RelayEvent::Kind kind, std::string reason) {
  RelayEvent e;
  e.kind = kind;
  e.reason = std::move(reason);
  if (kind == RelayEvent::Kind::kAllocated) e.allocation = client_.allocation();
  events_.push_back(std::move(e));
}

void RelayAllocation::Lose(std::string reason) {
  phase_ = Phase::kLost;
  refresh_at_ = absl::InfiniteFuture();
  Emit(RelayEvent::Kind::kLost, std::move(reason));
}

void RelayAllocation::ScheduleRefresh(uint32_t lifetime_seconds, absl::Time now) {
  refresh_at_ = now + RefreshAfter(absl::Seconds(lifetime_seconds), timers_.allocation_refresh_margin);
}

void RelayAllocation::OnTurnEvent(TurnEvent ev, absl::Time now) {
  if (ev.kind == TurnEvent::Kind::kExpired) {
    // RFC 8656 §7: the lifetime ran out without a successful Refresh.
    if (!closing_ && phase_ == Phase::kAllocated) Lose("TURN server " + server_.ToString() + ": allocation expired");
    return;
  }
  auto it = requests_.find(ev.request);
  if (it == requests_.end()) return;  // not ours (cannot happen: every request is recorded)
  Request req = std::move(it->second);
  requests_.erase(it);
  const bool ok = ev.kind != TurnEvent::Kind::kError;
  switch (req.purpose) {
    case Purpose::kAllocate:
      if (!ok) {
        phase_ = closing_ ? Phase::kClosed : Phase::kFailed;
        if (!closing_) Emit(RelayEvent::Kind::kFailed, Describe(ev));
        return;
      }
      phase_ = Phase::kAllocated;
      if (closing_) {
        // Closed while allocating: delete it right away (RFC 8656 §8).
        phase_ = Phase::kClosed;
        absl::StatusOr<RequestHandle> h = client_.Refresh(now, 0);
        if (h.ok()) requests_[*h] = {Purpose::kDeallocate, {}};
        return;
      }
      ScheduleRefresh(ev.lifetime_seconds, now);
      Emit(RelayEvent::Kind::kAllocated, "");
      return;
    case Purpose::kRefresh:
      refresh_pending_.reset();
      if (closing_ || phase_ != Phase::kAllocated) return;
      if (!ok) return Lose(Describe(ev));
      if (ev.lifetime_seconds == 0) return Lose("TURN server " + server_.ToString() + ": refreshed to lifetime 0");
      ScheduleRefresh(ev.lifetime_seconds, now);
      return;
    case Purpose::kPermission:
      for (const stun::SocketAddress& ip : req.peers) {
        auto p = permissions_.find(ip);
        if (p == permissions_.end()) continue;
        p->second.pending.reset();
        if (ok) {
          p->second.installed = true;
          p->second.refresh_at = now + RefreshAfter(kPermissionLifetime, timers_.permission_refresh_margin);
        } else if (ev.timed_out || ev.error_code == 0) {
          // No usable answer: forgotten, so that the next Permit tries again.
          permissions_.erase(p);
        } else {
          // The server said no: remembered for a permission lifetime.
          p->second.installed = false;
          p->second.refresh_at = absl::InfiniteFuture();
          p->second.refused_until = now + kPermissionLifetime;
        }
      }
      if (!ok && !closing_) Emit(RelayEvent::Kind::kError, Describe(ev));
      return;
    case Purpose::kChannel: {
      assert(req.peers.size() == 1);
      auto c = channels_.find(req.peers[0]);
      if (c == channels_.end()) return;
      c->second.pending.reset();
      if (ok) {
        c->second.bound = true;
        c->second.refresh_at = now + RefreshAfter(kChannelLifetime, timers_.channel_refresh_margin);
        // RFC 8656 §11.3: the binding installs or refreshes the permission too.
        Permission& p = permissions_[IpOnly(req.peers[0])];
        p.installed = true;
        if (!p.pending) {
          p.refresh_at = now + RefreshAfter(kPermissionLifetime, timers_.permission_refresh_margin);
        }
      } else {
        // The number is not reused: the server may still hold it (RFC 8656 §12).
        channels_.erase(c);
        if (!closing_) Emit(RelayEvent::Kind::kError, Describe(ev));
      }
      return;
    }
    case Purpose::kDeallocate:
      return;
  }
}

}  // namespace uturn::client
