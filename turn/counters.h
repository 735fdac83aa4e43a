// The TURN core's plain per-shard counters (DESIGN.md §Observability): flat
// runs of uint64_t, so the server can sum shards field by field and publish
// them with relaxed stores. Bounded by construction: no per-user or
// per-allocation entries, and fixed tables for methods, codes and reasons.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "turn/auth_failure.h"

namespace uturn::turn {

// Rows of the per-method tables: the methods the core answers, plus one for
// requests of other methods that were answered anyway (400 to a request
// whose attributes do not parse, RFC 8489 §14.8).
enum class CountedMethod : uint8_t {
  kBinding,
  kAllocate,
  kRefresh,
  kCreatePermission,
  kChannelBind,
  kOther,
  kCount,
};
inline constexpr size_t kCountedMethodCount = static_cast<size_t>(CountedMethod::kCount);

// The row for a STUN method number (RFC 8489 §18.2, RFC 8656 §17).
CountedMethod CountedMethodFor(uint16_t method);
// The metric label value ("create_permission", ...).
std::string_view CountedMethodName(CountedMethod m);

// The error codes the core (and its Binding responder) sends, RFC 8489 §14.8
// and RFC 8656 §17. Columns of TurnCounters::responses: 0 = success, then
// these codes in order, then one column for any other code.
inline constexpr std::array<int, 12> kCountedErrorCodes = {400, 401, 403, 420, 437, 438,
                                                           440, 441, 442, 443, 486, 508};
inline constexpr size_t kResponseColumnCount = kCountedErrorCodes.size() + 2;
inline constexpr size_t kSuccessColumn = 0;
inline constexpr size_t kOtherCodeColumn = kResponseColumnCount - 1;
// The column for `code` (0 = success).
size_t ResponseColumn(int code);

struct TurnCounters {
  uint64_t allocations_active = 0, allocations_created = 0, allocations_expired = 0,
           allocations_deleted = 0;
  // Allocations released because their TCP connection closed (RFC 8656 §3.1).
  uint64_t allocations_released_connection_closed = 0;
  uint64_t permissions_active = 0, channels_active = 0;
  // TURN requests (Allocate, Refresh, CreatePermission, ChannelBind) and the
  // responses to them, any method; per method below.
  uint64_t requests = 0, responses_success = 0, responses_error = 0;
  uint64_t retransmits_answered_from_cache = 0;
  // 401 after credentials, 400 for credentials, 441 (not challenges nor 438);
  // per reason below.
  uint64_t auth_failures = 0;
  uint64_t packets_to_peer = 0, bytes_to_peer = 0, packets_to_client = 0, bytes_to_client = 0;
  uint64_t dropped_no_permission = 0, dropped_peer_policy = 0, dropped_bandwidth = 0,
           dropped_no_allocation = 0, dropped_malformed = 0;
  // Binding (RFC 8489 §6.3), answered by the core's StunResponder.
  uint64_t binding_success = 0, binding_errors = 0, binding_indications = 0,
           binding_dropped = 0;
  // Always 0: EVEN-PORT reservations belong to the host now (turn/README.md).
  // Kept so that code reading it still compiles.
  uint64_t reservations_active = 0;
  // TURN error responses by code: index = code - 300 for 300..599.
  std::array<uint64_t, 300> error_codes{};

  // ---- issue 4: per method, per code, per reason ----
  // Requests received, by method (Binding: those answered; see
  // binding_dropped for the rest). kOther stays 0: other methods are dropped.
  std::array<uint64_t, kCountedMethodCount> requests_by_method{};
  // Responses sent, [method][ResponseColumn(code)]; Binding included.
  std::array<std::array<uint64_t, kResponseColumnCount>, kCountedMethodCount> responses{};
  // Relaying messages received from clients (RFC 8656 §10.2, §12.5).
  uint64_t send_indications = 0, channel_data = 0;
  // Authentication failures by reason; [kNone] stays 0. Unlike
  // auth_failures this includes 438 (bad_nonce, stale_nonce).
  std::array<uint64_t, kAuthFailureCount> auth_failures_by_reason{};
  // Allocate refused with 486 (RFC 8656 §7.2), by which quota.
  uint64_t quota_rejections_user = 0, quota_rejections_total = 0;
};

}  // namespace uturn::turn
