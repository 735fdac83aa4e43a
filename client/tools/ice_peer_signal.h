// uturn-ice signalling (/work/shared/ICE-PEER.md §Signalling): one SDP
// attribute a line on stdin/stdout. Pure: bytes and lines in, actions out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ice-lite/candidate.h"
#include "ice-lite/ice_types.h"

namespace uturn::client::peer {

// Splits a byte stream into lines (LF, an optional CR before it dropped).
// A line longer than `max_line` is dropped whole and reported once, so a
// hostile stdin cannot grow the buffer without bound.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 4096) : max_line_(max_line) {}
  // Appends `bytes`; returns the complete lines. `*overlong` counts lines dropped.
  std::vector<std::string> Feed(std::string_view bytes, size_t* overlong);
  // End of input: the unterminated rest as a last line, if any.
  std::optional<std::string> Finish();

 private:
  size_t max_line_;
  std::string partial_;
  bool discarding_ = false;
};

// What one signalling line asks of the agent.
struct SignalAction {
  enum class Kind {
    kCredentials,      // `credentials`: first pair, or a remote ICE restart (RFC 8445 §9)
    kCandidate,        // `candidate`
    kEndOfCandidates,  // RFC 8838 §13
    kLite,             // the remote is an ICE-lite agent (RFC 8445 §6.1.1)
    kError,            // `error`: one line for stderr; the input line is otherwise ignored
  };
  Kind kind = Kind::kError;
  ice::Credentials credentials;
  ice::Candidate candidate;
  std::string error;
};

// Reads the remote's lines. The ufrag and pwd come on two lines (in either
// order); a pair is passed on once both halves are known. A new pair after
// the first is a remote restart. Candidates that arrive before the first
// pair are held back and passed on right after it (the agent needs the
// credentials to check them). Lines that are not ICE attributes are ignored.
class SignalReader {
 public:
  std::vector<SignalAction> Line(std::string_view line);
  bool has_credentials() const { return current_.has_value(); }
  bool end_of_candidates() const { return end_of_candidates_; }

 private:
  // Caps what a remote can make us hold before its credentials.
  static constexpr size_t kMaxHeldCandidates = 100;
  std::optional<std::string> ufrag_, pwd_;
  std::optional<ice::Credentials> current_;
  std::vector<SignalAction> held_;
  bool end_of_candidates_ = false;
};

// Our lines (no line end; the caller writes "\n" and flushes).
std::vector<std::string> CredentialLines(const ice::Credentials& c);  // ufrag, pwd, trickle
std::string CandidateLine(const ice::Candidate& c);
inline constexpr std::string_view kEndOfCandidatesLine = "a=end-of-candidates";

}  // namespace uturn::client::peer
