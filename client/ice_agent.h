// Sans-IO full ICE agent (RFC 8445, trickle per RFC 8838, consent per
// RFC 7675). One agent runs one ICE session with one component (the
// BUNDLE/rtcp-mux case every current WebRTC stack uses). It owns no socket,
// thread or clock: the driver tells it which local sockets exist
// (AddLocalInterface), hands it every datagram received on them
// (HandlePacket), calls HandleTimeout at PollTimeout(), and sends every
// PollTransmit(). Remote signalling (credentials, candidates,
// end-of-candidates) comes in through the Set/Add calls; local candidates and
// state changes go out through PollEvent().
//
// Drive loop (the shape str0m uses):
//   while (running) {
//     while (auto t = agent.PollTransmit()) send t->bytes from t->source to t->destination;
//     while (auto e = agent.PollEvent()) react (signal candidates, report state);
//     wait for a datagram or agent.PollTimeout();
//     datagram ? agent.HandlePacket(base, from, bytes, now) : agent.HandleTimeout(now);
//   }
//
// Gathering (IceGatherer, client/ice_gatherer.h) runs inside the agent:
// host candidates on the interfaces given, server-reflexive through STUN
// Binding, relayed through TURN Allocate. Checks start as soon as the first
// remote candidate and the remote credentials are known, before gathering
// ends (trickle).
#pragma once

#include <cstdint>
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
#include "ice-lite/ice_types.h"
#include "stun/address.h"

namespace uturn::client {

enum class NominationMode : uint8_t {
  kRegular,     // RFC 8445 §8.1.1: check, then nominate the valid pair with USE-CANDIDATE
  kAggressive,  // RFC 5245 §8.1.1.2 style: USE-CANDIDATE on every check (option, not default)
};

struct IceTurnServer {
  stun::SocketAddress address;
  TurnCredentials credentials;
  // RFC 8656 §3.1: UDP or TCP to the server (TLS: not built yet; such a
  // server is skipped). The relayed candidate is UDP either way.
  TurnTransport transport = TurnTransport::kUdp;
};

struct IceAgentConfig {
  ice::Role role = ice::Role::kControlling;  // RFC 8445 §6.1.1 initial role
  // RFC 8445 §16.1 tie-breaker; 0 means "draw one from the random source".
  uint64_t tie_breaker = 0;
  NominationMode nomination = NominationMode::kRegular;

  std::vector<stun::SocketAddress> stun_servers;
  std::vector<IceTurnServer> turn_servers;
  // Gather and pair relayed candidates only (iceTransportPolicy "relay").
  bool relay_only = false;
  // Local credentials; generated (RFC 8445 §5.3) when the ufrag is empty.
  ice::Credentials local_credentials;

