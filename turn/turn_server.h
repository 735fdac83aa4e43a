// The sans-IO TURN server core (RFC 8656 over RFC 8489): allocations,
// permissions, channels, lifetimes, authentication, quotas, the peer policy
// and the response cache. One instance per shard; no locks, no sockets, no
// clock. Packets and time come in through On*/HandleTimeout; effects go out
// through TurnHost.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "stun/address.h"
#include "turn/auth.h"
#include "turn/counters.h"
#include "turn/peer_policy.h"
#include "turn/quota_ledger.h"
#include "turn/types.h"

namespace uturn::turn {

// Bytes the host must leave free in front of a packet it hands to
// OnPeerPacket, so the core can frame it in place: a Data indication header
// for an IPv6 peer is 20 (header) + 24 (XOR-PEER-ADDRESS) + 4 (DATA header).
inline constexpr size_t kPacketHeadroom = 64;
// ...and behind it: DATA padding (3) and FINGERPRINT is not used on Data
// indications, so 4 is enough; keep 16 for safety.
inline constexpr size_t kPacketTailroom = 16;

struct TurnConfig {
  AuthConfig auth;
  // --no-auth: relay for anyone. Off by default; the server logs a warning.
  bool no_auth = false;
  PeerPolicyConfig peer_policy;
  // RFC 8656 §7.2: default lifetime 600 s; "the server MAY enforce a maximum"
  // (3600 s here, as the RFC recommends).
  absl::Duration default_lifetime = absl::Seconds(600);
  absl::Duration max_lifetime = absl::Seconds(3600);
  // RFC 8656 §9: permissions last 300 s; §12: channels 600 s.
  absl::Duration permission_lifetime = absl::Seconds(300);
  absl::Duration channel_lifetime = absl::Seconds(600);
  // RFC 8656 §12: a channel number and peer stay unusable for rebinding for
  // 5 minutes after the binding expires.
  absl::Duration channel_cooldown = absl::Seconds(300);
  // Quotas (0 = unlimited): allocations per username (--user-quota), in all
  // (--total-quota), bytes per second relayed per allocation (--max-bps).
  uint32_t user_quota = 0;
  uint32_t total_quota = 0;
  uint64_t max_bps = 0;
  // Where allocations are counted against the quotas. nullptr: a ledger of
  // this core's own with user_quota/total_quota (quotas per shard). Shards
  // that share one ledger share the quotas; its own limits then apply and
  // user_quota/total_quota are ignored. The core releases what it acquired,
  // also when it is destroyed with allocations still live.
  std::shared_ptr<QuotaLedger> quota_ledger;
  // Bounds per allocation, to keep memory per allocation small and bounded.
  uint32_t max_permissions = 64;
  uint32_t max_channels = 64;
  // --allow-rfc5766-channel-numbers: also accept 0x5000-0x7FFF, which RFC 5766
  // allowed and RFC 8656 §12 reserved. Off by default (RFC 8656 behaviour).
  bool allow_rfc5766_channel_numbers = false;
  // Relay families the host can serve (from --relay-ip).
  bool relay_ipv4 = true;
  bool relay_ipv6 = false;
  // SOFTWARE in responses; empty = none.
  std::string software;
  // RFC 8489 §6.3.1 / RFC 8656: how long an answered request's response is
  // kept for retransmissions over UDP (Ti = 39.5 s, rounded up).
  absl::Duration response_cache_time = absl::Seconds(40);
  uint32_t response_cache_entries = 16384;
};

// What the core asks of its host.
class TurnHost {
 public:
  virtual ~TurnHost() = default;

  struct RelayRequest {
    stun::Family family = stun::Family::kIPv4;
    bool even_port = false;        // RFC 8656 §7.2 EVEN-PORT
    bool reserve_next = false;     // EVEN-PORT R bit: hold port+1 too
    // RFC 8656 §7.2 RESERVATION-TOKEN: open the port reserved earlier. The
    // host alone judges the token (it may come from another shard's
    // Allocate): unknown, expired or used → kBadReservation (508). Tokens
    // are single use whatever the outcome. With a token, `family` is only a
    // hint (the client cannot name one, §7.2): the host opens the reserved
    // port in its own family and the core takes it from `advertised`.
    std::optional<uint64_t> reservation_token;
  };
  struct Relay {
    RelayId id = 0;
    // The address put in XOR-RELAYED-ADDRESS (--external-ip applied).
    stun::SocketAddress advertised;
    // Set when reserve_next was granted (RFC 8656 §7.2, §18.10).
    std::optional<uint64_t> reservation_token;
  };
  enum class RelayError : uint8_t {
    kInsufficientCapacity,  // 508: port range exhausted
    kFamilyUnsupported,     // 440
    kBadReservation,        // 508: RFC 8656 §7.2, the token is not (or no longer) valid
  };
  // Opens a relay socket. Packets from peers on it arrive via OnPeerPacket.
  virtual std::variant<Relay, RelayError> OpenRelay(const RelayRequest& request) = 0;
  virtual void CloseRelay(RelayId id) = 0;
  // (Reservations granted through Relay::reservation_token are the host's
  // to expire, RFC 8656 §7.2: about 30 s; the core keeps no table of them.)

