#include "server/udp_send_queue.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uturn::server {
namespace {

using ::testing::ElementsAre;

// A scripted sendmmsg: each call records what it was given and answers with
// the next scripted result (a count, or -errno); unscripted calls take all.
struct Call {
  int fd;
  std::vector<std::string> payloads;
  int flags;
};
std::vector<Call> g_calls;
std::vector<int> g_script;

int FakeSendmmsg(int fd, mmsghdr* msgs, unsigned count, int flags) {
  Call c{fd, {}, flags};
  for (unsigned i = 0; i < count; ++i) {
    const iovec& iov = msgs[i].msg_hdr.msg_iov[0];
    c.payloads.emplace_back(static_cast<const char*>(iov.iov_base), iov.iov_len);
    EXPECT_NE(msgs[i].msg_hdr.msg_name, nullptr);
  }
  g_calls.push_back(std::move(c));
  if (g_script.empty()) return static_cast<int>(count);
  const int r = g_script.front();
  g_script.erase(g_script.begin());
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

class UdpSendQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_calls.clear();
    g_script.clear();
  }
  static std::span<const uint8_t> B(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  const stun::SocketAddress to_ = stun::SocketAddress::V4({127, 0, 0, 1}, 9);
};

TEST_F(UdpSendQueueTest, GroupsBySocketKeepingOrderAndNeverBlocks) {
  UdpSendQueue q(8, 64, &FakeSendmmsg);
  const std::string a = "a1", b = "b1", c = "a2", d = "b2";
  EXPECT_EQ(q.Add(5, to_, B(a), {}), UdpSendQueue::Queued::kCopied);
  EXPECT_EQ(q.Add(6, to_, B(b), {}), UdpSendQueue::Queued::kCopied);
  EXPECT_EQ(q.Add(5, to_, B(c), {}), UdpSendQueue::Queued::kCopied);
  EXPECT_EQ(q.Add(6, to_, B(d), {}), UdpSendQueue::Queued::kCopied);
  const UdpSendQueue::FlushResult r = q.Flush();
  ASSERT_EQ(g_calls.size(), 2u);
  EXPECT_EQ(g_calls[0].fd, 5);
  EXPECT_THAT(g_calls[0].payloads, ElementsAre("a1", "a2"));
  EXPECT_EQ(g_calls[1].fd, 6);
  EXPECT_THAT(g_calls[1].payloads, ElementsAre("b1", "b2"));
  EXPECT_EQ(g_calls[0].flags & MSG_DONTWAIT, MSG_DONTWAIT);
  EXPECT_EQ(r.calls, 2u);
  EXPECT_EQ(r.sent, 4u);
  EXPECT_EQ(r.would_block + r.errors, 0u);
  EXPECT_TRUE(q.empty());
}

TEST_F(UdpSendQueueTest, InPlaceWhenInsideTheStableRegionElseCopied) {
  UdpSendQueue q(4, 8, &FakeSendmmsg);
  std::string batch = "0123456789abcdef";
  const std::span<const uint8_t> stable = B(batch);
  EXPECT_EQ(q.Add(3, to_, stable.subspan(2, 12), stable), UdpSendQueue::Queued::kInPlace);
  std::string copy = "xyz";
  EXPECT_EQ(q.Add(3, to_, B(copy), stable), UdpSendQueue::Queued::kCopied);
  copy = "!!!";  // a copy no longer depends on the caller's bytes
  batch[2] = 'Z';  // in place reads the batch at flush time
  q.Flush();
  ASSERT_EQ(g_calls.size(), 1u);
  EXPECT_THAT(g_calls[0].payloads, ElementsAre("Z3456789abcd", "xyz"));
}

TEST_F(UdpSendQueueTest, TooLargeToCopyAndFullAreReported) {
  UdpSendQueue q(2, 4, &FakeSendmmsg);
  EXPECT_EQ(q.Add(3, to_, B("12345"), {}), UdpSendQueue::Queued::kTooLarge);
  EXPECT_EQ(q.Add(3, to_, B("1"), {}), UdpSendQueue::Queued::kCopied);
  EXPECT_EQ(q.Add(3, to_, B("2"), {}), UdpSendQueue::Queued::kCopied);
  EXPECT_EQ(q.Add(3, to_, B("3"), {}), UdpSendQueue::Queued::kFull);
  EXPECT_EQ(q.size(), 2u);
  q.Flush();
  EXPECT_EQ(q.Add(3, to_, B("3"), {}), UdpSendQueue::Queued::kCopied);  // slots came back
}

TEST_F(UdpSendQueueTest, ShortCountSendsTheRestInAnotherCall) {
  UdpSendQueue q(4, 8, &FakeSendmmsg);
  for (const char* p : {"1", "2", "3"}) q.Add(7, to_, B(p), {});
  g_script = {1};  // the kernel took one of three
  const auto r = q.Flush();
  ASSERT_EQ(g_calls.size(), 2u);
  EXPECT_THAT(g_calls[1].payloads, ElementsAre("2", "3"));
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.calls, 2u);
}

TEST_F(UdpSendQueueTest, WouldBlockDropsTheRestOfThatSocketOnlyAndCounts) {
  UdpSendQueue q(4, 8, &FakeSendmmsg);
  q.Add(7, to_, B("1"), {});
  q.Add(7, to_, B("2"), {});
  q.Add(7, to_, B("3"), {});
  q.Add(8, to_, B("4"), {});
  g_script = {1, -EAGAIN};
  const auto r = q.Flush();
  ASSERT_EQ(g_calls.size(), 3u);  // 7: one sent, then EAGAIN; 8 still sent
  EXPECT_EQ(g_calls[2].fd, 8);
  EXPECT_EQ(r.sent, 2u);
  EXPECT_EQ(r.would_block, 2u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_TRUE(q.empty());
}

TEST_F(UdpSendQueueTest, AnErrorSkipsOneDatagramAndGoesOn) {
  UdpSendQueue q(4, 8, &FakeSendmmsg);
  q.Add(7, to_, B("1"), {});
  q.Add(7, to_, B("2"), {});
  g_script = {-EPERM, -EINTR};  // then the unscripted call takes the rest
  const auto r = q.Flush();
  ASSERT_EQ(g_calls.size(), 3u);
  EXPECT_THAT(g_calls[1].payloads, ElementsAre("2"));  // "1" was dropped
  EXPECT_THAT(g_calls[2].payloads, ElementsAre("2"));  // EINTR: retried
  EXPECT_EQ(r.errors, 1u);
  EXPECT_EQ(r.last_error, EPERM);
  EXPECT_EQ(r.sent, 1u);
}

TEST_F(UdpSendQueueTest, RealSocketDeliversInOneCall) {
  const int rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(rx, 0);
  ASSERT_GE(tx, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const auto dest = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&a), len);
  ASSERT_TRUE(dest.has_value());
  UdpSendQueue q(4, 16);  // ::sendmmsg
  q.Add(tx, *dest, B("one"), {});
  q.Add(tx, *dest, B("two"), {});
  const auto r = q.Flush();
  EXPECT_EQ(r.calls, 1u);
  EXPECT_EQ(r.sent, 2u);
  char buf[16];
  EXPECT_EQ(::recv(rx, buf, sizeof buf, 0), 3);
  EXPECT_EQ(std::string(buf, 3), "one");
  EXPECT_EQ(::recv(rx, buf, sizeof buf, 0), 3);
  EXPECT_EQ(std::string(buf, 3), "two");
  ::close(rx);
  ::close(tx);
}

}  // namespace
}  // namespace uturn::server
