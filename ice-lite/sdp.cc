// The SDP slice of an ICE-lite media endpoint: read a WebRTC offer (RFC 8866
// syntax, RFC 8839 ICE attributes, RFC 9143 BUNDLE, RFC 8122 fingerprint,
// RFC 4145 setup, RFC 5761 rtcp-mux) and write the answer to it.
#include "ice-lite/sdp.h"

#include <cstddef>

#include "absl/status/status.h"
#include "ice-lite/sdp_grammar.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace uturn::ice {
namespace {

using grammar::All;
using grammar::Av;
using grammar::IsDigit;
using grammar::IsIceChar;
using grammar::IsTokenChar;
using grammar::Split;

// Space-separated words, empty ones skipped.
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::string_view w : Split(s, ' ')) {
    if (!w.empty()) out.push_back(w);
  }
  return out;
}

// Bounds on what a hostile offer can make us hold. Real browser offers are a
// few KiB with a handful of sections.
constexpr size_t kMaxSdpBytes = 128 * 1024;
constexpr size_t kMaxMediaSections = 256;
// RFC 8839 §5.4: ice-ufrag = 4*256ice-char, ice-pwd = 22*256ice-char.
constexpr size_t kMinUfrag = 4;
constexpr size_t kMinPwd = 22;
constexpr size_t kMaxIceCred = 256;

absl::Status LineError(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("SDP line ", line, ": ", Av(what)));
}

bool IsHex(char c) { return absl::ascii_isxdigit(c); }

bool IsToken(std::string_view s) { return !s.empty() && All(s, IsTokenChar); }

bool IsIceString(std::string_view s, size_t min) {
  return s.size() >= min && s.size() <= kMaxIceCred && All(s, IsIceChar);
}

std::optional<uint16_t> ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5 || !All(s, IsDigit)) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint32_t>(c - '0');
  if (v > UINT16_MAX) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// RFC 8122 §5: hash-func SP fingerprint, fingerprint = 2HEXDIG *(":" 2HEXDIG).
bool IsFingerprint(std::string_view s) {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos || !IsToken(s.substr(0, sp))) return false;
  const std::string_view hex = s.substr(sp + 1);
  if (hex.empty()) return false;
  for (std::string_view pair : Split(hex, ':')) {
    if (pair.size() != 2 || !IsHex(pair[0]) || !IsHex(pair[1])) return false;
  }
  return true;
}

// m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 §5.14).
absl::Status ParseMediaLine(std::string_view value, size_t line, MediaSection* m) {
  std::vector<std::string_view> f = Split(value, ' ');
  for (std::string_view field : f) {
    if (field.empty()) return LineError(line, "bad m-line: empty field");
  }
  if (f.size() < 4) return LineError(line, "bad m-line: needs media, port, proto and a format");
  if (!IsToken(f[0])) return LineError(line, "bad m-line: media is not a token");
  std::string_view port = f[1];
  if (const size_t slash = port.find('/'); slash != std::string_view::npos) {
    const std::string_view count = port.substr(slash + 1);
    if (count.empty() || !All(count, IsDigit)) return LineError(line, "bad m-line: port count");
    port = port.substr(0, slash);
  }
  const auto p = ParsePort(port);
  if (!p) return LineError(line, "bad m-line: port");
  // proto = token *("/" token)
  for (std::string_view part : Split(f[2], '/')) {
    if (!IsToken(part)) return LineError(line, "bad m-line: proto");
  }
  m->media = std::string(f[0]);
  m->port = *p;
  m->protocol = std::string(f[2]);
  for (size_t i = 3; i < f.size(); ++i) {
    if (!IsToken(f[i])) return LineError(line, "bad m-line: format is not a token");
    m->formats.emplace_back(f[i]);
  }
  return absl::OkStatus();
}

// ICE credentials being collected for one level (session or a section):
// ufrag and pwd must come as a pair (RFC 8839 §5.4).
struct PendingCreds {
  std::optional<std::string> ufrag, pwd;
  size_t ufrag_line = 0, pwd_line = 0;