  // Sends to a client on `tuple`. `bytes` is only valid during the call; the
  // host copies it, unless it lies inside the packet buffer the host passed
  // to the On* call in progress, which it may send in place.
  virtual void SendToClient(const FiveTuple& tuple, std::span<const uint8_t> bytes) = 0;
  // Relayed data toward a client (a Data indication or ChannelData, RFC 8656
  // §11.3, §12.5): unlike responses the host may drop it when the client is
  // not keeping up (a stream's write queue is full); a datagram relay loses
  // packets anyway. Same validity rule as SendToClient.
  virtual void SendDataToClient(const FiveTuple& tuple, std::span<const uint8_t> bytes) {
    SendToClient(tuple, bytes);
  }
  // The allocation on `tuple` ran out of lifetime (RFC 8656 §7) and is gone.
  // Over TCP the allocation is the connection's (RFC 8656 §3.1), so the host
  // closes the connection. Not called for Refresh with LIFETIME 0 nor for
  // OnConnectionClosed. The host must not call back into the core from here.
  virtual void OnAllocationExpired(const FiveTuple& tuple) { (void)tuple; }
  // Sends a payload from a relay socket to a peer (same validity rule).
  virtual void SendToPeer(RelayId relay, const stun::SocketAddress& peer,
                          std::span<const uint8_t> payload, bool dont_fragment) = 0;
};

class TurnServer {
 public:
  // `random_seed`: bytes from the host's CSPRNG (nonce secret, tokens).
  static absl::StatusOr<std::unique_ptr<TurnServer>> Create(
      TurnConfig config, TurnHost* host, std::span<const uint8_t> random_seed);
  ~TurnServer();

  // A datagram (UDP) or one framed message (TCP) from a client on `tuple`:
  // STUN requests/indications (Binding, Allocate, Refresh, CreatePermission,
  // ChannelBind, Send) or ChannelData. `packet` may be modified in place.
  void OnClientPacket(const FiveTuple& tuple, std::span<uint8_t> packet, absl::Time now);

  // A datagram from `peer` on relay socket `relay`. `packet` is preceded by
  // at least kPacketHeadroom and followed by kPacketTailroom writable bytes
  // (owned by the host for the duration of the call), so the core can build
  // ChannelData or a Data indication around it without copying.
  void OnPeerPacket(RelayId relay, const stun::SocketAddress& peer, std::span<uint8_t> packet,
                    absl::Time now);

  // The stream connection of `tuple` (TCP/TLS) closed, for whatever reason:
  // RFC 8656 §3.1 / §2, the 5-tuple of such an allocation is the connection,
  // so its allocation, permissions, channels and relay are released now
  // (counted in allocations_released_connection_closed). No-op for a tuple
  // without an allocation.
  void OnConnectionClosed(const FiveTuple& tuple, absl::Time now);
  // Whether `tuple` holds an allocation now (the host keeps such a stream
  // connection open however quiet it is).
  bool HasAllocation(const FiveTuple& tuple) const;

  // Expire allocations, permissions, channels and cached responses. Call at
  // or after NextTimeout().
  void HandleTimeout(absl::Time now);
  // Never later than the earliest deadline. For deadlines further than the
  // timer wheel's first level (0.64 s) it is the start of the wheel slot
  // holding them: HandleTimeout then only moves them to a finer slot, and
  // the next NextTimeout is later (at most a few such wake-ups per timer).
  absl::Time NextTimeout() const;

  // SIGHUP: new users/secrets; live allocations keep their keys.
  absl::Status ReloadAuth(AuthConfig auth);
  // SIGTERM drain: refuse new allocations (with 508 Insufficient Capacity,
  // the closest code RFC 8656 has) while serving existing ones.
  void SetDraining(bool draining);
  size_t allocation_count() const;

  const TurnCounters& counters() const;

 private:
  struct Impl;
  explicit TurnServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace uturn::turn
