// What the IceAgent unit tests share: a seeded random source, addresses and
// the minimal agent configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "client/ice_agent.h"
#include "stun/address.h"

namespace uturn::client::agent_test {

using ice::Role;

inline RandomSource Rng(uint64_t seed) {
  auto state = std::make_shared<uint64_t>(seed);
  return [state](std::span<uint8_t> out) {
    for (uint8_t& b : out) {
      *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
      b = static_cast<uint8_t>(*state >> 56);
    }
  };
}

inline const stun::SocketAddress kBaseA = stun::SocketAddress::V4({192, 0, 2, 1}, 5000);
inline const stun::SocketAddress kBaseB = stun::SocketAddress::V4({198, 51, 100, 1}, 6000);
inline const stun::SocketAddress kStranger = stun::SocketAddress::V4({203, 0, 113, 9}, 7000);

inline IceAgentConfig Config(Role role, uint64_t tie_breaker) {
  IceAgentConfig c;
  c.role = role;
  c.tie_breaker = tie_breaker;
  return c;
}

// A 100-byte application datagram (ICE-PEER.md) numbered `seq`.
inline std::vector<uint8_t> AppDatagram(uint8_t seq) {
  std::vector<uint8_t> d(100, 0x55);
  d[0] = 0x80;  // RFC 7983: RTP range
  d[4] = seq;
  return d;
}

}  // namespace uturn::client::agent_test
