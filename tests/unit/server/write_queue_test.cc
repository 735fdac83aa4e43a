#include "server/write_queue.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uturn::server {
namespace {

using ::testing::ElementsAre;
using Bytes = std::vector<uint8_t>;

Bytes Of(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }

TEST(WriteQueueTest, InFlightChunkIsStableWhileMoreIsAppended) {
  WriteQueue q(100);
  ASSERT_TRUE(q.Append(Bytes{1, 2, 3}));
  auto first = q.Next();
  const uint8_t* where = first.data();
  ASSERT_TRUE(q.Append(Bytes{4, 5}));
  EXPECT_EQ(q.Next().data(), where);  // the kernel may still be reading it
  EXPECT_THAT(Of(q.Next()), ElementsAre(1, 2, 3));
  EXPECT_EQ(q.size(), 5u);
  q.Sent(3);
  EXPECT_THAT(Of(q.Next()), ElementsAre(4, 5));
  q.Sent(2);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.Next().empty());
}

TEST(WriteQueueTest, ShortWritesResumeWhereTheyStopped) {
  WriteQueue q(100);
  ASSERT_TRUE(q.Append(Bytes{1, 2, 3, 4}));
  q.Next();
  q.Sent(1);
  EXPECT_THAT(Of(q.Next()), ElementsAre(2, 3, 4));
  q.Sent(3);
  EXPECT_TRUE(q.empty());
}

TEST(WriteQueueTest, RefusesWhatWouldPassTheLimit) {
  WriteQueue q(4);
  ASSERT_TRUE(q.Append(Bytes{1, 2, 3}));
  EXPECT_FALSE(q.Append(Bytes{4, 5}));
  EXPECT_EQ(q.size(), 3u);  // nothing of the refused append was kept
  EXPECT_TRUE(q.Append(Bytes{4}));
  q.Next();
  q.Sent(2);
  EXPECT_TRUE(q.Append(Bytes{5, 6}));  // sent bytes free room
}

}  // namespace
}  // namespace uturn::server
