#include "server/log.h"

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

std::string Value(std::string_view v) {
  std::string out;
  AppendLogfmtValue(&out, v);
  return out;
}

TEST(LogfmtTest, PlainValuesStayBare) {
  EXPECT_EQ(Value("udp"), "udp");
  EXPECT_EQ(Value("127.0.0.1:3478"), "127.0.0.1:3478");
  EXPECT_EQ(Value("[::1]:3478"), "[::1]:3478");
}

TEST(LogfmtTest, SpecialCharactersAreQuotedAndEscaped) {
  EXPECT_EQ(Value(""), "\"\"");
  EXPECT_EQ(Value("a b"), "\"a b\"");
  EXPECT_EQ(Value("k=v"), "\"k=v\"");
  EXPECT_EQ(Value("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(Value("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(Value("two\nlines\r\t"), "\"two\\nlines\\r\\t\"");
  EXPECT_EQ(Value(std::string_view("\x01\x7f\xff", 3)), "\"\\x01\\x7f\\xff\"");
}

TEST(LogfmtTest, InjectedFieldsCannotBreakTheLine) {
  const std::string line =
      FormatLogLine(LogLevel::kWarning, "bad_request", {{"software", "x\nlevel=error event=fake"}});
  EXPECT_EQ(line, "level=warn event=bad_request software=\"x\\nlevel=error event=fake\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogfmtTest, FormatsLevelEventAndFieldsInOrder) {
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, "listening",
                          {{"transport", "udp"}, {"address", "127.0.0.1:3478"}}),
            "level=info event=listening transport=udp address=127.0.0.1:3478");
  EXPECT_EQ(FormatLogLine(LogLevel::kError, "stopped", {{"count", uint64_t{7}}, {"n", -3}}),
            "level=error event=stopped count=7 n=-3");
  EXPECT_EQ(FormatLogLine(LogLevel::kDebug, "x", {}), "level=debug event=x");
}

constexpr int64_t kSecond = 1'000'000'000;

TEST(RateLimiterTest, AllowsABurstThenRefusesAndCounts) {
  RateLimiter limiter(/*rate_per_second=*/1, /*burst=*/3);
  const int64_t t0 = 5 * kSecond;
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_FALSE(limiter.Allow(t0));
  EXPECT_FALSE(limiter.Allow(t0 + kSecond / 2));
  EXPECT_EQ(limiter.TakeSuppressed(), 2u);
  EXPECT_EQ(limiter.TakeSuppressed(), 0u);
}

TEST(RateLimiterTest, RefillsAtTheRateUpToTheBurst) {
  RateLimiter limiter(2, 2);
  EXPECT_TRUE(limiter.Allow(0));
  EXPECT_TRUE(limiter.Allow(0));
  EXPECT_FALSE(limiter.Allow(0));
  EXPECT_TRUE(limiter.Allow(kSecond / 2));  // one token after 0.5 s at 2/s
  EXPECT_FALSE(limiter.Allow(kSecond / 2));
  // A long pause refills only up to the burst.
  EXPECT_TRUE(limiter.Allow(100 * kSecond));
  EXPECT_TRUE(limiter.Allow(100 * kSecond));
  EXPECT_FALSE(limiter.Allow(100 * kSecond));
}

TEST(RateLimiterTest, ClockGoingBackwardsRefillsNothing) {
  RateLimiter limiter(1, 1);
  EXPECT_TRUE(limiter.Allow(10 * kSecond));
  EXPECT_FALSE(limiter.Allow(1 * kSecond));
  EXPECT_FALSE(limiter.Allow(10 * kSecond));
  EXPECT_TRUE(limiter.Allow(11 * kSecond));
}

}  // namespace
}  // namespace uturn::server
