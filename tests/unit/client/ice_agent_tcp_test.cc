// IceAgent with TURN servers reached over TCP (RFC 8656 §3.1): the
// transmits carry the transport, what comes on a stream is only TURN's, and
// a stream that ends fails its relay cleanly (kTurnError, gathering goes on).
// TLS servers are not used yet.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "client/ice_agent.h"
#include "stun/message_builder.h"

namespace uturn::client {
namespace {

const stun::SocketAddress kBase = stun::SocketAddress::V4({192, 0, 2, 10}, 5000);
const stun::SocketAddress kTurnTcp = stun::SocketAddress::V4({198, 51, 100, 1}, 3478);
const stun::SocketAddress kTurnTls = stun::SocketAddress::V4({198, 51, 100, 3}, 5349);

void Rng(std::span<uint8_t> out) {
  uint8_t v = 1;
  for (uint8_t& b : out) b = v++;
}

IceAgentConfig TcpConfig() {
  IceAgentConfig c;
  c.turn_servers.push_back({kTurnTcp, TurnCredentials{"u", "p"}, TurnTransport::kTcp});
  return c;
}

// Runs the agent's timers (bounded) until `until`, collecting transmits and events.
struct AgentRun {
  explicit AgentRun(IceAgentConfig c) : agent(std::move(c), Rng) {
    EXPECT_TRUE(agent.AddLocalInterface(kBase).ok());
    EXPECT_TRUE(agent.StartGathering(now).ok());
  }
  void Until(absl::Time until) {
    for (int i = 0; i < 10000; ++i) {
      Drain();
      const absl::Time next = agent.PollTimeout();
      if (next > until) break;
      now = std::max(now, next);
      agent.HandleTimeout(now);
    }
    now = std::max(now, until);
    Drain();
  }
  void Drain() {
    while (std::optional<IceTransmit> t = agent.PollTransmit()) transmits.push_back(*t);
    while (std::optional<IceEvent> e = agent.PollEvent()) events.push_back(*e);
  }
  std::vector<IceEvent> Of(IceEvent::Kind k) const {
    std::vector<IceEvent> out;
    for (const IceEvent& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  IceAgent agent;
  std::vector<IceTransmit> transmits;
  std::vector<IceEvent> events;
};

TEST(IceAgentTcpTest, TheAllocateGoesOnTheStreamAndARefusedConnectIsATurnError) {
  AgentRun r(TcpConfig());
  r.Until(r.now + absl::Milliseconds(200));
  ASSERT_EQ(r.transmits.size(), 1u);
  EXPECT_EQ(r.transmits[0].transport, TurnTransport::kTcp);
  EXPECT_EQ(r.transmits[0].source, kBase);
  EXPECT_EQ(r.transmits[0].destination, kTurnTcp);
  EXPECT_TRUE(r.Of(IceEvent::Kind::kGatheringComplete).empty());
  r.agent.HandleStreamClosed(kBase, kTurnTcp, TurnTransport::kTcp, "connect: Connection refused", r.now);
  r.Drain();
  const std::vector<IceEvent> errors = r.Of(IceEvent::Kind::kTurnError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].reason.find("198.51.100.1:3478 over tcp: connect: Connection refused"),
            std::string::npos)
      << errors[0].reason;
  EXPECT_EQ(r.Of(IceEvent::Kind::kGatheringComplete).size(), 1u);
  // The host candidate is still there; nothing is retried on the stream.
  EXPECT_EQ(r.Of(IceEvent::Kind::kLocalCandidate).size(), 1u);
  r.Until(r.now + absl::Seconds(60));
  EXPECT_EQ(r.transmits.size(), 1u);
  // A close for a stream nobody used is ignored.
  r.agent.HandleStreamClosed(kBase, kTurnTls, TurnTransport::kTcp, "x", r.now);
  r.Drain();
  EXPECT_EQ(r.Of(IceEvent::Kind::kTurnError).size(), 1u);
}

TEST(IceAgentTcpTest, OnlyTurnTrafficIsTakenFromAStream) {
  AgentRun r(TcpConfig());
  r.Until(r.now + absl::Milliseconds(200));
  const uint64_t ignored = r.agent.stats().packets_ignored;
  // RFC 7983 application bytes and a connectivity check on the stream: a
  // stream carries TURN only (checks and data are UDP).
  const std::vector<uint8_t> rtp = {0x80, 0x60, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(r.agent.HandlePacket(kBase, kTurnTcp, rtp, r.now, TurnTransport::kTcp).kind,
            IceIncoming::Kind::kIgnored);
  std::vector<uint8_t> buf(64);
  stun::TransactionId id{};
  id[0] = 0x55;
  stun::MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kRequest), id);
  b.AddFingerprint();
  ASSERT_TRUE(b.ok());
  buf.resize(b.size());
  const stun::SocketAddress stranger = stun::SocketAddress::V4({203, 0, 113, 9}, 4000);
  EXPECT_EQ(r.agent.HandlePacket(kBase, stranger, buf, r.now, TurnTransport::kTcp).kind,
            IceIncoming::Kind::kIgnored);
  EXPECT_EQ(r.agent.stats().packets_ignored, ignored + 2);
  r.Drain();
  EXPECT_TRUE(r.transmits.size() == 1u);  // no answer to the "check"
}

TEST(IceAgentTcpTest, TlsServersAreNotUsedYet) {
  IceAgentConfig c;
  c.turn_servers.push_back({kTurnTls, TurnCredentials{"u", "p"}, TurnTransport::kTls});
  AgentRun r(c);
  r.Until(r.now + absl::Seconds(1));
  EXPECT_TRUE(r.transmits.empty());
  EXPECT_EQ(r.Of(IceEvent::Kind::kGatheringComplete).size(), 1u);
}

}  // namespace
}  // namespace uturn::client
