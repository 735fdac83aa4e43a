// What a run measured, and its two renderings: a human summary and JSON.
// Also the /proc parsers for the server's CPU time and RSS (pure functions
// over the file text, so they are testable without a process).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "loadtest/histogram.h"

namespace uturn::loadtest {

struct Report {
  // Configuration echoed back.
  std::string server, mode;
  uint32_t allocations_wanted = 0;
  uint32_t payload = 0;
  uint32_t burst = 1;
  double rate_offered = 0;  // 0 = unpaced
  bool echo = false;
  std::string io;  // "uring" or "epoll": the generator's transport

  // Allocation phase.
  uint32_t allocations_ok = 0;
  uint32_t allocations_failed = 0;
  double allocate_seconds = 0;  // first Allocate to last answer (incl. channel/permission)
  std::optional<int64_t> rss_before_kib, rss_after_kib;  // server VmRSS

  // Data phase.
  double send_seconds = 0;
  uint64_t sent = 0;
  uint64_t send_errors = 0;      // the kernel refused (e.g. ENOBUFS)
  uint64_t peer_received = 0;    // at the peers
  uint64_t echoed_received = 0;  // back at the clients (echo mode)
  uint64_t foreign = 0;          // datagrams that were not our probes
  Histogram rtt_ns;              // echo mode only
  std::optional<double> server_cpu_seconds;  // over the data phase
  // The generator's own CPU time over the data phase (/proc/self/stat), to
  // tell whether it, rather than the server, was the limit.
  std::optional<double> client_cpu_seconds;

  double AllocationsPerSecond() const;
  double SentPerSecond() const;
  // Packets that made it to their final destination: the peers, or back to
  // the clients in echo mode.
  uint64_t Delivered() const { return echo ? echoed_received : peer_received; }
  double DeliveredPerSecond() const;
  double Loss() const;  // fraction of `sent` not delivered, in [0, 1]
  std::optional<double> RssPerAllocationBytes() const;
  // Relayed packets (each direction through the server counts once) per
  // server CPU-second.
  std::optional<double> RelayedPerCpuSecond() const;
  // The same packets per generator CPU-second: for each relayed packet the
  // generator made one send and one receive, as the server did, so the two
  // figures compare directly.
  std::optional<double> RelayedPerClientCpuSecond() const;
};

std::string FormatHuman(const Report& r);
std::string FormatJson(const Report& r);

// /proc/PID/stat: utime + stime (fields 14 and 15, in clock ticks). The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted after the last ')'.
std::optional<uint64_t> ParseStatCpuTicks(std::string_view stat);
// /proc/PID/status: the "VmRSS:  1234 kB" line, in KiB.
std::optional<int64_t> ParseStatusRssKib(std::string_view status);

// Reading those files; nullopt when the process is gone or unreadable.
std::optional<double> ReadCpuSeconds(int pid);
std::optional<int64_t> ReadRssKib(int pid);

}  // namespace uturn::loadtest
