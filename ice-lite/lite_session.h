// One ICE-lite session (RFC 8445 §2.5, §6.1.1, §7.3): the server side of a
// media session, answering connectivity checks from the client's full agent
// and learning which tuple it nominated. Sans-IO: requests and time come in
// through OnBindingRequest/HandleTimeout; responses and events go out
// through SessionOutput.
//
// Check processing, in the order RFC 8445 §7.3 and RFC 8489 §9.1.3 give:
// FINGERPRINT (absent or wrong: discard), USERNAME "local:remote" against
// the current or (after Restart) previous local ufrag, short-term
// MESSAGE-INTEGRITY with the local pwd (400 if USERNAME or MI is missing,
// 401 if they do not verify), PRIORITY (400 if missing), role conflict
// (487 or switch, RFC 8445 §7.3.1.1), then a success response with
// XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and FINGERPRINT. USE-CANDIDATE
// (regular or aggressive nomination) or a higher NOMINATION value (Chrome's
// renomination) selects the tuple. Every authenticated check refreshes
// consent (RFC 7675) for its tuple.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/time/time.h"
#include "ice-lite/ice_types.h"
#include "stun/message_view.h"

namespace uturn::ice {

struct SessionConfig {
  Role role = Role::kControlled;  // kControlling only for a lite-lite pair where we offered
  uint64_t tie_breaker = 0;       // RFC 8445 §16.1; set from a CSPRNG by the owner
  // RFC 7675 §5.1: consent expires 30 s after the last authenticated check.
  absl::Duration consent_timeout = absl::Seconds(30);
  // No valid check on the selected tuple for this long: kDisconnected.
  absl::Duration disconnected_after = absl::Seconds(5);
  // Tuples a session keeps (peer-reflexive candidates learned from checks);
  // beyond it the least recently checked non-selected one is evicted.
  uint32_t max_tuples = 8;
};

class SessionOutput {
 public:
  virtual ~SessionOutput() = default;
  // A STUN response to send on `tuple`; `bytes` is valid during the call.
  virtual void SendStun(const Tuple& tuple, std::span<const uint8_t> bytes) = 0;
  virtual void OnEvent(const SessionEvent& event) = 0;
};

class LiteSession {
 public:
  LiteSession(SessionConfig config, Credentials local, SessionOutput* output);
  ~LiteSession();
  LiteSession(const LiteSession&) = delete;
  LiteSession& operator=(const LiteSession&) = delete;

  // From the offer (a=ice-ufrag/a=ice-pwd). Until known, USERNAME's remote
  // part is not checked (RFC 8445 §7.3: a check may arrive before the
  // answer reaches the agent); it is once set.
  void SetRemoteCredentials(Credentials remote);
  // ICE restart (RFC 8445 §9): new local credentials. Checks with the old
  // ones keep being answered until the first check with the new ones
  // authenticates.
  void Restart(Credentials new_local);

  enum class CheckOutcome : uint8_t {
    kAnswered,      // success response sent; the tuple is (now) the session's
    kRejected,      // error response sent (400/401/487)
    kDiscarded,     // silently dropped (bad FINGERPRINT, not a request, ...)
  };
  // A STUN message from `tuple` that the router matched to this session (or
  // that arrived on one of its tuples). Only Binding requests are answered;
  // Binding indications refresh nothing (RFC 7675 needs responses).
  CheckOutcome OnBindingRequest(const Tuple& tuple, const stun::MessageView& message,
                                absl::Time now);

  void HandleTimeout(absl::Time now);
  absl::Time NextTimeout() const;  // InfiniteFuture when nothing is pending

  void Close();  // kClosed; no more events, checks are discarded

  const Credentials& local() const;
  // All local ufrags a check may name right now (current, and the previous
  // one during a restart): the router indexes sessions by these.
  std::vector<std::string> local_ufrags() const;
  SessionState state() const;
  // The current role: config.role, possibly switched by a role conflict
  // (RFC 8445 §7.3.1.1).
  Role role() const;
  std::optional<Tuple> selected() const;
  std::vector<Tuple> tuples() const;
  // True if `tuple` authenticated a check and is still the session's.
  bool HasTuple(const Tuple& tuple) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uturn::ice
