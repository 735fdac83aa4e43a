// The I/O side of uturn-load: sockets, the allocation phase driving one
// client::TurnClient per allocation, the paced data phase and teardown.
// First slice: a single thread on epoll + sendmmsg/recvmmsg (not io_uring).
#pragma once

#include <ostream>

#include "absl/status/statusor.h"
#include "loadtest/options.h"
#include "loadtest/report.h"

namespace uturn::loadtest {

// Runs to completion (bounded by the options' duration, drain and the fixed
// set-up/teardown timeouts). `progress` gets one line per second, or nothing
// when null. Fails only when set-up is impossible (sockets, no allocation).
absl::StatusOr<Report> Run(const Options& options, std::ostream* progress);

}  // namespace uturn::loadtest