  absl::Status Add(std::string_view name, std::string_view value, size_t line) {
    const bool is_ufrag = name == "ice-ufrag";
    auto& slot = is_ufrag ? ufrag : pwd;
    if (slot) return LineError(line, absl::StrCat("a=", Av(name), " given twice"));
    if (!IsIceString(value, is_ufrag ? kMinUfrag : kMinPwd)) {
      return LineError(line, is_ufrag ? "a=ice-ufrag must be 4 to 256 ice-chars"
                                      : "a=ice-pwd must be 22 to 256 ice-chars");
    }
    slot = std::string(value);
    (is_ufrag ? ufrag_line : pwd_line) = line;
    return absl::OkStatus();
  }

  absl::Status Finish(std::optional<Credentials>* out) const {
    if (ufrag && !pwd) return LineError(ufrag_line, "a=ice-ufrag without a=ice-pwd");
    if (pwd && !ufrag) return LineError(pwd_line, "a=ice-pwd without a=ice-ufrag");
    if (ufrag) *out = Credentials{*ufrag, *pwd};
    return absl::OkStatus();
  }
};

struct Parser {
  SessionDescription sd;
  PendingCreds session_creds;
  PendingCreds media_creds;
  std::vector<size_t> m_lines;  // line number of each m=
  size_t bundle_line = 0;
  bool session_end_of_candidates = false;

  absl::Status FinishSection() {
    if (sd.media.empty()) return session_creds.Finish(&sd.ice);
    absl::Status s = media_creds.Finish(&sd.media.back().ice);
    media_creds = PendingCreds{};
    return s;
  }

  void AddIceOptions(std::string_view value) {
    for (std::string_view opt : Words(value)) {
      bool seen = false;
      for (const std::string& o : sd.ice_options) seen = seen || o == opt;
      if (!seen) sd.ice_options.emplace_back(opt);
    }
  }

  absl::Status Attribute(std::string_view attr, size_t line) {
    const size_t colon = attr.find(':');
    const std::string_view name = attr.substr(0, colon);
    const std::string_view value =
        colon == std::string_view::npos ? std::string_view() : attr.substr(colon + 1);
    if (!IsToken(name)) return LineError(line, "attribute name is not a token");
    MediaSection* m = sd.media.empty() ? nullptr : &sd.media.back();
    if (m != nullptr) m->attributes.emplace_back(attr);

    if (name == "ice-ufrag" || name == "ice-pwd") {
      return (m ? media_creds : session_creds).Add(name, value, line);
    }
    if (name == "ice-options") {
      // RFC 8839 §5.6: ice-option-tag = 1*ice-char. Browsers repeat it in each
      // section; the union is what the description supports.
      for (std::string_view opt : Words(value)) {
        if (!All(opt, IsIceChar)) return LineError(line, "a=ice-options: bad option tag");
      }
      if (value.empty()) return LineError(line, "a=ice-options without options");
      AddIceOptions(value);
      return absl::OkStatus();
    }
    if (name == "ice-lite") {
      // RFC 8839 §5.3: session-level only.
      if (m) return LineError(line, "a=ice-lite is a session-level attribute");
      sd.ice_lite = true;
      return absl::OkStatus();
    }
    if (name == "fingerprint") {
      if (!IsFingerprint(value)) return LineError(line, "a=fingerprint is malformed");
      (m ? m->fingerprint : sd.fingerprint) = std::string(value);
      return absl::OkStatus();
    }
    if (name == "end-of-candidates") {
      // RFC 8840 §8.2: session level applies to every section.
      (m ? m->end_of_candidates : session_end_of_candidates) = true;
      return absl::OkStatus();
    }
    if (name == "group") {
      if (m) return LineError(line, "a=group is a session-level attribute");
      std::vector<std::string_view> f = Words(value);
      if (f.empty() || f[0] != "BUNDLE") return absl::OkStatus();  // other semantics: not ours
      if (bundle_line != 0) return LineError(line, "more than one BUNDLE group");
      bundle_line = line;
      for (size_t i = 1; i < f.size(); ++i) {
        if (!IsToken(f[i])) return LineError(line, "a=group:BUNDLE: mid is not a token");
        sd.bundle_mids.emplace_back(f[i]);
      }
      return absl::OkStatus();
    }
    if (m == nullptr) {
      // RFC 8839 §5.1: candidates are media-level.
      if (name == "candidate") return LineError(line, "a=candidate at session level");
      return absl::OkStatus();  // other session attributes are not this slice's business
    }
    if (name == "candidate") {
      absl::StatusOr<Candidate> c = ParseCandidate(attr);
      if (!c.ok()) return LineError(line, std::string(c.status().message()));
      m->candidates.push_back(*std::move(c));
      return absl::OkStatus();
    }
    if (name == "mid") {
      // RFC 5888 §4: identification-tag = token; one per section.
      if (m->mid) return LineError(line, "a=mid given twice");
      if (!IsToken(value)) return LineError(line, "a=mid is not a token");
      for (const MediaSection& other : sd.media) {
        if (other.mid == value) return LineError(line, "duplicate a=mid");
      }
      m->mid = std::string(value);
      return absl::OkStatus();
    }
    if (name == "rtcp-mux") {
      m->rtcp_mux = true;
      return absl::OkStatus();
    }
    if (name == "setup") {
      // RFC 4145 §4: active / passive / actpass / holdconn.
      if (value != "actpass" && value != "active" && value != "passive" && value != "holdconn") {
        return LineError(line, "a=setup must be actpass, active, passive or holdconn");
      }
      m->setup = std::string(value);
      return absl::OkStatus();
    }
    if (name == "sendrecv" || name == "sendonly" || name == "recvonly" || name == "inactive") {
      m->direction = std::string(name);  // RFC 8866 §6.7
      return absl::OkStatus();
    }
    return absl::OkStatus();  // kept in `attributes` only
  }

