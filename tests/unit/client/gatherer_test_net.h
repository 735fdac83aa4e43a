// A tiny network for the gatherer's tests: one IceGatherer behind a fixed
// NAT mapping (base -> public address, identity when unmapped) and a real
// sans-IO turn::TurnServer answering on two addresses (a TURN server and a
// STUN-only one), with a recording host for its relays. Time is a field the
// test advances; every loop is bounded.
#pragma once

#include <cstdint>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "client/ice_gatherer.h"
#include "gtest/gtest.h"
#include "turn/turn_server.h"

namespace uturn::client::testing {

using Bytes = std::vector<uint8_t>;

inline const stun::SocketAddress kTurn = stun::SocketAddress::V4({198, 51, 100, 1}, 3478);
inline const stun::SocketAddress kStun = stun::SocketAddress::V4({198, 51, 100, 2}, 3478);
inline const stun::SocketAddress kRelayBase = stun::SocketAddress::V4({198, 51, 100, 1}, 50000);

// Deterministic bytes: a counter.
inline RandomSource CountingRandom() {
  auto counter = std::make_shared<uint8_t>(0);
  return [counter](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = ++*counter;
  };
}

class RecordingHost : public turn::TurnHost {
 public:
  struct ToPeer {
    turn::RelayId relay;
    stun::SocketAddress peer;
    Bytes payload;
  };
  std::variant<Relay, RelayError> OpenRelay(const RelayRequest&) override {
    if (fail) return *fail;
    Relay r;
    r.id = next_id++;
    r.advertised = kRelayBase;
    r.advertised.port = static_cast<uint16_t>(kRelayBase.port + 2 * (r.id - 1));
    open[r.id] = r.advertised;
    return r;
  }
  void CloseRelay(turn::RelayId id) override {
    closed.push_back(id);
    open.erase(id);
  }
  void SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) override {
    to_client.push_back({tuple, Bytes(bytes.begin(), bytes.end())});
  }
  void SendToPeer(turn::RelayId relay, const stun::SocketAddress& peer,
                  std::span<const uint8_t> payload, bool) override {
    to_peer.push_back({relay, peer, Bytes(payload.begin(), payload.end())});
  }

  std::optional<RelayError> fail;
  turn::RelayId next_id = 1;
  std::map<turn::RelayId, stun::SocketAddress> open;
  std::vector<turn::RelayId> closed;
  std::vector<std::pair<turn::FiveTuple, Bytes>> to_client;
  std::vector<ToPeer> to_peer;
};

struct GatherNet {
  static turn::TurnConfig DefaultTurnConfig() {
    turn::TurnConfig c;
    c.auth.realm = "example.org";
    c.auth.users = {{"alice", "wonderland"}};
    return c;
  }
  static IceGathererConfig DefaultConfig() {
    IceGathererConfig c;
    c.turn_servers.push_back({kTurn, TurnCredentials{"alice", "wonderland"}});
    return c;
  }

  explicit GatherNet(IceGathererConfig config = DefaultConfig(),
                     turn::TurnConfig turn_config = DefaultTurnConfig())
      : gatherer(std::move(config), CountingRandom()) {
    const std::vector<uint8_t> seed(32, 7);
    auto s = turn::TurnServer::Create(std::move(turn_config), &host, seed);
    EXPECT_TRUE(s.ok()) << s.status();
    server = *std::move(s);
  }

  stun::SocketAddress Public(const stun::SocketAddress& base) const {
    auto it = nat.find(base);
    return it == nat.end() ? base : it->second;
  }
  std::optional<stun::SocketAddress> Private(const stun::SocketAddress& pub) const {
    for (const auto& [b, p] : nat) {
      if (p == pub) return b;
    }
    return std::nullopt;
  }

