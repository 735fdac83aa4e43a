// Sans-IO TURN client (RFC 8656 client side) with long-term credentials
// (RFC 8489 §9.2). One object drives one allocation on one 5-tuple:
//
//   Allocate/Refresh/CreatePermission/ChannelBind(now, ...) start a request;
//   PollTransmit() hands out every datagram to send to the server;
//   HandleIncoming(bytes, now) takes every datagram from the server;
//   deadline() / HandleTimeout(now) drive retransmissions (stun::ClientTransaction);
//   PollEvent() reports outcomes (allocated, refreshed, permission, channel, error).
//
// Data from peers is returned by HandleIncoming as a view into the caller's
// buffer (no copy); Send indications and ChannelData are written into a
// caller's buffer. Time and randomness are always injected.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/binding_client.h"
#include "stun/address.h"
#include "stun/client_transaction.h"
#include "stun/constants.h"
#include "stun/message_view.h"

namespace uturn::client {

struct TurnCredentials {
  std::string username;
  std::string password;
};

struct TurnClientConfig {
  stun::TransportKind transport = stun::TransportKind::kUnreliable;
  stun::TransactionConfig transaction;
  // Absent: requests go out without credentials (servers run with --no-auth).
  std::optional<TurnCredentials> credentials;
  // RFC 8489 §9.2.4: use SHA-256 when the server offers it in PASSWORD-ALGORITHMS.
  bool prefer_sha256 = true;
  // RFC 8489 §14.7: FINGERPRINT is optional; on by default for demultiplexing.
  bool fingerprint = true;
  std::string software;  // RFC 8489 §14.14; omitted when empty

  // ---- Allocate options (RFC 8656 §7.1) ----
  uint8_t requested_transport = stun::kTransportUdp;                // §18.8
  std::optional<uint32_t> lifetime_seconds;                         // §18.2
  std::optional<uint8_t> requested_address_family;                  // §18.6
  bool additional_ipv6 = false;                                     // §18.11
  std::optional<bool> even_port;  // §18.7: present = EVEN-PORT, value = R bit
  std::optional<std::array<uint8_t, 8>> reservation_token;          // §18.10
  bool dont_fragment = false;                                       // §18.9
  // Appended verbatim to every Allocate (before the credentials), e.g. to
  // provoke 420 with an unknown comprehension-required attribute.
  std::vector<ExtraAttribute> allocate_extra_attributes;

  // RFC 8489 §9.2.5 gives no bound; we stop after this many 438s in a row so
  // a misbehaving server cannot keep us retrying forever.
  int max_stale_nonce_retries = 3;
};

enum class TurnState : uint8_t {
  kIdle,         // no allocation (never made, deleted, or expired)
  kAllocating,   // Allocate in flight
  kAllocated,
};
const char* ToString(TurnState s);

// Identifies one request across its authentication retries.
using RequestHandle = uint64_t;

struct RelayedAddresses {
  std::vector<stun::SocketAddress> relayed;  // one, or two for dual allocations
  stun::SocketAddress mapped;                // XOR-MAPPED-ADDRESS, if sent
  bool has_mapped = false;
  uint32_t lifetime_seconds = 0;
  absl::Time expires = absl::InfinitePast();
  std::optional<std::array<uint8_t, 8>> reservation_token;
  // RFC 8656 §7.2 ADDRESS-ERROR-CODE: the family that could not be served.
  std::optional<uint8_t> address_error_family;
  int address_error_code = 0;
  std::string address_error_reason;
};

struct TurnEvent {
  enum class Kind : uint8_t {
    kAllocated,          // `allocation` filled
    kRefreshed,          // `lifetime_seconds`; 0 means the allocation is gone
    kPermissionCreated,  // `peers`
    kChannelBound,       // `channel`, `peers[0]`
    kSuccess,            // answer to a CustomRequest
    kError,              // error response, timeout or unusable answer
    kExpired,            // the allocation's lifetime ran out without a Refresh
  };
  Kind kind = Kind::kError;
  RequestHandle request = 0;
  stun::Method method = stun::Method::kAllocate;

  RelayedAddresses allocation;
  uint32_t lifetime_seconds = 0;
  std::vector<stun::SocketAddress> peers;
  uint16_t channel = 0;

  // kError: ERROR-CODE (0 when there was none), its reason or ours,
  // UNKNOWN-ATTRIBUTES for 420, and whether the transaction timed out.
  int error_code = 0;
  std::string reason;
  std::vector<uint16_t> unknown_attributes;
  bool timed_out = false;
  // Raw bytes of the final answer (success or error), for diagnostics and
  // retransmission tests. Empty on timeout.
  std::vector<uint8_t> response;
};

// What HandleIncoming found in a datagram.
struct Incoming {
  enum class Kind : uint8_t {
    kIgnored,   // not ours, stale, malformed or unverifiable: dropped
    kResponse,  // answered one of our requests (see PollEvent)
    kData,      // data from a peer: `peer`, `payload`, `channel`
  };
  Kind kind = Kind::kIgnored;
  stun::SocketAddress peer;
  std::span<const uint8_t> payload;  // view into the bytes passed in
  std::optional<uint16_t> channel;   // set when it came as ChannelData
};

class TurnClient {
 public:
  explicit TurnClient(TurnClientConfig config, RandomSource random);

