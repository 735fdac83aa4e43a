// The I/O side of uturn-load: sockets, the allocation phase driving one
// client::TurnClient per allocation, the paced data phase and teardown, all
// over one Transport (io_uring, or epoll as the fallback; transport.h) on a
// single thread.
#pragma once

#include <ostream>

#include "absl/status/statusor.h"
#include "loadtest/options.h"
#include "loadtest/report.h"

namespace uturn::loadtest {

// Runs to completion (bounded by the options' duration, drain and the fixed
// set-up/teardown timeouts). `progress` gets one line per second, or nothing
// when null. Fails only when set-up is impossible (sockets, no allocation,
// `--io uring` without io_uring).
absl::StatusOr<Report> Run(const Options& options, std::ostream* progress);

}  // namespace uturn::loadtest
