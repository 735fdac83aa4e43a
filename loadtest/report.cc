#include "loadtest/report.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace uturn::loadtest {
namespace {

double PerSecond(double n, double seconds) { return seconds > 0 ? n / seconds : 0; }

std::string Us(uint64_t ns) { return absl::StrFormat("%.1f", static_cast<double>(ns) / 1000); }

std::string JsonNumberOrNull(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.6g", *v) : "null";
}

// Only our own strings go into JSON (addresses, mode names); escape anyway.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

double Report::AllocationsPerSecond() const { return PerSecond(allocations_ok, allocate_seconds); }
double Report::SentPerSecond() const { return PerSecond(static_cast<double>(sent), send_seconds); }
double Report::DeliveredPerSecond() const {
  return PerSecond(static_cast<double>(Delivered()), send_seconds);
}

double Report::Loss() const {
  if (sent == 0) return 0;
  const uint64_t got = std::min(Delivered(), sent);
  return static_cast<double>(sent - got) / static_cast<double>(sent);
}

std::optional<double> Report::RssPerAllocationBytes() const {
  if (!rss_before_kib || !rss_after_kib || allocations_ok == 0) return std::nullopt;
  return static_cast<double>(*rss_after_kib - *rss_before_kib) * 1024.0 / allocations_ok;
}

namespace {
std::optional<double> RelayedPer(const Report& r, const std::optional<double>& cpu_seconds) {
  if (!cpu_seconds || *cpu_seconds <= 0) return std::nullopt;
  // Echo mode: every delivered packet crossed the relay twice.
  const double relayed =
      static_cast<double>(r.peer_received) + static_cast<double>(r.echoed_received);
  return relayed / *cpu_seconds;
}
}  // namespace

std::optional<double> Report::RelayedPerCpuSecond() const {
  return RelayedPer(*this, server_cpu_seconds);
}
std::optional<double> Report::RelayedPerClientCpuSecond() const {
  return RelayedPer(*this, client_cpu_seconds);
}

std::string FormatHuman(const Report& r) {
  std::string s;
  absl::StrAppendFormat(&s, "server %s, %s, %u-byte payloads, %s, burst %u%s%s\n", r.server,
                        r.mode, r.payload,
                        r.rate_offered > 0 ? absl::StrFormat("%.0f pps offered", r.rate_offered)
                                           : std::string("unpaced"),
                        r.burst, r.echo ? ", echo" : "",
                        r.io.empty() ? std::string() : absl::StrCat(", io ", r.io));
  absl::StrAppendFormat(&s, "allocations  %u ok, %u failed of %u in %.3f s = %.0f/s\n",
                        r.allocations_ok, r.allocations_failed, r.allocations_wanted,
                        r.allocate_seconds, r.AllocationsPerSecond());
  if (auto b = r.RssPerAllocationBytes()) {
    absl::StrAppendFormat(&s, "server RSS   %d KiB -> %d KiB = %.0f bytes/allocation\n",
                          *r.rss_before_kib, *r.rss_after_kib, *b);
  }
  if (r.send_seconds > 0) {
    absl::StrAppendFormat(&s, "sent         %u in %.3f s = %.0f pps (%u send errors)\n", r.sent,
                          r.send_seconds, r.SentPerSecond(), r.send_errors);
    absl::StrAppendFormat(&s, "at peers     %u\n", r.peer_received);
    if (r.echo) absl::StrAppendFormat(&s, "echoed back  %u\n", r.echoed_received);
    absl::StrAppendFormat(&s, "delivered    %.0f pps, loss %.4f%%\n", r.DeliveredPerSecond(),
                          100 * r.Loss());
    if (r.echo && r.rtt_ns.count() > 0) {
      absl::StrAppendFormat(&s, "rtt us       p50 %s  p99 %s  p99.9 %s  max %s\n",
                            Us(r.rtt_ns.Percentile(0.5)), Us(r.rtt_ns.Percentile(0.99)),
                            Us(r.rtt_ns.Percentile(0.999)), Us(r.rtt_ns.max()));
    }
  }
  if (r.server_cpu_seconds) {
    absl::StrAppendFormat(&s, "server CPU   %.2f s", *r.server_cpu_seconds);
    if (auto p = r.RelayedPerCpuSecond()) absl::StrAppendFormat(&s, " = %.0f relayed pkts/CPU-s", *p);
    s += "\n";
  }
  if (r.client_cpu_seconds) {
    absl::StrAppendFormat(&s, "client CPU   %.2f s", *r.client_cpu_seconds);
    if (auto p = r.RelayedPerClientCpuSecond()) {
      absl::StrAppendFormat(&s, " = %.0f relayed pkts/CPU-s", *p);
    }
    s += "\n";
  }
  if (r.foreign > 0) absl::StrAppendFormat(&s, "foreign      %u datagrams ignored\n", r.foreign);
  return s;
}

std::string FormatJson(const Report& r) {
  std::optional<double> rss_before, rss_after;
  if (r.rss_before_kib) rss_before = static_cast<double>(*r.rss_before_kib);
  if (r.rss_after_kib) rss_after = static_cast<double>(*r.rss_after_kib);
  std::string s = "{";
  absl::StrAppend(&s, "\"server\":", JsonString(r.server), ",\"mode\":", JsonString(r.mode),
                  ",\"payload\":", r.payload, ",\"burst\":", r.burst, ",\"echo\":",
                  r.echo ? "true" : "false");
  if (!r.io.empty()) absl::StrAppend(&s, ",\"io\":", JsonString(r.io));
  absl::StrAppendFormat(&s, ",\"rate_offered\":%.6g", r.rate_offered);
  absl::StrAppend(&s, ",\"allocations\":{\"wanted\":", r.allocations_wanted,
                  ",\"ok\":", r.allocations_ok, ",\"failed\":", r.allocations_failed);
  absl::StrAppendFormat(&s, ",\"seconds\":%.6g,\"per_second\":%.6g", r.allocate_seconds,
                        r.AllocationsPerSecond());
  absl::StrAppend(&s, ",\"server_rss_before_kib\":", JsonNumberOrNull(rss_before),
                  ",\"server_rss_after_kib\":", JsonNumberOrNull(rss_after),
                  ",\"rss_bytes_per_allocation\":", JsonNumberOrNull(r.RssPerAllocationBytes()),
                  "}");
  absl::StrAppendFormat(&s, ",\"data\":{\"seconds\":%.6g", r.send_seconds);
  absl::StrAppend(&s, ",\"sent\":", r.sent, ",\"send_errors\":", r.send_errors,
                  ",\"peer_received\":", r.peer_received, ",\"echoed_received\":",
                  r.echoed_received, ",\"foreign\":", r.foreign);
  absl::StrAppendFormat(&s, ",\"sent_pps\":%.6g,\"delivered_pps\":%.6g,\"loss\":%.6g",
                        r.SentPerSecond(), r.DeliveredPerSecond(), r.Loss());
  if (r.echo && r.rtt_ns.count() > 0) {
    absl::StrAppend(&s, ",\"rtt_us\":{\"count\":", r.rtt_ns.count(),
                    ",\"p50\":", Us(r.rtt_ns.Percentile(0.5)),
                    ",\"p99\":", Us(r.rtt_ns.Percentile(0.99)),
                    ",\"p999\":", Us(r.rtt_ns.Percentile(0.999)), ",\"max\":", Us(r.rtt_ns.max()),
                    "}");
  } else {
    s += ",\"rtt_us\":null";
  }
  absl::StrAppend(&s, "},\"server_cpu_seconds\":", JsonNumberOrNull(r.server_cpu_seconds),
                  ",\"relayed_per_cpu_second\":", JsonNumberOrNull(r.RelayedPerCpuSecond()),
                  ",\"client_cpu_seconds\":", JsonNumberOrNull(r.client_cpu_seconds),
                  ",\"client_relayed_per_cpu_second\":",
                  JsonNumberOrNull(r.RelayedPerClientCpuSecond()), "}");
  return s;
}

std::optional<uint64_t> ParseStatCpuTicks(std::string_view stat_text) {
  // This Abseil's string_view is not std::string_view.
  const absl::string_view stat(stat_text.data(), stat_text.size());
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) return std::nullopt;
  // After ") " come fields 3.. (state, ppid, ...); utime is field 14.
  const std::vector<absl::string_view> f =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3;
  if (f.size() <= kStime) return std::nullopt;
  uint64_t u = 0, st = 0;
  if (!absl::SimpleAtoi(f[kUtime], &u) || !absl::SimpleAtoi(f[kStime], &st)) return std::nullopt;
  return u + st;
}

std::optional<int64_t> ParseStatusRssKib(std::string_view status_text) {
  const absl::string_view status(status_text.data(), status_text.size());
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumeSuffix(&line, "kB")) return std::nullopt;
    int64_t v = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &v) || v < 0) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<double> ReadCpuSeconds(int pid) {
  const auto text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!text) return std::nullopt;
  const auto ticks = ParseStatCpuTicks(*text);
  const long hz = ::sysconf(_SC_CLK_TCK);
  if (!ticks || hz <= 0) return std::nullopt;
  return static_cast<double>(*ticks) / static_cast<double>(hz);
}

std::optional<int64_t> ReadRssKib(int pid) {
  const auto text = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!text) return std::nullopt;
  return ParseStatusRssKib(*text);
}

}  // namespace uturn::loadtest
