// The endpoint's I/O: one UDP socket and one ICE-TCP passive listener
// (RFC 6544, RFC 4571 framing) on --listen, an HTTP listener on --http, and
// a single epoll loop driving ice::Router with CLOCK_MONOTONIC. This is the
// only file of the endpoint that touches sockets or the clock.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "ice-lite/endpoint/dtls_identity.h"
#include "ice-lite/endpoint/options.h"

namespace uturn::ice::endpoint {

class EndpointLoop {
 public:
  EndpointLoop(Options options, DtlsIdentity identity);
  ~EndpointLoop();
  EndpointLoop(const EndpointLoop&) = delete;
  EndpointLoop& operator=(const EndpointLoop&) = delete;

  // Opens the sockets (logging `listening` lines and `ready`); an error
  // means nothing is listening.
  absl::Status Open();
  // Runs until SIGTERM or SIGINT; logs `stopped`.
  absl::Status Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uturn::ice::endpoint
