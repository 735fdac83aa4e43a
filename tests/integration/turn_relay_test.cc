// TURN relaying on the real binary: Allocate, permissions, Send/Data
// indications, channels, Refresh and retransmissions (RFC 8656 §7-§12).
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "stun/attributes.h"
#include "stun/message_view.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

class TurnRelayTest : public TurnServerTest {
 protected:
  void SetUp() override { Start(); }

  // An allocated session for u:p; asserts on the way.
  std::unique_ptr<TurnSession> Allocated() {
    auto s = std::make_unique<TurnSession>(udp_, TurnConfigFor("u", "p"));
    const auto ev = s->Allocate();
    EXPECT_TRUE(ev.has_value());
    if (ev) {
      EXPECT_EQ(ev->kind, TurnEvent::Kind::kAllocated) << ev->error_code << " " << ev->reason;
    }
    return s;
  }
};

TEST_F(TurnRelayTest, SendIndicationReachesPeerAndDataIndicationComesBack) {
  auto s = Allocated();
  const auto& a = s->client().allocation();
  ASSERT_EQ(a.relayed.size(), 1u);
  EXPECT_EQ(a.relayed[0].IpString(), "127.0.0.1");
  EXPECT_NE(a.relayed[0].port, 0);
  ASSERT_TRUE(a.has_mapped);
  EXPECT_EQ(a.mapped, s->local());  // RFC 8656 §7.3 XOR-MAPPED-ADDRESS
  EXPECT_EQ(a.lifetime_seconds, 600u);  // RFC 8656 §7.2 default

  Peer peer = MakePeer();
  const auto perm = s->CreatePermission({peer.address});
  ASSERT_TRUE(perm.has_value());
  ASSERT_EQ(perm->kind, TurnEvent::Kind::kPermissionCreated) << perm->error_code;

  const auto hello = Bytes("hello through the relay");
  ASSERT_TRUE(s->SendIndication(peer.address, hello));
  const auto got = RecvDatagram(peer.fd.get(), milliseconds(3000));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, hello);

  // The peer answers the relayed address; the client gets a Data indication
  // naming the peer's exact transport address.
  const auto reply = RandomBytes(777, 1);
  ASSERT_TRUE(SendTo(peer.fd.get(), reply, a.relayed[0]));
  const auto data = s->WaitData();
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->peer, peer.address);
  EXPECT_EQ(data->payload, reply);
  EXPECT_FALSE(data->channel.has_value());
}

TEST_F(TurnRelayTest, SourceOfRelayedPacketsIsTheRelayedAddress) {
  auto s = Allocated();
  Peer peer = MakePeer();
  ASSERT_EQ(s->CreatePermission({peer.address})->kind, TurnEvent::Kind::kPermissionCreated);
  ASSERT_TRUE(s->SendIndication(peer.address, Bytes("x")));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  uint8_t buf[64];
  pollfd p{peer.fd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 3000), 1);
  ASSERT_EQ(::recvfrom(peer.fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &len), 1);
  const auto from = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(*from, s->client().allocation().relayed[0]);
}

TEST_F(TurnRelayTest, ChannelDataBothWaysByteExact) {
  auto s = Allocated();
  Peer peer = MakePeer();
  const auto bound = s->ChannelBind(0x4000, peer.address);
  ASSERT_TRUE(bound.has_value());
  ASSERT_EQ(bound->kind, TurnEvent::Kind::kChannelBound) << bound->error_code << " " << bound->reason;

  for (size_t size : {size_t{0}, size_t{1}, size_t{3}, size_t{1200}}) {
    const auto up = RandomBytes(size, static_cast<uint32_t>(size) + 10);
    ASSERT_TRUE(s->SendChannelData(0x4000, up));
    const auto got = RecvDatagram(peer.fd.get(), milliseconds(3000));
    ASSERT_TRUE(got.has_value()) << size;
    EXPECT_EQ(*got, up) << size;

    const auto down = RandomBytes(size + 5, static_cast<uint32_t>(size) + 20);
    ASSERT_TRUE(SendTo(peer.fd.get(), down, s->client().allocation().relayed[0]));
    const auto data = s->WaitData();
    ASSERT_TRUE(data.has_value()) << size;
    EXPECT_EQ(data->channel, 0x4000);  // RFC 8656 §12.6: bound peers use ChannelData
    EXPECT_EQ(data->peer, peer.address);
    EXPECT_EQ(data->payload, down);
  }
}

