// CreatePermission (RFC 8656 §9) and ChannelBind (§11).
#include <algorithm>
#include <array>
#include <cassert>

#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/constants.h"
#include "turn/server_impl.h"

namespace uturn::turn {
namespace {

namespace error = stun::error;
using stun::MessageBuilder;
using stun::MessageClass;

}  // namespace

void TurnServer::Impl::HandleCreatePermission(RequestContext& ctx, Allocation* a) {
  std::array<SocketAddress, stun::MessageView::kMaxAttributes> peers{};
  size_t count = 0;
  const stun::AttrStatus status =
      stun::ForEachXorAddress(ctx.request, stun::attr::kXorPeerAddress,
                              [&](const SocketAddress& peer) {
                                assert(count < peers.size());
                                peers[count++] = peer;
                              });
  // RFC 8656 §9.2: at least one XOR-PEER-ADDRESS, each well formed → else 400.
  if (status != stun::AttrStatus::kOk || count == 0) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  // All-or-nothing (RFC 8656 §9.2: "the server ... MUST NOT install any of
  // the permissions" if one of them fails).
  size_t new_keys = 0;
  for (size_t i = 0; i < count; ++i) {
    // RFC 8656 §9.2: a peer of a family no relayed address has → 443.
    if (!a->HasRelay(peers[i].family)) {
      SendError(ctx, error::kPeerAddressFamilyMismatch);
      return;
    }
    // RFC 8656 §9.2 / §21.1.2: the server may refuse peers by policy → 403.
    if (!IsAllowed(policy.Check(peers[i]))) {
      SendError(ctx, error::kForbidden);
      return;
    }
    const SocketAddress key = PermissionKey(peers[i]);
    const bool seen_before_in_request =
        std::any_of(peers.begin(), peers.begin() + i,
                    [&](const SocketAddress& p) { return PermissionKey(p) == key; });
    if (!a->permissions.contains(key) && !seen_before_in_request) ++new_keys;
  }
  // Bounded state per allocation: over the bound → 508 (RFC 8656 §9.2 lets
  // the server refuse when it lacks the capacity).
  if (a->permissions.size() + new_keys > config.max_permissions) {
    SendError(ctx, error::kInsufficientCapacity);
    return;
  }
  const absl::Time expires = ctx.now + config.permission_lifetime;
  for (size_t i = 0; i < count; ++i) {
    auto [it, inserted] = a->permissions.insert_or_assign(PermissionKey(peers[i]), expires);
    if (inserted) ++counters.permissions_active;
  }
  Schedule(*a, expires, ctx.now);
  MessageBuilder b = Begin(ctx.request, MessageClass::kSuccessResponse);
  Finish(ctx, b, 0);
}

void TurnServer::Impl::HandleChannelBind(RequestContext& ctx, Allocation* a) {
  const stun::AttrResult<uint16_t> number = stun::GetChannelNumber(ctx.request);
  const stun::AttrResult<SocketAddress> peer = stun::GetXorPeerAddress(ctx.request);
  // RFC 8656 §11.2: CHANNEL-NUMBER in 0x4000-0x4FFF and one XOR-PEER-ADDRESS
  // are required → else 400.
  if (!number.ok() ||
      !stun::IsValidChannelNumber(number.value, config.allow_rfc5766_channel_numbers) ||
      !peer.ok()) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  if (!a->HasRelay(peer.value.family)) {  // RFC 8656 §11.2 → 443
    SendError(ctx, error::kPeerAddressFamilyMismatch);
    return;
  }
  if (!IsAllowed(policy.Check(peer.value))) {  // RFC 8656 §11.2 / §21.1.2 → 403
    SendError(ctx, error::kForbidden);
    return;
  }
  // RFC 8656 §11.2: the number must not be bound (or cooling down, §12) to
  // another peer, nor the peer to another number → 400.
  auto existing = a->channels.find(number.value);
  if (existing != a->channels.end() && !(existing->second.peer == peer.value)) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  auto by_peer = a->channel_by_peer.find(peer.value);
  if (by_peer != a->channel_by_peer.end() && by_peer->second != number.value) {
    SendError(ctx, error::kBadRequest);
    return;
  }
  const SocketAddress perm_key = PermissionKey(peer.value);
  const bool new_channel = existing == a->channels.end();
  const bool new_permission = !a->permissions.contains(perm_key);
  if ((new_channel && a->channels.size() >= config.max_channels) ||
      (new_permission && a->permissions.size() >= config.max_permissions)) {
    SendError(ctx, error::kInsufficientCapacity);
    return;
  }
  // RFC 8656 §11.2: bind or refresh the channel (600 s) and install or
  // refresh the permission for the peer's IP (300 s).
  const absl::Time channel_expires = ctx.now + config.channel_lifetime;
  if (new_channel) {
    a->channels.emplace(number.value, ChannelBinding{peer.value, channel_expires, true});
    a->channel_by_peer.emplace(peer.value, number.value);
    ++counters.channels_active;
  } else {
    ChannelBinding& ch = existing->second;
    if (!ch.active) ++counters.channels_active;  // rebound during its cooldown
    ch.active = true;
    ch.expires = channel_expires;
  }
  const absl::Time perm_expires = ctx.now + config.permission_lifetime;
  a->permissions.insert_or_assign(perm_key, perm_expires);
  if (new_permission) ++counters.permissions_active;
  Schedule(*a, std::min(channel_expires, perm_expires), ctx.now);
  MessageBuilder b = Begin(ctx.request, MessageClass::kSuccessResponse);
  Finish(ctx, b, 0);
}

}  // namespace uturn::turn
