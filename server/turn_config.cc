#include "server/turn_config.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cassert>

#include "absl/strings/escaping.h"
#include "server/shared_quota_ledger.h"
#include "stun/text.h"

namespace uturn::server {
namespace {

constexpr int64_t kExampleCredentialSeconds = 24 * 3600;  // the contract: valid 24 h

bool IsUnspecified(const stun::SocketAddress& a) {
  for (size_t i = 0; i < a.address_size(); ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return true;
}

stun::SocketAddress WithoutPort(stun::SocketAddress a) {
  a.port = 0;
  return a;
}

}  // namespace

bool NeedsGeneratedSecret(const Config& config) {
  return config.users.empty() && !config.use_auth_secret && !config.no_auth;
}

absl::StatusOr<RelayAddresses> ChooseRelayAddresses(
    const Config& config, const std::optional<stun::SocketAddress>& host_ipv4) {
  RelayAddresses out;
  for (const stun::SocketAddress& ip : config.relay_ips) {
    (ip.is_v4() ? out.ipv4 : out.ipv6) = WithoutPort(ip);
  }
  if (!out.ipv4 && !out.ipv6) {
    std::optional<stun::SocketAddress> specific;
    int specific_count = 0;
    for (const stun::SocketAddress& ip : config.listening_ips) {
      if (!IsUnspecified(ip)) {
        specific = ip;
        ++specific_count;
      }
    }
    // Only a single specific listening address says which one to relay from;
    // with several, or a wildcard, the host's address is the better guess.
    const bool only_specific = specific_count == 1 && config.listening_ips.size() == 1;
    if (only_specific) {
      (specific->is_v4() ? out.ipv4 : out.ipv6) = WithoutPort(*specific);
    } else if (host_ipv4.has_value()) {
      out.ipv4 = WithoutPort(*host_ipv4);
    } else {
      out.ipv4 = stun::SocketAddress::V4({127, 0, 0, 1}, 0);
    }
  }
  out.advertised_ipv4 = out.ipv4;
  out.advertised_ipv6 = out.ipv6;
  for (const ExternalIp& e : config.external_ips) {
    std::optional<stun::SocketAddress>& relay = e.public_ip.is_v4() ? out.ipv4 : out.ipv6;
    std::optional<stun::SocketAddress>& advertised =
        e.public_ip.is_v4() ? out.advertised_ipv4 : out.advertised_ipv6;
    if (e.private_ip.has_value()) {
      if (!relay.has_value() || WithoutPort(*e.private_ip) != *relay) {
        return absl::InvalidArgumentError(text::Cat("--external-ip: ", e.private_ip->IpString(),
                                              " is not the relay address of its family"));
      }
    } else if (!relay.has_value()) {
      return absl::InvalidArgumentError(
          text::Cat("--external-ip: ", e.public_ip.IpString(), " has no relay address of its family"));
    }
    advertised = WithoutPort(e.public_ip);
  }
  assert(out.ipv4.has_value() || out.ipv6.has_value());
  return out;
}

turn::AuthConfig BuildAuthConfig(const Config& config, const std::string* generated_secret) {
  turn::AuthConfig auth;
  auth.realm = config.realm;
  auth.users = config.users;
  if (config.use_auth_secret) auth.rest_secrets = config.static_auth_secrets;
  if (generated_secret != nullptr && NeedsGeneratedSecret(config)) {
    auth.rest_secrets.push_back(*generated_secret);
  }
  auth.nonce_lifetime = absl::Seconds(config.stale_nonce_seconds);
  return auth;
}

std::pair<std::string, std::string> RestCredential(std::string_view secret, int64_t expiry_unix,
                                                   std::string_view name) {
  std::string username = text::Cat(expiry_unix);
  if (!name.empty()) username += text::Cat(":", name);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const unsigned char* ok =
      HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac, &mac_len);
  assert(ok != nullptr && mac_len == 20);
  (void)ok;
  std::string password =
      absl::Base64Escape(std::string(reinterpret_cast<const char*>(mac), mac_len));
  return {std::move(username), std::move(password)};
}

absl::StatusOr<TurnSetup> BuildTurnSetup(const Config& config,
                                         const std::optional<stun::SocketAddress>& host_ipv4,
                                         std::span<const uint8_t, 32> random,
                                         int64_t unix_now_seconds) {
  TurnSetup setup;
  absl::StatusOr<RelayAddresses> relay = ChooseRelayAddresses(config, host_ipv4);
  if (!relay.ok()) return relay.status();
  setup.relay = *relay;
  setup.min_port = config.min_port;
  setup.max_port = config.max_port;

  if (NeedsGeneratedSecret(config)) {
    GeneratedSecret g;
    g.secret = absl::BytesToHexString(
        std::string(reinterpret_cast<const char*>(random.data()), random.size()));
    auto [user, password] =
        RestCredential(g.secret, unix_now_seconds + kExampleCredentialSeconds, "example");
    g.example_username = std::move(user);
    g.example_password = std::move(password);
    setup.generated = std::move(g);
  }

  turn::TurnConfig& t = setup.turn;
  t.auth = BuildAuthConfig(config, setup.generated ? &setup.generated->secret : nullptr);
  t.no_auth = config.no_auth;
  t.peer_policy.allow_loopback = config.allow_loopback_peers;
  t.peer_policy.allowed = config.allowed_peer_ips;
  t.peer_policy.denied = config.denied_peer_ips;
  t.max_lifetime = absl::Seconds(config.max_allocate_lifetime_seconds);
  // RFC 8656 §7.2: the default is 600 s unless the maximum is lower.
  t.default_lifetime = std::min(absl::Seconds(600), t.max_lifetime);
  t.permission_lifetime = absl::Seconds(config.permission_lifetime_seconds);
  t.channel_lifetime = absl::Seconds(config.channel_lifetime_seconds);
  t.allow_rfc5766_channel_numbers = config.allow_rfc5766_channel_numbers;
  t.user_quota = config.user_quota;
  t.total_quota = config.total_quota;
  if (config.user_quota > 0 || config.total_quota > 0) {
    // One ledger for every shard (each shard's TurnConfig is a copy of this
    // one, sharing the pointer): a user's allocations on all shards count.
    t.quota_ledger = std::make_shared<SharedQuotaLedger>(
        turn::QuotaLimits{.user = config.user_quota, .total = config.total_quota});
  }
  t.max_bps = config.max_bps;
  t.relay_ipv4 = setup.relay.ipv4.has_value();
  t.relay_ipv6 = setup.relay.ipv6.has_value();
  t.software = config.software_name;
  return setup;
}

}  // namespace uturn::server
