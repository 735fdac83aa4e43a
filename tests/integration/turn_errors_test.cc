// Every TURN error the real binary must answer over UDP (RFC 8656 §19,
// RFC 8489 §14.8), each provoked the way a client would meet it.
#include <string>

#include "stun/attributes.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

int ErrorOf(const std::optional<TurnEvent>& ev) {
  if (!ev) return -1;
  if (ev->kind != TurnEvent::Kind::kError) return 0;
  return ev->error_code;
}

std::string Describe(const std::optional<TurnEvent>& ev) {
  if (!ev) return "no answer";
  return "kind=" + std::to_string(static_cast<int>(ev->kind)) + " code=" + std::to_string(ev->error_code) +
         " reason=" + ev->reason;
}

// A port that is free right now (bound, read, released).
uint16_t FreeUdpPort() {
  Fd fd = UdpSocket();
  return LocalAddress(fd.get()).port;
}

class TurnErrorTest : public TurnServerTest {};

TEST_F(TurnErrorTest, AllocationMismatch437) {
  Start();
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(s.Allocate()->kind, TurnEvent::Kind::kAllocated);
  // RFC 8656 §7.2: a second Allocate (new transaction ID) on the same 5-tuple.
  s.ReplaceClient(TurnConfigFor("u", "p"));
  const auto ev = s.Allocate();
  EXPECT_EQ(ErrorOf(ev), 437) << Describe(ev);
}

TEST_F(TurnErrorTest, WrongCredentials441) {
  Start({"--user", "v:q"});
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(s.Allocate()->kind, TurnEvent::Kind::kAllocated);
  // RFC 8656 §5: requests on an allocation must use the credentials that
  // created it; v:q is a valid user, but not this allocation's.
  s.ReplaceClient(TurnConfigFor("v", "q"));
  const uint8_t lifetime[] = {0, 0, 0x02, 0x58};  // 600 s
  const auto ev = s.Custom(stun::Method::kRefresh, {{stun::attr::kLifetime, {lifetime, lifetime + 4}}});
  EXPECT_EQ(ErrorOf(ev), 441) << Describe(ev);
}

TEST_F(TurnErrorTest, UnsupportedTransport442) {
  Start();
  client::TurnClientConfig config = TurnConfigFor("u", "p");
  config.requested_transport = stun::kTransportTcp;
  TurnSession s(udp_, config);
  const auto ev = s.Allocate();
  EXPECT_EQ(ErrorOf(ev), 442) << Describe(ev);
}

