#include "server/gso_batcher.h"

#include <netinet/udp.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

stun::SocketAddress Addr(uint16_t port) {
  return *stun::SocketAddress::Parse("192.0.2.1:" + std::to_string(port));
}

// Records what the batcher submits: (fd, port, sizes of the datagrams, cookies).
struct Sent {
  int fd;
  uint16_t port;
  std::vector<size_t> sizes;
  std::vector<int32_t> cookies;
  uint16_t segment_size;
};

class GsoBatcherTest : public ::testing::Test {
 protected:
  explicit GsoBatcherTest(uint32_t pool = 8, uint32_t open = 2)
      : batcher_(pool, open, [this](GsoBatch& b) {
          Sent s{b.fd, b.to.port, {}, {}, b.segment_size};
          for (uint32_t i = 0; i < b.count; ++i) {
            s.sizes.push_back(b.iov[i].iov_len);
            s.cookies.push_back(b.cookies[i]);
          }
          sent_.push_back(s);
          submitted_.push_back(&b);
        }) {}

  bool Add(int fd, uint16_t port, size_t size, int32_t cookie, bool gso = true) {
    data_.resize(std::max(data_.size(), size));
    return batcher_.Add(fd, Addr(port), std::span<const uint8_t>(data_.data(), size), cookie,
                        gso);
  }

  std::vector<uint8_t> data_ = std::vector<uint8_t>(2000);
  std::vector<Sent> sent_;
  std::vector<GsoBatch*> submitted_;
  GsoBatcher batcher_;
};

TEST_F(GsoBatcherTest, SameDestinationAndSizeBecomeOneBatch) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Add(3, 1000, 172, i));
  EXPECT_TRUE(sent_.empty()) << "nothing leaves before the end of the turn";
  batcher_.Flush();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].sizes, std::vector<size_t>(5, 172));
  EXPECT_EQ(sent_[0].cookies, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sent_[0].segment_size, 172);
}

TEST_F(GsoBatcherTest, ShorterDatagramEndsTheBatch) {
  ASSERT_TRUE(Add(3, 1000, 172, 0));
  ASSERT_TRUE(Add(3, 1000, 100, 1));  // may be last, so the batch leaves now
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].sizes, (std::vector<size_t>{172, 100}));
  ASSERT_TRUE(Add(3, 1000, 172, 2));  // starts a new batch
  batcher_.Flush();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].cookies, std::vector<int32_t>{2});
}

TEST_F(GsoBatcherTest, LongerDatagramLeavesAloneAfterTheOpenBatch) {
  ASSERT_TRUE(Add(3, 1000, 100, 0));
  ASSERT_TRUE(Add(3, 1000, 172, 1));  // cannot be a segment of a 100-byte batch
  batcher_.Flush();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[0].cookies, std::vector<int32_t>{0}) << "order per destination kept";
  EXPECT_EQ(sent_[1].cookies, std::vector<int32_t>{1});
}

TEST_F(GsoBatcherTest, DifferentSocketsOrDestinationsAreSeparate) {
  ASSERT_TRUE(Add(3, 1000, 172, 0));
  ASSERT_TRUE(Add(4, 1000, 172, 1));
  ASSERT_TRUE(Add(3, 1000, 172, 2));
  ASSERT_TRUE(Add(4, 1000, 172, 3));
  batcher_.Flush();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[0].cookies, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(sent_[1].cookies, (std::vector<int32_t>{1, 3}));
}

TEST_F(GsoBatcherTest, OldestOpenBatchLeavesWhenTooManyAreOpen) {
  ASSERT_TRUE(Add(3, 1000, 172, 0));
  ASSERT_TRUE(Add(3, 1001, 172, 1));
  EXPECT_TRUE(sent_.empty());
  ASSERT_TRUE(Add(3, 1002, 172, 2));  // a third destination: max_open is 2
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].port, 1000);
  EXPECT_EQ(batcher_.open(), 2u);
}

TEST_F(GsoBatcherTest, FullBatchLeavesAtTheSegmentLimit) {
  for (size_t i = 0; i < GsoBatch::kMaxSegments; ++i) {
    ASSERT_TRUE(Add(3, 1000, 100, static_cast<int32_t>(i)));
  }
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].sizes.size(), GsoBatch::kMaxSegments);
  EXPECT_EQ(batcher_.open(), 0u);
}

TEST_F(GsoBatcherTest, ByteLimitStartsANewBatch) {
  // 1,400-byte segments: 46 fit under kMaxBytes, the 47th starts a new batch.
  const size_t fit = GsoBatch::kMaxBytes / 1400;
  for (size_t i = 0; i <= fit; ++i) ASSERT_TRUE(Add(3, 1000, 1400, static_cast<int32_t>(i)));
  batcher_.Flush();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[0].sizes.size(), fit);
  EXPECT_EQ(sent_[1].sizes.size(), 1u);
}

TEST_F(GsoBatcherTest, LargeOrEmptyOrRefusedGoAlone) {
  ASSERT_TRUE(Add(3, 1000, GsoBatcher::kMaxSegmentSize + 1, 0));
  ASSERT_TRUE(Add(3, 1000, 0, 1));
  ASSERT_TRUE(Add(5, 1000, 172, 2, /*gso=*/false));
  ASSERT_TRUE(Add(5, 1000, 172, 3, /*gso=*/false));
  EXPECT_EQ(sent_.size(), 4u) << "each submitted at once, none held open";
  for (const Sent& s : sent_) EXPECT_EQ(s.sizes.size(), 1u);
}

TEST_F(GsoBatcherTest, PoolExhaustionRefusesAndReleaseRecovers) {
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Add(3, static_cast<uint16_t>(2000 + i), 172, i, false));
  EXPECT_EQ(batcher_.in_flight(), 8u);
  EXPECT_FALSE(Add(3, 3000, 172, 99, false));
  batcher_.Release(*submitted_[0]);
  EXPECT_TRUE(Add(3, 3000, 172, 99, false));
}

TEST(GsoBatchTest, MessageCarriesUdpSegmentOnlyForSeveralDatagrams) {
  uint8_t data[400] = {};
  GsoBatch b;
  b.fd = 3;
  b.to = Addr(4000);
  b.iov[0] = iovec{data, 200};
  b.count = 1;
  b.segment_size = 200;
  b.PrepareMessage();
  EXPECT_EQ(b.msg.msg_control, nullptr);
  EXPECT_EQ(b.msg.msg_iovlen, 1u);
  b.iov[1] = iovec{data + 200, 150};
  b.count = 2;
  b.PrepareMessage();
  ASSERT_NE(b.msg.msg_control, nullptr);
  const cmsghdr* c = CMSG_FIRSTHDR(&b.msg);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmsg_level, SOL_UDP);
  EXPECT_EQ(c->cmsg_type, UDP_SEGMENT);
  uint16_t seg = 0;
  std::memcpy(&seg, CMSG_DATA(c), sizeof seg);
  EXPECT_EQ(seg, 200);
  EXPECT_EQ(b.msg.msg_iovlen, 2u);
  EXPECT_EQ(b.msg.msg_namelen, sizeof(sockaddr_in));
}

}  // namespace
}  // namespace uturn::server
