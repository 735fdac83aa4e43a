// IPv6 and address-family handling on the real binary: IPv6 relays
// (REQUESTED-ADDRESS-FAMILY), dual allocations (ADDITIONAL-ADDRESS-FAMILY,
// ADDRESS-ERROR-CODE), the peer policy on IPv6 encodings of forbidden
// addresses, and --external-ip (RFC 8656 §7, §9, §18.11, §18.12, §21).
//
// These tests need IPv6 loopback ([::1]); where it is missing they fail with
// a message saying so instead of passing silently.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <utility>

#include "stun/constants.h"
#include "tests/integration/turn_session.h"

namespace uturn::testing {
namespace {

using client::TurnEvent;

// An explicit relay port range, so that "within the relay range" is checked
// against what we configured rather than against what the server reports.
constexpr uint16_t kMinPort = 50000;
constexpr uint16_t kMaxPort = 50999;
const std::string kMinPortText = std::to_string(kMinPort);
const std::string kMaxPortText = std::to_string(kMaxPort);

constexpr const char* kNoIpv6 =
    "cannot bind a UDP socket to [::1]: these tests need IPv6 loopback "
    "(check `ip -6 addr show lo`; sysctl net.ipv6.conf.lo.disable_ipv6 must be 0)";

stun::SocketAddress Addr(const std::string& text) {
  const auto a = stun::SocketAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(stun::SocketAddress{});
}

stun::SocketAddress V6Loopback(uint16_t port) {
  std::array<uint8_t, 16> ip{};
  ip[15] = 1;
  return stun::SocketAddress::V6(ip, port);
}

// A UDP peer on [::1]; its fd is invalid if IPv6 loopback is unusable.
Peer MakeV6Peer() {
  Peer p;
  p.fd = UdpSocket(V6Loopback(0));
  if (p.fd.valid()) p.address = LocalAddress(p.fd.get());
  return p;
}

bool InRelayRange(const stun::SocketAddress& a) { return a.port >= kMinPort && a.port <= kMaxPort; }

int ErrorOf(const std::optional<TurnEvent>& ev) {
  if (!ev) return -1;
  if (ev->kind != TurnEvent::Kind::kError) return 0;
  return ev->error_code;
}

std::string Describe(const std::optional<TurnEvent>& ev) {
  if (!ev) return "no answer";
  return "kind=" + std::to_string(static_cast<int>(ev->kind)) +
         " code=" + std::to_string(ev->error_code) + " reason=" + ev->reason;
}

struct Datagram {
  std::vector<uint8_t> payload;
  stun::SocketAddress from;
};

// One datagram with its source address, or nullopt after `timeout`.
std::optional<Datagram> RecvFrom(int fd, milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return std::nullopt;
  Datagram d;
  d.payload.resize(65536);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const ssize_t n = ::recvfrom(fd, d.payload.data(), d.payload.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return std::nullopt;
  d.payload.resize(static_cast<size_t>(n));
  const auto from = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!from) return std::nullopt;
  d.from = *from;
  return d;
}

// The relayed address of `family` in a (possibly dual) allocation.
std::optional<stun::SocketAddress> RelayedOf(const client::RelayedAddresses& a, stun::Family family) {
  for (const stun::SocketAddress& r : a.relayed) {
    if (r.family == family) return r;
  }
  return std::nullopt;
}

std::vector<std::string> ArgsWith(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--listening-ip", "127.0.0.1", "--listening-port", "0",
                                   "--user",         "u:p",       "--min-port",       kMinPortText,
                                   "--max-port",     kMaxPortText};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

class TurnIpv6Test : public TurnServerTest {
 protected:
  // Allocates with `config` and asserts success.
  std::unique_ptr<TurnSession> Allocated(client::TurnClientConfig config) {
    auto s = std::make_unique<TurnSession>(udp_, std::move(config));
    const auto ev = s->Allocate();
    EXPECT_EQ(ErrorOf(ev), 0) << Describe(ev);
    return s;
  }

  static client::TurnClientConfig Ipv6Config() {
    client::TurnClientConfig c = TurnConfigFor("u", "p");
    c.requested_address_family = stun::kFamilyIPv6;  // RFC 8656 §18.6
    return c;
  }

  static client::TurnClientConfig DualConfig() {
    client::TurnClientConfig c = TurnConfigFor("u", "p");
    c.additional_ipv6 = true;  // RFC 8656 §18.11
    return c;
  }

