// The WHIP-style HTTP surface of the endpoint: POST /whip with an SDP offer
// creates an ICE-lite session on the router and answers 201 with the SDP
// answer and a Location; DELETE on that Location ends it. Also turns the
// router's session events into log lines and counts media per session.
// No sockets here: the event loop hands in parsed requests and router
// callbacks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "ice-lite/candidate.h"
#include "ice-lite/endpoint/http.h"
#include "ice-lite/ice_types.h"
#include "ice-lite/lite_session.h"
#include "ice-lite/router.h"

namespace uturn::ice::endpoint {

using LogSink = std::function<void(const std::string& json_line)>;

struct WhipConfig {
  SessionConfig session;               // timeouts; role and tie-breaker are set per session
  std::vector<Candidate> candidates;   // the endpoint's host candidates
  std::string fingerprint;             // "sha-256 AB:..."
  // A session no check ever connected is removed after this long, so
  // offers nobody follows up cannot pile up (the lite session has no such
  // timeout of its own).
  absl::Duration connect_timeout = absl::Seconds(30);
};

class WhipService {
 public:
  WhipService(WhipConfig config, Router* router, RandomSource random, LogSink log);

  HttpResponse Handle(const HttpRequest& request, absl::Time now);

  // Router callbacks, forwarded by the host.
  void OnSessionEvent(SessionId id, const SessionEvent& event);
  void OnMedia(SessionId id);

  // Removes sessions whose consent failed (outside the router's callbacks)
  // and those never connected within connect_timeout.
  void Reap(absl::Time now);
  // When Reap next has something to do (InfiniteFuture if never).
  absl::Time NextDeadline() const;

  size_t session_count() const { return sessions_.size(); }
  // The public id (the Location's last segment) of a session, "" if unknown.
  std::string PublicId(SessionId id) const;

 private:
  struct Entry {
    std::string public_id;
    uint64_t media_packets = 0;
    bool connected = false;  // ever
  };
  HttpResponse Create(const HttpRequest& request, absl::Time now);
  HttpResponse Delete(std::string_view public_id);
  void Remove(SessionId id, std::string_view reason);

  WhipConfig config_;
  Router* router_;
  RandomSource random_;
  LogSink log_;
  absl::flat_hash_map<std::string, SessionId> by_public_id_;
  absl::flat_hash_map<SessionId, Entry> sessions_;
  std::vector<SessionId> failed_;
  // (deadline, id) in creation order: deadlines only grow, so the front is
  // the next one. Entries of sessions that connected or went are skipped.
  std::deque<std::pair<absl::Time, SessionId>> connect_deadlines_;
};

}  // namespace uturn::ice::endpoint
