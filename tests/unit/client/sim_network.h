// A simulated network for the ICE agent's scenario tests, in the manner of
// str0m's and libwebrtc's agent tests: a fake clock, realms (the public
// internet and private LANs behind NAT boxes), links with one-way latency,
// deterministic loss from a seeded PRNG, NAT models, and a real sans-IO TURN
// server (turn::TurnServer) whose relays are simulated sockets.
//
// Packets travel hop by hop: a datagram sent in a realm reaches, after the
// realm's latency, either the node bound to its destination in that realm
// or the NAT box on the way (the realm's own NAT outbound, or the NAT whose
// public IP it names inbound). The NAT translates or drops it at that
// moment, as a real box would see it, and forwards it into the next realm.
//
// The run loop advances the clock to the earliest of every node's
// NextTimeout(), every packet arrival and every scheduled action, bounded by
// a maximum simulated time and a maximum number of steps.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "client/binding_client.h"
#include "stun/address.h"
#include "turn/turn_server.h"

namespace uturn::client::sim {

using stun::SocketAddress;
using Bytes = std::vector<uint8_t>;

inline SocketAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return SocketAddress::V4({a, b, c, d}, port);
}

// Seeded and deterministic: the same seed gives the same run, bit for bit.
class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : engine_(seed) {}
  double Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }
  uint64_t Next() { return engine_(); }
  // A RandomSource for agents and clients, drawing from its own stream
  // (seeded from this one) so that adding a draw in one place does not
  // shift every other component's randomness.
  RandomSource Source();

 private:
  std::mt19937_64 engine_;
};

// Anything with sockets in the simulation: an agent's driver, a STUN/TURN
// server, a test probe. The network calls Flush after every OnPacket and
// OnTimeout so the node can hand over what it wants sent.
class Node {
 public:
  virtual ~Node() = default;
  virtual void OnPacket(const SocketAddress& local, const SocketAddress& from,
                        std::span<const uint8_t> bytes, absl::Time now) = 0;
  virtual absl::Time NextTimeout() const { return absl::InfiniteFuture(); }
  virtual void OnTimeout(absl::Time /*now*/) {}
  virtual void Flush(absl::Time /*now*/) {}
};

using RealmId = int;
inline constexpr RealmId kPublicRealm = 0;

enum class NatType : uint8_t {
  // Endpoint-independent mapping (RFC 4787 §4.1) with the internal port kept
  // when free, address-and-port-dependent filtering (RFC 4787 §5): what
  // Linux `-j MASQUERADE` does (conntrack only lets replies back in).
  kPortPreserving,
  // Address-and-port-dependent mapping: a new random external port for every
  // destination, as `MASQUERADE --random-fully` does. Filtering as above.
  kSymmetric,
  // Drops every UDP datagram in both directions (a firewall that only lets
  // TCP out), except to and from `NatConfig::udp_allowed` (a firewall that
  // lets UDP reach the TURN server only), translated as kPortPreserving.
  kBlocksUdp,
};
const char* ToString(NatType t);

struct NatConfig {
  NatType type = NatType::kPortPreserving;
  SocketAddress public_ip;  // port ignored
  // Per direction, on each datagram crossing the box (deterministic PRNG):
  // the lab's `iptables -m statistic --mode random --probability p -j DROP`.
  double loss = 0.0;
  // Linux conntrack keeps an unreplied UDP entry 30 s and an answered one
  // 120 s (nf_conntrack_udp_timeout / _stream); one timeout, refreshed by
  // traffic in either direction, is enough here.
  absl::Duration mapping_timeout = absl::Seconds(120);
  // kBlocksUdp: remote IPs (ports ignored) UDP may still reach.
  std::vector<SocketAddress> udp_allowed;
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped_loss = 0;         // random loss (realm or NAT)
  uint64_t dropped_filtered = 0;     // a NAT refused an inbound datagram
  uint64_t dropped_blocked = 0;      // a kBlocksUdp box
  uint64_t dropped_unroutable = 0;   // nobody bound there / no route
  uint64_t nat_mappings_created = 0;
};

