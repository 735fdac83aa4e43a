// From parsed options to what the TURN core and the relay pool need: the
// turn::TurnConfig, the relay addresses (bound and advertised), and, for the
// embedded default with no authentication options, a generated REST secret
// with an example credential. Pure functions: randomness, the wall clock and
// the host's address come in as arguments.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "server/options.h"
#include "stun/address.h"
#include "turn/auth.h"
#include "turn/turn_server.h"

namespace uturn::server {

struct RelayAddresses {
  // Where relay sockets are bound (port 0 here); at least one is set.
  std::optional<stun::SocketAddress> ipv4;
  std::optional<stun::SocketAddress> ipv6;
  // What XOR-RELAYED-ADDRESS says for each (--external-ip applied).
  std::optional<stun::SocketAddress> advertised_ipv4;
  std::optional<stun::SocketAddress> advertised_ipv6;
};

struct GeneratedSecret {
  std::string secret;            // 64 hex digits from 32 random bytes
  std::string example_username;  // "expiry:example", valid 24 h
  std::string example_password;
};

struct TurnSetup {
  turn::TurnConfig turn;
  RelayAddresses relay;
  uint16_t min_port = 0;
  uint16_t max_port = 0;
  std::optional<GeneratedSecret> generated;  // the embedded default's secret
};

// True when none of --user / --use-auth-secret / --no-auth was given: the
// server then runs in REST mode with a generated secret (the contract).
bool NeedsGeneratedSecret(const Config& config);

// The contract's choice of relay address: --relay-ip if given; else the
// single specific --listening-ip; else `host_ipv4` (the host's first
// non-loopback IPv4 address, found by the caller); else 127.0.0.1.
// --external-ip is applied; a PUBLIC/PRIVATE pair whose PRIVATE is no relay
// address is an error naming the option.
absl::StatusOr<RelayAddresses> ChooseRelayAddresses(
    const Config& config, const std::optional<stun::SocketAddress>& host_ipv4);

// Users and secrets from `config`; `generated_secret` (if not null) is the
// embedded default's secret, used when the options name no authentication.
turn::AuthConfig BuildAuthConfig(const Config& config, const std::string* generated_secret);

// TURN REST API credential (draft-uberti-behave-turn-rest-00 §2.2, coturn's
// --use-auth-secret): username "expiry:name", password
// base64(HMAC-SHA1(secret, username)).
std::pair<std::string, std::string> RestCredential(std::string_view secret, int64_t expiry_unix,
                                                   std::string_view name);

// Everything at start-up. `random` (32 bytes) makes the generated secret;
// `unix_now_seconds` dates the example credential.
absl::StatusOr<TurnSetup> BuildTurnSetup(const Config& config,
                                         const std::optional<stun::SocketAddress>& host_ipv4,
                                         std::span<const uint8_t, 32> random,
                                         int64_t unix_now_seconds);

}  // namespace uturn::server
