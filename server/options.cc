#include "server/options.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "server/config_file.h"
#include "server/text.h"

#ifndef UTURN_VERSION
#define UTURN_VERSION "unknown"
#endif

namespace uturn::server {
namespace {

constexpr std::string_view kDefaultSoftware = "uturn/" UTURN_VERSION;

// clang-format off
constexpr OptionSpec kOptions[] = {
    {"listening-ip", '\0', OptionType::kIpAddress, "0.0.0.0", "IP",
     "Address to listen on (UDP and TCP). Repeat for several addresses.",
     true, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.listening_ips.push_back(v.ip); }},
    {"listening-port", '\0', OptionType::kPort, "3478", "PORT",
     "Port for STUN/TURN over UDP and TCP; 0 lets the kernel pick one per socket.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.listening_port = static_cast<uint16_t>(v.number); }},
    {"no-udp", '\0', OptionType::kFlag, "", "",
     "Do not listen on UDP.", false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.no_udp = v.flag; }},
    {"no-tcp", '\0', OptionType::kFlag, "", "",
     "Do not listen on TCP.", false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.no_tcp = v.flag; }},
    {"software-name", '\0', OptionType::kString, kDefaultSoftware, "TEXT",
     "SOFTWARE attribute added to responses (RFC 8489 §14.14); empty to leave it out.",
     false, false, 0, 127,
     [](Config& c, const OptionValue& v) { c.software_name = v.text; }},
    {"max-tcp-connections", '\0', OptionType::kUint, "10000", "N",
     "Most TCP connections open at once; further ones are closed on accept.",
     false, false, 1, 1'000'000,
     [](Config& c, const OptionValue& v) { c.max_tcp_connections = static_cast<uint32_t>(v.number); }},
    {"tcp-idle-timeout", '\0', OptionType::kUint, "300", "SECONDS",
     "Close a TCP connection that has received nothing for this long.",
     false, false, 1, 86'400,
     [](Config& c, const OptionValue& v) { c.tcp_idle_timeout_seconds = static_cast<uint32_t>(v.number); }},
    {"config", 'c', OptionType::kPath, "", "FILE",
     "Read options from FILE (`name = value` lines); the command line overrides it.",
     false, true, 0, 0,
     [](Config& c, const OptionValue& v) { c.config_file = v.text; }},
    {"help", 'h', OptionType::kFlag, "", "",
     "Print this help and exit.", false, true, 0, 0,
     [](Config& c, const OptionValue& v) { c.help = v.flag; }},
    {"version", '\0', OptionType::kFlag, "", "",
     "Print the version and exit.", false, true, 0, 0,
     [](Config& c, const OptionValue& v) { c.version = v.flag; }},
};
// clang-format on

// One occurrence of an option, before its value is checked.
struct RawOption {
  const OptionSpec* spec;
  std::optional<std::string> value;
  std::string where;  // "" for the command line, "FILE:LINE: " for the file
};

const OptionSpec* FindShort(char c) {
  for (const OptionSpec& s : kOptions) {
    if (s.short_name != '\0' && s.short_name == c) return &s;
  }
  return nullptr;
}

absl::Status ValueError(const RawOption& raw, std::string_view what) {
  return absl::InvalidArgumentError(Cat(raw.where, "--", raw.spec->name, ": \"",
                                                 raw.value.value_or(""), "\" ", what));
}