  // RFC 8445 §14.2: "Ta ... the default value is 50 ms" (one new STUN
  // transaction per Ta, gathering and checks together).
  absl::Duration ta = absl::Milliseconds(50);
  // RFC 8445 §14.3: check RTO = MAX(500 ms, N * (Num-Waiting + Num-In-Progress) * Ta);
  // this is the 500 ms floor.
  absl::Duration min_check_rto = absl::Milliseconds(500);
  // Transmissions of one connectivity check before it fails (RFC 8489 §6.2.1
  // Rc; a check in a changing network gives up sooner than a plain request).
  int check_transmissions = 7;
  // RFC 8445 §6.1.2.5: "a default of 100" candidate pairs per checklist.
  size_t max_pairs = 100;
  // Remote candidates kept; beyond it new ones are refused (hostile signalling).
  size_t max_remote_candidates = 100;
  // RFC 8445 §11: keepalives at least every Tr, "default of no less than
  // 15 seconds"; sent on the selected pair when no data went out for Tr.
  absl::Duration keepalive_interval = absl::Seconds(15);
  // RFC 7675 §5.1: consent checks every 5 s, each interval randomised to
  // [0.8, 1.2] of that (4-6 s), consent lost 30 s after the last success.
  absl::Duration consent_interval = absl::Seconds(5);
  absl::Duration consent_timeout = absl::Seconds(30);
  // No selected pair this long after checks could start: kFailed (timeout).
  absl::Duration connect_timeout = absl::Seconds(30);
  std::string software;  // SOFTWARE in gathering requests; omitted when empty
  // RFC 8445 §8.1.1 leaves when to nominate to the controlling agent: the
  // best valid pair is nominated once no higher-priority pair is left to
  // check, or this long after the first pair became valid.
  absl::Duration nomination_wait = absl::Milliseconds(500);
  // Consent (RFC 7675) unanswered this long on the selected pair:
  // kDisconnected (one missed answer at the 4-6 s pace; lost at consent_timeout).
  absl::Duration disconnected_after = absl::Seconds(8);
  // Role switches (RFC 8445 §7.3.1.1, §7.2.5.1) allowed per agent; beyond,
  // a conflict keeps our role (answers 487, fails the check): no 487 storm.
  int max_role_switches = 4;
};

enum class IceState : uint8_t {
  kNew,           // nothing started
  kChecking,      // gathering and/or checks running, no selected pair
  kConnected,     // a pair is selected (controlling: nominated; controlled: nominated by the remote)
  kCompleted,     // selected and every checklist concluded (RFC 8445 §8)
  kDisconnected,  // consent checks unanswered for a while (not yet lost)
  kFailed,        // no pair could be made, or consent lost with no other pair
  kClosed,        // Close() called
};
const char* ToString(IceState s);

// A local or remote candidate as signalled, plus what the agent knows of it.
struct IceCandidateInfo {
  ice::Candidate candidate;  // foundation, priority, type, address, raddr/rport
  stun::SocketAddress address;  // candidate.ip with the port
};

struct IceSelectedPair {
  IceCandidateInfo local;   // type host/srflx/prflx/relay
  IceCandidateInfo remote;
  bool nominated = false;
};

struct IceEvent {
  enum class Kind : uint8_t {
    kLocalCandidate,     // `candidate`: signal it to the remote (trickle)
    kGatheringComplete,  // signal end-of-candidates
    kStateChanged,       // `state`, `reason` ("timeout", "consent", ...)
    kSelectedPair,       // `pair`: the selected pair is new or changed
    kRoleChanged,        // `role`: a role conflict switched our role (RFC 8445 §7.3.1.1)
    kRestarted,          // a local or remote ICE restart took effect (new credentials in use)
    kTurnError,          // `reason`: a TURN server could not be used; gathering goes on without it
  };
  Kind kind = Kind::kStateChanged;
  IceCandidateInfo candidate;
  IceState state = IceState::kNew;
  IceSelectedPair pair;
  ice::Role role = ice::Role::kControlling;
  std::string reason;
};

// What HandlePacket did with one datagram.
struct IceIncoming {
  enum class Kind : uint8_t {
    kIgnored,  // not ours, malformed or unauthenticated: dropped (counted in stats)
    kHandled,  // STUN/TURN traffic the agent consumed
    kData,     // application data (RFC 7983: not STUN, not TURN): `data`
  };
  Kind kind = Kind::kIgnored;
  // kData: the payload, a view into the bytes passed in (ChannelData or Data
  // indication headers stripped when it came through the relay).
  std::span<const uint8_t> data;
};

struct IceAgentStats {
  uint64_t checks_sent = 0;           // connectivity-check transmissions (retransmissions included)
  uint64_t checks_received = 0;       // Binding requests from the remote that authenticated
  uint64_t checks_rejected = 0;       // requests answered with an error (400/401/487)
  uint64_t responses_received = 0;    // check responses matched to a transaction
  uint64_t packets_ignored = 0;       // IceIncoming::kIgnored
  uint64_t role_conflicts = 0;
  uint64_t data_sent = 0;
  uint64_t data_received = 0;
  size_t pairs = 0;                   // in all checklists now
  size_t valid_pairs = 0;
};

class IceAgent {
 public:
  IceAgent(IceAgentConfig config, RandomSource random);
  ~IceAgent();
  IceAgent(const IceAgent&) = delete;
  IceAgent& operator=(const IceAgent&) = delete;

