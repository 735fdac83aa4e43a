// Candidate gathering for the ICE agent (RFC 8445 §5.1.1), sans-IO: host
// candidates on the bases the driver gives, server-reflexive ones through
// STUN Binding (BindingClient), relayed ones through TURN Allocate
// (TurnClient) with long-term credentials. Also the relay's data path for
// the agent: checks and application data from a relayed candidate go out
// as Send indications (before a channel is bound) or ChannelData, and
// CreatePermission is issued (and refreshed) for every remote address the
// agent names. New STUN transactions are paced at one per Ta (RFC 8445
// §14.2), the caller's pacer deciding when StartNext may run.
//
// Priorities (§5.1.2), foundations (§5.1.1.3) and the removal of redundant
// candidates (§5.1.3) are computed here: every candidate event carries a
// finished ice::Candidate.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/binding_client.h"
#include "client/ice_transmit.h"
#include "client/turn_client.h"
#include "ice-lite/candidate.h"
#include "stun/address.h"

namespace uturn::client {

struct IceGathererConfig {
  std::vector<stun::SocketAddress> stun_servers;
  struct Turn {
    stun::SocketAddress address;
    TurnCredentials credentials;
    // RFC 8656 §3.1: how the server is reached; the relay is UDP either way.
    // TCP (and later TLS): every transmit carries it and the driver writes
    // it on a stream (client/ice_transmit.h).
    TurnTransport transport = TurnTransport::kUdp;
  };
  std::vector<Turn> turn_servers;
  bool relay_only = false;         // no host or srflx candidates are reported
  stun::TransactionConfig transaction;  // gathering requests' timers
  std::string software;
  // RFC 8656 §9: permissions last 300 s; refreshed this long before then.
  absl::Duration permission_refresh_margin = absl::Seconds(60);
  // RFC 8656 §12: channel bindings last 600 s; refreshed this long before then.
  absl::Duration channel_refresh_margin = absl::Seconds(60);
  // Refresh the allocation this long before its lifetime ends (RFC 8656 §8).
  absl::Duration allocation_refresh_margin = absl::Seconds(60);
};

// One local candidate and how to send from it.
struct GatheredCandidate {
  ice::Candidate candidate;     // complete: foundation, priority, type, raddr/rport
  stun::SocketAddress address;  // the candidate's transport address
  // RFC 8445 §5.1.1: the base. Host and srflx: the host socket's address.
  // Relayed: the relayed address itself (§5.1.1.2).
  stun::SocketAddress base;
  // The host socket datagrams leave from (for relayed: the one talking to the TURN server).
  stun::SocketAddress socket;
  // Relayed candidates: which allocation (argument of the relay calls below).
  std::optional<uint32_t> relay_id;
  // RFC 8445 §5.1.2.1 local preference used in the priority; a peer-reflexive
  // candidate learnt on this base uses it too (§7.2.5.3.1).
  uint32_t local_preference = 0;
};

struct GathererEvent {
  enum class Kind : uint8_t {
    kCandidate,   // `candidate`
    kComplete,    // every base and server has answered or failed
    kTurnError,   // `reason`: a TURN server failed (timeout, 401 after retry, 486, 508, ...)
    kRelayLost,   // `relay_id`: an allocation expired or its refresh failed
  };
  Kind kind = Kind::kCandidate;
  GatheredCandidate candidate;
  uint32_t relay_id = 0;
  std::string reason;
};

// What HandlePacket found.
struct GathererIncoming {
  enum class Kind : uint8_t {
    kNotMine,     // not a gathering answer nor from a TURN server: the agent's
    kConsumed,    // an answer to one of our STUN/TURN requests
    kRelayed,     // data from a peer through an allocation: `relay_id`, `peer`, `payload`
  };
  Kind kind = Kind::kNotMine;
  uint32_t relay_id = 0;
  stun::SocketAddress peer;
  std::span<const uint8_t> payload;  // view into the bytes passed in
};

class IceGatherer {
 public:
  IceGatherer(IceGathererConfig config, RandomSource random);
  ~IceGatherer();

  // Bases in the driver's preference order. Host candidates are reported at
  // once (no transaction); srflx/relay requests wait for StartNext.
  absl::Status Start(std::span<const stun::SocketAddress> bases, absl::Time now);
  // True while a gathering request has not been sent yet: the agent's Ta
  // pacer calls StartNext(now) when it is this component's turn.
  bool has_pending_start() const;
  void StartNext(absl::Time now);
  bool complete() const;

  // `transport` other than UDP: one framed message from the stream between
  // `base`'s IP and TURN server `from`; only that allocation looks at it.
  GathererIncoming HandlePacket(const stun::SocketAddress& base, const stun::SocketAddress& from,
                                std::span<const uint8_t> bytes, absl::Time now,
                                TurnTransport transport = TurnTransport::kUdp);
  // The stream between `base` and `server` is gone: its allocation fails
  // (kTurnError, `reason`) or, when allocated, is lost (kTurnError, then
  // kRelayLost). Returns false when no allocation used that stream.
  bool StreamClosed(const stun::SocketAddress& base, const stun::SocketAddress& server,
                    TurnTransport transport, std::string_view reason);
  void HandleTimeout(absl::Time now);
  absl::Time PollTimeout() const;
  std::optional<IceTransmit> PollTransmit();
  std::optional<GathererEvent> PollEvent();

  // ---- The relay's data path ----
  // Installs (once, refreshed while the allocation lives) a permission for
  // `peer`'s IP on allocation `relay_id` (RFC 8656 §9).
  absl::Status Permit(uint32_t relay_id, const stun::SocketAddress& peer, absl::Time now);
  // Binds a channel to `peer` (RFC 8656 §11), refreshed while the allocation lives.
  absl::Status BindChannel(uint32_t relay_id, const stun::SocketAddress& peer, absl::Time now);
  // Queues `payload` to `peer` through allocation `relay_id`: ChannelData
  // once the channel is bound, else a Send indication (RFC 8656 §10.1).
  absl::Status SendThroughRelay(uint32_t relay_id, const stun::SocketAddress& peer,
                                std::span<const uint8_t> payload, absl::Time now);

  // Candidates known now (restart re-announces these).
  const std::vector<GatheredCandidate>& candidates() const;
  // RFC 8445 §9: gather again (new srflx requests) keeping allocations.
  void Regather(absl::Time now);
  // Refresh lifetime 0 on every allocation (RFC 8656 §8).
  void Close(absl::Time now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uturn::client
