#include "loadtest/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "absl/strings/match.h"

namespace uturn::loadtest {
namespace {

Report Sample() {
  Report r;
  r.server = "127.0.0.1:3478";
  r.mode = "channel";
  r.allocations_wanted = 10;
  r.allocations_ok = 8;
  r.allocations_failed = 2;
  r.allocate_seconds = 0.5;
  r.payload = 172;
  r.rate_offered = 1000;
  r.send_seconds = 2;
  r.sent = 2000;
  r.peer_received = 1990;
  return r;
}

TEST(Report, RatesAndLoss) {
  Report r = Sample();
  EXPECT_DOUBLE_EQ(r.AllocationsPerSecond(), 16);
  EXPECT_DOUBLE_EQ(r.SentPerSecond(), 1000);
  EXPECT_DOUBLE_EQ(r.DeliveredPerSecond(), 995);
  EXPECT_DOUBLE_EQ(r.Loss(), 0.005);
  r.echo = true;  // delivered now means back at the client
  r.echoed_received = 1500;
  EXPECT_DOUBLE_EQ(r.Loss(), 0.25);
  r.echoed_received = 2500;  // duplicates never make loss negative
  EXPECT_DOUBLE_EQ(r.Loss(), 0);
  EXPECT_EQ(Report{}.Loss(), 0);
  EXPECT_EQ(Report{}.SentPerSecond(), 0);
}

TEST(Report, ServerFiguresOnlyWhenMeasured) {
  Report r = Sample();
  EXPECT_FALSE(r.RssPerAllocationBytes().has_value());
  EXPECT_FALSE(r.RelayedPerCpuSecond().has_value());
  r.rss_before_kib = 1000;
  r.rss_after_kib = 1016;
  EXPECT_DOUBLE_EQ(*r.RssPerAllocationBytes(), 16 * 1024.0 / 8);
  r.server_cpu_seconds = 0;
  EXPECT_FALSE(r.RelayedPerCpuSecond().has_value());
  r.server_cpu_seconds = 0.5;
  EXPECT_DOUBLE_EQ(*r.RelayedPerCpuSecond(), 1990 / 0.5);
  r.echo = true;
  r.echoed_received = 1000;  // both directions count
  EXPECT_DOUBLE_EQ(*r.RelayedPerCpuSecond(), 2990 / 0.5);
}

TEST(Report, HumanSummaryNamesTheFigures) {
  Report r = Sample();
  r.echo = true;
  r.echoed_received = 1980;
  r.rtt_ns.Add(50000);
  const std::string s = FormatHuman(r);
  EXPECT_TRUE(absl::StrContains(s, "8 ok, 2 failed of 10")) << s;
  EXPECT_TRUE(absl::StrContains(s, "1000 pps offered")) << s;
  EXPECT_TRUE(absl::StrContains(s, "sent         2000")) << s;
  EXPECT_TRUE(absl::StrContains(s, "loss 1.0000%")) << s;
  EXPECT_TRUE(absl::StrContains(s, "p50 50.0")) << s;
  EXPECT_FALSE(absl::StrContains(s, "server CPU")) << s;
  EXPECT_FALSE(absl::StrContains(s, "client CPU")) << s;
  EXPECT_FALSE(absl::StrContains(s, ", io ")) << s;
  r.io = "uring";
  r.client_cpu_seconds = 0.5;
  const std::string t = FormatHuman(r);
  EXPECT_TRUE(absl::StrContains(t, "burst 1, echo, io uring\n")) << t;
  // (1990 at the peers + 1980 echoed) / 0.5 s
  EXPECT_TRUE(absl::StrContains(t, "client CPU   0.50 s = 7940 relayed pkts/CPU-s")) << t;
}

TEST(Report, ClientFiguresCountLikeTheServers) {
  Report r = Sample();
  EXPECT_FALSE(r.RelayedPerClientCpuSecond().has_value());
  r.client_cpu_seconds = 0;
  EXPECT_FALSE(r.RelayedPerClientCpuSecond().has_value());
  r.client_cpu_seconds = 0.25;
  EXPECT_DOUBLE_EQ(*r.RelayedPerClientCpuSecond(), 1990 / 0.25);
  r.echo = true;
  r.echoed_received = 10;
  EXPECT_DOUBLE_EQ(*r.RelayedPerClientCpuSecond(), 2000 / 0.25);
  EXPECT_FALSE(r.RelayedPerCpuSecond().has_value());  // the server's stays unmeasured
}

TEST(Report, JsonHasEveryFieldAndNullsForUnmeasured) {
  Report r = Sample();
  r.server = "a\"b";  // escaped
  const std::string j = FormatJson(r);
  EXPECT_TRUE(absl::StrContains(j, "\"server\":\"a\\\"b\"")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"ok\":8,\"failed\":2")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"sent\":2000")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"peer_received\":1990")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"loss\":0.005")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"rtt_us\":null")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"server_cpu_seconds\":null")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"rss_bytes_per_allocation\":null")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"client_cpu_seconds\":null")) << j;
  EXPECT_TRUE(absl::StrContains(j, "\"client_relayed_per_cpu_second\":null")) << j;
  EXPECT_FALSE(absl::StrContains(j, "\"io\"")) << j;
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
  r.echo = true;
  r.rtt_ns.Add(1000);
  r.server_cpu_seconds = 2;
  r.client_cpu_seconds = 4;
  r.io = "epoll";
  const std::string j2 = FormatJson(r);
  EXPECT_TRUE(absl::StrContains(j2, "\"echo\":true,\"io\":\"epoll\",")) << j2;
  EXPECT_TRUE(absl::StrContains(j2, "\"relayed_per_cpu_second\":995,")) << j2;
  EXPECT_TRUE(absl::StrContains(j2, "\"client_cpu_seconds\":4,")) << j2;
  EXPECT_TRUE(absl::StrContains(j2, "\"client_relayed_per_cpu_second\":497.5}")) << j2;
  EXPECT_TRUE(absl::StrContains(j2, "\"rtt_us\":{\"count\":1,\"p50\":1.0")) << j2;
  EXPECT_TRUE(absl::StrContains(j2, "\"server_cpu_seconds\":2")) << j2;
}

