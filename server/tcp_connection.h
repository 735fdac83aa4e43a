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
  static constexpr size_t kWriteQueueLimit = 64 * 1024;

  int fd = -1;
  uint32_t generation = 0;  // bumped on reuse; stale completions are detected
  stun::SocketAddress peer;
  turn::FiveTuple tuple;  // client = peer, server = the listener's address
  int64_t last_receive_ns = 0;
  bool receive_pending = false;
  bool send_pending = false;
  bool closing = false;
  // Stop reading; close once the queued responses are written (an invalid
  // stream after valid requests still gets their answers).
  bool close_after_flush = false;
  uint64_t* close_reason = nullptr;
  // The core queued more than kWriteQueueLimit while this connection's own
  // frames were being handled; closed once that loop is out of the way.
  bool overflowed = false;
  stun::StreamFramer framer;
  WriteQueue out{kWriteQueueLimit};
};

}  // namespace uturn::server
