// The RFC 8839 §5.1 `a=candidate` grammar:
//
//   candidate-attribute = "candidate" ":" foundation SP component-id SP
//                         transport SP priority SP connection-address SP
//                         port SP cand-type [SP rel-addr] [SP rel-port]
//                         *(SP cand-extension)
//
// The parser walks the line as SP-separated fields over a string_view; every
// field is checked against its rule before it is converted, so no input can
// overflow, throw or read past the end.
#include "ice-lite/candidate.h"

#include <cassert>
#include <cstddef>

#include "absl/status/status.h"
#include "ice-lite/sdp_grammar.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace uturn::ice {
namespace {

using grammar::All;
using grammar::Av;
using grammar::IsAlpha;
using grammar::IsDigit;
using grammar::IsIceChar;
using grammar::IsTokenChar;
using grammar::Split;

// No RFC limit on a line; real ones are under 250 bytes. The cap bounds the
// work a hostile offer can ask for.
constexpr size_t kMaxCandidateLine = 1024;
constexpr size_t kMaxFoundation = 32;  // RFC 8839 §5.1: foundation = 1*32ice-char
constexpr size_t kMaxComponentDigits = 3;  // component-id = 1*3DIGIT
constexpr uint32_t kMaxComponent = 256;    // RFC 8445 §5.1.2.1: 1..256
constexpr size_t kMaxPriorityDigits = 10;  // priority = 1*10DIGIT
constexpr size_t kMaxPortDigits = 5;
constexpr size_t kMaxFqdn = 253;   // RFC 1035 §2.3.4 (text form without the final dot)
constexpr size_t kMaxLabel = 63;

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("a=candidate: ", Av(what)));
}

// RFC 8866 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 /
// %x41-5A / %x5E-7E.

// RFC 5234: VCHAR = %x21-7E.
bool IsVchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7E;
}

// A run of 1..max_digits digits, at most `max_value`.
std::optional<uint32_t> ParseNumber(std::string_view s, size_t max_digits, uint64_t max_value) {
  if (s.empty() || s.size() > max_digits || !All(s, IsDigit)) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');  // ≤ 10 digits: no overflow
  if (v > max_value) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// An FQDN as RFC 1035 hostnames are written (letters, digits, hyphens; labels
// of 1..63, no hyphen at either end), which covers the "<uuid>.local" names
// browsers use to hide host addresses (draft-ietf-mmusic-mdns-ice-candidates).
bool IsFqdn(std::string_view s) {
  if (s.empty() || s.size() > kMaxFqdn) return false;
  std::string_view last;
  for (std::string_view label : Split(s, '.')) {
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    if (!All(label, [](char c) { return IsAlpha(c) || IsDigit(c) || c == '-'; })) return false;
    last = label;
  }
  // RFC 3696 §2: a top-level label is never all-numeric, so "1.2.3.256" is a
  // bad IPv4 literal and not a name.
  return !All(last, IsDigit);
}

// connection-address (RFC 8866 §9): an IPv4 or IPv6 literal, or an FQDN.
// Sets `ip` when it is a literal.
absl::Status ParseConnectionAddress(std::string_view s, uint16_t port,
                                    std::optional<stun::SocketAddress>* ip,
                                    std::string_view what) {
  if (auto a = stun::SocketAddress::ParseIp(s, port)) {
    if (ip != nullptr) *ip = a;
    return absl::OkStatus();
  }
  // A colon only appears in IPv6 literals; anything else must be a name.
  if (s.find(':') == std::string_view::npos && IsFqdn(s)) return absl::OkStatus();
  return Bad(absl::StrCat("bad ", Av(what), " \"", Av(s), "\""));
}

// RFC 5234 §2.3: quoted ABNF strings ("typ", "host", "raddr", ...) match
// case-insensitively.
bool Is(std::string_view s, std::string_view literal) {
  return absl::EqualsIgnoreCase(Av(s), Av(literal));
}

std::optional<CandidateType> ParseType(std::string_view s) {
  // RFC 8839 §5.1: candidate-types = "host" / "srflx" / "prflx" / "relay" / token.
  // An unknown type gives no way to pair it, so it is refused.
  if (Is(s, "host")) return CandidateType::kHost;
  if (Is(s, "srflx")) return CandidateType::kServerReflexive;
  if (Is(s, "prflx")) return CandidateType::kPeerReflexive;
  if (Is(s, "relay")) return CandidateType::kRelay;
  return std::nullopt;
}

std::optional<TcpType> ParseTcpType(std::string_view s) {
  // RFC 6544 §4.5: tcp-type = "active" / "passive" / "so".
  if (Is(s, "active")) return TcpType::kActive;
  if (Is(s, "passive")) return TcpType::kPassive;
  if (Is(s, "so")) return TcpType::kSimultaneousOpen;
  return std::nullopt;
}

const char* ToString(TcpType t) {
  switch (t) {
    case TcpType::kActive: return "active";
    case TcpType::kPassive: return "passive";
    case TcpType::kSimultaneousOpen: return "so";
  }
  return "active";
}

}  // namespace