  // Moves every queued datagram until the network is quiet (bounded).
  void Pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (std::optional<IceTransmit> t = gatherer.PollTransmit()) {
        moved = true;
        sent.push_back(*t);
        const bool to_server = t->destination == kTurn || t->destination == kStun;
        if (!to_server || drop_to.contains(t->destination)) continue;
        turn::FiveTuple tuple{Public(t->source), t->destination, turn::Transport::kUdp};
        server->OnClientPacket(tuple, t->bytes, now);
      }
      while (delivered < host.to_client.size()) {
        moved = true;
        const auto [tuple, bytes] = host.to_client[delivered++];
        const stun::SocketAddress base = Private(tuple.client).value_or(tuple.client);
        const GathererIncoming in = gatherer.HandlePacket(base, tuple.server, bytes, now);
        incoming.push_back(
            {in.kind, in.relay_id, in.peer, Bytes(in.payload.begin(), in.payload.end())});
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "the network does not settle";
  }

  // Starts every pending gathering request (one per Ta, as the agent would).
  void StartAll(absl::Duration ta = absl::Milliseconds(50)) {
    for (int i = 0; i < 100 && gatherer.has_pending_start(); ++i) {
      gatherer.StartNext(now);
      Pump();
      now += ta;
    }
    EXPECT_FALSE(gatherer.has_pending_start());
  }

  // Runs timers up to `until`, the gatherer's and the server's.
  void RunUntil(absl::Time until) {
    for (int step = 0; step < 100000; ++step) {
      const absl::Time next = std::min({gatherer.PollTimeout(), server->NextTimeout(), until});
      if (next > now) now = next;
      if (now >= gatherer.PollTimeout()) gatherer.HandleTimeout(now);
      if (now >= server->NextTimeout()) server->HandleTimeout(now);
      Pump();
      if (now >= until && gatherer.PollTimeout() > now && server->NextTimeout() > now) return;
    }
    ADD_FAILURE() << "timers do not converge";
  }

  std::vector<GathererEvent> Events() {
    std::vector<GathererEvent> out;
    for (int i = 0; i < 1000; ++i) {
      std::optional<GathererEvent> e = gatherer.PollEvent();
      if (!e) return out;
      events.push_back(*e);
      out.push_back(std::move(*e));
    }
    ADD_FAILURE() << "event queue does not drain";
    return out;
  }

  // A datagram from `peer` arriving at the server's relay `relay`.
  void FromPeer(turn::RelayId relay, const stun::SocketAddress& peer, const Bytes& payload) {
    Bytes storage(turn::kPacketHeadroom + payload.size() + turn::kPacketTailroom, 0);
    std::copy(payload.begin(), payload.end(), storage.begin() + turn::kPacketHeadroom);
    server->OnPeerPacket(relay, peer,
                         std::span<uint8_t>(storage.data() + turn::kPacketHeadroom, payload.size()),
                         now);
    Pump();
  }

  uint64_t ServerErrors(int code) const {
    return server->counters().error_codes[static_cast<size_t>(code - 300)];
  }

  absl::Time now = absl::FromUnixSeconds(1'000'000);
  RecordingHost host;
  std::unique_ptr<turn::TurnServer> server;
  IceGatherer gatherer;
  absl::flat_hash_map<stun::SocketAddress, stun::SocketAddress> nat;  // base -> public
  absl::flat_hash_set<stun::SocketAddress> drop_to;  // destinations that black-hole
  std::vector<IceTransmit> sent;
  // What HandlePacket said, with a copy of the payload it pointed at.
  struct Received {
    GathererIncoming::Kind kind;
    uint32_t relay_id;
    stun::SocketAddress peer;
    Bytes payload;
  };
  std::vector<Received> incoming;
  std::vector<GathererEvent> events;
  size_t delivered = 0;
};

inline std::vector<GathererEvent> OfKind(const std::vector<GathererEvent>& all,
                                         GathererEvent::Kind kind) {
  std::vector<GathererEvent> out;
  for (const GathererEvent& e : all) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

}  // namespace uturn::client::testing