  // ---- Local side ----
  // A socket the driver has bound (its local address, port included). Each
  // becomes a host candidate (unless relay_only) and a base for srflx and
  // relayed gathering. The driver's order is the preference order (first is
  // preferred; RFC 8445 §5.1.2.1 local preference); IPv6 before IPv4 is the
  // agent's own rule (RFC 8421). Call before StartGathering.
  absl::Status AddLocalInterface(const stun::SocketAddress& base);
  // Starts gathering on every interface added. Fails with no interface.
  absl::Status StartGathering(absl::Time now);
  const ice::Credentials& local_credentials() const;
  // RFC 8445 §9: new local credentials now, candidates gathered again; the
  // selected pair keeps carrying data until a pair of the new session is
  // selected. The new credentials must be signalled (then candidates again).
  absl::Status Restart(absl::Time now);
  // Deallocates TURN allocations (Refresh lifetime 0) and stops: kClosed.
  void Close(absl::Time now);

  // ---- Remote signalling ----
  // The first call sets them; a call with a different ufrag/pwd is a remote
  // ICE restart (RFC 8445 §9): remote candidates are cleared and expected again.
  absl::Status SetRemoteCredentials(const ice::Credentials& remote, absl::Time now);
  // a=ice-lite from the remote: we are controlling (RFC 8445 §6.1.1).
  void SetRemoteLite(bool lite);
  // One remote candidate (trickle). Refused with a reason: not UDP,
  // component other than 1, an FQDN/mDNS address, duplicates, over the cap.
  absl::Status AddRemoteCandidate(const ice::Candidate& candidate, absl::Time now);
  // RFC 8838 §13: no more remote candidates for this generation.
  void SetRemoteEndOfCandidates(absl::Time now);

  // ---- Data ----
  // One application datagram over the selected pair (through the TURN
  // server if a relayed candidate is selected). FailedPrecondition when no
  // pair is selected.
  absl::Status SendData(std::span<const uint8_t> payload, absl::Time now);

  // ---- Driving ----
  // A datagram received on the socket bound to `base` from `from`.
  IceIncoming HandlePacket(const stun::SocketAddress& base, const stun::SocketAddress& from,
                           std::span<const uint8_t> bytes, absl::Time now);
  // The same for a message that came on a stream: one whole STUN message
  // or ChannelData frame (padding included) the driver cut out of the
  // stream from base `base`'s IP to TURN server `from` (stun/stream_framing.h).
  // Only the gatherer's TURN traffic travels on streams; anything else is kIgnored.
  IceIncoming HandlePacket(const stun::SocketAddress& base, const stun::SocketAddress& from,
                           std::span<const uint8_t> bytes, absl::Time now,
                           TurnTransport transport);
  // The stream from `base` to TURN server `server` closed, failed to
  // connect or was closed by the driver (garbage, full queue): the
  // allocation on it fails (kTurnError with `reason`; its relayed pairs
  // fail) and the agent goes on without it, as after a TURN timeout.
  void HandleStreamClosed(const stun::SocketAddress& base, const stun::SocketAddress& server,
                          TurnTransport transport, std::string_view reason, absl::Time now);
  void HandleTimeout(absl::Time now);
  // When HandleTimeout must be called next; InfiniteFuture when nothing is pending.
  absl::Time PollTimeout() const;
  std::optional<IceTransmit> PollTransmit();
  std::optional<IceEvent> PollEvent();

  // ---- State ----
  IceState state() const;
  ice::Role role() const;
  std::optional<IceSelectedPair> selected_pair() const;
  std::vector<IceCandidateInfo> local_candidates() const;
  IceAgentStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uturn::client
