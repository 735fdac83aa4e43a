#include "server/shared_reservations.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

constexpr int64_t kNow = 1'000'000'000;

int OpenFd() { return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

Reservations::Entry Entry(uint64_t token, uint16_t port, int fd,
                          stun::Family family = stun::Family::kIPv4) {
  return {token, family, port, fd, kNow + Reservations::kLifetimeNs};
}

TEST(SharedReservationsTest, TokenIssuedByOneShardIsClaimedByAnother) {
  SharedReservations r(2);
  const int fd = OpenFd();
  r.Add(0, Entry(42, 50001, fd));
  EXPECT_EQ(r.size(), 1u);
  auto c = r.Claim(42, kNow);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->owner, 0u);
  EXPECT_EQ(c->entry.port, 50001);
  EXPECT_EQ(c->entry.fd, fd);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_FALSE(r.Claim(42, kNow).has_value()) << "a token is used once";
  ::close(fd);
}

TEST(SharedReservationsTest, UnknownTokenAndExpiredAreRefused) {
  SharedReservations r(3);
  const int fd = OpenFd();
  r.Add(2, Entry(7, 50011, fd));
  EXPECT_FALSE(r.Claim(8, kNow).has_value());
  EXPECT_FALSE(r.Claim(7, kNow + Reservations::kLifetimeNs + 1).has_value());
  // Only the owner's housekeeping takes its expired reservations.
  EXPECT_TRUE(r.TakeExpired(0, kNow + Reservations::kLifetimeNs + 1).empty());
  auto expired = r.TakeExpired(2, kNow + Reservations::kLifetimeNs + 1);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].fd, fd);
  ::close(fd);
}

TEST(SharedReservationsTest, ReturnedPortsGoToTheirOwnerOnce) {
  SharedReservations r(2);
  r.ReturnPort(1, stun::Family::kIPv6, 50021);
  r.ReturnPort(1, stun::Family::kIPv4, 50023);
  EXPECT_TRUE(r.TakeReturnedPorts(0).empty());
  auto ports = r.TakeReturnedPorts(1);
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0], std::make_pair(stun::Family::kIPv6, uint16_t{50021}));
  EXPECT_EQ(ports[1], std::make_pair(stun::Family::kIPv4, uint16_t{50023}));
  EXPECT_TRUE(r.TakeReturnedPorts(1).empty());
}

TEST(SharedReservationsTest, UnclaimedSocketsAreClosedWithTheRegistry) {
  const int fd = OpenFd();
  {
    SharedReservations r(1);
    r.Add(0, Entry(1, 50031, fd));
    EXPECT_TRUE(IsOpen(fd));
  }
  EXPECT_FALSE(IsOpen(fd));
}

TEST(SharedReservationsTest, ShardsAddAndClaimConcurrently) {
  SharedReservations r(2);
  constexpr int kPerThread = 2000;
  // Shard 0 reserves even tokens, shard 1 claims them as they appear (and
  // the other way round), as two shard threads would.
  auto run = [&r](uint32_t me, uint64_t base, int* claimed) {
    for (int i = 0; i < kPerThread; ++i) {
      r.Add(me, Entry(base + i, static_cast<uint16_t>(i), -1));
      const uint64_t other = (base == 0 ? 1'000'000 : 0) + i;
      if (r.Claim(other, kNow)) ++*claimed;
    }
  };
  int claimed0 = 0, claimed1 = 0;
  std::thread a(run, 0u, 0u, &claimed0);
  std::thread b(run, 1u, 1'000'000u, &claimed1);
  a.join();
  b.join();
  // Whatever was not claimed during the race is still there, exactly once.
  EXPECT_EQ(r.size() + claimed0 + claimed1, 2u * kPerThread);
  int rest = 0;
  for (uint64_t base : {uint64_t{0}, uint64_t{1'000'000}}) {
    for (int i = 0; i < kPerThread; ++i) rest += r.Claim(base + i, kNow) ? 1 : 0;
  }
  EXPECT_EQ(rest + claimed0 + claimed1, 2 * kPerThread);
  EXPECT_EQ(r.size(), 0u);
}

}  // namespace
}  // namespace uturn::server
