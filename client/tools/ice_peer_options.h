// uturn-ice command line (/work/shared/ICE-PEER.md §Command line, plus the
// flags client/README.md adds). Pure: argv in, options or a usage error out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/ice_agent.h"
#include "stun/address.h"

namespace uturn::client::peer {

struct PeerOptions {
  ice::Role role = ice::Role::kControlling;
  std::vector<stun::SocketAddress> stun_servers;
  std::vector<stun::SocketAddress> turn_servers;
  std::string turn_user;
  std::string turn_pass;
  TurnTransport turn_transport = TurnTransport::kUdp;
  bool relay_only = false;
  std::vector<stun::SocketAddress> bind;  // port 0; empty: every non-loopback address
  NominationMode nomination = NominationMode::kRegular;
  std::optional<int> send;  // --send N
  bool echo = false;
  std::optional<absl::Duration> restart_after;
  absl::Duration timeout = absl::Seconds(30);
  bool verbose = false;
  std::optional<stun::SocketAddress> http;  // --http IP:PORT
};

// argv[0] excluded. InvalidArgument: a usage error (exit 2), its message
// says what is wrong. Unimplemented: a flag value that is valid but not
// built yet (--turn-transport tls, issue 11), also exit 2.
absl::StatusOr<PeerOptions> ParsePeerOptions(const std::vector<std::string_view>& args);

extern const char kPeerUsage[];

}  // namespace uturn::client::peer