  absl::Status Finish() {
    if (absl::Status s = FinishSection(); !s.ok()) return s;
    for (MediaSection& m : sd.media) m.end_of_candidates |= session_end_of_candidates;
    // RFC 9143 §7.2: every mid in the group names a section of this description.
    for (const std::string& mid : sd.bundle_mids) {
      bool found = false;
      for (const MediaSection& m : sd.media) found = found || m.mid == mid;
      if (!found) return LineError(bundle_line, absl::StrCat("BUNDLE names unknown mid \"", mid, "\""));
    }
    // RFC 8839 §5.4: a section in use needs ICE credentials, its own or the
    // session's. Port 0 without bundle-only is a rejected section. RFC 9143
    // §7.5.3: in a subsequent offer the bundled sections share the tagged
    // (first) one's transport, so they may carry none of their own.
    std::optional<Credentials> tagged;
    for (size_t i = 0; i < sd.media.size() && !sd.bundle_mids.empty(); ++i) {
      if (sd.media[i].mid == sd.bundle_mids.front()) tagged = sd.CredentialsFor(i);
    }
    for (size_t i = 0; i < sd.media.size(); ++i) {
      const MediaSection& m = sd.media[i];
      bool bundle_only = false, bundled = false;
      for (const std::string& a : m.attributes) bundle_only = bundle_only || a == "bundle-only";
      for (const std::string& mid : sd.bundle_mids) bundled = bundled || m.mid == mid;
      if ((m.port != 0 || bundle_only) && !sd.CredentialsFor(i) && !(bundled && tagged)) {
        return LineError(m_lines[i], "section has no a=ice-ufrag/a=ice-pwd");
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::optional<Credentials> SessionDescription::CredentialsFor(size_t i) const {
  if (i < media.size() && media[i].ice) return media[i].ice;
  return ice;
}

absl::StatusOr<SessionDescription> ParseSdp(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("SDP: empty");
  if (text.size() > kMaxSdpBytes) return absl::InvalidArgumentError("SDP: too large");
  std::vector<std::string_view> lines = Split(text, '\n');
  // A final line end leaves empty trailing pieces; nothing else may be empty.
  while (!lines.empty() && (lines.back().empty() || lines.back() == "\r")) lines.pop_back();

  Parser p;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t n = i + 1;  // line numbers are 1-based, as an editor shows them
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);  // CRLF or LF (RFC 8866 §5)
    for (char c : l) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7F) return LineError(n, "control character");
    }
    // RFC 8866 §5: <type>=<value>, type one lower-case letter.
    if (l.size() < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z') {
      return LineError(n, "not a <type>=<value> line");
    }
    const char type = l[0];
    const std::string_view value = l.substr(2);
    if (n == 1) {
      if (l != "v=0") return LineError(n, "the first line must be v=0");  // RFC 8866 §5.1
      continue;
    }
    if (type == 'v') return LineError(n, "v= may only be the first line");
    if (type == 'm') {
      if (p.sd.media.size() == kMaxMediaSections) return LineError(n, "too many m-lines");
      if (absl::Status s = p.FinishSection(); !s.ok()) return s;
      MediaSection m;
      if (absl::Status s = ParseMediaLine(value, n, &m); !s.ok()) return s;
      p.sd.media.push_back(std::move(m));
      p.m_lines.push_back(n);
      continue;
    }
    if (type == 'a') {
      if (value.empty()) return LineError(n, "empty attribute");
      if (absl::Status s = p.Attribute(value, n); !s.ok()) return s;
    }
    // o=, s=, t=, c=, b= and the rest carry nothing ICE needs.
  }
  if (lines.empty()) return absl::InvalidArgumentError("SDP: empty");
  if (absl::Status s = p.Finish(); !s.ok()) return s;
  return std::move(p.sd);
}

