#include "server/shard_plan.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/options.h"

namespace uturn::server {
namespace {

// The properties every split must have, checked port by port.
void ExpectPartition(uint16_t min, uint16_t max, uint32_t shards) {
  absl::StatusOr<std::vector<PortSlice>> slices = SlicePortRange(min, max, shards);
  ASSERT_TRUE(slices.ok()) << slices.status();
  ASSERT_EQ(slices->size(), shards);
  uint32_t next = min;
  uint32_t smallest = 65536, largest = 0;
  for (const PortSlice& s : *slices) {
    EXPECT_EQ(s.min, next) << "slices must be contiguous and in order";
    ASSERT_LE(s.min, s.max);
    const uint32_t size = uint32_t{s.max} - s.min + 1;
    smallest = std::min(smallest, size);
    largest = std::max(largest, size);
    next = uint32_t{s.max} + 1;
  }
  EXPECT_EQ(next, uint32_t{max} + 1) << "slices must cover the range";
  EXPECT_LE(largest - smallest, 2u);
}

TEST(SlicePortRangeTest, OneShardGetsTheWholeRange) {
  auto s = SlicePortRange(49152, 65535, 1);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].min, 49152);
  EXPECT_EQ((*s)[0].max, 65535);
}

TEST(SlicePortRangeTest, TwoShardsSplitEvenly) {
  auto s = SlicePortRange(50000, 50099, 2);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].min, 50000);
  EXPECT_EQ((*s)[0].max, 50049);
  EXPECT_EQ((*s)[1].min, 50050);
  EXPECT_EQ((*s)[1].max, 50099);
}

TEST(SlicePortRangeTest, PartitionsForManyShapes) {
  ExpectPartition(49152, 65535, 2);
  ExpectPartition(49152, 65535, 7);
  ExpectPartition(1, 65535, 64);
  ExpectPartition(50000, 50100, 3);
  ExpectPartition(50001, 50010, 4);
  ExpectPartition(50000, 50004, 5);  // one port each
  ExpectPartition(65535, 65535, 1);
}

TEST(SlicePortRangeTest, InteriorSlicesStartEvenWhenEachHoldsTwoPorts) {
  // 50000..50014: 15 ports over 4 shards; naive boundaries 50003, 50007,
  // 50011 are odd, and EVEN-PORT with R needs an even port and its successor
  // in the same slice (RFC 8656 §7.2).
  auto s = SlicePortRange(50000, 50014, 4);
  ASSERT_TRUE(s.ok());
  for (size_t k = 1; k < s->size(); ++k) EXPECT_EQ((*s)[k].min % 2, 0) << k;
  ExpectPartition(50000, 50014, 4);
}

TEST(SlicePortRangeTest, MoreShardsThanPortsIsRefused) {
  auto s = SlicePortRange(50000, 50002, 4);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.status().message()).find("--relay-threads"), std::string::npos)
      << s.status();
  EXPECT_FALSE(SlicePortRange(50000, 50000, 2).ok());
}

TEST(SlicePortRangeTest, ZeroShardsOrEmptyRangeIsRefused) {
  EXPECT_FALSE(SlicePortRange(50000, 50010, 0).ok());
  EXPECT_FALSE(SlicePortRange(50010, 50000, 1).ok());
}

// --relay-threads 0: one shard per CPU, within limits.
Config AutoConfig() {
  absl::StatusOr<Config> c = ParseOptions(std::vector<std::string_view>{"--relay-threads", "0"});
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

TEST(ResolveShardCountTest, AutoIsTheCpuCount) {
  auto n = ResolveShardCount(AutoConfig(), 6);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count, 6u);
  EXPECT_TRUE(n->note.empty());
  EXPECT_EQ(ResolveShardCount(AutoConfig(), 0)->count, 1u);  // unknown CPU count
}

TEST(ResolveShardCountTest, AutoShrinksToThePortRange) {
  Config c = AutoConfig();
  c.min_port = 50000;
  c.max_port = 50000;
  auto n = ResolveShardCount(c, 8);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count, 1u);
  EXPECT_FALSE(n->note.empty());
  c.max_port = 50002;
  EXPECT_EQ(ResolveShardCount(c, 8)->count, 3u);
}

// Quotas are counted across shards (server/shared_quota_ledger.h), so they
// no longer limit the shard count.
TEST(ResolveShardCountTest, QuotasDoNotLimitTheShardCount) {
  Config c = AutoConfig();
  c.user_quota = 1;
  c.total_quota = 10;
  auto n = ResolveShardCount(c, 4);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count, 4u);
  EXPECT_TRUE(n->note.empty());
}

TEST(ResolveShardCountTest, ExplicitCountWins) {
  Config c = AutoConfig();
  c.relay_threads = 3;
  auto n = ResolveShardCount(c, 16);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count, 3u);
  EXPECT_TRUE(n->note.empty());
}

TEST(ResolveShardCountTest, ExplicitCountAboveThePortRangeIsRefused) {
  Config c = AutoConfig();
  c.min_port = 50000;
  c.max_port = 50001;
  c.relay_threads = 3;
  auto n = ResolveShardCount(c, 1);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(std::string(n.status().message()).find("--relay-threads"), std::string::npos);
  c.relay_threads = 2;
  EXPECT_TRUE(ResolveShardCount(c, 1).ok());
}

// The options themselves, through the table.
TEST(ShardOptionsTest, DefaultsAndValues) {
  absl::StatusOr<Config> c = ParseOptions({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->relay_threads, 0u);
  EXPECT_EQ(c->drain_seconds, 0u);
  EXPECT_EQ(ResolveShardCount(*c, 8)->count, 8u);  // DESIGN.md: one shard per CPU by default
  absl::StatusOr<Config> p =
      ParseOptions(std::vector<std::string_view>{"--relay-threads", "4", "--drain-seconds=30"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->relay_threads, 4u);
  EXPECT_EQ(p->drain_seconds, 30u);
}

TEST(ShardOptionsTest, BadValuesAreRefusedNamingTheOption) {
  for (const std::vector<std::string_view>& args :
       {std::vector<std::string_view>{"--relay-threads", "1025"},
        std::vector<std::string_view>{"--relay-threads", "two"},
        std::vector<std::string_view>{"--drain-seconds", "-1"},
        std::vector<std::string_view>{"--drain-seconds", "86401"}}) {
    absl::StatusOr<Config> p = ParseOptions(args);
    ASSERT_FALSE(p.ok()) << args[0] << " " << args[1];
    EXPECT_NE(std::string(p.status().message()).find(std::string(args[0])), std::string::npos)
        << p.status();
  }
}

}  // namespace
}  // namespace uturn::server
