// State of one accepted TCP connection in a driver's connection table.
#pragma once

#include <cstdint>

#include "server/write_queue.h"
#include "stun/address.h"
#include "stun/stream_framing.h"
#include "turn/types.h"

namespace uturn::server {

struct TcpConnection {
  // RFC 8489 §6.2.2 lets a client pipeline requests; bound what an unread
  // connection can make us hold (a few hundred responses).
  // The hard cap: past it the connection is closed (a client pipelining
  // requests it never reads the answers of).
  static constexpr size_t kWriteQueueLimit = 64 * 1024;
  // Relayed data toward the client (Data indications, ChannelData) is only
  // queued below this bound and dropped above it, so a slow reader loses
  // packets (as over UDP) but keeps its connection, and the room between the
  // two bounds stays for the responses to its own requests.
  static constexpr size_t kDataQueueLimit = 32 * 1024;

  int fd = -1;
  uint32_t generation = 0;  // bumped on reuse; stale completions are detected
  stun::SocketAddress peer;
  turn::FiveTuple tuple;  // client = peer, server = the listener's address
  int64_t last_receive_ns = 0;
  // Accept time, then the last housekeeping tick that saw it hold an
  // allocation: --max-allocate-timeout counts from here.
  int64_t allocation_seen_ns = 0;
  // In the tuple map, and the core not yet told of its close (so the
  // allocation is released exactly once, when it stops being routable).
  bool routed = false;
  bool receive_pending = false;
  bool send_pending = false;
  bool closing = false;
  // Stop reading; close once the queued responses are written (an invalid
  // stream after valid requests still gets their answers).
  bool close_after_flush = false;
  uint64_t* close_reason = nullptr;
  // The core queued more than kWriteQueueLimit; closed once out of the
  // core's call (its receive loop, or the turn's TCP flush).
  bool overflowed = false;
  stun::StreamFramer framer;
  WriteQueue out{kWriteQueueLimit};
};

}  // namespace uturn::server
