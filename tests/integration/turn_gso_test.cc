// Bursts through the relay with UDP GSO (server/gso_batcher.h): datagrams
// the server batches into one sendmsg must still reach the receiver one by
// one, byte-exact and in order, in both directions; --no-udp-gso turns the
// batching off.
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

constexpr uint16_t kChannel = 0x4001;
constexpr size_t kBurst = 48;
constexpr int kBursts = 10;

// Payload `i` of a burst: its index in the first bytes, then filler; the
// same size for all, so the server may batch them.
std::vector<uint8_t> Payload(uint32_t i) {
  std::vector<uint8_t> p = RandomBytes(172, i + 1);
  std::memcpy(p.data(), &i, sizeof i);
  return p;
}

#define ASSERT_SEND_BURST(fd, datagrams, to)                      \
  do {                                                            \
    if (!SendBurst(fd, datagrams, to)) {                          \
      ADD_FAILURE() << "sendmmsg: " << std::strerror(errno);      \
      return 0;                                                   \
    }                                                             \
  } while (false)

class TurnGsoTest : public TurnServerTest {
 protected:
  // Relays kBursts bursts each way and checks every datagram; returns the
  // server's gso_sends from its stopped line.
  uint64_t RelayBursts() {
    TurnSession s(udp_, TurnConfigFor("u", "p"));
    const auto alloc = s.Allocate();
    EXPECT_TRUE(alloc && alloc->kind == TurnEvent::Kind::kAllocated);
    Peer peer = MakePeer();
    // Large socket buffers on the test's side: the test checks the server,
    // not the kernel's default receive queue.
    const int big = 4 << 20;
    setsockopt(peer.fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    const auto bound = s.ChannelBind(kChannel, peer.address);
    EXPECT_TRUE(bound && bound->kind == TurnEvent::Kind::kChannelBound);
    const stun::SocketAddress relayed = s.client().allocation().relayed[0];

    uint32_t seq = 0;
    for (int b = 0; b < kBursts; ++b) {
      // Client -> peer: ChannelData frames (RFC 8656 §12.4), one sendmmsg.
      std::vector<std::vector<uint8_t>> frames;
      for (size_t i = 0; i < kBurst; ++i) {
        std::vector<uint8_t> p = Payload(seq + static_cast<uint32_t>(i));
        std::vector<uint8_t> f = {kChannel >> 8, kChannel & 0xFF, 0, static_cast<uint8_t>(p.size())};
        for (uint8_t x : p) f.push_back(x);
        frames.push_back(std::move(f));
      }
      ASSERT_SEND_BURST(s.fd(), frames, udp_);
      for (size_t i = 0; i < kBurst; ++i) {
        const auto got = RecvDatagram(peer.fd.get(), milliseconds(3000));
        EXPECT_TRUE(got.has_value()) << "burst " << b << " datagram " << i;
        if (!got) return 0;
        EXPECT_EQ(*got, Payload(seq + static_cast<uint32_t>(i))) << "burst " << b << " #" << i;
      }
      // Peer -> client: the server frames each as ChannelData in place.
      std::vector<std::vector<uint8_t>> raw;
      for (size_t i = 0; i < kBurst; ++i) raw.push_back(Payload(seq + static_cast<uint32_t>(i)));
      ASSERT_SEND_BURST(peer.fd.get(), raw, relayed);
      for (size_t i = 0; i < kBurst; ++i) {
        const auto data = s.WaitData();
        EXPECT_TRUE(data.has_value()) << "burst " << b << " datagram " << i;
        if (!data) return 0;
        EXPECT_EQ(data->channel, kChannel);
        EXPECT_EQ(data->payload, raw[i]) << "burst " << b << " #" << i;
      }
      seq += kBurst;
    }
    server_.Signal(SIGTERM);
    EXPECT_EQ(server_.WaitExit(), 0);
    started_ = false;
    for (const std::string& l : server_.Lines()) {
      if (LogField(l, "event") == "stopped") return std::stoull(LogField(l, "gso_sends"));
    }
    ADD_FAILURE() << "no stopped line\n" << server_.Log();
    return 0;
  }
};

TEST_F(TurnGsoTest, BurstsArriveWholeAndInOrderThroughBatchedSends) {
  Start();
  const uint64_t gso_sends = RelayBursts();
  if (const char* b = std::getenv("UTURN_TEST_IO_BACKEND"); b != nullptr && b == std::string("epoll")) {
    // The epoll driver batches with sendmmsg, not GSO: delivery is what counts.
    EXPECT_EQ(gso_sends, 0u);
    return;
  }
  // 2 x 10 bursts of 48 back-to-back datagrams: the server finds several
  // waiting in nearly every loop turn, so some of its sends are batched.
  EXPECT_GT(gso_sends, 0u) << server_.Log();
}

TEST_F(TurnGsoTest, NoUdpGsoSendsEachDatagramAlone) {
  Start({"--no-udp-gso"});
  EXPECT_EQ(RelayBursts(), 0u) << server_.Log();
}

}  // namespace
}  // namespace uturn::testing