  // Send indication to `peer`, which must receive it from exactly `relayed`;
  // then the peer answers and the client must get a Data indication naming it.
  void SendAndDataRoundTrip(TurnSession& s, Peer& peer, const stun::SocketAddress& relayed,
                            uint32_t seed) {
    const auto up = RandomBytes(300, seed);
    ASSERT_TRUE(s.SendIndication(peer.address, up));
    const auto got = RecvFrom(peer.fd.get(), milliseconds(3000));
    ASSERT_TRUE(got.has_value()) << "peer " << peer.address.ToString() << " got nothing";
    EXPECT_EQ(got->payload, up);
    EXPECT_EQ(got->from, relayed) << got->from.ToString() << " vs " << relayed.ToString();

    const auto down = RandomBytes(501, seed + 1);
    ASSERT_TRUE(SendTo(peer.fd.get(), down, relayed));
    const auto data = s.WaitData();
    ASSERT_TRUE(data.has_value()) << "no Data indication from " << peer.address.ToString();
    EXPECT_EQ(data->peer, peer.address) << data->peer.ToString();
    EXPECT_EQ(data->payload, down);
    EXPECT_FALSE(data->channel.has_value());  // RFC 8656 §10.3: no channel bound yet
  }

  // ChannelBind then ChannelData both ways, byte-exact, several sizes.
  void ChannelRoundTrip(TurnSession& s, Peer& peer, const stun::SocketAddress& relayed,
                        uint16_t channel) {
    const auto bound = s.ChannelBind(channel, peer.address);
    ASSERT_TRUE(bound.has_value());
    ASSERT_EQ(bound->kind, TurnEvent::Kind::kChannelBound) << Describe(bound);
    for (size_t size : {size_t{0}, size_t{1}, size_t{3}, size_t{1200}}) {
      const auto up = RandomBytes(size, static_cast<uint32_t>(size + channel));
      ASSERT_TRUE(s.SendChannelData(channel, up));
      const auto got = RecvFrom(peer.fd.get(), milliseconds(3000));
      ASSERT_TRUE(got.has_value()) << size;
      EXPECT_EQ(got->payload, up) << size;
      EXPECT_EQ(got->from, relayed) << got->from.ToString();

      const auto down = RandomBytes(size + 7, static_cast<uint32_t>(size + channel + 1));
      ASSERT_TRUE(SendTo(peer.fd.get(), down, relayed));
      const auto data = s.WaitData();
      ASSERT_TRUE(data.has_value()) << size;
      EXPECT_EQ(data->channel, channel) << size;  // RFC 8656 §12.6
      EXPECT_EQ(data->peer, peer.address);
      EXPECT_EQ(data->payload, down) << size;
    }
  }

