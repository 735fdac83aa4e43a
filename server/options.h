// The option table: one row per option (name, short name, type, default,
// help, repeatable) drives the command line, the configuration file and
// --help (DESIGN.md §Configuration). Names follow coturn's. To add an option:
// add a field to Config and a row to the table in options.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/io_driver.h"
#include "stun/address.h"
#include "turn/peer_policy.h"

namespace uturn::server {

// --external-ip: "PUBLIC" (the address advertised for the relay address of
// the same family) or coturn's "PUBLIC/PRIVATE" (advertise PUBLIC for the
// relay address PRIVATE). Ports are 0.
struct ExternalIp {
  stun::SocketAddress public_ip;
  std::optional<stun::SocketAddress> private_ip;
};

struct Config {
  std::vector<stun::SocketAddress> listening_ips;  // ports are 0 here
  uint16_t listening_port = 0;  // 0: the kernel picks one per socket
  bool no_udp = false;
  bool no_tcp = false;
  bool no_udp_gso = false;
  uint32_t udp_receive_buffers = 4096;
  std::string software_name;  // SOFTWARE attribute; empty: not sent
  uint32_t max_tcp_connections = 0;
  uint32_t tcp_idle_timeout_seconds = 0;
  uint32_t max_allocate_timeout_seconds = 0;  // 0: never
  uint32_t max_tcp_connections_per_ip = 0;    // 0: no cap
  // Shards (DESIGN.md §The data plane). 0: one per CPU (ResolveShardCount).
  uint32_t relay_threads = 0;  // 0: one per CPU
  // --io-backend (DESIGN.md §The data plane, fallback).
  IoBackend io_backend = IoBackend::kAuto;
  // SIGTERM drain deadline; 0: stop at once.
  uint32_t drain_seconds = 0;
  // TURN (RFC 8656); see server/README.md for the semantics.
  std::string realm;
  std::vector<std::pair<std::string, std::string>> users;  // --user name:password
  bool use_auth_secret = false;
  std::vector<std::string> static_auth_secrets;
  bool no_auth = false;
  std::vector<stun::SocketAddress> relay_ips;  // at most one per family, ports 0
  std::vector<ExternalIp> external_ips;
  uint16_t min_port = 0;
  uint16_t max_port = 0;
  std::vector<turn::IpRange> allowed_peer_ips;
  std::vector<turn::IpRange> denied_peer_ips;
  bool allow_loopback_peers = false;
  bool allow_rfc5766_channel_numbers = false;
  uint32_t user_quota = 0;   // 0: unlimited
  uint32_t total_quota = 0;  // 0: unlimited
  uint64_t max_bps = 0;      // 0: unlimited
  uint32_t max_allocate_lifetime_seconds = 0;
  uint32_t permission_lifetime_seconds = 0;
  uint32_t channel_lifetime_seconds = 0;
  uint32_t stale_nonce_seconds = 0;
  // Prometheus exporter (DESIGN.md §Observability); off unless --prometheus.
  bool prometheus = false;
  uint16_t prometheus_port = 0;
  stun::SocketAddress prometheus_ip;  // port 0 here

  std::string config_file;
  bool help = false;
  bool version = false;
};

enum class OptionType : uint8_t {
  kFlag,       // no value on the command line; `name` or `name = true` in a file
  kUint,       // decimal, within [min, max]
  kPort,       // 0-65535
  kString,     // any text, possibly empty
  kPath,       // non-empty text
  kIpAddress,  // IPv4 or IPv6 literal, no port
  kIpRange,    // turn::IpRange::Parse: "1.2.3.4", "10.0.0.0/8", "1.2.3.4-1.2.3.9", IPv6 alike
  kUserSpec,   // turn::ParseUserSpec: "name:password"
  kExternalIp, // "IP" or "PUBLIC/PRIVATE"
  kIoBackend,  // ParseIoBackend: "auto", "uring", "epoll"
};

// A value checked against its OptionType; only the member of the type is set.
struct OptionValue {
  bool flag = false;
  uint64_t number = 0;
  std::string text;
  stun::SocketAddress ip;
  turn::IpRange range;
  std::pair<std::string, std::string> user;
  ExternalIp external;
};

struct OptionSpec {
  std::string_view name;            // long name, without "--"
  char short_name;                  // '\0' if none
  OptionType type;
  std::string_view default_value;   // applied when no source sets it; "" = none
  std::string_view value_name;      // for --help: "PORT", "IP", ...
  std::string_view help;
  bool repeatable;                  // may be given several times; values add up
  bool command_line_only;           // refused in the config file
  uint64_t min;                     // kUint range
  uint64_t max;                     // kUint range; kString length (0: any)
  void (*store)(Config& config, const OptionValue& value);
};

std::span<const OptionSpec> OptionTable();
const OptionSpec* FindOption(std::string_view long_name);

// "0.1.0", from the CMake project version.
std::string_view Version();

// Parses `args` (without the program name). Sources, lowest precedence
// first: table defaults, the file named by -c/--config, the command line. A
// repeatable option given on the command line replaces the file's values.
// Errors name the option (and file:line for file entries), e.g.
//   --listening-port: "abc" is not a port number (0-65535)
// When --help or --version is given the rest is not validated.
absl::StatusOr<Config> ParseOptions(std::span<const std::string_view> args);

// The --help text, generated from the table.
std::string HelpText();

}  // namespace uturn::server
