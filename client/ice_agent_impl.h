// Internal: the state of an IceAgent, shared by the files that implement it
// by concern — ice_agent.cc (signalling, gathering, generations, pacing,
// state), ice_agent_checks.cc (sending and answering connectivity checks,
// role conflicts, nomination), ice_agent_consent.cc (consent freshness,
// keepalives, the data path and RFC 7983 demultiplexing). Not installed,
// not for other code.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "client/ice_agent.h"
#include "client/ice_checklist.h"
#include "client/ice_gatherer.h"
#include "stun/client_transaction.h"
#include "stun/message_view.h"

namespace uturn::client {

// Where a datagram arrived or leaves: the host socket `base`, and the
// allocation when it went through a TURN server.
struct IceVia {
  stun::SocketAddress base;
  std::optional<uint32_t> relay_id;
  friend bool operator==(const IceVia&, const IceVia&) = default;
};

// One set of credentials and its checklist (RFC 8445 §9: a restart starts a
// new one; the previous one lives on while its selected pair carries data).
struct IceGeneration {
  explicit IceGeneration(size_t max_pairs) : checklist(max_pairs) {}
  uint32_t number = 0;
  ice::Credentials local;
  std::string local_key;  // RFC 8489 §9.1.1 short-term key of local.pwd
  std::optional<ice::Credentials> remote;
  std::string remote_key;
  Checklist checklist;
  bool remote_end_of_candidates = false;
  std::optional<size_t> selected;  // pair id
  // RFC 8445 §7.3: checks answered before the remote credentials were
  // known; processed (peer-reflexive candidate, triggered check) once they are.
  struct EarlyCheck {
    size_t local;
    stun::SocketAddress from;
    uint32_t priority;
    bool use_candidate;
  };
  std::vector<EarlyCheck> early_checks;
  // Sources whose checks authenticated, per local base/allocation: their
  // data is accepted even where our own check has not made the pair valid
  // (RFC 8445 §12.1: be ready to receive on any candidate). Bounded.
  struct Source {
    IceVia via;
    stun::SocketAddress from;
  };
  std::vector<Source> authenticated_sources;
  uint32_t prflx_count = 0;
  // Regular nomination (RFC 8445 §8.1.1): when the wait for better pairs ends.
  absl::Time nominate_deadline = absl::InfiniteFuture();
  bool nominate_wait_over = false;  // nominate_deadline passed
  bool nominating = false;  // a USE-CANDIDATE check is queued or in flight
  size_t nominee = 0;       // its pair, while `nominating`
  // RFC 7675 on the selected pair.
  absl::Time last_consent = absl::InfinitePast();
  absl::Time next_consent = absl::InfiniteFuture();
  bool disconnected = false;
  bool consent_lost = false;  // RFC 7675 §5.1: no more data on this pair
};

struct IceCheckTransaction {
  enum class Purpose : uint8_t { kCheck, kConsent };
  Purpose purpose = Purpose::kCheck;
  uint32_t generation = 0;
  size_t pair = 0;
  bool use_candidate = false;
  ice::Role role = ice::Role::kControlling;  // RFC 8445 §7.2.5.1: role when sent
  uint32_t priority = 0;                     // PRIORITY sent (a prflx local takes it)
  IceVia via;
  stun::SocketAddress destination;
  std::vector<uint8_t> bytes;
  std::optional<stun::ClientTransaction> timer;  // checks only; consent sends once
  absl::Time expires = absl::InfiniteFuture();  // consent: answer accepted until then
  // RFC 8445 §7.3.1.4: a cancelled check is not retransmitted and its
  // timeout is no failure; a late answer still counts.
  bool cancelled = false;
};

struct IceAgent::Impl {
  Impl(IceAgentConfig c, RandomSource r);

  IceAgentConfig config;
  RandomSource random;
  IceGatherer gatherer;
  std::vector<stun::SocketAddress> bases;
  bool gathering_started = false;
  bool gathering_complete = false;
  bool remote_lite = false;
  ice::Role role = ice::Role::kControlling;
  uint64_t tie_breaker = 0;
  int role_switches = 0;
  IceState state = IceState::kNew;
  bool closed = false;

  std::unique_ptr<IceGeneration> current;
  std::unique_ptr<IceGeneration> previous;  // RFC 8445 §9: old pair until the new one is selected
  uint32_t next_generation = 0;

