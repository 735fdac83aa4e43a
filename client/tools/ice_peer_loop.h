// uturn-ice's run loop: the agent on the socket driver, signalling on
// stdin/stdout (or the --http offer/answer surface), the application
// datagrams of --send/--echo, and the exit rules of /work/shared/ICE-PEER.md.
#pragma once

#include "client/tools/ice_peer_options.h"

namespace uturn::client::peer {

// Runs until an exit rule fires; returns the exit status (0 or 1).
int RunPeer(const PeerOptions& options);

}  // namespace uturn::client::peer
