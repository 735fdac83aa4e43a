// Allocate (RFC 8656 §7.2) and Refresh (§8).
#include <algorithm>
#include <cassert>
#include <optional>
#include <variant>

#include "stun/attributes.h"
#include "stun/constants.h"
#include "turn/server_impl.h"

namespace uturn::turn {
namespace {

using stun::Family;
using stun::MessageBuilder;
using stun::MessageClass;
namespace error = stun::error;

int CodeFor(TurnHost::RelayError e) {
  switch (e) {
    case TurnHost::RelayError::kFamilyUnsupported: return error::kAddressFamilyNotSupported;
    case TurnHost::RelayError::kInsufficientCapacity:
    case TurnHost::RelayError::kBadReservation: break;
  }
  return error::kInsufficientCapacity;
}

uint8_t FamilyCode(Family f) { return f == Family::kIPv4 ? stun::kFamilyIPv4 : stun::kFamilyIPv6; }

}  // namespace

absl::Duration TurnServer::Impl::DesiredLifetime(const stun::MessageView& request,
                                                 bool* zero) const {
  *zero = false;
  const stun::AttrResult<uint32_t> lifetime = stun::GetLifetime(request);
  if (!lifetime.ok()) return config.default_lifetime;  // RFC 8656 §7.2, §8: default
  if (lifetime.value == 0) {
    *zero = true;  // RFC 8656 §8: a Refresh with 0 deletes the allocation
    return absl::ZeroDuration();
  }
  // RFC 8656 §7.2/§8: min(requested, maximum); below the default, the default.
  const absl::Duration requested = absl::Seconds(lifetime.value);
  return std::clamp(requested, config.default_lifetime, config.max_lifetime);
}

void TurnServer::Impl::HandleAllocate(RequestContext& ctx) {
  const stun::MessageView& m = ctx.request;
  // RFC 8656 §7.2 step 2: one allocation per 5-tuple.
  if (table.Find(ctx.tuple) != nullptr) {
    SendError(ctx, error::kAllocationMismatch);
    return;
  }
  // Step 3: REQUESTED-TRANSPORT is mandatory; only UDP relaying exists.
  const stun::AttrResult<uint8_t> transport = stun::GetRequestedTransport(m);
  if (!transport.ok()) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  if (transport.value != stun::kTransportUdp) {
    SendError(ctx, error::kUnsupportedTransportProtocol);
    return;
  }
  // Step 4: DONT-FRAGMENT is supported (the host sets DF on the relay
  // socket per packet), so no 420 for it.

  const stun::AttrResult<stun::ReservationToken> token = stun::GetReservationToken(m);
  const stun::AttrResult<bool> even_port = stun::GetEvenPort(m);
  const stun::AttrResult<uint8_t> requested_family = stun::GetRequestedAddressFamily(m);
  const stun::AttrResult<uint8_t> additional_family = stun::GetAdditionalAddressFamily(m);

  // Step 5: RESERVATION-TOKEN excludes EVEN-PORT and the family attributes
  // (the token already names an address). Whether it names a live
  // reservation is the host's call (it may be another shard's): OpenRelay
  // answers kBadReservation → 508.
  std::optional<uint64_t> token_value;
  Family family = config.relay_ipv4 ? Family::kIPv4 : Family::kIPv6;
  if (token.ok()) {
    if (!even_port.absent() || !requested_family.absent() || !additional_family.absent()) {
      SendError(ctx, error::kBadRequest);
      return;
    }
    uint64_t v = 0;
    for (uint8_t byte : token.value) v = v << 8 | byte;
    token_value = v;
  }
  // Step 6: REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY together → 400.
  if (!requested_family.absent() && !additional_family.absent()) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  const bool dual = additional_family.ok();
  // RFC 8656 §7.2: ADDITIONAL-ADDRESS-FAMILY may only ask for IPv6.
  if (dual && additional_family.value != stun::kFamilyIPv6) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  if (requested_family.ok()) {
    family = requested_family.value == stun::kFamilyIPv6 ? Family::kIPv6 : Family::kIPv4;
    // RFC 8656 §7.2: a family this server does not relay → 440.
    if (!(family == Family::kIPv4 ? config.relay_ipv4 : config.relay_ipv6)) {
      SendError(ctx, error::kAddressFamilyNotSupported);
      return;
    }
  }
  // SIGTERM drain: no new allocations (508, see turn_server.h).
  if (draining) {
    SendError(ctx, error::kInsufficientCapacity);
    return;
  }
  // RFC 8656 §7.2: "the server ... MAY ... reject with 486" when a user or
  // the server has too many allocations. Acquired before the relay opens,
  // given back below if no relay does.
  QuotaRefusal refusal = QuotaRefusal::kNone;
  if (!quota->TryAcquire(ctx.auth.username, &refusal)) {
    assert(refusal != QuotaRefusal::kNone);
    ++(refusal == QuotaRefusal::kUser ? counters.quota_rejections_user
                                      : counters.quota_rejections_total);
    SendError(ctx, error::kAllocationQuotaReached);
    return;
  }

  // Open the relay(s). Dual allocation (§7.2): IPv4 and IPv6; if one family
  // cannot be served the other is still granted, with ADDRESS-ERROR-CODE
  // (§18.12) naming the failed family.
  struct Attempt {
    Family family;
    std::optional<TurnHost::Relay> relay;
    int error = 0;
  };
  std::array<Attempt, 2> attempts{};
  size_t attempt_count = 0;
  if (dual) {
    attempts[attempt_count++].family = Family::kIPv4;
    attempts[attempt_count++].family = Family::kIPv6;
  } else {
    attempts[attempt_count++].family = family;
  }
  for (size_t i = 0; i < attempt_count; ++i) {
    Attempt& at = attempts[i];
    if (!token_value && !(at.family == Family::kIPv4 ? config.relay_ipv4 : config.relay_ipv6)) {
      at.error = error::kAddressFamilyNotSupported;
      continue;
    }
    TurnHost::RelayRequest req;
    req.family = at.family;
    if (i == 0) {  // EVEN-PORT and the token apply to the first relay only
      req.even_port = even_port.ok();
      req.reserve_next = even_port.ok() && even_port.value;
      req.reservation_token = token_value;
    }
    auto result = host->OpenRelay(req);
    if (auto* relay = std::get_if<TurnHost::Relay>(&result)) {
      // With a token the host opens the reserved port in its own family.
      assert(token_value || relay->advertised.family == at.family);
      if (token_value) at.family = relay->advertised.family;
      at.relay = *relay;
    } else {
      at.error = CodeFor(std::get<TurnHost::RelayError>(result));
    }
  }
  const bool any = std::any_of(attempts.begin(), attempts.begin() + attempt_count,
                               [](const Attempt& at) { return at.relay.has_value(); });
  if (!any) {
    quota->Release(ctx.auth.username);
    SendError(ctx, attempts[0].error);
    return;
  }

  bool zero = false;
  const absl::Duration lifetime = DesiredLifetime(m, &zero);
  Allocation* a = table.Create(ctx.tuple, ctx.auth.username);
  a->key = ctx.auth.key;
  a->expires = ctx.now + lifetime;
  a->bandwidth = TokenBucket(config.max_bps, ctx.now);
  for (size_t i = 0; i < attempt_count; ++i) {
    if (attempts[i].relay) {
      table.AddRelay(a, attempts[i].family, attempts[i].relay->id, attempts[i].relay->advertised);
    }
  }
  ++counters.allocations_active;
  ++counters.allocations_created;
  Schedule(*a, a->expires, ctx.now);

  MessageBuilder b = Begin(m, MessageClass::kSuccessResponse);
  for (size_t i = 0; i < attempt_count; ++i) {
    if (attempts[i].relay) {
      b.AddXorAddress(stun::attr::kXorRelayedAddress, attempts[i].relay->advertised);
    }
  }
  for (size_t i = 0; i < attempt_count; ++i) {
    if (!attempts[i].relay) b.AddAddressErrorCode(FamilyCode(attempts[i].family), attempts[i].error);
  }
  b.AddU32(stun::attr::kLifetime, static_cast<uint32_t>(absl::ToInt64Seconds(lifetime)));
  // RFC 8656 §7.2: a granted R bit returns the token for the next port
  // (held, and expired, by the host).
  if (attempts[0].relay && attempts[0].relay->reservation_token) {
    b.AddU64(stun::attr::kReservationToken, *attempts[0].relay->reservation_token);
  }
  b.AddXorAddress(stun::attr::kXorMappedAddress, ctx.tuple.client);
  Finish(ctx, b, 0);
}

void TurnServer::Impl::HandleRefresh(RequestContext& ctx, Allocation* a) {
  const stun::MessageView& m = ctx.request;
  const stun::AttrResult<uint8_t> requested_family = stun::GetRequestedAddressFamily(m);
  std::optional<Family> only;
  if (requested_family.ok()) {
    // RFC 8656 §8: REQUESTED-ADDRESS-FAMILY names the relayed address to
    // refresh (or delete); a family the allocation lacks → 443.
    only = requested_family.value == stun::kFamilyIPv6 ? Family::kIPv6 : Family::kIPv4;
    if (!a->HasRelay(*only)) {
      SendError(ctx, error::kPeerAddressFamilyMismatch);
      return;
    }
  }
  bool zero = false;
  const absl::Duration lifetime = DesiredLifetime(m, &zero);
  if (zero) {
    const bool both = a->HasRelay(Family::kIPv4) && a->HasRelay(Family::kIPv6);
    if (only && both) {
      // Dual allocation: drop just the one family.
      host->CloseRelay(a->RelayFor(*only).id);
      table.RemoveRelay(a, *only);
    } else {
      // RFC 8656 §8: lifetime 0 deletes the allocation at once, so the
      // 5-tuple is free for a new Allocate.
      DeleteAllocation(a, DeleteReason::kRefreshZero);
    }
  } else {
    a->expires = ctx.now + lifetime;
    Schedule(*a, a->expires, ctx.now);
  }
  MessageBuilder b = Begin(m, MessageClass::kSuccessResponse);
  b.AddU32(stun::attr::kLifetime, static_cast<uint32_t>(absl::ToInt64Seconds(lifetime)));
  Finish(ctx, b, 0);
}

}  // namespace uturn::turn