TEST_F(TurnErrorTest, UserQuota486) {
  Start({"--user-quota", "1"});
  TurnSession first(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(first.Allocate()->kind, TurnEvent::Kind::kAllocated);
  TurnSession second(udp_, TurnConfigFor("u", "p"));
  const auto ev = second.Allocate();
  EXPECT_EQ(ErrorOf(ev), 486) << Describe(ev);
  // The quota frees up when the first allocation is deleted.
  ASSERT_EQ(first.Refresh(0)->kind, TurnEvent::Kind::kRefreshed);
  second.ReplaceClient(TurnConfigFor("u", "p"));
  const auto retry = second.Allocate();
  EXPECT_EQ(ErrorOf(retry), 0) << Describe(retry);
}

TEST_F(TurnErrorTest, PortRangeExhausted508) {
  const std::string port = std::to_string(FreeUdpPort());
  Start({"--min-port", port, "--max-port", port});
  TurnSession first(udp_, TurnConfigFor("u", "p"));
  const auto ok = first.Allocate();
  ASSERT_EQ(ErrorOf(ok), 0) << Describe(ok);
  EXPECT_EQ(std::to_string(first.client().allocation().relayed[0].port), port);
  TurnSession second(udp_, TurnConfigFor("u", "p"));
  const auto ev = second.Allocate();
  EXPECT_EQ(ErrorOf(ev), 508) << Describe(ev);
}

TEST_F(TurnErrorTest, LoopbackAndPrivatePeersForbidden403ByDefault) {
  std::vector<std::string> args = BaseTurnArgs();
  args.erase(std::find(args.begin(), args.end(), "--allow-loopback-peers"));
  StartWith(args);
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(s.Allocate()->kind, TurnEvent::Kind::kAllocated);
  Peer peer = MakePeer();  // 127.0.0.1
  const auto mapped = stun::SocketAddress::Parse("[::ffff:127.0.0.1]:" + std::to_string(peer.address.port));
  const auto private_ip = stun::SocketAddress::Parse("10.0.0.1:5000");
  ASSERT_TRUE(mapped && private_ip);
  // Dual-family relays are not configured, so the IPv4-mapped form is an
  // IPv6 peer on an IPv4 allocation: the server may answer 403 (policy) or
  // 443 (family); either way it must not relay.
  EXPECT_EQ(ErrorOf(s.CreatePermission({peer.address})), 403);
  const int mapped_code = ErrorOf(s.CreatePermission({*mapped}));
  EXPECT_TRUE(mapped_code == 403 || mapped_code == 443) << mapped_code;
  EXPECT_EQ(ErrorOf(s.CreatePermission({*private_ip})), 403);
  EXPECT_EQ(ErrorOf(s.ChannelBind(0x4000, peer.address)), 403);
  // A Send indication to the loopback peer is dropped, never sent.
  ASSERT_TRUE(s.SendIndication(peer.address, Bytes("must not arrive")));
  ASSERT_TRUE(s.SendIndication(*mapped, Bytes("must not arrive")));
  // Synchronise with the server: once a later request is answered, the
  // indications before it were processed.
  EXPECT_EQ(ErrorOf(s.Refresh(600)), 0);
  EXPECT_FALSE(RecvDatagram(peer.fd.get(), milliseconds(0)).has_value());
}

TEST_F(TurnErrorTest, BadPassword401) {
  Start();
  TurnSession s(udp_, TurnConfigFor("u", "wrong"));
  const auto ev = s.Allocate();
  EXPECT_EQ(ErrorOf(ev), 401) << Describe(ev);
  EXPECT_EQ(s.client().state(), client::TurnState::kIdle);
}

TEST_F(TurnErrorTest, UnknownUser401) {
  Start();
  TurnSession s(udp_, TurnConfigFor("nobody", "p"));
  EXPECT_EQ(ErrorOf(s.Allocate()), 401);
}

TEST_F(TurnErrorTest, NoCredentials401) {
  Start();
  TurnSession s(udp_, NoAuthTurnConfig());
  EXPECT_EQ(ErrorOf(s.Allocate()), 401);
}

TEST_F(TurnErrorTest, NonceFromAnotherClientIsStale438) {
  Start();
  TurnSession a(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(a.Allocate()->kind, TurnEvent::Kind::kAllocated);
  const std::string realm = a.client().realm();
  const std::string nonce = a.client().nonce();
  ASSERT_FALSE(nonce.empty());

  // Socket B replays A's nonce with valid credentials (RFC 8489 §9.2: a nonce
  // is bound to its client; here it must not be accepted).
  Fd b = UdpSocket();
  auto key = stun::LongTermKeyMd5("u", realm, "p");
  ASSERT_TRUE(key.ok());
  std::vector<uint8_t> buf(512);
  stun::TransactionId id{};
  TestRandom()(id);
  stun::MessageBuilder req(buf, stun::EncodeMessageType(stun::Method::kAllocate, stun::MessageClass::kRequest),
                           id);
  req.AddRequestedTransport(stun::kTransportUdp);
  req.AddString(stun::attr::kUsername, "u");
  req.AddString(stun::attr::kRealm, realm);
  req.AddString(stun::attr::kNonce, nonce);
  req.AddMessageIntegrity(*key);
  ASSERT_TRUE(req.ok());
  buf.resize(req.size());
  ASSERT_TRUE(SendTo(b.get(), buf, udp_));
  const auto answer = RecvDatagram(b.get(), milliseconds(3000));
  ASSERT_TRUE(answer.has_value());
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(*answer, &m), stun::ParseError::kNone);
  EXPECT_TRUE(m.Is(stun::Method::kAllocate, stun::MessageClass::kErrorResponse));
  EXPECT_EQ(stun::GetErrorCode(m).value.code, 438);
  // RFC 8489 §9.2.4: with a fresh NONCE for this client.
  ASSERT_TRUE(stun::GetNonce(m).ok());
  EXPECT_NE(stun::GetNonce(m).value, nonce);
}

TEST_F(TurnErrorTest, ReservedChannelNumber400) {
  Start();
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(s.Allocate()->kind, TurnEvent::Kind::kAllocated);
  Peer peer = MakePeer();
  // RFC 8656 §11.2: a number outside 0x4000-0x4FFF is a 400.
  for (uint16_t ch : {uint16_t{0x3FFF}, uint16_t{0x5000}}) {
    const std::vector<uint8_t> value = {static_cast<uint8_t>(ch >> 8), static_cast<uint8_t>(ch), 0, 0};
    const auto ev = s.Custom(stun::Method::kChannelBind, {{stun::attr::kChannelNumber, value}}, {peer.address});
    EXPECT_EQ(ErrorOf(ev), 400) << std::hex << ch << " " << Describe(ev);
  }
  // And the valid neighbour works, so the 400 was about the number.
  EXPECT_EQ(s.ChannelBind(0x4FFF, peer.address)->kind, TurnEvent::Kind::kChannelBound);
}

TEST_F(TurnErrorTest, UnknownComprehensionRequiredAttribute420) {
  Start();
  client::TurnClientConfig config = TurnConfigFor("u", "p");
  config.allocate_extra_attributes.push_back({0x7F55, {1, 2, 3, 4}});
  TurnSession s(udp_, config);
  const auto ev = s.Allocate();
  ASSERT_EQ(ErrorOf(ev), 420) << Describe(ev);
  EXPECT_EQ(ev->unknown_attributes, std::vector<uint16_t>{0x7F55});  // RFC 8489 §14.13
}

TEST_F(TurnErrorTest, RequestedIpv6WithOnlyIpv4Relay440) {
  Start();
  client::TurnClientConfig config = TurnConfigFor("u", "p");
  config.requested_address_family = stun::kFamilyIPv6;
  TurnSession s(udp_, config);
  const auto ev = s.Allocate();
  EXPECT_EQ(ErrorOf(ev), 440) << Describe(ev);
}

TEST_F(TurnErrorTest, Ipv6PeerOnIpv4Allocation443) {
  Start();
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  ASSERT_EQ(s.Allocate()->kind, TurnEvent::Kind::kAllocated);
  const auto v6 = stun::SocketAddress::Parse("[::1]:5000");
  ASSERT_TRUE(v6.has_value());
  const auto ev = s.CreatePermission({*v6});
  EXPECT_EQ(ErrorOf(ev), 443) << Describe(ev);
}

TEST_F(TurnErrorTest, RequestsWithoutAllocation437) {
  Start();
  TurnSession s(udp_, TurnConfigFor("u", "p"));
  Peer peer = MakePeer();
  // RFC 8656 §9.2, §11.2: CreatePermission/ChannelBind need an allocation.
  const auto ev = s.Custom(stun::Method::kCreatePermission, {}, {peer.address});
  EXPECT_EQ(ErrorOf(ev), 437) << Describe(ev);
}

}  // namespace
}  // namespace uturn::testing