bool Candidate::is_udp() const { return Is(transport, "udp"); }
bool Candidate::is_tcp() const { return Is(transport, "tcp"); }

const char* ToString(CandidateType t) {
  switch (t) {
    case CandidateType::kHost: return "host";
    case CandidateType::kServerReflexive: return "srflx";
    case CandidateType::kPeerReflexive: return "prflx";
    case CandidateType::kRelay: return "relay";
  }
  return "host";
}

absl::StatusOr<Candidate> ParseCandidate(std::string_view line) {
  if (line.empty()) return Bad("empty line");
  if (line.size() > kMaxCandidateLine) return Bad("line too long");
  for (char c : line) {
    // SDP text here is ASCII: VCHAR fields separated by single SPs. This also
    // refuses CR/LF, tabs, NULs and UTF-8 bytes.
    if (c != ' ' && !IsVchar(c)) return Bad("non-printable or non-ASCII byte");
  }
  if (line.starts_with("a=")) line.remove_prefix(2);
  constexpr std::string_view kPrefix = "candidate:";
  if (!line.starts_with(kPrefix)) return Bad("does not start with \"candidate:\"");
  line.remove_prefix(kPrefix.size());

  // RFC 8839 §5.1 separates fields with exactly one SP: an empty field means a
  // doubled, leading or trailing space.
  std::vector<std::string_view> f = Split(line, ' ');
  for (std::string_view field : f) {
    if (field.empty()) return Bad("empty field (extra space)");
  }
  // foundation component transport priority address port "typ" type
  constexpr size_t kMandatory = 8;
  if (f.size() < kMandatory) return Bad("truncated: fewer than 8 mandatory fields");

  Candidate c;
  if (f[0].size() > kMaxFoundation || !All(f[0], IsIceChar)) {
    return Bad("foundation must be 1 to 32 ice-chars");  // RFC 8839 §5.1
  }
  c.foundation = std::string(f[0]);

  const auto component = ParseNumber(f[1], kMaxComponentDigits, kMaxComponent);
  if (!component || *component == 0) return Bad("component-id must be 1 to 256");
  c.component = static_cast<uint16_t>(*component);

  if (!All(f[2], IsTokenChar)) return Bad("transport is not a token");
  c.transport = std::string(f[2]);  // unknown tokens kept: is_udp()/is_tcp() say false

  const auto priority = ParseNumber(f[3], kMaxPriorityDigits, UINT32_MAX);
  if (!priority) return Bad("priority must be 1 to 10 digits and fit 32 bits");
  c.priority = *priority;

  const auto port = ParseNumber(f[5], kMaxPortDigits, UINT16_MAX);
  if (!port) return Bad("port must be 0 to 65535");
  c.port = static_cast<uint16_t>(*port);

  if (absl::Status s = ParseConnectionAddress(f[4], c.port, &c.ip, "connection-address");
      !s.ok()) {
    return s;
  }
  c.address = std::string(f[4]);

  if (!Is(f[6], "typ")) return Bad("expected \"typ\" after the port");
  const auto type = ParseType(f[7]);
  if (!type) return Bad(absl::StrCat("unknown candidate type \"", Av(f[7]), "\""));
  c.type = *type;

  size_t i = kMandatory;
  // Whatever follows typ comes in name/value pairs.
  if ((f.size() - i) % 2 != 0) return Bad("extension name without a value");

  // RFC 8839 §5.1: [SP rel-addr] [SP rel-port] come straight after cand-type;
  // they describe one related transport address, so one without the other is
  // refused.
  if (i < f.size() && Is(f[i], "raddr")) {
    if (absl::Status s = ParseConnectionAddress(f[i + 1], 0, nullptr, "raddr"); !s.ok()) {
      return s;
    }
    c.related_address = std::string(f[i + 1]);
    i += 2;
  }
  if (i < f.size() && Is(f[i], "rport")) {
    const auto rport = ParseNumber(f[i + 1], kMaxPortDigits, UINT16_MAX);
    if (!rport) return Bad("rport must be 0 to 65535");
    c.related_port = static_cast<uint16_t>(*rport);
    i += 2;
  }
  if (c.related_address.has_value() != c.related_port.has_value()) {
    return Bad(c.related_address ? "raddr without rport" : "rport without raddr");
  }

  for (; i < f.size(); i += 2) {
    const std::string_view name = f[i];
    const std::string_view value = f[i + 1];
    if (Is(name, "raddr") || Is(name, "rport")) return Bad("raddr/rport must follow typ");
    if (!All(name, IsTokenChar)) return Bad("extension name is not a token");
    // Value: *VCHAR (already checked for the whole line).
    if (Is(name, "tcptype")) {
      // RFC 6544 §4.5: tcptype belongs to TCP candidates only, once.
      if (!c.is_tcp()) return Bad("tcptype on a non-TCP candidate");
      if (c.tcp_type) return Bad("tcptype given twice");
      c.tcp_type = ParseTcpType(value);
      if (!c.tcp_type) return Bad("tcptype must be active, passive or so");
      continue;
    }
    c.extensions.emplace_back(std::string(name), std::string(value));
  }
  return c;
}

