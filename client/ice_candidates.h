// Local candidate bookkeeping for the ICE agent's gatherer (RFC 8445 §5.1):
// local preferences across interfaces (§5.1.2.1, RFC 8421 §4), priorities
// (§5.1.2), foundations (§5.1.1.3), redundancy (§5.1.3) and the finished
// ice::Candidate with raddr/rport. Pure functions and small tables: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ice-lite/candidate.h"
#include "stun/address.h"

namespace uturn::client {

// RFC 8445 §5.1.2.1: "the local preference MUST be an integer from 0
// (lowest preference) to 65535 (highest preference) inclusive", 65535 for a
// single interface.
inline constexpr uint32_t kMaxLocalPreference = 65535;

// Local preference of each base, in the order given (the driver's order is
// its preference within a family). RFC 8421 §4 asks that IPv6 be preferred
// but the families be interleaved so that a broken IPv6 path does not delay
// IPv4 behind every IPv6 candidate. Our rule: rank the bases
// v6[0], v4[0], v6[1], v4[1], ... (the leftover family's bases follow in
// order), and give rank r the preference 65535 - r. Unique per base (§5.1.2.1).
std::vector<uint32_t> LocalPreferences(std::span<const stun::SocketAddress> bases);

// Local preference of a server-derived candidate (srflx or relay) of the base
// with preference `base_preference`, through server `server_index` of
// `server_count` servers of that kind. Unique within a type for every
// (base, server) pair as long as bases have unique preferences: the base's
// preference scaled down by the number of servers, minus the index.
uint32_t ServerLocalPreference(uint32_t base_preference, size_t server_index,
                               size_t server_count);

// RFC 8445 §5.1.2.1 with the §5.1.2.2 recommended type preferences, component 1.
uint32_t LocalPriority(ice::CandidateType type, uint32_t local_preference);

// RFC 8445 §5.1.1.3: "the same foundation" for candidates with the same type,
// base IP address, STUN/TURN server IP address and transport. Foundations are
// handed out in order ("1", "2", ...: ice-chars, RFC 8839 §5.1) and stay the
// same for the same key for the table's life (so a restart reuses them).
class FoundationTable {
 public:
  // `server` is ignored (pass nullptr) for host candidates.
  std::string Get(ice::CandidateType type, const stun::SocketAddress& base,
                  const stun::SocketAddress* server, const std::string& transport);
  size_t size() const { return table_.size(); }

 private:
  // (type, base IP, server IP or empty, transport); addresses with port 0.
  using Key = std::tuple<ice::CandidateType, stun::SocketAddress, stun::SocketAddress, bool,
                         std::string>;
  absl::flat_hash_map<Key, std::string> table_;
};

// Everything needed to format one local candidate.
struct CandidateSpec {
  ice::CandidateType type = ice::CandidateType::kHost;
  stun::SocketAddress address;  // the candidate's transport address
  stun::SocketAddress base;     // RFC 8445 §5.1.1: its base
  // RFC 8839 §5.1 raddr/rport: srflx -> the base, relay -> the allocation's
  // mapped address. Absent for host.
  std::optional<stun::SocketAddress> related;
  std::string foundation;
  uint32_t local_preference = kMaxLocalPreference;
};

// The finished a=candidate value: UDP, component 1 (one component per
// session, rtcp-mux/BUNDLE), priority from LocalPriority.
ice::Candidate MakeCandidate(const CandidateSpec& spec);

// RFC 8445 §5.1.3: "A candidate is redundant if and only if its transport
// address and base equal those of another candidate." True if `candidate`
// (at `address` with `base`, priority `priority`) is redundant with one of
// `existing` of higher or equal priority: the lower one is eliminated.
struct KnownCandidate {
  stun::SocketAddress address;
  stun::SocketAddress base;
  uint32_t priority = 0;
};
bool IsRedundant(std::span<const KnownCandidate> existing, const stun::SocketAddress& address,
                 const stun::SocketAddress& base, uint32_t priority);

}  // namespace uturn::client