TEST(ProcParsing, StatCountsFieldsAfterTheCommandName) {
  // Field 2 with spaces and a ')' inside; utime 1500, stime 250.
  const std::string stat =
      "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1500 250 0 0 20 0 3 0 99 1000 200";
  EXPECT_EQ(ParseStatCpuTicks(stat), 1750u);
  EXPECT_FALSE(ParseStatCpuTicks("1234 no paren S 1 2 3").has_value());
  EXPECT_FALSE(ParseStatCpuTicks("1234 (x) S 1 2 3").has_value());  // too few fields
  EXPECT_FALSE(
      ParseStatCpuTicks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 250 0").has_value());  // not a number
}

TEST(ProcParsing, StatusVmRss) {
  EXPECT_EQ(ParseStatusRssKib("Name:\tx\nVmPeak:\t  99 kB\nVmRSS:\t    4321 kB\nThreads: 1\n"), 4321);
  EXPECT_FALSE(ParseStatusRssKib("Name:\tx\n").has_value());
  EXPECT_FALSE(ParseStatusRssKib("VmRSS:\t12 MB\n").has_value());
  EXPECT_FALSE(ParseStatusRssKib("VmRSS:\tlots kB\n").has_value());
}

TEST(ProcParsing, ReadsThisProcess) {
  EXPECT_TRUE(ReadCpuSeconds(::getpid()).has_value());
  const auto rss = ReadRssKib(::getpid());
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 0);
  EXPECT_FALSE(ReadRssKib(-5).has_value());
  EXPECT_FALSE(ReadCpuSeconds(-5).has_value());
}

}  // namespace
}  // namespace uturn::loadtest
