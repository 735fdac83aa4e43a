// Private to the TurnServer implementation (turn_server.cc, turn_allocate.cc,
// turn_permissions.cc, turn_relay.cc): the state of one shard's TURN core and
// the helpers its request handlers share.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "turn/allocation_table.h"
#include "turn/auth.h"
#include "turn/peer_policy.h"
#include "turn/quota_ledger.h"
#include "turn/response_cache.h"
#include "turn/stun_responder.h"
#include "turn/timer_wheel.h"
#include "turn/turn_server.h"

namespace uturn::turn {

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
  // Gives the quota of every live allocation back to the ledger (a shared
  // ledger outlives this core).
  ~Impl();

  // ---- entry points (turn_server.cc) ----
  void OnClientPacket(const FiveTuple& tuple, std::span<uint8_t> packet, absl::Time now);
  void HandleStun(const FiveTuple& tuple, std::span<uint8_t> packet, absl::Time now);
  void HandleBinding(const FiveTuple& tuple, std::span<const uint8_t> packet);
  void HandleTimeout(absl::Time now);
  absl::Time NextTimeout() const;
  void OnConnectionClosed(const FiveTuple& tuple);

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
  void CountResponse(uint16_t method, int code);
  // An authentication failure (reason kNone: not one, e.g. a challenge).
  void CountAuthFailure(AuthFailure reason);

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
  // Makes `a`'s timer fire no later than `deadline` (an earlier one stays:
  // it finds nothing due, and Sweep schedules the next one then).
  void Schedule(Allocation& a, absl::Time deadline, absl::Time now);
  // Expires what is due in `a` and schedules its next deadline; may delete it.
  void Sweep(Allocation& a, absl::Time now);
  enum class DeleteReason : uint8_t { kExpired, kRefreshZero, kConnectionClosed };
  void DeleteAllocation(Allocation* a, DeleteReason why);

  TurnConfig config;
  TurnHost* host;
  Authenticator auth;
  PeerPolicy policy;
  StunResponder responder;
  AllocationTable table;
  ResponseCache cache;
  TurnCounters counters;
  bool draining = false;

  // Who counts allocations against --user-quota/--total-quota (never null).
  std::shared_ptr<QuotaLedger> quota;
  // One node per allocation (Allocation::timer), at its earliest deadline.
  // Declared after `table`, so it goes first and detaches the nodes of the
  // allocations the table then destroys.
  TimerWheel timers;

  // xorshift128+ state for indication transaction IDs (RFC 8489 §6: "chosen
  // uniformly at random"; unpredictability is not a security property here).
  uint64_t rng[2] = {0, 0};

  // Responses are built here; large enough for any response the core writes.
  std::array<uint8_t, 1280> out{};
};

}  // namespace uturn::turn
