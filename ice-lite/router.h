// Many ICE-lite sessions on one UDP port (and one ICE-TCP passive port): the
// demultiplexer a media server puts in front of its sessions. Sans-IO: the
// host hands every datagram (or RFC 4571 frame from a TCP connection) to
// OnPacket with its tuple and time; effects come out through RouterOutput.
//
// Routing (RFC 7983 first byte, then):
// - STUN: a Binding request from a tuple no session owns is routed by the
//   local ufrag in USERNAME ("local:remote"), an O(1) lookup; the tuple
//   joins that session only once a check from it authenticates. Unknown
//   ufrags or malformed USERNAME: 400/401 answered statelessly or dropped,
//   never any per-packet state (a flood costs no memory).
// - anything else (DTLS, RTP/RTCP, ...): by tuple to the owning session's
//   media handler (RouterOutput::OnMedia); dropped and counted if unknown.
// Bounded: sessions, tuples per session (SessionConfig::max_tuples) and
// tuples in all (RouterConfig::max_tuples).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ice-lite/ice_types.h"
#include "ice-lite/lite_session.h"

namespace uturn::ice {

using SessionId = uint64_t;

struct RouterConfig {
  uint32_t max_sessions = 100'000;
  uint32_t max_tuples = 400'000;
  // Answer checks for unknown ufrags with 401 (stateless) rather than drop.
  bool answer_unknown_ufrag = false;
};

class RouterOutput {
 public:
  virtual ~RouterOutput() = default;
  virtual void Send(const Tuple& tuple, std::span<const uint8_t> bytes) = 0;
  virtual void OnSessionEvent(SessionId id, const SessionEvent& event) = 0;
  // A non-STUN packet (RFC 7983) on a tuple of session `id`.
  virtual void OnMedia(SessionId id, const Tuple& tuple, std::span<const uint8_t> packet) = 0;
};

struct RouterCounters {
  uint64_t stun_in = 0, checks_answered = 0, checks_rejected = 0, checks_discarded = 0;
  uint64_t unknown_ufrag = 0, malformed = 0;
  uint64_t media_in = 0, media_unknown_tuple = 0;
  uint64_t tuples_added = 0, tuples_removed = 0;
};

class Router {
 public:
  Router(RouterConfig config, RouterOutput* output);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // A new session with `local` credentials (unique ufrag: error if taken or
  // over max_sessions).
  absl::StatusOr<SessionId> AddSession(SessionConfig config, Credentials local,
                                       std::optional<Credentials> remote);
  // Ends a session: its ufrags and tuples are forgotten (kTupleRemoved is
  // not reported for them).
  void RemoveSession(SessionId id);
  LiteSession* session(SessionId id);  // nullptr if gone
  size_t session_count() const;
  // Tuples indexed for routing (authenticated ones, in all sessions).
  size_t tuple_count() const;

  // ICE restart of session `id` (re-indexes its ufrags).
  absl::Status RestartSession(SessionId id, Credentials new_local);

  void OnPacket(const Tuple& tuple, std::span<const uint8_t> packet, absl::Time now);
  void HandleTimeout(absl::Time now);
  absl::Time NextTimeout() const;

  const RouterCounters& counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uturn::ice