  // ---- Requests. Each queues one datagram (see PollTransmit). ----
  absl::StatusOr<RequestHandle> Allocate(absl::Time now);
  // RFC 8656 §8: `lifetime` absent = server default; 0 deletes the allocation.
  absl::StatusOr<RequestHandle> Refresh(absl::Time now, std::optional<uint32_t> lifetime);
  // RFC 8656 §9: one request, one XOR-PEER-ADDRESS per peer (ports ignored).
  absl::StatusOr<RequestHandle> CreatePermission(absl::Time now,
                                                 std::span<const stun::SocketAddress> peers);
  // RFC 8656 §11: refuses numbers outside 0x4000-0x4FFF locally.
  absl::StatusOr<RequestHandle> ChannelBind(absl::Time now, uint16_t channel,
                                            const stun::SocketAddress& peer);
  // Any method with caller-chosen attributes (then one XOR-PEER-ADDRESS per
  // entry of `xor_peers`), authenticated like the others. For tests and
  // diagnostics (e.g. ChannelBind with a reserved number).
  absl::StatusOr<RequestHandle> CustomRequest(absl::Time now, stun::Method method,
                                              std::vector<ExtraAttribute> attributes,
                                              std::vector<stun::SocketAddress> xor_peers = {});

  // ---- Data plane (no transaction, nothing queued) ----
  // RFC 8656 §10.1 Send indication; returns the bytes written into `out`.
  // Needs an allocation; draws a transaction ID from the random source.
  absl::StatusOr<size_t> WriteSendIndication(const stun::SocketAddress& peer,
                                             std::span<const uint8_t> payload,
                                             std::span<uint8_t> out);
  // RFC 8656 §12.4 ChannelData for a channel this client has bound (padded to
  // 4 bytes over reliable transports).
  absl::StatusOr<size_t> WriteChannelData(uint16_t channel, std::span<const uint8_t> payload,
                                          std::span<uint8_t> out) const;
  std::optional<uint16_t> ChannelFor(const stun::SocketAddress& peer) const;

  // ---- Driving ----
  Incoming HandleIncoming(std::span<const uint8_t> bytes, absl::Time now);
  absl::Time deadline() const;
  void HandleTimeout(absl::Time now);
  std::optional<std::vector<uint8_t>> PollTransmit();
  std::optional<TurnEvent> PollEvent();

  // ---- State ----
  TurnState state() const { return state_; }
  const RelayedAddresses& allocation() const { return allocation_; }
  const std::string& realm() const { return realm_; }
  const std::string& nonce() const { return nonce_; }
  size_t pending_requests() const { return pending_.size(); }

 private:
  struct Pending {
    RequestHandle handle = 0;
    stun::Method method = stun::Method::kAllocate;
    std::vector<ExtraAttribute> attributes;  // method-specific, rebuilt on retry
    std::vector<stun::SocketAddress> peers;  // CreatePermission / ChannelBind
    uint16_t channel = 0;
    std::optional<uint32_t> lifetime;  // Refresh
    bool custom = false;
    stun::TransactionId id{};
    std::vector<uint8_t> bytes;
    std::optional<stun::ClientTransaction> transaction;
    bool authenticated = false;  // this transmission carried MESSAGE-INTEGRITY
    int stale_retries = 0;
  };

  absl::StatusOr<RequestHandle> Start(absl::Time now, Pending p);
  absl::Status BuildAndSend(Pending& p, absl::Time now);
  absl::Status DeriveKey();
  Incoming HandleStun(std::span<const uint8_t> bytes, absl::Time now);
  Incoming HandleChannelData(std::span<const uint8_t> bytes);
  void HandleResponse(size_t index, const stun::MessageView& m, absl::Time now);
  void HandleSuccess(Pending& p, const stun::MessageView& m, absl::Time now, TurnEvent& ev);
  void Finish(size_t index, TurnEvent ev);
  absl::Status LearnChallenge(const stun::MessageView& m);
  bool HasPermission(const stun::SocketAddress& peer) const;

  TurnClientConfig config_;
  RandomSource random_;
  TurnState state_ = TurnState::kIdle;
  RelayedAddresses allocation_;
  RequestHandle next_handle_ = 1;

  // Long-term credential state (RFC 8489 §9.2.3, §9.2.4).
  std::string realm_;
  std::string nonce_;
  std::vector<uint8_t> password_algorithms_raw_;  // echoed back verbatim
  bool use_sha256_ = false;
  std::vector<uint8_t> key_;  // MD5 (16) or SHA-256 (32) long-term key

  std::vector<Pending> pending_;
  std::deque<std::vector<uint8_t>> transmit_;
  std::deque<TurnEvent> events_;
  absl::flat_hash_map<uint16_t, stun::SocketAddress> channels_;
  // Peer IPs (port zeroed) with an installed permission: RFC 8656 §10.4 says
  // the client SHOULD drop Data from others.
  absl::flat_hash_set<stun::SocketAddress> permitted_;
};

}  // namespace uturn::client
