// One TURN allocation as the ICE agent uses it (RFC 8656 over UDP or TCP,
// §3.1), sans-IO:
// Allocate with long-term credentials (TurnClient handles 401 and 438),
// Refresh before the lifetime ends (§8), permissions per peer IP installed
// once and refreshed before their 300 s (§9), channels numbered from 0x4000
// and refreshed before their 600 s (§11, §12), data to peers as Send
// indications until a channel is bound and ChannelData after (§10.1, §12.4),
// and deallocation (Refresh LIFETIME 0, §8) on Close. The gatherer owns one
// per (base, TURN server).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/ice_transmit.h"
#include "client/turn_client.h"
#include "stun/address.h"

namespace uturn::client {

struct RelayTimers {
  // RFC 8656 §9: "permissions ... last for 300 seconds"; refreshed this much earlier.
  absl::Duration permission_refresh_margin = absl::Seconds(60);
  // RFC 8656 §12: "channel bindings last for 10 minutes"; refreshed this much earlier.
  absl::Duration channel_refresh_margin = absl::Seconds(60);
  // RFC 8656 §8: the allocation is refreshed this long before LIFETIME runs
  // out (never later than half the lifetime).
  absl::Duration allocation_refresh_margin = absl::Seconds(60);
};

struct RelayEvent {
  enum class Kind : uint8_t {
    kAllocated,  // `allocation`
    kFailed,     // the Allocate failed: `reason`
    kLost,       // the allocation ended (refresh failed, expired): `reason`
    kError,      // a CreatePermission or ChannelBind failed: `reason`; the allocation lives
  };
  Kind kind = Kind::kAllocated;
  RelayedAddresses allocation;
  std::string reason;
};

class RelayAllocation {
 public:
  enum class Phase : uint8_t { kIdle, kAllocating, kAllocated, kFailed, kLost, kClosed };

  // `base`: the host socket talking to `server` (over TCP: the stream's
  // local IP). `transport` other than UDP makes `config.transport` reliable.
  RelayAllocation(const stun::SocketAddress& base, const stun::SocketAddress& server,
                  TurnClientConfig config, RandomSource random, RelayTimers timers,
                  TurnTransport transport = TurnTransport::kUdp);

  const stun::SocketAddress& base() const { return base_; }
  const stun::SocketAddress& server() const { return server_; }
  TurnTransport transport() const { return transport_; }
  Phase phase() const { return phase_; }
  const RelayedAddresses& allocation() const { return client_.allocation(); }

  absl::Status Start(absl::Time now);  // sends the Allocate
  // Every datagram that arrived on base() from server().
  Incoming HandleIncoming(std::span<const uint8_t> bytes, absl::Time now);
  void HandleTimeout(absl::Time now);
  absl::Time PollTimeout() const;
  std::optional<IceTransmit> PollTransmit();
  std::optional<RelayEvent> PollEvent();

  // ---- Data path (kAllocated only) ----
  // FailedPrecondition while the server's refusal of this IP is remembered
  // (for a permission lifetime).
  absl::Status Permit(const stun::SocketAddress& peer, absl::Time now);
  absl::Status BindChannel(const stun::SocketAddress& peer, absl::Time now);
  // Also installs the permission if needed (the server drops data from
  // unpermitted peers, RFC 8656 §10.2).
  absl::Status Send(const stun::SocketAddress& peer, std::span<const uint8_t> payload,
                    absl::Time now);
  // The bound channel for `peer`, if any.
  std::optional<uint16_t> ChannelFor(const stun::SocketAddress& peer) const;
  bool HasPermission(const stun::SocketAddress& peer) const;

  // Deallocates (Refresh LIFETIME 0); no kLost follows.
  void Close(absl::Time now);
  // TCP/TLS: the stream to the server is gone (closed, refused, reset, or
  // closed by the driver). RFC 8656 §3.1 ties the allocation to it, so it
  // is over: kFailed while allocating, kLost once allocated, nothing after
  // Close. Nothing more is sent or timed (a transmit would open a new
  // stream, which is another 5-tuple).
  void StreamClosed(std::string_view reason);

 private:
  struct Permission {
    bool installed = false;
    std::optional<RequestHandle> pending;
    absl::Time refresh_at = absl::InfiniteFuture();
    // Refused by the server (e.g. 403 for an address its policy forbids):
    // not asked again before this, so that every check sent towards such a
    // peer does not cost a CreatePermission and an error.
    absl::Time refused_until = absl::InfinitePast();
  };
  struct Channel {
    uint16_t number = 0;
    bool bound = false;
    std::optional<RequestHandle> pending;
    absl::Time refresh_at = absl::InfiniteFuture();
  };
  enum class Purpose : uint8_t { kAllocate, kRefresh, kPermission, kChannel, kDeallocate };
  struct Request {
    Purpose purpose = Purpose::kAllocate;
    std::vector<stun::SocketAddress> peers;
  };

  absl::Status SendPermission(std::vector<stun::SocketAddress> peers, absl::Time now);
  absl::Status SendChannelBind(const stun::SocketAddress& peer, Channel& ch, absl::Time now);
  void Pump(absl::Time now);
  void OnTurnEvent(TurnEvent ev, absl::Time now);
  void ScheduleRefresh(uint32_t lifetime_seconds, absl::Time now);
  void Lose(std::string reason);
  std::string Describe(const TurnEvent& ev) const;
  void Emit(RelayEvent::Kind kind, std::string reason);

  stun::SocketAddress base_;
  stun::SocketAddress server_;
  TurnTransport transport_;
  bool stream_closed_ = false;
  RelayTimers timers_;
  TurnClient client_;
  Phase phase_ = Phase::kIdle;
  bool closing_ = false;
  absl::Time refresh_at_ = absl::InfiniteFuture();
  std::optional<RequestHandle> refresh_pending_;
  absl::flat_hash_map<stun::SocketAddress, Permission> permissions_;  // key: IP, port 0
  absl::flat_hash_map<stun::SocketAddress, Channel> channels_;        // key: peer address
  uint16_t next_channel_ = 0x4000;  // RFC 8656 §12: 0x4000 through 0x4FFF
  absl::flat_hash_map<RequestHandle, Request> requests_;
  std::deque<IceTransmit> transmits_;
  std::deque<RelayEvent> events_;
};

}  // namespace uturn::client
