// The slice of SDP (RFC 8866) an ICE-lite media endpoint needs to read an
// offer and write its answer: session and media sections, the ICE attributes
// of RFC 8839 (ice-ufrag, ice-pwd, ice-options, ice-lite, candidate,
// end-of-candidates), BUNDLE (RFC 9143), rtcp-mux, DTLS fingerprint and
// setup (RFC 8122, RFC 5763). Lines are kept so the answer can mirror the
// offer's m-lines. Malformed input is refused with a reason, never crashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ice-lite/candidate.h"
#include "ice-lite/ice_types.h"

namespace uturn::ice {

struct MediaSection {
  std::string media;       // "audio", "video", "application"
  uint16_t port = 0;
  std::string protocol;    // "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ...
  std::vector<std::string> formats;
  std::optional<std::string> mid;
  std::optional<Credentials> ice;  // section-level ufrag/pwd
  std::vector<Candidate> candidates;
  bool end_of_candidates = false;
  bool rtcp_mux = false;
  std::optional<std::string> setup;        // "actpass", "active", "passive"
  std::optional<std::string> fingerprint;  // "sha-256 AB:CD:..."
  std::optional<std::string> direction;    // sendrecv/sendonly/recvonly/inactive
  std::vector<std::string> attributes;     // every a= line as written (without "a=")
};

struct SessionDescription {
  std::optional<Credentials> ice;  // session-level ufrag/pwd
  std::vector<std::string> ice_options;  // e.g. "trickle", "ice2"
  bool ice_lite = false;
  std::vector<std::string> bundle_mids;  // a=group:BUNDLE
  std::optional<std::string> fingerprint;
  std::vector<MediaSection> media;

  // Credentials for section `i`: its own, else the session's (RFC 8839 §5.4).
  std::optional<Credentials> CredentialsFor(size_t i) const;
};

// Accepts CRLF or LF line ends. Requires v=0 first; refuses a missing or
// inconsistent ufrag/pwd pair, bad candidates, bad m-lines, with a reason
// naming the line number.
absl::StatusOr<SessionDescription> ParseSdp(std::string_view text);

// What the endpoint answers with (see AnswerFor).
struct AnswerParams {
  Credentials ice;                     // the lite agent's credentials
  std::vector<Candidate> candidates;   // its host candidate(s)
  std::string fingerprint;             // "sha-256 AB:CD:..." of its DTLS certificate
  uint64_t session_id = 0;             // o= line
  // false: the answerer is a full agent (client/'s uturn-ice --http), so no
  // a=ice-lite (RFC 8839 §5.3) and its candidates need not all be host ones.
  bool lite = true;
};
// An answer to `offer`: a=ice-lite, the credentials, the candidates and
// a=end-of-candidates, one m-line per offered m-line (same media, protocol
// and formats; port 0 for sections it rejects), BUNDLE of the offered mids,
// rtcp-mux, the fingerprint and a=setup:passive. CRLF line ends.
absl::StatusOr<std::string> AnswerFor(const SessionDescription& offer, const AnswerParams& params);

}  // namespace uturn::ice
