#include "client/tools/ice_peer_options.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "stun/text.h"

namespace uturn::client::peer {

const char kPeerUsage[] =
    "usage: uturn-ice [--controlling|--controlled] [--stun IP:PORT]... [--turn IP:PORT]...\n"
    "                 [--turn-user U --turn-pass P] [--turn-transport udp|tcp|tls]\n"
    "                 [--relay-only] [--bind IP]... [--nomination regular|aggressive]\n"
    "                 [--send N] [--echo] [--restart-after S] [--timeout S]\n"
    "                 [--verbose] [--http IP:PORT]\n"
    "  Full ICE agent peer (RFC 8445). Signalling: a= lines on stdin/stdout;\n"
    "  status: logfmt event= lines on stderr. See /work/shared/ICE-PEER.md.\n";

namespace {

absl::Status Usage(const std::string& what) { return absl::InvalidArgumentError(what); }

// Whole seconds or a decimal ("0.5"), > 0 and at most a day.
std::optional<absl::Duration> ParseSeconds(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  const std::string text(s);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v) || v <= 0 || v > 86400) {
    return std::nullopt;
  }
  return absl::Seconds(v);
}

std::optional<int> ParseCount(std::string_view s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  // At 20 ms apart, a million datagrams are over five hours of sending.
  if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 1'000'000) {
    return std::nullopt;
  }
  return v;
}

// IP:PORT (the port written, no default); port 0 only where allowed (--http).
std::optional<stun::SocketAddress> ParseHostPort(std::string_view s, bool allow_port_zero) {
  std::optional<stun::SocketAddress> a = stun::SocketAddress::Parse(s);
  if (!a || (!allow_port_zero && a->port == 0)) return std::nullopt;
  return a;
}

}  // namespace

absl::StatusOr<PeerOptions> ParsePeerOptions(const std::vector<std::string_view>& args) {
  PeerOptions o;
  bool controlling = false, controlled = false;
  bool have_user = false, have_pass = false, have_transport = false;
  std::string_view transport;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    // Every flag but the switches takes the next argument as its value.
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto missing = [&] { return Usage(text::Cat(flag, " needs a value")); };
    if (flag == "--controlling") {
      controlling = true;
    } else if (flag == "--controlled") {
      controlled = true;
    } else if (flag == "--relay-only") {
      o.relay_only = true;
    } else if (flag == "--echo") {
      o.echo = true;
    } else if (flag == "--verbose") {
      o.verbose = true;
    } else if (flag == "--stun" || flag == "--turn") {
      auto v = value();
      if (!v) return missing();
      auto a = ParseHostPort(*v, false);
      if (!a) return Usage(text::Cat(flag, ": '", *v, "' is not IP:PORT"));
      (flag == "--stun" ? o.stun_servers : o.turn_servers).push_back(*a);
    } else if (flag == "--turn-user" || flag == "--turn-pass") {
      auto v = value();
      if (!v) return missing();
      if (v->empty()) return Usage(text::Cat(flag, " must not be empty"));
      if (flag == "--turn-user") {
        o.turn_user = std::string(*v);
        have_user = true;
      } else {
        o.turn_pass = std::string(*v);
        have_pass = true;
      }
    } else if (flag == "--turn-transport") {
      auto v = value();
      if (!v) return missing();
      if (*v != "udp" && *v != "tcp" && *v != "tls") {
        return Usage(text::Cat("--turn-transport: '", *v, "' is not udp, tcp or tls"));
      }
      transport = *v;
      have_transport = true;
    } else if (flag == "--bind") {
      auto v = value();
      if (!v) return missing();
      auto a = stun::SocketAddress::ParseIp(*v, 0);
      if (!a) return Usage(text::Cat("--bind: '", *v, "' is not an IP address"));
      o.bind.push_back(*a);
    } else if (flag == "--nomination") {
      auto v = value();
      if (!v) return missing();
      if (*v == "regular") {
        o.nomination = NominationMode::kRegular;
      } else if (*v == "aggressive") {
        o.nomination = NominationMode::kAggressive;
      } else {
        return Usage(text::Cat("--nomination: '", *v, "' is not regular or aggressive"));
      }
    } else if (flag == "--send") {
      auto v = value();
      if (!v) return missing();
      o.send = ParseCount(*v);
      if (!o.send) return Usage(text::Cat("--send: '", *v, "' is not a count from 1 to 1000000"));
    } else if (flag == "--restart-after" || flag == "--timeout") {
      auto v = value();
      if (!v) return missing();
      auto d = ParseSeconds(*v);
      if (!d) return Usage(text::Cat(flag, ": '", *v, "' is not a number of seconds > 0"));
      (flag == "--timeout" ? o.timeout : o.restart_after.emplace()) = *d;
    } else if (flag == "--http") {
      auto v = value();
      if (!v) return missing();
      o.http = ParseHostPort(*v, true);
      if (!o.http) return Usage(text::Cat("--http: '", *v, "' is not IP:PORT"));
    } else {
      return Usage(text::Cat("unknown argument '", flag, "'"));
    }
  }
  if (controlling && controlled) return Usage("--controlling and --controlled exclude each other");
  o.role = controlled ? ice::Role::kControlled : ice::Role::kControlling;
  if (o.http) {
    // RFC 8445 §6.1.1: the browser offers and is controlling; we answer.
    if (controlling) return Usage("--http answers a browser's offer: the peer is --controlled");
    o.role = ice::Role::kControlled;
  }
  if ((have_user || have_pass || have_transport) && o.turn_servers.empty()) {
    return Usage("--turn-user, --turn-pass and --turn-transport need --turn");
  }
  if (!o.turn_servers.empty() && (!have_user || !have_pass)) {
    return Usage("--turn needs --turn-user and --turn-pass (long-term credentials, RFC 8489 §9.2)");
  }
  if (o.relay_only && o.turn_servers.empty()) return Usage("--relay-only needs --turn");
  if (transport == "tls") {
    return absl::UnimplementedError("--turn-transport tls is not supported yet (issue 11)");
  }
  // RFC 8656 §3.1: TURN over TCP; the relayed candidate stays UDP.
  if (transport == "tcp") o.turn_transport = TurnTransport::kTcp;
  return o;
}

}  // namespace uturn::client::peer