  absl::flat_hash_map<stun::TransactionId, IceCheckTransaction> transactions;
  // Ta pacer (RFC 8445 §14.2): the time of the last paced transaction.
  absl::Time last_paced = absl::InfinitePast();
  bool gather_turn = true;  // alternate gathering and checks between Ta slots
  absl::Time connect_deadline = absl::InfiniteFuture();
  std::deque<IceTransmit> transmits;
  std::deque<IceEvent> events;
  IceAgentStats stats;
  std::array<uint8_t, 1500> buffer{};

  // ---- ice_agent.cc ----
  std::unique_ptr<IceGeneration> NewGeneration(ice::Credentials local);
  IceGeneration* FindGeneration(uint32_t number);
  void SetState(IceState s, std::string reason = {});
  void MaybeComplete();
  void Emit(IceEvent e);
  void DrainGatherer(absl::Time now);
  void AddLocal(IceGeneration& g, const GatheredCandidate& c, bool announce, absl::Time now);
  void OnPairsAdded(IceGeneration& g, const std::vector<size_t>& ids, absl::Time now);
  void StartNewGeneration(std::optional<ice::Credentials> remote, absl::Time now);
  void MaybeStartConnectTimer(absl::Time now);
  void RunPacer(absl::Time now);
  bool HasPacedWork() const;
  void CheckFailure(absl::Time now);
  IceGeneration* DataGeneration();  // whose selected pair carries data
  const IceGeneration* DataGeneration() const;
  IceSelectedPair DescribePair(const IceGeneration& g, size_t pair_id) const;
  uint64_t RandomU64();

  // ---- ice_agent_checks.cc ----
  bool SendCheck(IceGeneration& g, size_t pair_id, bool use_candidate, absl::Time now);
  // A Binding request for `pair_id` (RFC 8445 §7.2.4) in `buffer`; empty on failure.
  std::span<const uint8_t> BuildCheck(const IceGeneration& g, size_t pair_id, bool use_candidate,
                                      const stun::TransactionId& id, uint32_t* priority);
  stun::TransactionId NewTransactionId();
  void HandleStun(const IceVia& via, const stun::SocketAddress& from,
                  std::span<const uint8_t> bytes, absl::Time now, IceIncoming* result);
  void HandleRequest(const IceVia& via, const stun::SocketAddress& from,
                     const stun::MessageView& m, absl::Time now, IceIncoming* result);
  void ProcessCheck(IceGeneration& g, size_t local, const stun::SocketAddress& from,
                    uint32_t priority, bool use_candidate, absl::Time now);
  void HandleResponse(const IceVia& via, const stun::SocketAddress& from,
                      const stun::MessageView& m, absl::Time now, IceIncoming* result);
  void CheckSucceeded(IceGeneration& g, IceCheckTransaction& tx,
                      const stun::SocketAddress& mapped, absl::Time now);
  void CheckFailed(IceGeneration& g, size_t pair_id, absl::Time now);
  void SwitchRole(ice::Role to, absl::Time now);
  void MaybeNominate(IceGeneration& g, absl::Time now);
  // The nominating (USE-CANDIDATE) check of a succeeded pair, sent at once.
  void SendNomination(IceGeneration& g, size_t pair_id, absl::Time now);
  void Select(IceGeneration& g, size_t pair_id, absl::Time now);
  // A higher-priority nominated pair replaces the selected one.
  void MaybeReselect(IceGeneration& g, size_t pair_id, absl::Time now);
  void SendOnVia(const IceVia& via, const stun::SocketAddress& to,
                 std::span<const uint8_t> bytes, absl::Time now);
  IceVia ViaOf(const GatheredCandidate& local) const;
  void HandleTransactionTimeouts(absl::Time now);
  void CancelChecks(uint32_t generation, std::optional<size_t> except);

  // ---- ice_agent_consent.cc ----
  void ScheduleConsent(IceGeneration& g, absl::Time from);
  void SendConsent(IceGeneration& g, absl::Time now);
  void ConsentSucceeded(IceGeneration& g, absl::Time now);
  void HandleConsentTimers(absl::Time now);
  IceIncoming HandleDatagram(const IceVia& via, const stun::SocketAddress& from,
                             std::span<const uint8_t> bytes, absl::Time now,
                             TurnTransport transport = TurnTransport::kUdp);
  bool FromValidPair(const IceVia& via, const stun::SocketAddress& from) const;
};

}  // namespace uturn::client
