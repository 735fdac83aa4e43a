// uturn-load's command line: what to run, parsed and checked without touching
// the network, so every refusal (bad value, non-loopback target) is testable.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "stun/address.h"

namespace uturn::loadtest {

enum class DataMode : uint8_t { kChannel, kSend };  // RFC 8656 §12 / §10
// How datagrams move (transport.h). auto: io_uring, or epoll when io_uring
// cannot be set up (seccomp, kernel.io_uring_disabled, old kernel).
enum class IoBackend : uint8_t { kAuto, kUring, kEpoll };

struct Options {
  stun::SocketAddress server = stun::SocketAddress::V4({127, 0, 0, 1}, 3478);
  // Exactly one of: long-term user (`--user u:p`), REST secret (`--secret S`),
  // or `--no-auth`.
  std::string user, password;
  std::string secret;
  std::string rest_name = "uturn-load";
  bool no_auth = false;

  uint32_t allocations = 1;
  uint32_t window = 64;         // Allocate requests in flight at once
  uint32_t peer_sockets = 16;   // peers shared round-robin by allocations
  std::string peer_ip = "127.0.0.1";
  DataMode mode = DataMode::kChannel;
  uint32_t payload = 172;       // bytes of application data per packet
  double rate = 1000;           // packets/s offered in total; 0 = as fast as possible
  uint32_t burst = 1;           // packets per allocation in a row; 1 = interleaved
  double duration_s = 5;
  double drain_s = 0.5;         // wait for stragglers after the last send
  bool echo = false;            // peers send every packet back (RTT measured)
  bool alloc_only = false;      // measure allocation rate / memory, no data
  int server_pid = 0;           // for CPU seconds and RSS; 0 = not measured
  bool json = false;
  bool quiet = false;           // no progress line
  IoBackend io = IoBackend::kAuto;
};

// Probe header at the start of every payload (see probe.h).
inline constexpr uint32_t kMinPayload = 24;
// Permissions last 300 s and are not refreshed by the generator (RFC 8656 §9),
// so runs stay well inside that.
inline constexpr double kMaxDurationSeconds = 240;
inline constexpr uint32_t kMaxAllocations = 100000;

// True for 127.0.0.0/8 and ::1: the only places uturn-load sends to.
bool IsLoopback(const stun::SocketAddress& a);

// Parses argv[1..]; the error says which option is wrong. `--help` yields a
// NotFound status whose message is the usage text.
absl::StatusOr<Options> ParseOptions(std::span<const std::string_view> args);
std::string Usage();

// TURN REST API credentials (draft-uberti-behave-turn-rest-00 §2.2, as coturn
// and uturn accept them): username "expiry:name", password
// base64(HMAC-SHA1(secret, username)).
std::string RestUsername(int64_t expiry_unix_seconds, std::string_view name);
std::string RestPassword(std::string_view secret, std::string_view username);

}  // namespace uturn::loadtest