namespace {

bool IsRtp(const MediaSection& m) { return m.protocol.find("RTP") != std::string::npos; }

bool HasAttribute(const MediaSection& m, std::string_view name) {
  for (const std::string& a : m.attributes) {
    if (a == name) return true;
  }
  return false;
}

// Why an offered section gets port 0 in the answer, or nullopt to accept it.
std::optional<std::string_view> RejectReason(const MediaSection& m, bool in_bundle) {
  if (m.port == 0 && !(in_bundle && HasAttribute(m, "bundle-only"))) return "rejected by the offerer";
  // The endpoint speaks DTLS only (RFC 8827 §6.5: WebRTC media is DTLS-SRTP).
  if (m.protocol.find("TLS") == std::string::npos) return "not DTLS";
  // Only component 1 is served (RFC 8843 / RFC 5761: WebRTC muxes RTCP).
  if (IsRtp(m) && !m.rtcp_mux) return "no rtcp-mux";
  // RFC 5763 §5: answering passive needs an offerer that can be active.
  if (m.setup == "passive" || m.setup == "holdconn") return "offerer will not be DTLS client";
  return std::nullopt;
}

// RFC 3264 §6.1: the answer's direction mirrors the offer's.
std::string_view AnswerDirection(const std::optional<std::string>& offered) {
  if (offered == "sendonly") return "recvonly";
  if (offered == "recvonly") return "sendonly";
  if (offered == "inactive") return "inactive";
  return "sendrecv";
}

// The formats' own lines an RTP section keeps (RFC 3264 §6.1: the answer
// describes the formats it accepts), and the data channel parameters
// (RFC 8841 §5, §6).
bool MirroredAttribute(const MediaSection& m, std::string_view a) {
  if (IsRtp(m)) {
    return a.starts_with("rtpmap:") || a.starts_with("fmtp:") || a.starts_with("rtcp-fb:") ||
           a == "rtcp-rsize";
  }
  return a.starts_with("sctp-port:") || a.starts_with("max-message-size:") ||
         a.starts_with("sctpmap:");
}

}  // namespace

