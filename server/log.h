// One-line structured events on stderr in logfmt (`level=info event=ready
// key=value ...`), and a token-bucket rate limiter for log paths an attacker
// can trigger (DESIGN.md §Observability).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace uturn::server {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError };
const char* ToString(LogLevel level);

struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, int64_t v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  std::string_view key;
  std::string value;
};

// Appends `value` as a logfmt value: bare when it is non-empty and holds only
// printable ASCII other than space, '"', '=' and '\'; otherwise double-quoted
// with \" \\ \n \r \t and \xNN escapes, so one event is always one line and a
// peer-supplied string cannot forge fields.
void AppendLogfmtValue(std::string* out, std::string_view value);

// "level=<level> event=<event> k=v ..." without a trailing newline.
std::string FormatLogLine(LogLevel level, std::string_view event,
                          std::initializer_list<LogField> fields);

// Formats and writes the line plus '\n' to stderr with one write(2), so lines
// from different threads do not interleave. Lines below the minimum level
// are skipped.
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
void SetMinLogLevel(LogLevel level);

// Token bucket: `rate_per_second` tokens refill continuously up to `burst`.
// Time is injected (nanoseconds of any monotonic clock), so it is testable
// and costs no clock read. Not thread-safe: one per shard.
class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst);

  // True if an event may be logged now; false counts it as suppressed.
  bool Allow(int64_t now_ns);
  // Events refused since the last call, then resets (log it as
  // `suppressed=N` on the next allowed line).
  uint64_t TakeSuppressed();

 private:
  double rate_per_ns_;
  double burst_;
  double tokens_;
  int64_t last_ns_ = 0;
  bool started_ = false;
  uint64_t suppressed_ = 0;
};

}  // namespace uturn::server
