#include "ice-lite/endpoint/options.h"

#include <cmath>

#include "absl/status/status.h"
#include "ice-lite/endpoint/text.h"

namespace uturn::ice::endpoint {
namespace {

// A concrete IP is required: it is what the answer's host candidates carry.
absl::StatusOr<stun::SocketAddress> ParseListenAddress(std::string_view name,
                                                      std::string_view value) {
  std::optional<stun::SocketAddress> a = stun::SocketAddress::Parse(value);
  if (!a) return absl::InvalidArgumentError(Cat(name, ": expected IP:PORT, got '", value, "'"));
  const bool unspecified = a->is_v4() ? (a->bytes[0] | a->bytes[1] | a->bytes[2] | a->bytes[3]) == 0
                                      : a->bytes == std::array<uint8_t, 16>{};
  if (unspecified) {
    return absl::InvalidArgumentError(
        Cat(name, ": needs a concrete IP (it goes into the candidates), not ", value));
  }
  return *a;
}

absl::StatusOr<absl::Duration> ParseSeconds(std::string_view name, std::string_view value) {
  const double s = ParseDouble(value).value_or(-1);
  if (!std::isfinite(s) || s <= 0 || s > 86400) {
    return absl::InvalidArgumentError(
        Cat(name, ": expected seconds in (0, 86400], got '", value, "'"));
  }
  return absl::Seconds(s);
}

}  // namespace

absl::StatusOr<Options> ParseOptions(const std::vector<std::string_view>& args) {
  Options o;
  bool have_listen = false, have_http = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      return o;
    }
    std::string_view name = arg, value;
    bool inline_value = false;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    const bool known = name == "--listen" || name == "--http" || name == "--consent-timeout" ||
                       name == "--disconnected-after" || name == "--connect-timeout";
    if (!known) return absl::InvalidArgumentError(Cat("unknown argument '", arg, "'"));
    if (!inline_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(Cat(name, " needs a value"));
      value = args[++i];
    }
    if (name == "--listen") {
      absl::StatusOr<stun::SocketAddress> a = ParseListenAddress(name, value);
      if (!a.ok()) return a.status();
      o.listen = *a;
      have_listen = true;
    } else if (name == "--http") {
      absl::StatusOr<stun::SocketAddress> a = ParseListenAddress(name, value);
      if (!a.ok()) return a.status();
      o.http = *a;
      have_http = true;
    } else {
      absl::StatusOr<absl::Duration> d = ParseSeconds(name, value);
      if (!d.ok()) return d.status();
      (name == "--consent-timeout"      ? o.consent_timeout
       : name == "--connect-timeout"    ? o.connect_timeout
                                        : o.disconnected_after) = *d;
    }
  }
  if (!have_listen) return absl::InvalidArgumentError("--listen IP:PORT is required");
  if (!have_http) return absl::InvalidArgumentError("--http IP:PORT is required");
  if (o.disconnected_after >= o.consent_timeout) {
    return absl::InvalidArgumentError("--disconnected-after must be shorter than --consent-timeout");
  }
  return o;
}

std::string HelpText() {
  return R"(usage: ice-lite-endpoint --listen IP:PORT --http IP:PORT [options]

An example ICE-lite media endpoint (RFC 8445 §2.5): answers WHIP-style offers
over HTTP and terminates ICE for any number of sessions on one UDP port and
one ICE-TCP passive port (RFC 6544, RFC 4571 framing). DTLS is not terminated:
packets after ICE are counted per session and dropped. One JSON line per
event on stdout.

  --listen IP:PORT          UDP socket and TCP listener for ICE and media
                            (port 0: the kernel picks; see the listening lines)
  --http IP:PORT            HTTP listener: POST /whip, DELETE /whip/<id>
  --consent-timeout S       RFC 7675 consent expiry, seconds (default 30)
  --disconnected-after S    no valid check for S seconds: disconnected
                            (default 5; must be below --consent-timeout)
  --connect-timeout S       a session no check connected S seconds after
                            its offer is removed (default 30)
  -h, --help                this text

exit status: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad arguments
)";
}

}  // namespace uturn::ice::endpoint
