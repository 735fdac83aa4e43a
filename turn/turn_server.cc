// TurnServer: packet dispatch, response finishing, lifetimes and the public
// API. Method handlers are in turn_allocate.cc and turn_permissions.cc, the
// relaying paths in turn_relay.cc.
#include "turn/turn_server.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <memory>
#include <utility>

#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/constants.h"
#include "stun/demux.h"
#include "turn/server_impl.h"

namespace uturn::turn {
namespace {

using stun::MessageBuilder;
using stun::MessageClass;
using stun::MessageView;
using stun::Method;
using stun::ParseError;

constexpr size_t kMinSeedBytes = 16;

uint16_t ReadU16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

uint64_t SeedWord(std::span<const uint8_t> seed, size_t offset) {
  uint64_t v = 0x9E3779B97F4A7C15ull * (offset + 1);
  for (size_t i = offset; i < seed.size(); i += 16) {
    for (size_t j = 0; j < 8 && i + j < seed.size(); ++j) v ^= uint64_t{seed[i + j]} << (8 * j);
    v *= 0xBF58476D1CE4E5B9ull;
  }
  return v | 1;  // xorshift state must not be all zero
}

}  // namespace

TurnServer::Impl::Impl(TurnConfig cfg, TurnHost* h, Authenticator authenticator,
                       std::span<const uint8_t> seed)
    : config(std::move(cfg)),
      host(h),
      auth(std::move(authenticator)),
      policy(config.peer_policy),
      responder(ResponderOptions{.software = config.software}),
      cache(config.response_cache_time, config.response_cache_entries),
      quota(config.quota_ledger != nullptr
                ? config.quota_ledger
                : std::make_shared<LocalQuotaLedger>(
                      QuotaLimits{.user = config.user_quota, .total = config.total_quota})) {
  rng[0] = SeedWord(seed, 0);
  rng[1] = SeedWord(seed, 8);
}

TurnServer::Impl::~Impl() {
  table.ForEach([this](const Allocation& a) { quota->Release(a.username); });
}

// ---- dispatch ----

void TurnServer::Impl::OnClientPacket(const FiveTuple& tuple, std::span<uint8_t> packet,
                                      absl::Time now) {
  // RFC 7983 §7 gives ChannelData the first bytes 64-79; RFC 5766 channel
  // numbers (0x5000-0x7FFF) start with 80-127 and are ChannelData only when
  // the operator accepts that range.
  const bool rfc5766_channel = config.allow_rfc5766_channel_numbers && !packet.empty() &&
                               packet[0] >= 0x50 && packet[0] <= 0x7F;
  if (rfc5766_channel) {
    HandleChannelData(tuple, packet, now);
    return;
  }
  switch (stun::Classify(packet)) {
    case stun::PacketKind::kChannelData:  // RFC 7983 §7: first byte 64-79
      HandleChannelData(tuple, packet, now);
      return;
    case stun::PacketKind::kStun:
      break;
    default:
      ++counters.dropped_malformed;
      return;
  }
  if (packet.size() >= stun::kHeaderSize &&
      stun::DecodeMethod(ReadU16(packet, 0)) == static_cast<uint16_t>(Method::kBinding)) {
    // RFC 8656 §4: a TURN server is also a STUN server and answers Binding.
    HandleBinding(tuple, packet);
    return;
  }
  HandleStun(tuple, packet, now);
}

void TurnServer::Impl::HandleBinding(const FiveTuple& tuple, std::span<const uint8_t> packet) {
  const StunResponder::Result r = responder.Handle(packet, tuple.client, tuple.transport, out);
  int code = -1;  // -1: nothing answered
  switch (r.outcome) {
    case Outcome::kSuccess:
      ++counters.binding_success;
      code = 0;
      break;
    case Outcome::kBadRequest:
      ++counters.binding_errors;
      code = stun::error::kBadRequest;
      break;
    case Outcome::kUnknownAttribute:
      ++counters.binding_errors;
      code = stun::error::kUnknownAttribute;
      break;
    case Outcome::kIndication: ++counters.binding_indications; break;
    default: ++counters.binding_dropped; break;
  }
  if (code >= 0) {
    // Binding answers are counted per method here, not in CountResponse,
    // so the TURN totals (responses_success/error, error_codes) keep their
    // meaning.
    constexpr size_t kRow = static_cast<size_t>(CountedMethod::kBinding);
    ++counters.requests_by_method[kRow];
    ++counters.responses[kRow][ResponseColumn(code)];
  }
  if (r.response_size > 0) host->SendToClient(tuple, std::span(out.data(), r.response_size));
}

void TurnServer::Impl::HandleStun(const FiveTuple& tuple, std::span<uint8_t> packet,
                                  absl::Time now) {
  MessageView m;
  // TURN messages always carry the magic cookie (RFC 8656 §4 builds on RFC
  // 8489, not RFC 3489).
  const ParseError pe =
      MessageView::Parse(packet, &m, stun::ParseOptions{.allow_rfc3489 = false});
  if (pe != ParseError::kNone) {
    ++counters.dropped_malformed;
    if (stun::IsSilentlyDiscarded(pe)) return;
    // The header is sound but the attributes are not (overrun, duplicates,
    // bad MESSAGE-INTEGRITY length): a request gets 400 (RFC 8489 §14.8),
    // anything else is discarded.
    if (stun::DecodeClass(ReadU16(packet, 0)) != MessageClass::kRequest) return;
    MessageBuilder b(out, stun::EncodeMessageType(stun::DecodeMethod(ReadU16(packet, 0)),
                                                  MessageClass::kErrorResponse),
                     std::span<const uint8_t, stun::kTransactionIdSize>(packet.data() + 8,
                                                                        stun::kTransactionIdSize));
    b.AddErrorCode(stun::error::kBadRequest);
    if (!config.software.empty()) b.AddString(stun::attr::kSoftware, config.software);
    CountResponse(stun::DecodeMethod(ReadU16(packet, 0)), stun::error::kBadRequest);
    if (b.ok()) host->SendToClient(tuple, b.bytes());
    return;
  }

  const uint16_t method = m.method();
  switch (m.message_class()) {
    case MessageClass::kIndication:
      if (method == static_cast<uint16_t>(Method::kSend)) {
        HandleSendIndication(tuple, m, now);
      } else {
        ++counters.dropped_malformed;  // RFC 8489 §6.3.2: nothing else to do with it
      }
      return;
    case MessageClass::kSuccessResponse:
    case MessageClass::kErrorResponse:
      // RFC 8489 §6.3: the server has no transactions of its own to match.
      ++counters.dropped_malformed;
      return;
    case MessageClass::kRequest:
      break;
  }
  const bool turn_method = method == static_cast<uint16_t>(Method::kAllocate) ||
                           method == static_cast<uint16_t>(Method::kRefresh) ||
                           method == static_cast<uint16_t>(Method::kCreatePermission) ||
                           method == static_cast<uint16_t>(Method::kChannelBind);
  if (!turn_method) {
    // RFC 8489 §6.3: an unsupported method is not processed (as the Binding
    // responder does before this core existed: discarded).
    ++counters.dropped_malformed;
    return;
  }
  ++counters.requests;
  ++counters.requests_by_method[static_cast<size_t>(CountedMethodFor(method))];

  // Retransmission (RFC 8489 §6.3.1): the same 5-tuple and transaction ID
  // get the same bytes, without processing the request again.
  stun::TransactionId tid;
  std::memcpy(tid.data(), m.transaction_id().data(), tid.size());
  if (auto cached = cache.Find(tuple, tid, now)) {
    ++counters.retransmits_answered_from_cache;
    host->SendToClient(tuple, *cached);
    return;
  }

  // RFC 8489 §6.3.1: unknown comprehension-required attributes → 420.
  std::array<uint16_t, MessageView::kMaxAttributes> unknown{};
  const size_t unknown_count =
      stun::CollectUnknownComprehensionRequired(m, stun::IsKnownAttribute, unknown);
  if (unknown_count > 0) {
    MessageBuilder b = Begin(m, MessageClass::kErrorResponse);
    b.AddErrorCode(stun::error::kUnknownAttribute);
    b.AddUnknownAttributes(std::span<const uint16_t>(unknown.data(), unknown_count));
    RequestContext ctx{tuple, m, now, {}, false};
    Finish(ctx, b, stun::error::kUnknownAttribute);
    return;
  }
  // RFC 8489 §14.8: a malformed attribute value makes the request malformed.
  if (stun::FindMalformedAttribute(m).has_value()) {
    SendUnsignedError(tuple, m, stun::error::kBadRequest, now, false);
    return;
  }

  RequestContext ctx{tuple, m, now, {}, false};
  if (!config.no_auth) {
    // RFC 8656 §5: every request is authenticated with the long-term
    // credential mechanism (RFC 8489 §9.2.4).
    ctx.auth = auth.Authenticate(m, tuple.client, now);
    CountAuthFailure(ctx.auth.failure);
    switch (ctx.auth.kind) {
      case AuthResult::Kind::kOk:
        ctx.signed_response = true;
        break;
      case AuthResult::Kind::kChallenge:
        SendUnsignedError(tuple, m, stun::error::kUnauthorized, now, true);
        return;
      case AuthResult::Kind::kUnauthorized:
        ++counters.auth_failures;
        SendUnsignedError(tuple, m, stun::error::kUnauthorized, now, true);
        return;
      case AuthResult::Kind::kStaleNonce:
        SendUnsignedError(tuple, m, stun::error::kStaleNonce, now, true);
        return;
      case AuthResult::Kind::kBadRequest:
        ++counters.auth_failures;
        SendUnsignedError(tuple, m, stun::error::kBadRequest, now, false);
        return;
    }
  }

  if (method == static_cast<uint16_t>(Method::kAllocate)) {
    HandleAllocate(ctx);
    return;
  }
  Allocation* a = table.Find(tuple);
  if (a == nullptr) {
    // RFC 8656 §8, §9.2, §11.2: no allocation on this 5-tuple → 437.
    SendError(ctx, stun::error::kAllocationMismatch);
    return;
  }
  if (!config.no_auth && ctx.auth.username != a->username) {
    // RFC 8656 §5: requests on an allocation must use its credentials.
    ++counters.auth_failures;
    CountAuthFailure(AuthFailure::kWrongCredentials);
    SendError(ctx, stun::error::kWrongCredentials);
    return;
  }
  if (method == static_cast<uint16_t>(Method::kRefresh)) {
    HandleRefresh(ctx, a);
  } else if (method == static_cast<uint16_t>(Method::kCreatePermission)) {
    HandleCreatePermission(ctx, a);
  } else {
    HandleChannelBind(ctx, a);
  }
}

// ---- responses ----

MessageBuilder TurnServer::Impl::Begin(const MessageView& request, MessageClass cls) {
  return MessageBuilder::ResponseTo(request, cls, out);
}

void TurnServer::Impl::CountResponse(uint16_t method, int code) {
  ++counters.responses[static_cast<size_t>(CountedMethodFor(method))][ResponseColumn(code)];
  if (code == 0) {
    ++counters.responses_success;
    return;
  }
  ++counters.responses_error;
  if (code >= 300 && code < 600) ++counters.error_codes[static_cast<size_t>(code - 300)];
}

void TurnServer::Impl::CountAuthFailure(AuthFailure reason) {
  if (reason == AuthFailure::kNone) return;
  assert(reason < AuthFailure::kCount);
  ++counters.auth_failures_by_reason[static_cast<size_t>(reason)];
}

void TurnServer::Impl::Finish(const RequestContext& ctx, MessageBuilder& b, int code) {
  if (!config.software.empty()) b.AddString(stun::attr::kSoftware, config.software);
  if (ctx.signed_response) Authenticator::Sign(b, ctx.auth);
  // RFC 8489 §7: FINGERPRINT is the usage's choice; mirror the request.
  if (ctx.request.fingerprint_offset().has_value()) b.AddFingerprint();
  assert(b.ok() && "out is sized for every response the core writes");
  if (!b.ok()) return;
  CountResponse(ctx.request.method(), code);
  host->SendToClient(ctx.tuple, b.bytes());
  // Only answers to authenticated requests are cached: the cache is bounded,
  // and this keeps strangers from flushing it with 401 challenges.
  if (ctx.signed_response || config.no_auth) {
    stun::TransactionId tid;
    std::memcpy(tid.data(), ctx.request.transaction_id().data(), tid.size());
    cache.Insert(ctx.tuple, tid, b.bytes(), ctx.now);
  }
}

void TurnServer::Impl::SendError(const RequestContext& ctx, int code) {
  MessageBuilder b = Begin(ctx.request, MessageClass::kErrorResponse);
  b.AddErrorCode(code);
  Finish(ctx, b, code);
}

void TurnServer::Impl::SendUnsignedError(const FiveTuple& tuple, const MessageView& request,
                                         int code, absl::Time now, bool challenge) {
  MessageBuilder b = Begin(request, MessageClass::kErrorResponse);
  b.AddErrorCode(code);
  // RFC 8489 §9.2.4: 401 and 438 carry REALM and a fresh NONCE.
  if (challenge) auth.AddChallenge(b, tuple.client, now);
  // Not cached: nothing was decided that a retransmission could undo.
  if (!config.software.empty()) b.AddString(stun::attr::kSoftware, config.software);
  if (request.fingerprint_offset().has_value()) b.AddFingerprint();
  assert(b.ok());
  if (!b.ok()) return;
  CountResponse(request.method(), code);
  host->SendToClient(tuple, b.bytes());
}

// ---- lifetimes ----

void TurnServer::Impl::Schedule(Allocation& a, absl::Time deadline, absl::Time now) {
  // A later deadline leaves the earlier timer in place: it will fire, find
  // nothing due, and Sweep schedules the real next deadline. Refreshes,
  // which only push deadlines later, then cost nothing here.
  if (a.timer.scheduled() && a.timer.deadline() <= deadline) return;
  timers.Schedule(&a.timer, deadline, now);
}

void TurnServer::Impl::DeleteAllocation(Allocation* a, DeleteReason why) {
  assert(a != nullptr);
  counters.permissions_active -= a->permissions.size();
  for (const auto& [number, ch] : a->channels) {
    if (ch.active) --counters.channels_active;
  }
  for (const RelaySlot& slot : a->relays) {
    if (slot.open) host->CloseRelay(slot.id);
  }
  timers.Cancel(&a->timer);
  quota->Release(a->username);
  const FiveTuple tuple = a->tuple;
  table.Erase(a);
  --counters.allocations_active;
  switch (why) {
    case DeleteReason::kExpired:
      ++counters.allocations_expired;
      // Last: the host may close the tuple's connection, which must find no
      // allocation left (OnConnectionClosed is then a no-op).
      host->OnAllocationExpired(tuple);
      break;
    case DeleteReason::kRefreshZero: ++counters.allocations_deleted; break;
    case DeleteReason::kConnectionClosed:
      ++counters.allocations_released_connection_closed;
      break;
  }
}

void TurnServer::Impl::OnConnectionClosed(const FiveTuple& tuple) {
  // RFC 8656 §3.1: over TCP the 5-tuple is the connection; once it is gone
  // nothing can reach or refresh the allocation, so it goes now rather than
  // lingering until its lifetime ends.
  if (Allocation* a = table.Find(tuple)) DeleteAllocation(a, DeleteReason::kConnectionClosed);
}

void TurnServer::Impl::Sweep(Allocation& a, absl::Time now) {
  if (now >= a.expires) {  // RFC 8656 §7: the allocation's time is up
    DeleteAllocation(&a, DeleteReason::kExpired);
    return;
  }
  absl::Time next = a.expires;
  // RFC 8656 §9: a permission not refreshed within its lifetime is deleted.
  for (auto it = a.permissions.begin(); it != a.permissions.end();) {
    if (now >= it->second) {
      --counters.permissions_active;
      a.permissions.erase(it++);
    } else {
      next = std::min(next, it->second);
      ++it;
    }
  }
  // RFC 8656 §12: an expired channel stays reserved (to its peer and number)
  // for the cooldown, then both are freed.
  for (auto it = a.channels.begin(); it != a.channels.end();) {
    ChannelBinding& ch = it->second;
    if (ch.active && now >= ch.expires) {
      ch.active = false;
      --counters.channels_active;
    }
    const absl::Time freed = ch.expires + config.channel_cooldown;
    if (!ch.active && now >= freed) {
      a.channel_by_peer.erase(ch.peer);
      a.channels.erase(it++);
      continue;
    }
    next = std::min(next, ch.active ? ch.expires : freed);
    ++it;
  }
  Schedule(a, next, now);
}

void TurnServer::Impl::HandleTimeout(absl::Time now) {
  timers.Advance(now, [this, now](TimerWheel::Node* node) {
    Allocation* a = table.FindById(node->key);
    assert(a != nullptr && &a->timer == node && "a deleted allocation's timer is cancelled");
    if (a != nullptr) Sweep(*a, now);
  });
  cache.Expire(now);
}

absl::Time TurnServer::Impl::NextTimeout() const {
  return std::min(cache.NextExpiry(), timers.NextDeadline());
}

// ---- public API ----

absl::StatusOr<std::unique_ptr<TurnServer>> TurnServer::Create(
    TurnConfig config, TurnHost* host, std::span<const uint8_t> random_seed) {
  if (host == nullptr) return absl::InvalidArgumentError("TurnServer needs a host");
  if (random_seed.size() < kMinSeedBytes) {
    return absl::InvalidArgumentError("TurnServer needs at least 16 random seed bytes");
  }
  if (config.software.size() > 127) {
    // RFC 8489 §14.14: fewer than 128 characters.
    return absl::InvalidArgumentError("SOFTWARE must be shorter than 128 bytes");
  }
  if (config.default_lifetime <= absl::ZeroDuration() ||
      config.max_lifetime < config.default_lifetime) {
    return absl::InvalidArgumentError("max lifetime must be at least the default lifetime");
  }
  absl::StatusOr<Authenticator> authenticator = Authenticator::Create(config.auth, random_seed);
  if (!authenticator.ok()) return authenticator.status();
  auto impl = std::make_unique<Impl>(std::move(config), host, *std::move(authenticator),
                                     random_seed);
  return std::unique_ptr<TurnServer>(new TurnServer(std::move(impl)));
}

TurnServer::TurnServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TurnServer::~TurnServer() = default;

void TurnServer::OnClientPacket(const FiveTuple& tuple, std::span<uint8_t> packet,
                                absl::Time now) {
  impl_->OnClientPacket(tuple, packet, now);
}
void TurnServer::OnPeerPacket(RelayId relay, const stun::SocketAddress& peer,
                              std::span<uint8_t> packet, absl::Time now) {
  impl_->OnPeerPacket(relay, peer, packet, now);
}
void TurnServer::OnConnectionClosed(const FiveTuple& tuple, absl::Time now) {
  (void)now;  // part of the API so a later linger/grace rule needs no change
  impl_->OnConnectionClosed(tuple);
}
bool TurnServer::HasAllocation(const FiveTuple& tuple) const {
  return impl_->table.Find(tuple) != nullptr;
}
void TurnServer::HandleTimeout(absl::Time now) { impl_->HandleTimeout(now); }
absl::Time TurnServer::NextTimeout() const { return impl_->NextTimeout(); }
absl::Status TurnServer::ReloadAuth(AuthConfig auth) { return impl_->auth.Reload(std::move(auth)); }
void TurnServer::SetDraining(bool draining) { impl_->draining = draining; }
size_t TurnServer::allocation_count() const { return impl_->table.size(); }
const TurnCounters& TurnServer::counters() const { return impl_->counters; }

}  // namespace uturn::turn
