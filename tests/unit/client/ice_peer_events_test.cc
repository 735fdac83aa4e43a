// uturn-ice status lines and datagrams (/work/shared/ICE-PEER.md §Status, §Application data).
#include "client/tools/ice_peer_events.h"

#include <string>

#include <gtest/gtest.h>

namespace uturn::client::peer {
namespace {

IceCandidateInfo Info(ice::CandidateType type, stun::SocketAddress a) {
  IceCandidateInfo i;
  i.candidate.type = type;
  i.candidate.ip = a;
  i.candidate.port = a.port;
  i.address = a;
  return i;
}

TEST(IcePeerEventsTest, LinesHaveExactlyTheContractsFields) {
  const auto host = Info(ice::CandidateType::kHost, stun::SocketAddress::V4({127, 0, 0, 1}, 4000));
  const auto relay = Info(ice::CandidateType::kRelay, *stun::SocketAddress::Parse("[2001:db8::2]:5000"));
  EXPECT_EQ(GatheredLine(host), "event=gathered type=host address=127.0.0.1:4000");
  EXPECT_EQ(GatheredLine(relay), "event=gathered type=relay address=[2001:db8::2]:5000");
  IceSelectedPair p;
  p.local = Info(ice::CandidateType::kPeerReflexive, stun::SocketAddress::V4({192, 0, 2, 1}, 1));
  p.remote = Info(ice::CandidateType::kServerReflexive, stun::SocketAddress::V4({203, 0, 113, 9}, 2));
  EXPECT_EQ(SelectedLine(p),
            "event=selected local_type=prflx remote_type=srflx local=192.0.2.1:1 remote=203.0.113.9:2");
  EXPECT_EQ(kConnectedLine, "event=connected");
  EXPECT_EQ(kRestartedLine, "event=restarted");
  EXPECT_EQ(DisconnectedLine("consent"), "event=disconnected reason=consent");
  EXPECT_EQ(FailedLine("timeout"), "event=failed reason=timeout");
  EXPECT_EQ(FailedLine(""), "event=failed reason=unknown");
  EXPECT_EQ(DataLine(50, 49), "event=data sent=50 received=49");
  EXPECT_EQ(RoleLine(ice::Role::kControlled), "event=role role=controlled");
}

TEST(IcePeerEventsTest, ValuesCannotForgeFieldsOrLines) {
  EXPECT_EQ(LogfmtValue("plain"), "plain");
  EXPECT_EQ(LogfmtValue(""), "\"\"");
  EXPECT_EQ(LogfmtValue("a b"), "\"a b\"");
  EXPECT_EQ(LogfmtValue("x=1"), "\"x=1\"");
  EXPECT_EQ(LogfmtValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  const std::string v = LogfmtValue("one\nevent=connected x");
  EXPECT_EQ(v.find('\n'), std::string::npos);
  EXPECT_EQ(ErrorLine("bad line\nevent=connected"), "event=error what=\"bad line event=connected\"");
}

TEST(IcePeerEventsTest, DatagramFormat) {
  const auto d = MakeDatagram(0x01020304);
  ASSERT_EQ(d.size(), 100u);
  EXPECT_EQ(d[0], 0x80);  // RFC 7983: RTP range, not STUN (0-3) nor ChannelData (64-79)
  EXPECT_EQ(d[1], 0x01);
  EXPECT_EQ(d[2], 0x02);
  EXPECT_EQ(d[3], 0x03);
  EXPECT_EQ(d[4], 0x04);
  EXPECT_EQ(DatagramSequence(d), 0x01020304u);
  EXPECT_EQ(DatagramSequence(MakeDatagram(0xffffffff)), 0xffffffffu);
}

TEST(IcePeerEventsTest, DatagramsOfAnotherShapeAreRefused) {
  auto d = MakeDatagram(7);
  EXPECT_EQ(DatagramSequence(std::span<const uint8_t>(d.data(), 99)), std::nullopt);
  EXPECT_EQ(DatagramSequence({}), std::nullopt);
  d[0] = 0x00;  // a STUN first byte
  EXPECT_EQ(DatagramSequence(d), std::nullopt);
  std::array<uint8_t, 101> longer{};
  longer[0] = 0x80;
  EXPECT_EQ(DatagramSequence(longer), std::nullopt);
}

TEST(IcePeerEventsTest, NinetyPercentRule) {
  EXPECT_TRUE(EnoughEchoed(50, 45));
  EXPECT_FALSE(EnoughEchoed(50, 44));
  EXPECT_TRUE(EnoughEchoed(10, 9));
  EXPECT_FALSE(EnoughEchoed(10, 8));
  EXPECT_TRUE(EnoughEchoed(1, 1));
  EXPECT_FALSE(EnoughEchoed(1, 0));
  EXPECT_FALSE(EnoughEchoed(0, 0));  // nothing sent is no success
}

}  // namespace
}  // namespace uturn::client::peer
