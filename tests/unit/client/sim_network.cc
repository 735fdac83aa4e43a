#include "tests/unit/client/sim_network.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

namespace uturn::client::sim {

RandomSource SimRandom::Source() {
  auto engine = std::make_shared<std::mt19937_64>(Next());
  return [engine](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = static_cast<uint8_t>((*engine)() >> 56);
  };
}

const char* ToString(NatType t) {
  switch (t) {
    case NatType::kPortPreserving: return "port-preserving";
    case NatType::kSymmetric: return "symmetric";
    case NatType::kBlocksUdp: return "blocks-udp";
  }
  return "?";
}

// ---------------------------------------------------------------- NatBox

void NatBox::ExpireIfStale(uint16_t external_port, absl::Time now) {
  auto it = by_external_port_.find(external_port);
  if (it == by_external_port_.end() || it->second.expires > now) return;
  for (auto k = by_key_.begin(); k != by_key_.end();) {
    if (k->second == external_port) {
      by_key_.erase(k++);
    } else {
      ++k;
    }
  }
  by_external_port_.erase(it);
}

bool NatBox::Blocks(const SocketAddress& remote) const {
  if (config_.type != NatType::kBlocksUdp) return false;
  for (const SocketAddress& ip : config_.udp_allowed) {
    if (ip.family == remote.family && ip.bytes == remote.bytes) return false;
  }
  return true;
}

uint16_t NatBox::PickPort(uint16_t wanted) {
  // MASQUERADE keeps the source port when no other mapping holds it; with
  // --random-fully it draws one from the ephemeral range every time.
  if (config_.type != NatType::kSymmetric && wanted != 0 &&
      !by_external_port_.contains(wanted)) {
    return wanted;
  }
  for (int tries = 0; tries < 100'000; ++tries) {
    const auto port = static_cast<uint16_t>(1024 + random_->Next() % (65536 - 1024));
    if (!by_external_port_.contains(port)) return port;
  }
  assert(false && "NAT port space exhausted");
  return 0;
}

std::optional<SocketAddress> NatBox::Outbound(const SocketAddress& from, const SocketAddress& to,
                                              absl::Time now) {
  if (Blocks(to)) return std::nullopt;
  const SocketAddress dest_key = config_.type == NatType::kSymmetric ? to : SocketAddress{};
  const auto key = std::make_pair(from, dest_key);
  if (auto k = by_key_.find(key); k != by_key_.end()) ExpireIfStale(k->second, now);
  auto k = by_key_.find(key);
  if (k == by_key_.end()) {
    const uint16_t port = PickPort(from.port);
    k = by_key_.emplace(key, port).first;
    Mapping m;
    m.internal = from;
    m.external_port = port;
    by_external_port_.emplace(port, std::move(m));
  }
  Mapping& m = by_external_port_.at(k->second);
  m.remotes.insert(to);
  m.expires = now + config_.mapping_timeout;
  SocketAddress external = config_.public_ip;
  external.port = m.external_port;
  return external;
}

std::optional<SocketAddress> NatBox::Inbound(const SocketAddress& from, const SocketAddress& to,
                                             absl::Time now) {
  if (Blocks(from)) return std::nullopt;
  ExpireIfStale(to.port, now);
  auto it = by_external_port_.find(to.port);
  if (it == by_external_port_.end()) return std::nullopt;
  Mapping& m = it->second;
  // Address-and-port-dependent filtering (RFC 4787 §5): only from a remote
  // this mapping has sent to.
  if (!m.remotes.contains(from)) return std::nullopt;
  m.expires = now + config_.mapping_timeout;
  return m.internal;
}

// ---------------------------------------------------------------- Network

Network::Network(uint64_t seed, absl::Time start) : now_(start), random_(seed) {
  realms_.emplace_back();  // kPublicRealm
}

RealmId Network::AddNatRealm(NatConfig nat, absl::Duration latency) {
  Realm r;
  nat.public_ip.port = 0;
  r.nat = std::make_unique<NatBox>(nat, &random_);
  r.latency = latency;
  realms_.push_back(std::move(r));
  return static_cast<RealmId>(realms_.size() - 1);
}

void Network::SetLatency(RealmId realm, absl::Duration latency) {
  realms_.at(static_cast<size_t>(realm)).latency = latency;
}
void Network::SetLoss(RealmId realm, double loss) {
  realms_.at(static_cast<size_t>(realm)).loss = loss;
}
NatBox* Network::nat(RealmId realm) { return realms_.at(static_cast<size_t>(realm)).nat.get(); }

bool Network::Bind(RealmId realm, const SocketAddress& address, Node* node) {
  assert(node != nullptr);
  assert(static_cast<size_t>(realm) < realms_.size());
  return bound_.emplace(std::make_pair(realm, address), node).second;
}
void Network::Unbind(RealmId realm, const SocketAddress& address) {
  bound_.erase(std::make_pair(realm, address));
}
bool Network::IsBound(RealmId realm, const SocketAddress& address) const {
  return bound_.contains(std::make_pair(realm, address));
}

void Network::AddTimerNode(Node* node) {
  if (std::find(timer_nodes_.begin(), timer_nodes_.end(), node) == timer_nodes_.end()) {
    timer_nodes_.push_back(node);
  }
}
void Network::RemoveTimerNode(Node* node) {
  timer_nodes_.erase(std::remove(timer_nodes_.begin(), timer_nodes_.end(), node),
                     timer_nodes_.end());
}

uint64_t Network::DeliveredTo(RealmId realm, const SocketAddress& address) const {
  auto it = delivered_to_.find(std::make_pair(realm, address));
  return it == delivered_to_.end() ? 0 : it->second;
}

bool Network::Lost(double p) { return p > 0.0 && random_.Uniform() < p; }

void Network::Send(RealmId realm, const SocketAddress& from, const SocketAddress& to,
                   std::span<const uint8_t> bytes) {
  ++stats_.sent;
  Route(realm, from, to, Bytes(bytes.begin(), bytes.end()), now_);
}

void Network::Route(RealmId realm, const SocketAddress& from, const SocketAddress& to,
                    Bytes bytes, absl::Time at) {
  const Realm& r = realms_.at(static_cast<size_t>(realm));
  InFlight f;
  f.at = at + r.latency;
  f.seq = seq_++;
  f.from = from;
  f.to = to;
  f.bytes = std::move(bytes);
  if (Lost(r.loss)) {
    ++stats_.dropped_loss;
    return;
  }
  if (bound_.contains(std::make_pair(realm, to))) {
    f.realm = realm;
    f.hop = Hop::kDeliver;
  } else if (realm == kPublicRealm) {
    // Towards a NAT box's public side?
    RealmId inner = -1;
    for (size_t i = 1; i < realms_.size(); ++i) {
      const SocketAddress& ip = realms_[i].nat->config().public_ip;
      if (ip.family == to.family && ip.bytes == to.bytes) inner = static_cast<RealmId>(i);
    }
    if (inner < 0) {
      ++stats_.dropped_unroutable;
      return;
    }
    f.realm = kPublicRealm;
    f.hop = Hop::kNatInbound;
    f.nat_realm = inner;
  } else {
    // Anything not on the LAN goes out through the LAN's NAT (its default route).
    f.realm = realm;
    f.hop = Hop::kNatOutbound;
    f.nat_realm = realm;
  }
  queue_.push_back(std::move(f));
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

void Network::Schedule(absl::Time at, std::function<void()> action) {
  InFlight f;
  f.at = std::max(at, now_);
  f.seq = seq_++;
  f.action = std::move(action);
  queue_.push_back(std::move(f));
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

void Network::Process(InFlight f) {
  if (f.action) {
    f.action();
    return;
  }
  switch (f.hop) {
    case Hop::kDeliver: {
      auto it = bound_.find(std::make_pair(f.realm, f.to));
      if (it == bound_.end()) {  // unbound while in flight
        ++stats_.dropped_unroutable;
        return;
      }
      ++stats_.delivered;
      ++delivered_to_[std::make_pair(f.realm, f.to)];
      Node* node = it->second;
      node->OnPacket(f.to, f.from, f.bytes, now_);
      node->Flush(now_);
      return;
    }
    case Hop::kNatOutbound: {
      NatBox& box = *realms_.at(static_cast<size_t>(f.nat_realm)).nat;
      if (box.Blocks(f.to)) {
        ++stats_.dropped_blocked;
        return;
      }
      if (Lost(box.config().loss)) {
        ++stats_.dropped_loss;
        return;
      }
      const size_t before = box.mapping_count();
      auto external = box.Outbound(f.from, f.to, now_);
      if (box.mapping_count() > before) ++stats_.nat_mappings_created;
      if (!external) {
        ++stats_.dropped_filtered;
        return;
      }
      Route(kPublicRealm, *external, f.to, std::move(f.bytes), now_);
      return;
    }
    case Hop::kNatInbound: {
      NatBox& box = *realms_.at(static_cast<size_t>(f.nat_realm)).nat;
      if (box.Blocks(f.from)) {
        ++stats_.dropped_blocked;
        return;
      }
      if (Lost(box.config().loss)) {
        ++stats_.dropped_loss;
        return;
      }
      auto internal = box.Inbound(f.from, f.to, now_);
      if (!internal) {
        ++stats_.dropped_filtered;
        return;
      }
      Route(f.nat_realm, f.from, *internal, std::move(f.bytes), now_);
      return;
    }
  }
}

absl::Time Network::NextEventTime() const {
  absl::Time t = queue_.empty() ? absl::InfiniteFuture() : queue_.front().at;
  for (const Node* n : timer_nodes_) t = std::min(t, n->NextTimeout());
  return t;
}

bool Network::Step(absl::Time limit) {
  const absl::Time t = NextEventTime();
  if (t > limit) return false;
  // A timer in the past (a node that asked for "now" or earlier) runs now:
  // the clock never goes back.
  now_ = std::max(now_, t);
  if (!queue_.empty() && queue_.front().at <= now_) {
    std::pop_heap(queue_.begin(), queue_.end(), Later{});
    InFlight f = std::move(queue_.back());
    queue_.pop_back();
    Process(std::move(f));
    return true;
  }
  // Copy: a timer callback may add or remove nodes.
  const std::vector<Node*> nodes = timer_nodes_;
  for (Node* n : nodes) {
    if (n->NextTimeout() <= now_) {
      n->OnTimeout(now_);
      n->Flush(now_);
    }
  }
  return true;
}

bool Network::RunUntil(const std::function<bool()>& done, absl::Duration max_time,
                       int max_steps) {
  const absl::Time limit = now_ + max_time;
  last_steps_ = 0;
  hit_step_limit_ = false;
  while (!done()) {
    if (last_steps_ >= max_steps) {
      hit_step_limit_ = true;
      return false;
    }
    if (!Step(limit)) {
      now_ = limit;
      return done();
    }
    ++last_steps_;
  }
  return true;
}

void Network::RunFor(absl::Duration duration, int max_steps) {
  RunUntil([] { return false; }, duration, max_steps);
}

// ---------------------------------------------------------------- SimTurnServer

SimTurnServer::SimTurnServer(Network* network, Options options)
    : network_(network), options_(std::move(options)), next_port_(options_.first_relay_port) {
  turn::TurnConfig config;
  config.auth.realm = options_.realm;
  config.auth.users = options_.users;
  config.user_quota = options_.user_quota;
  config.software = "uturn-sim";
  Bytes seed(32);
  for (auto& b : seed) b = static_cast<uint8_t>(network_->random().Next());
  auto s = turn::TurnServer::Create(std::move(config), this, seed);
  assert(s.ok());
  server_ = *std::move(s);
  const bool bound = network_->Bind(kPublicRealm, options_.address, this);
  assert(bound);
  (void)bound;
  network_->AddTimerNode(this);
}

SimTurnServer::~SimTurnServer() {
  network_->RemoveTimerNode(this);
  network_->Unbind(kPublicRealm, options_.address);
  for (const auto& [id, addr] : relays_) network_->Unbind(kPublicRealm, addr);
}

void SimTurnServer::OnPacket(const SocketAddress& local, const SocketAddress& from,
                             std::span<const uint8_t> bytes, absl::Time now) {
  if (down_) return;
  if (local == options_.address) {
    Bytes copy(bytes.begin(), bytes.end());  // the core may rewrite it in place
    server_->OnClientPacket(turn::FiveTuple{from, local, turn::Transport::kUdp}, copy, now);
    return;
  }
  auto it = relay_by_address_.find(local);
  if (it == relay_by_address_.end()) return;
  ++relayed_from_peers_;
  buffer_.assign(turn::kPacketHeadroom + bytes.size() + turn::kPacketTailroom, 0);
  if (!bytes.empty()) std::memcpy(buffer_.data() + turn::kPacketHeadroom, bytes.data(), bytes.size());
  server_->OnPeerPacket(it->second, from,
                        std::span<uint8_t>(buffer_.data() + turn::kPacketHeadroom, bytes.size()),
                        now);
}

absl::Time SimTurnServer::NextTimeout() const { return server_->NextTimeout(); }
void SimTurnServer::OnTimeout(absl::Time now) { server_->HandleTimeout(now); }

std::variant<turn::TurnHost::Relay, turn::TurnHost::RelayError> SimTurnServer::OpenRelay(
    const RelayRequest& request) {
  if (request.family != stun::Family::kIPv4 || request.reservation_token) {
    return RelayError::kFamilyUnsupported;
  }
  Relay r;
  r.id = next_relay_++;
  SocketAddress addr = options_.address;
  for (int tries = 0; tries < 1000; ++tries) {
    addr.port = next_port_;
    next_port_ = static_cast<uint16_t>(next_port_ + (request.even_port ? 2 : 1));
    if (!request.even_port || addr.port % 2 == 0) {
      if (network_->Bind(kPublicRealm, addr, this)) break;
    }
    if (tries == 999) return RelayError::kInsufficientCapacity;
  }
  r.advertised = addr;
  relays_.emplace(r.id, addr);
  relay_by_address_.emplace(addr, r.id);
  return r;
}

void SimTurnServer::CloseRelay(turn::RelayId id) {
  auto it = relays_.find(id);
  if (it == relays_.end()) return;
  network_->Unbind(kPublicRealm, it->second);
  relay_by_address_.erase(it->second);
  relays_.erase(it);
}

void SimTurnServer::SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) {
  network_->Send(kPublicRealm, tuple.server, tuple.client, bytes);
}

void SimTurnServer::SendToPeer(turn::RelayId relay, const SocketAddress& peer,
                               std::span<const uint8_t> payload, bool /*dont_fragment*/) {
  auto it = relays_.find(relay);
  if (it == relays_.end()) return;
  ++relayed_to_peers_;
  network_->Send(kPublicRealm, it->second, peer, payload);
}

}  // namespace uturn::client::sim