  // True if the log has `event=relay address=IP` (with `external=` if given).
  bool LoggedRelay(const std::string& ip, const std::string& external = "") {
    for (const std::string& l : server_.Lines()) {
      if (LogField(l, "event") == "relay" && LogField(l, "address") == ip &&
          LogField(l, "ports") == kMinPortText + "-" + kMaxPortText &&
          LogField(l, "external") == external) {
        return true;
      }
    }
    return false;
  }
};

TEST_F(TurnIpv6Test, Ipv6RelayCarriesIndicationsAndChannels) {
  Peer peer = MakeV6Peer();
  ASSERT_TRUE(peer.fd.valid()) << kNoIpv6;
  StartWith(ArgsWith({"--relay-ip", "127.0.0.1", "--relay-ip", "::1", "--allow-loopback-peers"}));
  EXPECT_TRUE(LoggedRelay("::1")) << server_.Log();

  auto s = Allocated(Ipv6Config());
  const auto& a = s->client().allocation();
  // RFC 8656 §7.2: REQUESTED-ADDRESS-FAMILY IPv6 → one IPv6 relayed address.
  ASSERT_EQ(a.relayed.size(), 1u);
  const stun::SocketAddress relayed = a.relayed[0];
  EXPECT_EQ(relayed, V6Loopback(relayed.port)) << relayed.ToString();
  EXPECT_TRUE(InRelayRange(relayed)) << relayed.ToString();
  EXPECT_FALSE(a.address_error_family.has_value());
  // RFC 8656 §7.3: XOR-MAPPED-ADDRESS is the client's own (IPv4) address.
  ASSERT_TRUE(a.has_mapped);
  EXPECT_EQ(a.mapped, s->local());

  const auto perm = s->CreatePermission({peer.address});
  ASSERT_TRUE(perm.has_value());
  ASSERT_EQ(perm->kind, TurnEvent::Kind::kPermissionCreated) << Describe(perm);

  SendAndDataRoundTrip(*s, peer, relayed, 1);
  ChannelRoundTrip(*s, peer, relayed, 0x4001);
}

TEST_F(TurnIpv6Test, Ipv6PeerOnIpv4AllocationIs443) {
  Peer peer = MakeV6Peer();
  ASSERT_TRUE(peer.fd.valid()) << kNoIpv6;
  StartWith(ArgsWith({"--relay-ip", "127.0.0.1", "--relay-ip", "::1", "--allow-loopback-peers"}));
  auto s = Allocated(TurnConfigFor("u", "p"));  // no family attribute: IPv4 (RFC 8656 §7.2)
  ASSERT_EQ(s->client().allocation().relayed.size(), 1u);
  EXPECT_TRUE(s->client().allocation().relayed[0].is_v4());
  // RFC 8656 §9.2 / §11.2: a peer of a family the allocation has no relay for.
  EXPECT_EQ(ErrorOf(s->CreatePermission({peer.address})), 443);
  EXPECT_EQ(ErrorOf(s->ChannelBind(0x4000, peer.address)), 443);
  // RFC 8656 §10.2: a Send indication to it is dropped.
  ASSERT_TRUE(s->SendIndication(peer.address, Bytes("must not arrive")));
  EXPECT_EQ(ErrorOf(s->Refresh(600)), 0);  // the indication was processed before this
  EXPECT_FALSE(RecvFrom(peer.fd.get(), milliseconds(0)).has_value());
}

TEST_F(TurnIpv6Test, DualAllocationRelaysThroughBothFamilies) {
  Peer v6 = MakeV6Peer();
  ASSERT_TRUE(v6.fd.valid()) << kNoIpv6;
  Peer v4 = MakePeer();
  ASSERT_TRUE(v4.fd.valid());
  StartWith(ArgsWith({"--relay-ip", "127.0.0.1", "--relay-ip", "::1", "--allow-loopback-peers"}));

  auto s = Allocated(DualConfig());
  const auto& a = s->client().allocation();
  // RFC 8656 §7.2 / §7.3: one XOR-RELAYED-ADDRESS per family.
  ASSERT_EQ(a.relayed.size(), 2u);
  const auto r4 = RelayedOf(a, stun::Family::kIPv4);
  const auto r6 = RelayedOf(a, stun::Family::kIPv6);
  ASSERT_TRUE(r4.has_value());
  ASSERT_TRUE(r6.has_value());
  EXPECT_EQ(*r4, stun::SocketAddress::V4({127, 0, 0, 1}, r4->port)) << r4->ToString();
  EXPECT_EQ(*r6, V6Loopback(r6->port)) << r6->ToString();
  EXPECT_TRUE(InRelayRange(*r4)) << r4->ToString();
  EXPECT_TRUE(InRelayRange(*r6)) << r6->ToString();
  EXPECT_FALSE(a.address_error_family.has_value());

  // One CreatePermission for peers of both families (RFC 8656 §9.1).
  const auto perm = s->CreatePermission({v4.address, v6.address});
  ASSERT_TRUE(perm.has_value());
  ASSERT_EQ(perm->kind, TurnEvent::Kind::kPermissionCreated) << Describe(perm);

  SendAndDataRoundTrip(*s, v4, *r4, 10);
  SendAndDataRoundTrip(*s, v6, *r6, 20);
  ChannelRoundTrip(*s, v4, *r4, 0x4000);
  ChannelRoundTrip(*s, v6, *r6, 0x4001);
}

TEST_F(TurnIpv6Test, DualRequestOnIpv4OnlyServerGivesAddressErrorCode440) {
  StartWith(ArgsWith({"--relay-ip", "127.0.0.1", "--allow-loopback-peers"}));
  auto s = Allocated(DualConfig());
  const auto& a = s->client().allocation();
  // RFC 8656 §7.2: the IPv4 relay is allocated; the IPv6 failure is reported
  // in ADDRESS-ERROR-CODE (§18.12) with family IPv6 and 440.
  ASSERT_EQ(a.relayed.size(), 1u);
  EXPECT_EQ(a.relayed[0], stun::SocketAddress::V4({127, 0, 0, 1}, a.relayed[0].port))
      << a.relayed[0].ToString();
  EXPECT_TRUE(InRelayRange(a.relayed[0])) << a.relayed[0].ToString();
  ASSERT_TRUE(a.address_error_family.has_value());
  EXPECT_EQ(*a.address_error_family, stun::kFamilyIPv6);
  EXPECT_EQ(a.address_error_code, 440);

  // The IPv4 half works.
  Peer peer = MakePeer();
  ASSERT_EQ(s->CreatePermission({peer.address})->kind, TurnEvent::Kind::kPermissionCreated);
  SendAndDataRoundTrip(*s, peer, a.relayed[0], 30);
}

TEST_F(TurnIpv6Test, RequestedIpv6OnIpv4OnlyServerIs440) {
  StartWith(ArgsWith({"--relay-ip", "127.0.0.1", "--allow-loopback-peers"}));
  TurnSession s(udp_, Ipv6Config());
  const auto ev = s.Allocate();
  // RFC 8656 §7.2: a requested family the server cannot relay → 440.
  EXPECT_EQ(ErrorOf(ev), 440) << Describe(ev);
  EXPECT_EQ(s.client().state(), client::TurnState::kIdle);
}

TEST_F(TurnIpv6Test, Ipv6EncodingsOfForbiddenPeersAre403ByDefault) {
  Peer sentinel6 = MakeV6Peer();
  ASSERT_TRUE(sentinel6.fd.valid()) << kNoIpv6;
  Peer sentinel4 = MakePeer();  // where the IPv4 encodings point
  ASSERT_TRUE(sentinel4.fd.valid());
  // Secure by default: no --allow-loopback-peers.
  StartWith(ArgsWith({"--relay-ip", "127.0.0.1", "--relay-ip", "::1"}));
  auto s = Allocated(Ipv6Config());
  ASSERT_EQ(s->client().allocation().relayed.size(), 1u);
  ASSERT_FALSE(s->client().allocation().relayed[0].is_v4());

  const std::string p6 = std::to_string(sentinel6.address.port);
  const std::string p4 = std::to_string(sentinel4.address.port);
  // RFC 8656 §9.2 / §21.1.2 (DESIGN: secure by default): each of these is, or
  // embeds, a loopback, private or link-local address.
  const std::vector<stun::SocketAddress> forbidden = {
      Addr("[::1]:" + p6),                // loopback
      Addr("[::ffff:127.0.0.1]:" + p4),   // IPv4-mapped loopback
      Addr("[::ffff:10.0.0.1]:5000"),     // IPv4-mapped RFC 1918
      Addr("[64:ff9b::7f00:1]:" + p4),    // NAT64 (RFC 6052) of 127.0.0.1
      Addr("[2002:7f00:1::]:" + p4),      // 6to4 (RFC 3056) of 127.0.0.1
      Addr("[fe80::1]:5000"),             // link-local
  };
  for (const stun::SocketAddress& peer : forbidden) {
    const auto ev = s->CreatePermission({peer});
    EXPECT_EQ(ErrorOf(ev), 403) << peer.ToString() << ": " << Describe(ev);
  }
  const auto bind = s->ChannelBind(0x4000, Addr("[::ffff:127.0.0.1]:" + p4));
  EXPECT_EQ(ErrorOf(bind), 403) << Describe(bind);

  // The 403s are about the addresses: a public IPv6 peer is accepted (only a
  // permission is installed; nothing is sent to it).
  const auto pub = s->CreatePermission({Addr("[2606:4700:4700::1111]:53")});
  EXPECT_EQ(ErrorOf(pub), 0) << Describe(pub);

  // Send indications to every forbidden address are dropped, never relayed.
  for (const stun::SocketAddress& peer : forbidden) {
    ASSERT_TRUE(s->SendIndication(peer, Bytes("must not arrive")));
  }
  // Synchronise: once a later request is answered, the indications before it
  // were processed.
  EXPECT_EQ(ErrorOf(s->Refresh(600)), 0);
  EXPECT_FALSE(RecvFrom(sentinel6.fd.get(), milliseconds(0)).has_value());
  EXPECT_FALSE(RecvFrom(sentinel4.fd.get(), milliseconds(0)).has_value());
}

TEST_F(TurnIpv6Test, ExternalIpIsAdvertisedAndRelayingUsesTheRealAddress) {
  StartWith(ArgsWith(
      {"--relay-ip", "127.0.0.1", "--allow-loopback-peers", "--external-ip", "203.0.113.9"}));
  EXPECT_TRUE(LoggedRelay("127.0.0.1", "203.0.113.9")) << server_.Log();
  auto s = Allocated(TurnConfigFor("u", "p"));
  const auto& a = s->client().allocation();
  ASSERT_EQ(a.relayed.size(), 1u);
  const stun::SocketAddress advertised = a.relayed[0];
  // 1:1 NAT: the public IP with the port the relay socket really has.
  EXPECT_EQ(advertised, stun::SocketAddress::V4({203, 0, 113, 9}, advertised.port))
      << advertised.ToString();
  EXPECT_TRUE(InRelayRange(advertised)) << advertised.ToString();
  const stun::SocketAddress real = stun::SocketAddress::V4({127, 0, 0, 1}, advertised.port);

  Peer peer = MakePeer();
  ASSERT_EQ(s->CreatePermission({peer.address})->kind, TurnEvent::Kind::kPermissionCreated);
  SendAndDataRoundTrip(*s, peer, real, 40);
  ChannelRoundTrip(*s, peer, real, 0x4002);
}

}  // namespace
}  // namespace uturn::testing
