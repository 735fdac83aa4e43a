// The option table: one row per option (name, short name, type, default,
// help, repeatable) drives the command line, the configuration file and
// --help (DESIGN.md §Configuration). Names follow coturn's. To add an option:
// add a field to Config and a row to the table in options.cc.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "stun/address.h"

namespace uturn::server {

struct Config {
  std::vector<stun::SocketAddress> listening_ips;  // ports are 0 here
  uint16_t listening_port = 0;  // 0: the kernel picks one per socket
  bool no_udp = false;
  bool no_tcp = false;
  std::string software_name;  // SOFTWARE attribute; empty: not sent
  uint32_t max_tcp_connections = 0;
  uint32_t tcp_idle_timeout_seconds = 0;
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
};

// A value checked against its OptionType; only the member of the type is set.
struct OptionValue {
  bool flag = false;
  uint64_t number = 0;
  std::string text;
  stun::SocketAddress ip;
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