std::string FormatCandidate(const Candidate& c) {
  assert(!c.foundation.empty());
  assert(c.component >= 1 && c.component <= kMaxComponent);
  std::string address = c.address;
  if (address.empty() && c.ip) address = c.ip->IpString();
  std::string out = absl::StrCat("candidate:", c.foundation, " ", c.component, " ",
                                 c.transport.empty() ? "udp" : c.transport, " ", c.priority, " ",
                                 address, " ", c.port, " typ ", ToString(c.type));
  // rel-addr and rel-port travel together (RFC 8839 §5.1); a missing port is
  // written as 0, the value browsers use when they hide the related address.
  if (c.related_address) {
    absl::StrAppend(&out, " raddr ", *c.related_address, " rport", " ",
                    c.related_port.value_or(0));
  }
  // RFC 6544 §4.5: tcptype is written first among the extensions, as
  // browsers and libnice do.
  if (c.tcp_type) absl::StrAppend(&out, " tcptype ", ToString(*c.tcp_type));
  for (const auto& [name, value] : c.extensions) absl::StrAppend(&out, " ", name, " ", value);
  return out;
}

uint32_t CandidatePriority(uint32_t type_preference, uint32_t local_preference,
                           uint16_t component) {
  // RFC 8445 §5.1.2.1: type preference 0..126, local preference 0..65535,
  // component ID 1..256.
  assert(type_preference <= 126);
  assert(local_preference <= 65535);
  assert(component >= 1 && component <= kMaxComponent);
  return (type_preference << 24) + (local_preference << 8) + (256u - component);
}

uint32_t RecommendedTypePreference(CandidateType t) {
  // RFC 8445 §5.1.2.2 recommended values.
  switch (t) {
    case CandidateType::kHost: return 126;
    case CandidateType::kPeerReflexive: return 110;
    case CandidateType::kServerReflexive: return 100;
    case CandidateType::kRelay: return 0;
  }
  return 0;
}

}  // namespace uturn::ice