class Network;

// One NAT box: translation and filtering state, expired lazily.
class NatBox {
 public:
  NatBox(NatConfig config, SimRandom* random) : config_(config), random_(random) {}

  // A datagram from the inside (`from`) to `to` outside: the external source
  // address, or nullopt when the box drops it.
  std::optional<SocketAddress> Outbound(const SocketAddress& from, const SocketAddress& to,
                                        absl::Time now);
  // A datagram from `from` outside to the box's public `to`: the internal
  // destination, or nullopt when filtered or unmapped.
  std::optional<SocketAddress> Inbound(const SocketAddress& from, const SocketAddress& to,
                                       absl::Time now);
  const NatConfig& config() const { return config_; }
  size_t mapping_count() const { return by_external_port_.size(); }
  NatType type() const { return config_.type; }

 private:
  struct Mapping {
    SocketAddress internal;
    uint16_t external_port = 0;
    // Address-and-port-dependent filtering: the exact remotes sent to.
    absl::flat_hash_set<SocketAddress> remotes;
    absl::Time expires;
  };
  void ExpireIfStale(uint16_t external_port, absl::Time now);
  bool Blocks(const SocketAddress& remote) const;
  uint16_t PickPort(uint16_t wanted);

  NatConfig config_;
  SimRandom* random_;
  // Mapping key: internal address, plus the destination for kSymmetric.
  absl::flat_hash_map<std::pair<SocketAddress, SocketAddress>, uint16_t> by_key_;
  absl::flat_hash_map<uint16_t, Mapping> by_external_port_;
  friend class Network;
};

