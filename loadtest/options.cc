#include "loadtest/options.h"

#include <array>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "stun/integrity.h"

namespace uturn::loadtest {
namespace {

absl::Status Bad(const std::string& name, const std::string& value, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, "=", value, ": ", why));
}

absl::Status ParseU32(const std::string& name, const std::string& v, uint32_t lo, uint32_t hi,
                      uint32_t* out) {
  uint32_t x = 0;
  if (!absl::SimpleAtoi(v, &x)) return Bad(name, v, "not a whole number");
  if (x < lo || x > hi) return Bad(name, v, absl::StrCat("must be in ", lo, "..", hi));
  *out = x;
  return absl::OkStatus();
}

absl::Status ParseSeconds(const std::string& name, const std::string& v, double lo, double hi,
                          double* out) {
  double x = 0;
  if (!absl::SimpleAtod(v, &x) || !std::isfinite(x)) return Bad(name, v, "not a number");
  if (x < lo || x > hi) return Bad(name, v, absl::StrCat("must be in ", lo, "..", hi));
  *out = x;
  return absl::OkStatus();
}

}  // namespace

bool IsLoopback(const stun::SocketAddress& a) {
  if (a.is_v4()) return a.bytes[0] == 127;
  for (size_t i = 0; i < 15; ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return a.bytes[15] == 1;
}

std::string Usage() {
  return R"(uturn-load: TURN load generator (UDP, loopback only)
  --server ADDR:PORT     TURN server (127.0.0.0/8 or [::1]; default 127.0.0.1:3478)
  --user NAME:PASSWORD   long-term credentials, or
  --secret S             TURN REST shared secret (--rest-name NAME, default uturn-load), or
  --no-auth
  --allocations N        allocations, one client socket each (default 1)
  --window W             Allocate requests in flight at once (default 64)
  --peer-sockets K       peer sockets, shared round-robin (default 16)
  --peer-ip IP           loopback IP the peers bind to (default 127.0.0.1)
  --mode channel|send    ChannelData or Send indications (default channel)
  --payload BYTES        payload per packet (default 172, at least 24)
  --rate PPS             total packets/s offered; 0 = as fast as possible (default 1000)
  --burst B              packets per allocation in a row; 1 = interleaved (default 1)
  --duration SECONDS     sending time (default 5, at most 240)
  --drain SECONDS        wait for late packets after sending (default 0.5)
  --echo                 peers echo every packet; RTT measured per packet
  --alloc-only           allocate, measure, deallocate; send no data
  --server-pid PID       report the server's CPU seconds and RSS per allocation
  --io auto|uring|epoll  I/O: io_uring, or epoll + recvmmsg/sendmmsg; auto = io_uring,
                         or epoll when io_uring is unavailable (default auto)
  --json                 JSON summary on stdout instead of the human one
  --quiet                no progress line on stderr
)";
}

absl::StatusOr<Options> ParseOptions(std::span<const std::string_view> args) {
  Options o;
  bool have_user = false, have_secret = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg(args[i]);
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    arg.erase(0, 2);
    std::string name = arg, value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    // Flags without a value.
    if (name == "help") return absl::NotFoundError(Usage());
    bool* flag = name == "echo"         ? &o.echo
                 : name == "json"       ? &o.json
                 : name == "quiet"      ? &o.quiet
                 : name == "no-auth"    ? &o.no_auth
                 : name == "alloc-only" ? &o.alloc_only
                                        : nullptr;
    if (flag != nullptr) {
      if (has_value) return Bad(name, value, "takes no value");
      *flag = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = std::string(args[++i]);
    }
    absl::Status s;
    if (name == "server") {
      auto a = stun::SocketAddress::Parse(value, 3478);  // RFC 8489 §18.4 default port
      if (!a) return Bad(name, value, "not ADDR:PORT");
      o.server = *a;
    } else if (name == "user") {
      const size_t colon = value.find(':');
      if (colon == std::string::npos || colon == 0) return Bad(name, value, "not NAME:PASSWORD");
      o.user = std::string(value.substr(0, colon));
      o.password = std::string(value.substr(colon + 1));
      have_user = true;
    } else if (name == "secret") {
      if (value.empty()) return Bad(name, value, "empty");
      o.secret = std::string(value);
      have_secret = true;
    } else if (name == "rest-name") {
      o.rest_name = std::string(value);
    } else if (name == "allocations") {
      s = ParseU32(name, value, 1, kMaxAllocations, &o.allocations);
    } else if (name == "window") {
      s = ParseU32(name, value, 1, 100000, &o.window);
    } else if (name == "peer-sockets") {
      s = ParseU32(name, value, 1, 1024, &o.peer_sockets);
    } else if (name == "peer-ip") {
      auto a = stun::SocketAddress::ParseIp(value, 0);
      if (!a) return Bad(name, value, "not an IP address");
      o.peer_ip = std::string(value);
    } else if (name == "mode") {
      if (value == "channel") {
        o.mode = DataMode::kChannel;
      } else if (value == "send") {
        o.mode = DataMode::kSend;
      } else {
        return Bad(name, value, "must be channel or send");
      }
    } else if (name == "io") {
      if (value == "auto") {
        o.io = IoBackend::kAuto;
      } else if (value == "uring") {
        o.io = IoBackend::kUring;
      } else if (value == "epoll") {
        o.io = IoBackend::kEpoll;
      } else {
        return Bad(name, value, "must be auto, uring or epoll");
      }
    } else if (name == "payload") {
      // 65535 minus the 4-byte ChannelData header (RFC 8656 §12.4) and slack
      // for a Send indication's attributes.
      s = ParseU32(name, value, kMinPayload, 65000, &o.payload);
    } else if (name == "rate") {
      s = ParseSeconds(name, value, 0, 1e8, &o.rate);
    } else if (name == "burst") {
      s = ParseU32(name, value, 1, 100000, &o.burst);
    } else if (name == "duration") {
      s = ParseSeconds(name, value, 0.1, kMaxDurationSeconds, &o.duration_s);
    } else if (name == "drain") {
      s = ParseSeconds(name, value, 0, 30, &o.drain_s);
    } else if (name == "server-pid") {
      uint32_t pid = 0;
      s = ParseU32(name, value, 1, 1u << 30, &pid);
      o.server_pid = static_cast<int>(pid);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
    if (!s.ok()) return s;
  }
  if (static_cast<int>(have_user) + static_cast<int>(have_secret) + static_cast<int>(o.no_auth) != 1) {
    return absl::InvalidArgumentError("give exactly one of --user, --secret, --no-auth");
  }
  if (!IsLoopback(o.server)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server ", o.server.ToString(), ": only 127.0.0.0/8 and ::1 are allowed"));
  }
  if (!IsLoopback(*stun::SocketAddress::ParseIp(o.peer_ip, 0))) {
    return absl::InvalidArgumentError(
        absl::StrCat("--peer-ip ", o.peer_ip, ": only 127.0.0.0/8 and ::1 are allowed"));
  }
  return o;
}

std::string RestUsername(int64_t expiry_unix_seconds, std::string_view name) {
  std::string u = std::to_string(expiry_unix_seconds);
  if (!name.empty()) absl::StrAppend(&u, ":", std::string(name));
  return u;
}

std::string RestPassword(std::string_view secret, std::string_view username) {
  std::array<uint8_t, 20> mac{};
  const std::span<const uint8_t> parts[] = {stun::KeyBytes(username)};
  stun::HmacSha1(stun::KeyBytes(secret), parts, mac);
  return absl::Base64Escape(std::string(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

}  // namespace uturn::loadtest