absl::StatusOr<OptionValue> CheckValue(const RawOption& raw) {
  const OptionSpec& spec = *raw.spec;
  OptionValue out;
  if (spec.type == OptionType::kFlag) {
    if (!raw.value.has_value()) {
      out.flag = true;
      return out;
    }
    const std::string v = absl::AsciiStrToLower(*raw.value);
    if (v == "true" || v == "yes" || v == "on" || v == "1") {
      out.flag = true;
    } else if (v == "false" || v == "no" || v == "off" || v == "0") {
      out.flag = false;
    } else {
      return ValueError(raw, "is not a boolean (true/false, yes/no, on/off, 1/0)");
    }
    return out;
  }
  if (!raw.value.has_value()) {
    return absl::InvalidArgumentError(
        Cat(raw.where, "--", spec.name, ": needs a value (", spec.value_name, ")"));
  }
  const std::string& v = *raw.value;
  switch (spec.type) {
    case OptionType::kFlag:
      break;  // handled above
    case OptionType::kPort:
      // SimpleAtoi accepts a leading '+' and blanks; a port is plain digits.
      if (v.empty() || v.size() > 5 || !std::all_of(v.begin(), v.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(v, &out.number) || out.number > 65535) {
        return ValueError(raw, "is not a port number (0-65535)");
      }
      return out;
    case OptionType::kUint:
      if (v.empty() || v.size() > 19 || !std::all_of(v.begin(), v.end(), absl::ascii_isdigit) ||
          !absl::SimpleAtoi(v, &out.number) || out.number < spec.min || out.number > spec.max) {
        return ValueError(raw, Cat("is not a whole number from ", spec.min, " to ",
                                            spec.max));
      }
      return out;
    case OptionType::kString:
      if (spec.max != 0 && v.size() > spec.max) {
        return ValueError(raw, Cat("is longer than ", spec.max, " bytes"));
      }
      out.text = v;
      return out;
    case OptionType::kPath:
      if (v.empty()) return ValueError(raw, "is not a file name");
      out.text = v;
      return out;
    case OptionType::kIpAddress: {
      auto ip = stun::SocketAddress::ParseIp(v, 0);
      if (!ip.has_value()) return ValueError(raw, "is not an IPv4 or IPv6 address");
      out.ip = *ip;
      return out;
    }
  }
  assert(false && "unhandled option type");
  return absl::InternalError("unhandled option type");
}

absl::Status CheckRepeat(const std::vector<RawOption>& seen, const RawOption& next) {
  if (next.spec->repeatable) return absl::OkStatus();
  for (const RawOption& r : seen) {
    if (r.spec == next.spec) {
      return absl::InvalidArgumentError(
          Cat(next.where, "--", next.spec->name, ": given more than once"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RawOption>> SplitCommandLine(std::span<const std::string_view> args) {
  std::vector<RawOption> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    RawOption raw{nullptr, std::nullopt, ""};
    bool inline_value = false;
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      std::string_view name = arg.substr(2);
      const size_t eq = name.find('=');
      if (eq != std::string_view::npos) {
        raw.value = std::string(name.substr(eq + 1));
        name = name.substr(0, eq);
        inline_value = true;
      }
      raw.spec = FindOption(name);
      if (raw.spec == nullptr) {
        return absl::InvalidArgumentError(Cat("--", name, ": unknown option"));
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      raw.spec = FindShort(arg[1]);
      if (raw.spec == nullptr) {
        return absl::InvalidArgumentError(Cat(arg.substr(0, 2), ": unknown option"));
      }
      if (arg.size() > 2) {  // -cFILE
        raw.value = std::string(arg.substr(2));
        inline_value = true;
      }
    } else {
      return absl::InvalidArgumentError(Cat("\"", arg, "\": unexpected argument"));
    }
    if (!inline_value && raw.spec->type != OptionType::kFlag) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(Cat("--", raw.spec->name, ": needs a value (",
                                                       raw.spec->value_name, ")"));
      }
      raw.value = std::string(args[++i]);
    }
    if (absl::Status s = CheckRepeat(out, raw); !s.ok()) return s;
    out.push_back(std::move(raw));
  }
  return out;
}

absl::StatusOr<std::vector<RawOption>> LoadFile(const std::string& path) {
  absl::StatusOr<std::vector<ConfigEntry>> entries = ReadConfigFile(path);
  if (!entries.ok()) return entries.status();
  std::vector<RawOption> out;
  for (ConfigEntry& e : *entries) {
    const std::string where = Cat(path, ":", e.line, ": ");
    const OptionSpec* spec = FindOption(e.name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(Cat(where, "--", e.name, ": unknown option"));
    }
    if (spec->command_line_only) {
      return absl::InvalidArgumentError(
          Cat(where, "--", e.name, ": only allowed on the command line"));
    }
    RawOption raw{spec, std::move(e.value), where};
    if (absl::Status s = CheckRepeat(out, raw); !s.ok()) return s;
    out.push_back(std::move(raw));
  }
  return out;
}

}  // namespace

std::span<const OptionSpec> OptionTable() { return kOptions; }

const OptionSpec* FindOption(std::string_view long_name) {
  for (const OptionSpec& s : kOptions) {
    if (s.name == long_name) return &s;
  }
  return nullptr;
}

std::string_view Version() { return UTURN_VERSION; }

absl::StatusOr<Config> ParseOptions(std::span<const std::string_view> args) {
  absl::StatusOr<std::vector<RawOption>> cli = SplitCommandLine(args);
  if (!cli.ok()) return cli.status();

  Config config;
  for (const RawOption& raw : *cli) {
    if (raw.spec->name == "help" || raw.spec->name == "version") {
      absl::StatusOr<OptionValue> v = CheckValue(raw);
      if (!v.ok()) return v.status();
      raw.spec->store(config, *v);
    }
  }
  if (config.help || config.version) return config;

  std::vector<RawOption> file;
  for (const RawOption& raw : *cli) {
    if (raw.spec->name != "config") continue;
    if (!raw.value.has_value() || raw.value->empty()) {
      return absl::InvalidArgumentError("--config: \"\" is not a file name");
    }
    absl::StatusOr<std::vector<RawOption>> loaded = LoadFile(*raw.value);
    if (!loaded.ok()) return loaded.status();
    file = std::move(*loaded);
  }

  for (const OptionSpec& spec : kOptions) {
    std::vector<const RawOption*> chosen;
    for (const RawOption& r : *cli) {
      if (r.spec == &spec) chosen.push_back(&r);
    }
    if (chosen.empty()) {
      for (const RawOption& r : file) {
        if (r.spec == &spec) chosen.push_back(&r);
      }
    }
    RawOption fallback{&spec, std::string(spec.default_value), "default: "};
    if (chosen.empty()) {
      if (spec.default_value.empty()) continue;  // flags default off, strings empty
      chosen.push_back(&fallback);
    }
    for (const RawOption* r : chosen) {
      absl::StatusOr<OptionValue> v = CheckValue(*r);
      if (!v.ok()) return v.status();
      spec.store(config, *v);
    }
  }

  if (config.no_udp && config.no_tcp) {
    return absl::InvalidArgumentError("--no-udp, --no-tcp: both given, nothing left to listen on");
  }
  assert(!config.listening_ips.empty());
  return config;
}

std::string HelpText() {
  std::string out = Cat("uturn ", Version(),
                                 ": a STUN/TURN server (RFC 8489, RFC 8656)\n\n"
                                 "Usage: uturn [options]\n\nOptions:\n");
  for (const OptionSpec& s : kOptions) {
    std::string left = "  ";
    if (s.short_name != '\0') left += Cat("-", s.short_name, ", ");
    left += Cat("--", s.name);
    if (!s.value_name.empty()) left += Cat(" ", s.value_name);
    if (left.size() < 32) left.resize(32, ' ');
    out += Cat(left, " ", s.help);
    if (!s.default_value.empty()) out += Cat(" Default: ", s.default_value, ".");
    if (s.repeatable) out += Cat(" Repeatable.");
    out.push_back('\n');
  }
  absl::StrAppend(&out,
                  "\nThe config file takes the same names without the dashes, one\n"
                  "`name = value` (or a bare `name` for a flag) per line; # starts a comment line.\n");
  return out;
}

}  // namespace uturn::server
