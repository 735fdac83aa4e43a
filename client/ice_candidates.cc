#include "client/ice_candidates.h"

#include <algorithm>
#include <cassert>

namespace uturn::client {
namespace {

stun::SocketAddress IpOnly(stun::SocketAddress a) {
  a.port = 0;
  return a;
}

}  // namespace

std::vector<uint32_t> LocalPreferences(std::span<const stun::SocketAddress> bases) {
  std::vector<size_t> v6;
  std::vector<size_t> v4;
  for (size_t i = 0; i < bases.size(); ++i) (bases[i].is_v4() ? v4 : v6).push_back(i);
  std::vector<uint32_t> prefs(bases.size(), 0);
  // RFC 8421 §4: prefer IPv6, interleave the families (v6, v4, v6, v4, ...).
  uint32_t rank = 0;
  for (size_t k = 0; k < std::max(v6.size(), v4.size()); ++k) {
    if (k < v6.size()) prefs[v6[k]] = rank < kMaxLocalPreference ? kMaxLocalPreference - rank : 0;
    if (k < v6.size()) ++rank;
    if (k < v4.size()) prefs[v4[k]] = rank < kMaxLocalPreference ? kMaxLocalPreference - rank : 0;
    if (k < v4.size()) ++rank;
  }
  return prefs;
}

uint32_t ServerLocalPreference(uint32_t base_preference, size_t server_index,
                               size_t server_count) {
  assert(base_preference <= kMaxLocalPreference);
  assert(server_index < server_count);
  const uint64_t base_rank = kMaxLocalPreference - base_preference;
  const uint64_t rank = base_rank * server_count + server_index;
  return rank < kMaxLocalPreference ? static_cast<uint32_t>(kMaxLocalPreference - rank) : 0;
}

uint32_t LocalPriority(ice::CandidateType type, uint32_t local_preference) {
  // One component per session (rtcp-mux / BUNDLE): component ID 1.
  return ice::CandidatePriority(ice::RecommendedTypePreference(type), local_preference, 1);
}

std::string FoundationTable::Get(ice::CandidateType type, const stun::SocketAddress& base,
                                 const stun::SocketAddress* server,
                                 const std::string& transport) {
  Key key{type, IpOnly(base), server != nullptr ? IpOnly(*server) : stun::SocketAddress{},
          server != nullptr, transport};
  auto [it, inserted] = table_.try_emplace(key);
  // Digits are ice-chars (RFC 8839 §5.1); 32 of them would take 10^32 keys.
  if (inserted) it->second = std::to_string(table_.size());
  return it->second;
}

ice::Candidate MakeCandidate(const CandidateSpec& spec) {
  assert(!spec.foundation.empty());
  assert(spec.local_preference <= kMaxLocalPreference);
  // RFC 8445 §5.1.1: host candidates have no related address; srflx/relay do.
  assert(spec.related.has_value() == (spec.type != ice::CandidateType::kHost));
  ice::Candidate c;
  c.foundation = spec.foundation;
  c.component = 1;
  c.transport = "udp";
  c.priority = LocalPriority(spec.type, spec.local_preference);
  c.address = spec.address.IpString();
  c.ip = spec.address;
  c.port = spec.address.port;
  c.type = spec.type;
  if (spec.related) {
    c.related_address = spec.related->IpString();
    c.related_port = spec.related->port;
  }
  return c;
}

bool IsRedundant(std::span<const KnownCandidate> existing, const stun::SocketAddress& address,
                 const stun::SocketAddress& base, uint32_t priority) {
  // RFC 8445 §5.1.3: same transport address and same base; the one with the
  // lower priority goes.
  return std::any_of(existing.begin(), existing.end(), [&](const KnownCandidate& k) {
    return k.address == address && k.base == base && k.priority >= priority;
  });
}

}  // namespace uturn::client