TEST_F(TurnRelayTest, PeerWithoutPermissionNeverReachesClient) {
  auto s = Allocated();
  Peer allowed = MakePeer();
  Peer stranger = MakePeer({127, 0, 0, 2});  // another IP: no permission
  ASSERT_TRUE(stranger.fd.valid());
  ASSERT_EQ(s->CreatePermission({allowed.address})->kind, TurnEvent::Kind::kPermissionCreated);
  const auto relayed = s->client().allocation().relayed[0];

  // The stranger's packet is sent first; if the server relayed it, it would
  // reach the client before the permitted one (one socket, in order).
  ASSERT_TRUE(SendTo(stranger.fd.get(), Bytes("forbidden"), relayed));
  ASSERT_TRUE(SendTo(allowed.fd.get(), Bytes("allowed"), relayed));
  const auto data = s->WaitData();
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->payload, Bytes("allowed"));
  EXPECT_EQ(data->peer, allowed.address);

  // Same for the other direction: a Send indication to a peer without a
  // permission is dropped (RFC 8656 §10.2).
  ASSERT_TRUE(s->SendIndication(stranger.address, Bytes("to stranger")));
  ASSERT_TRUE(s->SendIndication(allowed.address, Bytes("to allowed")));
  const auto got = RecvDatagram(allowed.fd.get(), milliseconds(3000));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Bytes("to allowed"));
  // The server sent (or would have sent) to the stranger first.
  EXPECT_FALSE(RecvDatagram(stranger.fd.get(), milliseconds(0)).has_value());
}

TEST_F(TurnRelayTest, PermissionForSeveralPeersInOneRequest) {
  auto s = Allocated();
  Peer a = MakePeer(), b = MakePeer();
  const auto perm = s->CreatePermission({a.address, b.address});
  ASSERT_EQ(perm->kind, TurnEvent::Kind::kPermissionCreated) << perm->error_code;
  for (Peer* p : {&a, &b}) {
    ASSERT_TRUE(SendTo(p->fd.get(), Bytes("hi"), s->client().allocation().relayed[0]));
    const auto data = s->WaitData();
    ASSERT_TRUE(data.has_value());
    EXPECT_EQ(data->peer, p->address);
  }
}

TEST_F(TurnRelayTest, RefreshZeroThenImmediateReallocate) {
  auto s = Allocated();
  const auto refreshed = s->Refresh(900);
  ASSERT_EQ(refreshed->kind, TurnEvent::Kind::kRefreshed) << refreshed->error_code;
  EXPECT_EQ(refreshed->lifetime_seconds, 900u);

  const auto deleted = s->Refresh(0);
  ASSERT_TRUE(deleted.has_value());
  ASSERT_EQ(deleted->kind, TurnEvent::Kind::kRefreshed) << deleted->error_code << " " << deleted->reason;
  EXPECT_EQ(deleted->lifetime_seconds, 0u);
  // RFC 8656 §8.3: the allocation is gone at once; the same 5-tuple may
  // allocate again right away.
  const auto again = s->Allocate();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->kind, TurnEvent::Kind::kAllocated) << again->error_code << " " << again->reason;
}

TEST_F(TurnRelayTest, LifetimeIsCappedAtTheMaximum) {
  client::TurnClientConfig config = TurnConfigFor("u", "p");
  config.lifetime_seconds = 100000;
  TurnSession s(udp_, config);
  const auto ev = s.Allocate();
  ASSERT_EQ(ev->kind, TurnEvent::Kind::kAllocated);
  EXPECT_EQ(ev->allocation.lifetime_seconds, 3600u);  // --max-allocate-lifetime default
}

TEST_F(TurnRelayTest, RetransmittedAllocateGetsIdenticalResponse) {
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  const auto ev = s.Allocate();
  ASSERT_EQ(ev->kind, TurnEvent::Kind::kAllocated);
  // The last Allocate the session sent is the authenticated one that won.
  const auto it = std::find_if(s.sent().rbegin(), s.sent().rend(), [](const std::vector<uint8_t>& b) {
    stun::MessageView m;
    return stun::MessageView::Parse(b, &m) == stun::ParseError::kNone &&
           m.Is(stun::Method::kAllocate, stun::MessageClass::kRequest);
  });
  ASSERT_NE(it, s.sent().rend());
  const std::vector<uint8_t> request = *it;

  // RFC 8656 §7.2 / RFC 8489 §6.3.1: a retransmission (same transaction ID)
  // gets the original answer, not 437 from processing it again.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(SendTo(s.fd(), request, udp_));
    const auto got = RecvDatagram(s.fd(), milliseconds(3000));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, ev->response) << "replay " << i;
  }
}

TEST_F(TurnRelayTest, StillAnswersBinding) {
  Fd fd = UdpSocket();
  const client::BindingResult r = BindingOverUdp(fd.get(), udp_);
  EXPECT_EQ(r.status, client::BindingStatus::kSuccess);
  EXPECT_EQ(r.mapped, LocalAddress(fd.get()));
}

}  // namespace
}  // namespace uturn::testing