absl::StatusOr<std::string> AnswerFor(const SessionDescription& offer, const AnswerParams& params) {
  if (offer.media.empty()) return absl::InvalidArgumentError("offer has no media section");
  if (!IsIceString(params.ice.ufrag, kMinUfrag) || !IsIceString(params.ice.pwd, kMinPwd)) {
    return absl::InvalidArgumentError("answer credentials are not valid ice-chars");
  }
  if (!IsFingerprint(params.fingerprint)) {
    return absl::InvalidArgumentError("answer fingerprint is malformed");
  }
  // RFC 8445 §2.5: a lite agent has only host candidates, and gives them all.
  if (params.candidates.empty()) return absl::InvalidArgumentError("no candidates to answer with");
  std::vector<std::string> cand_lines;
  for (const Candidate& c : params.candidates) {
    // FormatCandidate asserts these; the rest is checked by parsing its output.
    if (c.foundation.empty() || c.component < 1 || c.component > 256) {
      return absl::InvalidArgumentError("candidate without foundation or component");
    }
    std::string line = FormatCandidate(c);
    if (!ParseCandidate(line).ok()) return absl::InvalidArgumentError("unformattable candidate");
    cand_lines.push_back(std::move(line));
  }

  auto in_bundle = [&](const MediaSection& m) {
    if (!m.mid) return false;
    for (const std::string& mid : offer.bundle_mids) {
      if (mid == *m.mid) return true;
    }
    return false;
  };
  std::vector<bool> accepted(offer.media.size());
  std::vector<std::string> bundle;
  bool any = false;
  for (size_t i = 0; i < offer.media.size(); ++i) {
    accepted[i] = !RejectReason(offer.media[i], in_bundle(offer.media[i])).has_value();
    any = any || accepted[i];
  }
  // Keep the offered group's order (RFC 9143 §7.3.1: the first is the tagged one).
  for (const std::string& mid : offer.bundle_mids) {
    for (size_t i = 0; i < offer.media.size(); ++i) {
      if (accepted[i] && offer.media[i].mid == mid) bundle.push_back(mid);
    }
  }
  if (!any) return absl::FailedPreconditionError("no offered section can be accepted");

  // The default candidate for m=/c= (RFC 8839 §4.2.4): the first one with an
  // IP literal; port 9 and 0.0.0.0 otherwise (RFC 8840 §4.1.1.1).
  uint16_t default_port = 9;
  std::string default_c = "IN IP4 0.0.0.0";
  for (const Candidate& c : params.candidates) {
    if (c.ip) {
      default_port = c.port;
      default_c = absl::StrCat("IN ", c.ip->is_v4() ? "IP4 " : "IP6 ", c.ip->IpString());
      break;
    }
  }

  std::string out;
  auto line = [&out](auto&&... parts) { absl::StrAppend(&out, parts..., "\r\n"); };
  line("v=0");
  line("o=- ", params.session_id, " 2 IN IP4 127.0.0.1");
  line("s=-");
  line("t=0 0");
  if (params.lite) line("a=ice-lite");  // RFC 8839 §5.3
  if (!bundle.empty()) line("a=group:BUNDLE ", absl::StrJoin(bundle, " "));

  for (size_t i = 0; i < offer.media.size(); ++i) {
    const MediaSection& m = offer.media[i];
    const std::string formats = absl::StrJoin(m.formats, " ");
    if (!accepted[i]) {
      // RFC 3264 §6: a rejected stream keeps its m-line with port 0.
      line("m=", m.media, " 0 ", m.protocol, " ", formats);
      line("c=IN IP4 0.0.0.0");
      if (m.mid) line("a=mid:", *m.mid);
      line("a=inactive");
      continue;
    }
    line("m=", m.media, " ", default_port, " ", m.protocol, " ", formats);
    line("c=", default_c);
    if (m.mid) line("a=mid:", *m.mid);
    line("a=ice-ufrag:", params.ice.ufrag);
    line("a=ice-pwd:", params.ice.pwd);
    line("a=fingerprint:", params.fingerprint);
    line("a=setup:passive");  // RFC 5763 §5: the offerer (actpass) becomes DTLS client
    // With BUNDLE the candidates belong to the tagged (first) section only
    // (RFC 9143 §7.3.1); a section outside the group is its own transport.
    bool bundled = false;
    for (const std::string& mid : bundle) bundled = bundled || m.mid == mid;
    if (!bundled || m.mid == bundle.front()) {
      for (const std::string& c : cand_lines) line("a=", c);
      line("a=end-of-candidates");  // RFC 8840 §8.2: a lite agent gathers nothing later
    }
    if (IsRtp(m)) {
      line("a=", Av(AnswerDirection(m.direction)));
      line("a=rtcp-mux");
    }
    for (const std::string& a : m.attributes) {
      if (MirroredAttribute(m, a)) line("a=", a);
    }
  }
  return out;
}

}  // namespace uturn::ice