class Network {
 public:
  explicit Network(uint64_t seed, absl::Time start = absl::FromUnixSeconds(1'800'000'000));
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  absl::Time now() const { return now_; }
  SimRandom& random() { return random_; }

  // ---- Topology ----
  // A LAN behind a NAT box whose outside is in the public realm. `latency`
  // is the one-way delay from a LAN host to the box.
  RealmId AddNatRealm(NatConfig nat, absl::Duration latency = absl::Milliseconds(1));
  // One-way delay of a hop through the realm (public: host/server to host/box).
  void SetLatency(RealmId realm, absl::Duration latency);
  // Random loss on every hop through the realm.
  void SetLoss(RealmId realm, double loss);
  NatBox* nat(RealmId realm);

  // Binds `address` (IP and port) in `realm` to `node`. Fails (false) if taken.
  bool Bind(RealmId realm, const SocketAddress& address, Node* node);
  void Unbind(RealmId realm, const SocketAddress& address);
  bool IsBound(RealmId realm, const SocketAddress& address) const;

  // ---- Traffic ----
  // A datagram from `from` (bound in `realm`) to `to`. Copied at once.
  void Send(RealmId realm, const SocketAddress& from, const SocketAddress& to,
            std::span<const uint8_t> bytes);
  // Runs `action` at simulated time `at` (not before now), in order of
  // scheduling among equal times. For signalling and scripted events.
  void Schedule(absl::Time at, std::function<void()> action);

  // ---- Running ----
  // Nodes whose timers the loop drives (bound nodes receive packets either way).
  void AddTimerNode(Node* node);
  void RemoveTimerNode(Node* node);
  // Steps until `done()` is true (checked after every step), the clock would
  // pass `max_time` from now, or `max_steps` steps ran. Returns done().
  bool RunUntil(const std::function<bool()>& done, absl::Duration max_time,
                int max_steps = 2'000'000);
  // Runs every event up to now + `duration`, then sets the clock there.
  void RunFor(absl::Duration duration, int max_steps = 2'000'000);
  // Steps taken by the last RunUntil/RunFor and whether it hit max_steps.
  int last_steps() const { return last_steps_; }
  bool hit_step_limit() const { return hit_step_limit_; }

  const NetworkStats& stats() const { return stats_; }
  // Datagrams delivered to a node bound at `address` in `realm`.
  uint64_t DeliveredTo(RealmId realm, const SocketAddress& address) const;

 private:
  struct Realm {
    std::unique_ptr<NatBox> nat;  // null for the public realm
    absl::Duration latency = absl::Milliseconds(10);
    double loss = 0.0;
  };
  enum class Hop : uint8_t { kDeliver, kNatOutbound, kNatInbound };
  struct InFlight {
    absl::Time at;
    uint64_t seq = 0;
    RealmId realm = kPublicRealm;  // where the hop's target lives
    Hop hop = Hop::kDeliver;
    RealmId nat_realm = kPublicRealm;  // the box's LAN, for the NAT hops
    SocketAddress from, to;
    Bytes bytes;
    std::function<void()> action;  // set: a scheduled action, not a packet
  };
  struct Later {
    bool operator()(const InFlight& a, const InFlight& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  void Route(RealmId realm, const SocketAddress& from, const SocketAddress& to, Bytes bytes,
             absl::Time at);
  void Process(InFlight f);
  bool Lost(double p);
  // The earliest pending thing: a packet/action or a node timer.
  absl::Time NextEventTime() const;
  bool Step(absl::Time limit);

  absl::Time now_;
  SimRandom random_;
  std::vector<Realm> realms_;
  absl::flat_hash_map<std::pair<RealmId, SocketAddress>, Node*> bound_;
  std::vector<Node*> timer_nodes_;
  std::vector<InFlight> queue_;  // a heap ordered by Later
  uint64_t seq_ = 0;
  NetworkStats stats_;
  absl::flat_hash_map<std::pair<RealmId, SocketAddress>, uint64_t> delivered_to_;
  int last_steps_ = 0;
  bool hit_step_limit_ = false;
};

// The public STUN/TURN server: a real turn::TurnServer hosted in the
// simulation. It answers STUN Binding and TURN on `address`; each relay it
// opens is a simulated socket on the same IP.
class SimTurnServer : public Node, public turn::TurnHost {
 public:
  struct Options {
    SocketAddress address = V4(203, 0, 113, 1, 3478);
    std::string realm = "sim.example";
    std::vector<std::pair<std::string, std::string>> users = {{"user", "pass"}};
    uint32_t user_quota = 0;  // 0: unlimited
    uint16_t first_relay_port = 50000;
  };
  SimTurnServer(Network* network, Options options);
  ~SimTurnServer() override;

  // "Down": every datagram to it is dropped unanswered (requests time out).
  void set_down(bool down) { down_ = down; }
  const SocketAddress& address() const { return options_.address; }
  const turn::TurnCounters& counters() const { return server_->counters(); }
  size_t allocation_count() const { return server_->allocation_count(); }
  uint64_t relayed_to_peers() const { return relayed_to_peers_; }
  uint64_t relayed_from_peers() const { return relayed_from_peers_; }

  // Node
  void OnPacket(const SocketAddress& local, const SocketAddress& from,
                std::span<const uint8_t> bytes, absl::Time now) override;
  absl::Time NextTimeout() const override;
  void OnTimeout(absl::Time now) override;

  // turn::TurnHost
  std::variant<Relay, RelayError> OpenRelay(const RelayRequest& request) override;
  void CloseRelay(turn::RelayId id) override;
  void SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) override;
  void SendToPeer(turn::RelayId relay, const SocketAddress& peer,
                  std::span<const uint8_t> payload, bool dont_fragment) override;

 private:
  Network* network_;
  Options options_;
  std::unique_ptr<turn::TurnServer> server_;
  bool down_ = false;
  turn::RelayId next_relay_ = 1;
  uint16_t next_port_;
  absl::flat_hash_map<turn::RelayId, SocketAddress> relays_;
  absl::flat_hash_map<SocketAddress, turn::RelayId> relay_by_address_;
  uint64_t relayed_to_peers_ = 0, relayed_from_peers_ = 0;
  Bytes buffer_;  // peer packets with the core's headroom and tailroom
};

}  // namespace uturn::client::sim
