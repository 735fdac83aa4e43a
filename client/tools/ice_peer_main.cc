// uturn-ice: the full ICE agent's command-line peer (/work/shared/ICE-PEER.md;
// additions in client/README.md §uturn-ice). Exit 0/1 per the contract, 2 on
// a usage error.
#include <cstdio>
#include <string_view>
#include <vector>

#include "client/tools/ice_peer_loop.h"
#include "client/tools/ice_peer_options.h"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::string_view a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(uturn::client::peer::kPeerUsage, stdout);
      return 0;
    }
  }
  absl::StatusOr<uturn::client::peer::PeerOptions> options = uturn::client::peer::ParsePeerOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "uturn-ice: %.*s\n%s", static_cast<int>(options.status().message().size()),
                 options.status().message().data(), uturn::client::peer::kPeerUsage);
    return 2;
  }
  return uturn::client::peer::RunPeer(*options);
}
