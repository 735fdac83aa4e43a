#include "server/options.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "server/config_file.h"
#include "stun/text.h"
#include "stun/utf8.h"
#include "turn/auth.h"

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
    {"no-udp-gso", '\0', OptionType::kFlag, "", "",
     "Send every relayed UDP datagram with its own sendmsg instead of batching runs of"
     " same-size datagrams to one destination with UDP GSO.", false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.no_udp_gso = v.flag; }},
    {"udp-receive-buffers", '\0', OptionType::kUint, "4096", "N",
     "Receive buffers per shard (2 KiB each; a power of two). A datagram waits in its socket"
     " when all are in use, and is dropped and counted (uturn_dropped_packets_total"
     "{reason=\"no_buffer\"}) if the socket's queue is full too.", false, false, 1, 32768,
     [](Config& c, const OptionValue& v) {
       c.udp_receive_buffers = static_cast<uint32_t>(v.number);
     }},
    {"software-name", '\0', OptionType::kString, kDefaultSoftware, "TEXT",
     "SOFTWARE attribute added to responses (RFC 8489 §14.14); empty to leave it out.",
     false, false, 0, 127,
     [](Config& c, const OptionValue& v) { c.software_name = v.text; }},
    {"max-tcp-connections", '\0', OptionType::kUint, "10000", "N",
     "Most TCP connections open at once; further ones are closed on accept.",
     false, false, 1, 1'000'000,
     [](Config& c, const OptionValue& v) { c.max_tcp_connections = static_cast<uint32_t>(v.number); }},
    {"max-tcp-connections-per-ip", '\0', OptionType::kUint, "64", "N",
     "Most TCP connections open at once from one client IP address, over all shards;"
     " further ones are closed on accept. 0: no cap.",
     false, false, 0, 1'000'000,
     [](Config& c, const OptionValue& v) {
       c.max_tcp_connections_per_ip = static_cast<uint32_t>(v.number);
     }},
    {"max-allocate-timeout", '\0', OptionType::kUint, "60", "SECONDS",
     "Close a TCP connection that holds no allocation for this long (from its accept, or"
     " from the end of its allocation). One holding an allocation is never idle-closed; it"
     " closes when the allocation expires. 0: never.",
     false, false, 0, 86'400,
     [](Config& c, const OptionValue& v) {
       c.max_allocate_timeout_seconds = static_cast<uint32_t>(v.number);
     }},
    {"tcp-idle-timeout", '\0', OptionType::kUint, "300", "SECONDS",
     "Close a TCP connection without an allocation that has received nothing for this long.",
     false, false, 1, 86'400,
     [](Config& c, const OptionValue& v) { c.tcp_idle_timeout_seconds = static_cast<uint32_t>(v.number); }},
    {"relay-threads", '\0', OptionType::kUint, "0", "N",
     "Shards: threads, each with its own event loop, SO_REUSEPORT sockets and slice of the relay"
     " port range. 0: one per CPU this process may run on (fewer if the port range is smaller).",
     false, false, 0, 1024,
     [](Config& c, const OptionValue& v) { c.relay_threads = static_cast<uint32_t>(v.number); }},
    {"io-backend", '\0', OptionType::kIoBackend, "auto", "auto|uring|epoll",
     "Event loop: io_uring, or epoll with recvmmsg/sendmmsg where io_uring is unavailable"
     " (seccomp, kernel.io_uring_disabled). auto probes io_uring once at start and falls back"
     " to epoll; uring fails if io_uring is unavailable.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.io_backend = static_cast<IoBackend>(v.number); }},
    {"drain-seconds", '\0', OptionType::kUint, "0", "SECONDS",
     "On SIGTERM, refuse new allocations and serve existing ones until they end or this many"
     " seconds pass; a second SIGTERM stops at once. 0: stop at once.",
     false, false, 0, 86'400,
     [](Config& c, const OptionValue& v) { c.drain_seconds = static_cast<uint32_t>(v.number); }},
    {"realm", 'r', OptionType::kString, "uturn", "REALM",
     "Realm of the long-term credentials (RFC 8489 §9.2).",
     false, false, 0, 763,
     [](Config& c, const OptionValue& v) { c.realm = v.text; }},
    {"user", 'u', OptionType::kUserSpec, "", "NAME:PASSWORD",
     "A long-term credential (RFC 8489 §9.2); PASSWORD may also be coturn's 0x<32 hex digits> MD5"
     " key.",
     true, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.users.push_back(v.user); }},
    {"use-auth-secret", '\0', OptionType::kFlag, "", "",
     "TURN REST API credentials: username `expiry:name`, password"
     " base64(HMAC-SHA1(secret, username)); needs --static-auth-secret.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.use_auth_secret = v.flag; }},
    {"static-auth-secret", '\0', OptionType::kString, "", "SECRET",
     "Shared secret for --use-auth-secret (implies it). Several are accepted at once, for"
     " rotation.",
     true, false, 0, 1024,
     [](Config& c, const OptionValue& v) { c.static_auth_secrets.push_back(v.text); }},
    {"no-auth", '\0', OptionType::kFlag, "", "",
     "Relay for anyone, without credentials. Dangerous; for tests only.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.no_auth = v.flag; }},
    {"relay-ip", '\0', OptionType::kIpAddress, "", "IP",
     "Address relay sockets are bound to: at most one IPv4 and one IPv6. Default: the only"
     " specific --listening-ip, else the host's first non-loopback IPv4, else 127.0.0.1.",
     true, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.relay_ips.push_back(v.ip); }},
    {"external-ip", 'X', OptionType::kExternalIp, "", "IP[/PRIVATE]",
     "Address put in XOR-RELAYED-ADDRESS instead of the relay IP (1:1 NAT); PUBLIC/PRIVATE maps"
     " one relay IP.",
     true, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.external_ips.push_back(v.external); }},
    {"min-port", '\0', OptionType::kUint, "49152", "PORT",
     "Lowest relay port.",
     false, false, 1, 65535,
     [](Config& c, const OptionValue& v) { c.min_port = static_cast<uint16_t>(v.number); }},
    {"max-port", '\0', OptionType::kUint, "65535", "PORT",
     "Highest relay port.",
     false, false, 1, 65535,
     [](Config& c, const OptionValue& v) { c.max_port = static_cast<uint16_t>(v.number); }},
    {"allowed-peer-ip", '\0', OptionType::kIpRange, "", "RANGE",
     "Peer addresses relaying may reach even if the default policy refuses them"
     " (1.2.3.4, 10.0.0.0/8, 1.2.3.4-1.2.3.9, IPv6 alike).",
     true, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.allowed_peer_ips.push_back(v.range); }},
    {"denied-peer-ip", '\0', OptionType::kIpRange, "", "RANGE",
     "Peer addresses relaying may not reach, in addition to the default policy.",
     true, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.denied_peer_ips.push_back(v.range); }},
    {"allow-loopback-peers", '\0', OptionType::kFlag, "", "",
     "Allow loopback peers (tests and local set-ups only).",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.allow_loopback_peers = v.flag; }},
    {"allow-rfc5766-channel-numbers", '\0', OptionType::kFlag, "", "",
     "Also accept channel numbers 0x5000-0x7FFF (RFC 5766 clients such as coturn's"
     " turnutils_uclient); RFC 8656 §12 reserves them.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.allow_rfc5766_channel_numbers = v.flag; }},
    {"user-quota", '\0', OptionType::kUint, "0", "N",
     "Most allocations per username at once; 0 = unlimited (486 beyond it).",
     false, false, 0, 1'000'000,
     [](Config& c, const OptionValue& v) { c.user_quota = static_cast<uint32_t>(v.number); }},
    {"total-quota", '\0', OptionType::kUint, "0", "N",
     "Most allocations in all; 0 = unlimited (486 beyond it).",
     false, false, 0, 10'000'000,
     [](Config& c, const OptionValue& v) { c.total_quota = static_cast<uint32_t>(v.number); }},
    {"max-bps", '\0', OptionType::kUint, "0", "BYTES",
     "Bytes per second relayed per allocation, excess dropped; 0 = unlimited.",
     false, false, 0, 1'000'000'000'000,
     [](Config& c, const OptionValue& v) { c.max_bps = v.number; }},
    {"max-allocate-lifetime", '\0', OptionType::kUint, "3600", "SECONDS",
     "Longest allocation lifetime granted (RFC 8656 §7.2).",
     false, false, 60, 86'400,
     [](Config& c, const OptionValue& v) {
       c.max_allocate_lifetime_seconds = static_cast<uint32_t>(v.number);
     }},
    {"permission-lifetime", '\0', OptionType::kUint, "300", "SECONDS",
     "Permission lifetime (RFC 8656 §9: 300).",
     false, false, 30, 3600,
     [](Config& c, const OptionValue& v) {
       c.permission_lifetime_seconds = static_cast<uint32_t>(v.number);
     }},
    {"channel-lifetime", '\0', OptionType::kUint, "600", "SECONDS",
     "Channel binding lifetime (RFC 8656 §12: 600).",
     false, false, 30, 3600,
     [](Config& c, const OptionValue& v) {
       c.channel_lifetime_seconds = static_cast<uint32_t>(v.number);
     }},
    {"stale-nonce", '\0', OptionType::kUint, "600", "SECONDS",
     "Nonce lifetime before 438 Stale Nonce (RFC 8489 §9.2).",
     false, false, 30, 86'400,
     [](Config& c, const OptionValue& v) {
       c.stale_nonce_seconds = static_cast<uint32_t>(v.number);
     }},
    {"prometheus", '\0', OptionType::kFlag, "", "",
     "Serve Prometheus metrics at http://PROMETHEUS-IP:PROMETHEUS-PORT/metrics.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.prometheus = v.flag; }},
    {"prometheus-port", '\0', OptionType::kPort, "9641", "PORT",
     "Port of the Prometheus exporter (with --prometheus); 0 lets the kernel pick one.",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.prometheus_port = static_cast<uint16_t>(v.number); }},
    {"prometheus-ip", '\0', OptionType::kIpAddress, "127.0.0.1", "IP",
     "Address of the Prometheus exporter (with --prometheus).",
     false, false, 0, 0,
     [](Config& c, const OptionValue& v) { c.prometheus_ip = v.ip; }},
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
  return absl::InvalidArgumentError(text::Cat(raw.where, "--", raw.spec->name, ": \"",
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
        text::Cat(raw.where, "--", spec.name, ": needs a value (", spec.value_name, ")"));
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
        return ValueError(raw, text::Cat("is not a whole number from ", spec.min, " to ",
                                            spec.max));
      }
      return out;
    case OptionType::kString:
      if (spec.max != 0 && v.size() > spec.max) {
        return ValueError(raw, text::Cat("is longer than ", spec.max, " bytes"));
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
    case OptionType::kIpRange: {
      absl::StatusOr<turn::IpRange> range = turn::IpRange::Parse(v);
      if (!range.ok()) {
        return ValueError(raw, text::Cat("is not an address range: ",
                                   std::string(range.status().message())));
      }
      out.range = *range;
      return out;
    }
    case OptionType::kUserSpec: {
      auto user = turn::ParseUserSpec(v);
      if (!user.ok()) {
        // The value holds a password: name the option, not the value.
        return absl::InvalidArgumentError(text::Cat(raw.where, "--", spec.name, ": ",
                                              std::string(user.status().message())));
      }
      out.user = *user;
      return out;
    }
    case OptionType::kExternalIp: {
      const size_t slash = v.find('/');
      auto pub = stun::SocketAddress::ParseIp(std::string_view(v).substr(0, slash), 0);
      std::optional<stun::SocketAddress> priv;
      if (slash != std::string::npos) {
        priv = stun::SocketAddress::ParseIp(std::string_view(v).substr(slash + 1), 0);
      }
      if (!pub.has_value() || (slash != std::string::npos && !priv.has_value())) {
        return ValueError(raw, "is not an IP address or PUBLIC/PRIVATE pair of addresses");
      }
      if (priv.has_value() && priv->family != pub->family) {
        return ValueError(raw, "mixes IPv4 and IPv6");
      }
      out.external = ExternalIp{*pub, priv};
      return out;
    }
    case OptionType::kIoBackend: {
      const std::optional<IoBackend> backend = ParseIoBackend(v);
      if (!backend.has_value()) return ValueError(raw, "is not auto, uring or epoll");
      out.number = static_cast<uint64_t>(*backend);
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
          text::Cat(next.where, "--", next.spec->name, ": given more than once"));
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
        return absl::InvalidArgumentError(text::Cat("--", name, ": unknown option"));
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      raw.spec = FindShort(arg[1]);
      if (raw.spec == nullptr) {
        return absl::InvalidArgumentError(text::Cat(arg.substr(0, 2), ": unknown option"));
      }
      if (arg.size() > 2) {  // -cFILE
        raw.value = std::string(arg.substr(2));
        inline_value = true;
      }
    } else {
      return absl::InvalidArgumentError(text::Cat("\"", arg, "\": unexpected argument"));
    }
    if (!inline_value && raw.spec->type != OptionType::kFlag) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(text::Cat("--", raw.spec->name, ": needs a value (",
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
    const std::string where = text::Cat(path, ":", e.line, ": ");
    const OptionSpec* spec = FindOption(e.name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(text::Cat(where, "--", e.name, ": unknown option"));
    }
    if (spec->command_line_only) {
      return absl::InvalidArgumentError(
          text::Cat(where, "--", e.name, ": only allowed on the command line"));
    }
    RawOption raw{spec, std::move(e.value), where};
    if (absl::Status s = CheckRepeat(out, raw); !s.ok()) return s;
    out.push_back(std::move(raw));
  }
  return out;
}

bool IsUnspecified(const stun::SocketAddress& a) {
  for (size_t i = 0; i < a.address_size(); ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return true;
}

// Checks that need more than one option (or more than one value) at once.
absl::Status CheckTurnOptions(Config& config) {
  if (config.realm.empty()) return absl::InvalidArgumentError("--realm: must not be empty");
  // RFC 8489 §14.9: REALM is fewer than 128 characters of UTF-8.
  const long realm_chars = stun::Utf8Length(config.realm);
  if (realm_chars < 0 || realm_chars > 127) {
    return absl::InvalidArgumentError("--realm: must be 1 to 127 characters of UTF-8");
  }
  if (config.min_port > config.max_port) {
    return absl::InvalidArgumentError(text::Cat("--min-port, --max-port: ", config.min_port,
                                          " is above ", config.max_port));
  }
  // A static secret without the flag is still meant to be used (coturn does
  // the same).
  if (!config.static_auth_secrets.empty()) config.use_auth_secret = true;
  for (const std::string& secret : config.static_auth_secrets) {
    if (secret.empty()) return absl::InvalidArgumentError("--static-auth-secret: is empty");
  }
  if (config.use_auth_secret && config.static_auth_secrets.empty()) {
    return absl::InvalidArgumentError(
        "--use-auth-secret: needs at least one --static-auth-secret (there is no database)");
  }
  if (config.no_auth && (config.use_auth_secret || !config.users.empty())) {
    return absl::InvalidArgumentError(
        "--no-auth: contradicts --user / --use-auth-secret / --static-auth-secret");
  }
  int v4 = 0, v6 = 0;
  for (const stun::SocketAddress& ip : config.relay_ips) {
    if (IsUnspecified(ip)) {
      return absl::InvalidArgumentError(
          text::Cat("--relay-ip: ", ip.IpString(), " is not a specific address"));
    }
    ++(ip.is_v4() ? v4 : v6);
  }
  if (v4 > 1 || v6 > 1) {
    return absl::InvalidArgumentError("--relay-ip: at most one IPv4 and one IPv6 address");
  }
  int plain_v4 = 0, plain_v6 = 0;
  for (const ExternalIp& e : config.external_ips) {
    if (IsUnspecified(e.public_ip)) {
      return absl::InvalidArgumentError(
          text::Cat("--external-ip: ", e.public_ip.IpString(), " is not a specific address"));
    }
    if (!e.private_ip.has_value()) ++(e.public_ip.is_v4() ? plain_v4 : plain_v6);
  }
  if (plain_v4 > 1 || plain_v6 > 1) {
    return absl::InvalidArgumentError(
        "--external-ip: at most one plain address per family (use PUBLIC/PRIVATE pairs)");
  }
  return absl::OkStatus();
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
  if ((config.udp_receive_buffers & (config.udp_receive_buffers - 1)) != 0) {
    // The kernel's provided-buffer rings have a power-of-two size.
    return absl::InvalidArgumentError(text::Cat("--udp-receive-buffers ", config.udp_receive_buffers,
                                          ": must be a power of two"));
  }
  if (absl::Status s = CheckTurnOptions(config); !s.ok()) return s;
  assert(!config.listening_ips.empty());
  return config;
}

std::string HelpText() {
  std::string out = text::Cat("uturn ", Version(),
                                 ": a STUN/TURN server (RFC 8489, RFC 8656)\n\n"
                                 "Usage: uturn [options]\n\nOptions:\n");
  for (const OptionSpec& s : kOptions) {
    std::string left = "  ";
    if (s.short_name != '\0') left += text::Cat("-", s.short_name, ", ");
    left += text::Cat("--", s.name);
    if (!s.value_name.empty()) left += text::Cat(" ", s.value_name);
    if (left.size() < 32) left.resize(32, ' ');
    out += text::Cat(left, " ", s.help);
    if (!s.default_value.empty()) out += text::Cat(" Default: ", s.default_value, ".");
    if (s.repeatable) out += text::Cat(" Repeatable.");
    out.push_back('\n');
  }
  absl::StrAppend(&out,
                  "\nThe config file takes the same names without the dashes, one\n"
                  "`name = value` (or a bare `name` for a flag) per line; # starts a comment line.\n");
  return out;
}

}  // namespace uturn::server
