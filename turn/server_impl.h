// Private to the TurnServer implementation (turn_server.cc, turn_allocate.cc,
// turn_permissions.cc, turn_relay.cc): the state of one shard's TURN core and
// the helpers its request handlers share.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "turn/allocation_table.h"
#include "turn/auth.h"
#include "turn/peer_policy.h"
#include "turn/response_cache.h"
#include "turn/stun_responder.h"
#include "turn/turn_server.h"

namespace uturn::turn {

// RFC 8656 §7.2: "the server SHOULD reserve ... for approximately 30 seconds"
// the port a RESERVATION-TOKEN names.
inline constexpr absl::Duration kReservationLifetime = absl::Seconds(30);

// One authenticated (or --no-auth) request being answered.
struct RequestContext {
  const FiveTuple& tuple;
  const stun::MessageView& request;
  absl::Time now;
  AuthResult auth;
  bool signed_response = false;  // false with --no-auth: nothing to sign with
};

struct TurnServer::Impl {
  Impl(TurnConfig cfg, TurnHost* h, Authenticator authenticator, std::span<const uint8_t> seed);

  // ---- entry points (turn_server.cc) ----
  void OnClientPacket(const FiveTuple& tuple, std::span<uint8_t> packet, absl::Time now);
  void HandleStun(const FiveTuple& tuple, std::span<uint8_t> packet, absl::Time now);
  void HandleBinding(const FiveTuple& tuple, std::span<const uint8_t> packet);
  void HandleTimeout(absl::Time now);
  absl::Time NextTimeout() const;

  // ---- responses (turn_server.cc) ----
  stun::MessageBuilder Begin(const stun::MessageView& request, stun::MessageClass cls);
  // Adds SOFTWARE, the signature (if authenticated) and FINGERPRINT (if the
  // request had one), sends, counts, and caches answers to authenticated
  // requests. `code` 0 = success.
  void Finish(const RequestContext& ctx, stun::MessageBuilder& b, int code);
  // An error response with just ERROR-CODE (signed when ctx is authenticated).
  void SendError(const RequestContext& ctx, int code);
  // Unauthenticated errors before the method handler runs.
  void SendUnsignedError(const FiveTuple& tuple, const stun::MessageView& request, int code,
                         absl::Time now, bool challenge);
  void CountResponse(int code);

  // ---- methods (turn_allocate.cc, turn_permissions.cc) ----
  void HandleAllocate(RequestContext& ctx);
  void HandleRefresh(RequestContext& ctx, Allocation* a);
  void HandleCreatePermission(RequestContext& ctx, Allocation* a);
  void HandleChannelBind(RequestContext& ctx, Allocation* a);
  absl::Duration DesiredLifetime(const stun::MessageView& request, bool* zero) const;

  // ---- relaying (turn_relay.cc) ----
  void HandleSendIndication(const FiveTuple& tuple, const stun::MessageView& m, absl::Time now);
  void HandleChannelData(const FiveTuple& tuple, std::span<uint8_t> packet, absl::Time now);
  void OnPeerPacket(RelayId relay, const SocketAddress& peer, std::span<uint8_t> packet,
                    absl::Time now);
  bool ChargeBandwidth(Allocation& a, size_t bytes, absl::Time now);
  void NextTransactionId(std::span<uint8_t, stun::kTransactionIdSize> out);

  // ---- lifetimes (turn_server.cc) ----
  void Schedule(Allocation& a, absl::Time deadline);
  // Expires what is due in `a` and queues its next deadline; may delete it.
  void Sweep(Allocation& a, absl::Time now);
  void DeleteAllocation(Allocation* a, bool expired);
  void ExpireReservations(absl::Time now);

  TurnConfig config;
  TurnHost* host;
  Authenticator auth;
  PeerPolicy policy;
  StunResponder responder;
  AllocationTable table;
  ResponseCache cache;
  TurnCounters counters;
  bool draining = false;

  struct Timer {
    absl::Time at;
    uint64_t allocation_id;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;

  // RESERVATION-TOKEN -> family of the held port; FIFO of expiries (all
  // reservations live kReservationLifetime, so insertion order is expiry order).
  struct Reservation {
    stun::Family family;
    absl::Time expires;
  };
  absl::flat_hash_map<uint64_t, Reservation> reservations;
  std::deque<std::pair<absl::Time, uint64_t>> reservation_fifo;

  // xorshift128+ state for indication transaction IDs (RFC 8489 §6: "chosen
  // uniformly at random"; unpredictability is not a security property here).
  uint64_t rng[2] = {0, 0};

  // Responses are built here; large enough for any response the core writes.
  std::array<uint8_t, 1280> out{};
};

}  // namespace uturn::turn
