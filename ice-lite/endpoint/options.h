// Command line of `ice-lite-endpoint` (exit codes as uturn's: 0 ran or
// --help, 1 runtime failure, 2 bad arguments).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "stun/address.h"

namespace uturn::ice::endpoint {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Options {
  bool help = false;
  stun::SocketAddress listen;  // UDP socket and ICE-TCP passive listener
  stun::SocketAddress http;    // WHIP-style HTTP listener
  // RFC 7675 §5.1 default: consent expires 30 s after the last valid check.
  absl::Duration consent_timeout = absl::Seconds(30);
  absl::Duration disconnected_after = absl::Seconds(5);
  // A session with no authenticated check this long after its offer is
  // removed (offers nobody follows up must not pile up).
  absl::Duration connect_timeout = absl::Seconds(30);
};

// Parses argv[1..]; an error names the offending argument.
absl::StatusOr<Options> ParseOptions(const std::vector<std::string_view>& args);
std::string HelpText();

}  // namespace uturn::ice::endpoint
