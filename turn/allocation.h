// One TURN allocation (RFC 8656 §2.2): its relayed addresses, permissions,
// channels, lifetime, credentials and rate limiter. Plain data; the rules
// that change it live in the TurnServer handlers.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "stun/address.h"
#include "turn/auth.h"
#include "turn/timer_wheel.h"
#include "turn/token_bucket.h"
#include "turn/types.h"

namespace uturn::turn {

// RFC 8656 §9: permissions are per IP address; the port is ignored. The key
// is the peer address with the port zeroed.
inline SocketAddress PermissionKey(SocketAddress peer) {
  peer.port = 0;
  return peer;
}

struct RelaySlot {
  bool open = false;
  RelayId id = 0;
  SocketAddress advertised;
};

struct ChannelBinding {
  SocketAddress peer;
  absl::Time expires;
  // Counted in channels_active until it expires; afterwards it only blocks
  // rebinding during the cooldown (RFC 8656 §12).
  bool active = true;
};

struct Allocation {
  uint64_t id = 0;
  FiveTuple tuple;
  // [0] IPv4, [1] IPv6 (RFC 8656 §7.2 dual allocation).
  std::array<RelaySlot, 2> relays;
  // RFC 8656 §5: later requests must use the same credentials.
  std::string username;
  AuthKey key;
  absl::Time expires;
  absl::flat_hash_map<SocketAddress, absl::Time> permissions;  // PermissionKey -> expiry
  absl::flat_hash_map<uint16_t, ChannelBinding> channels;      // number -> binding
  absl::flat_hash_map<SocketAddress, uint16_t> channel_by_peer;  // full address -> number
  TokenBucket bandwidth;
  // The shard's timer for this allocation, at its earliest deadline; key = id.
  TimerWheel::Node timer;

  static size_t SlotFor(stun::Family f) { return f == stun::Family::kIPv4 ? 0 : 1; }
  const RelaySlot& RelayFor(stun::Family f) const { return relays[SlotFor(f)]; }
  bool HasRelay(stun::Family f) const { return RelayFor(f).open; }

  bool HasPermission(const SocketAddress& peer, absl::Time now) const {
    auto it = permissions.find(PermissionKey(peer));
    return it != permissions.end() && now < it->second;
  }
  // The bound, unexpired channel for `peer`, or nullptr.
  const ChannelBinding* ActiveChannelFor(const SocketAddress& peer, absl::Time now,
                                         uint16_t* number) const {
    auto it = channel_by_peer.find(peer);
    if (it == channel_by_peer.end()) return nullptr;
    auto ch = channels.find(it->second);
    if (ch == channels.end() || now >= ch->second.expires) return nullptr;
    *number = it->second;
    return &ch->second;
  }
};

}  // namespace uturn::turn
