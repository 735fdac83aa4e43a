#include "server/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>

namespace uturn::server {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};

bool NeedsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

}  // namespace

const char* ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warn";
    case LogLevel::kError: return "error";
  }
  return "unknown";
}

void AppendLogfmtValue(std::string* out, std::string_view value) {
  if (!NeedsQuoting(value)) {
    out->append(value);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : value) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        // Bytes >= 0x80 are escaped too: values may be peer-supplied and not
        // valid UTF-8, and a log line should stay plain ASCII.
        if (c < 0x20 || c >= 0x7F) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string FormatLogLine(LogLevel level, std::string_view event,
                          std::initializer_list<LogField> fields) {
  std::string line = "level=";
  line.append(ToString(level));
  line.append(" event=");
  AppendLogfmtValue(&line, event);
  for (const LogField& f : fields) {
    assert(!f.key.empty() && !NeedsQuoting(f.key));  // keys are ours, not a peer's
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    AppendLogfmtValue(&line, f.value);
  }
  return line;
}

void SetMinLogLevel(LogLevel level) { g_min_level.store(level, std::memory_order_relaxed); }

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  std::string line = FormatLogLine(level, event, fields);
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing stderr
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

RateLimiter::RateLimiter(double rate_per_second, double burst)
    : rate_per_ns_(rate_per_second / 1e9), burst_(burst), tokens_(burst) {
  assert(rate_per_second > 0 && burst >= 1);
}

bool RateLimiter::Allow(int64_t now_ns) {
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
  }
  if (now_ns > last_ns_) {  // a clock that steps back refills nothing
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
    last_ns_ = now_ns;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t RateLimiter::TakeSuppressed() {
  const uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

}  // namespace uturn::server
