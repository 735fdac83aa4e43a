// The ICE agent in the simulated network (sim_network.h): SimAgent drives
// one IceAgent the way a real driver does (PollTransmit/PollEvent after
// every input, HandleTimeout at PollTimeout), Signalling carries credentials,
// candidates (through the a=candidate grammar, as SDP would) and
// end-of-candidates between two agents after a delay, and LiteRemote hosts
// an ice-lite LiteSession as the remote. Header-only: only the scenario
// tests include it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/ice_agent.h"
#include "ice-lite/candidate.h"
#include "ice-lite/lite_session.h"
#include "stun/demux.h"
#include "stun/message_view.h"
#include "tests/unit/client/sim_network.h"

namespace uturn::client::sim {

// An application datagram: 100 bytes (ICE-PEER.md's size), first byte 0x80
// so RFC 7983 demultiplexing files it as RTP, never as STUN or ChannelData.
inline Bytes AppDatagram(char side, uint32_t n) {
  Bytes b(100, static_cast<uint8_t>(side));
  b[0] = 0x80;
  b[1] = static_cast<uint8_t>(side);
  b[2] = static_cast<uint8_t>(n >> 24);
  b[3] = static_cast<uint8_t>(n >> 16);
  b[4] = static_cast<uint8_t>(n >> 8);
  b[5] = static_cast<uint8_t>(n);
  return b;
}

inline bool IsUp(IceState s) { return s == IceState::kConnected || s == IceState::kCompleted; }

class SimAgent : public Node {
 public:
  SimAgent(Network* net, std::string name, IceAgentConfig config)
      : net_(net), name_(std::move(name)), agent_(std::move(config), net->random().Source()) {
    net_->AddTimerNode(this);
  }
  ~SimAgent() override {
    net_->RemoveTimerNode(this);
    for (const auto& [realm, base] : bases_) net_->Unbind(realm, base);
  }

  const std::string& name() const { return name_; }
  IceAgent& agent() { return agent_; }

  void AddInterface(RealmId realm, const SocketAddress& base) {
    ASSERT_TRUE(net_->Bind(realm, base, this)) << base.ToString();
    bases_.push_back({realm, base});
    ASSERT_TRUE(agent_.AddLocalInterface(base).ok());
  }
  void Start() {
    started_at = net_->now();
    ASSERT_TRUE(agent_.StartGathering(net_->now()).ok());
    Flush(net_->now());
  }
  // A frozen agent (SIGSTOP) neither receives nor runs timers.
  void set_frozen(bool frozen) { frozen_ = frozen; }

  // Every kLocalCandidate / kGatheringComplete / kRestarted goes here.
  std::function<void(const IceEvent&)> on_signal;

  void OnPacket(const SocketAddress& local, const SocketAddress& from,
                std::span<const uint8_t> bytes, absl::Time now) override {
    if (frozen_) return;
    Trace("<-", local, from, bytes, now);
    const IceIncoming in = agent_.HandlePacket(local, from, bytes, now);
    if (in.kind == IceIncoming::Kind::kData) {
      received.emplace_back(in.data.begin(), in.data.end());
    }
  }
  absl::Time NextTimeout() const override {
    return frozen_ ? absl::InfiniteFuture() : agent_.PollTimeout();
  }
  void OnTimeout(absl::Time now) override {
    agent_.HandleTimeout(now);
    // A driver sleeping until PollTimeout() would spin if it stayed due.
    if (agent_.PollTimeout() <= now && timeout_not_advanced++ == 0) {
      first_stuck = absl::StrCat("at +", absl::FormatDuration(now - started_at), " in state ",
                                 ToString(agent_.state()));
    }
  }
  void Flush(absl::Time now) override {
    if (frozen_) return;
    for (int i = 0; i < 10'000; ++i) {
      auto t = agent_.PollTransmit();
      if (!t) break;
      const RealmId* realm = RealmOf(t->source);
      if (realm == nullptr) {
        ++transmits_from_unknown_source;
        continue;
      }
      ++transmits;
      Trace("->", t->source, t->destination, t->bytes, now);
      net_->Send(*realm, t->source, t->destination, t->bytes);
    }
    for (int i = 0; i < 10'000; ++i) {
      auto e = agent_.PollEvent();
      if (!e) break;
      events.push_back(Timed{now, *e});
      if (trace_) {
        std::fprintf(stderr, "%s +%ld ms event %d state %s %s\n", name_.c_str(),
                     static_cast<long>(absl::ToInt64Milliseconds(now - started_at)),
                     static_cast<int>(e->kind), ToString(e->state), e->reason.c_str());
      }
      if (e->kind == IceEvent::Kind::kStateChanged && IsUp(e->state) && !connected_at) {
        connected_at = now;
      }
      if (on_signal && (e->kind == IceEvent::Kind::kLocalCandidate ||
                        e->kind == IceEvent::Kind::kGatheringComplete ||
                        e->kind == IceEvent::Kind::kRestarted)) {
        on_signal(*e);
      }
    }
  }

  bool up() const { return IsUp(agent_.state()); }
  // Time from Start() to the first kConnected/kCompleted event.
  std::optional<absl::Duration> time_to_connected() const {
    if (!connected_at) return std::nullopt;
    return *connected_at - started_at;
  }
  bool HasEvent(IceEvent::Kind k) const { return FindEvent(k) != nullptr; }
  const IceEvent* FindEvent(IceEvent::Kind k, absl::Time after = absl::InfinitePast()) const {
    for (const auto& e : events) {
      if (e.event.kind == k && e.at >= after) return &e.event;
    }
    return nullptr;
  }
  std::optional<absl::Time> StateTime(IceState s, absl::Time after = absl::InfinitePast()) const {
    for (const auto& e : events) {
      if (e.event.kind == IceEvent::Kind::kStateChanged && e.event.state == s && e.at >= after) {
        return e.at;
      }
    }
    return std::nullopt;
  }
  // The selected pair's "local/remote" types, e.g. "host/prflx".
  std::string PairTypes() const {
    auto p = agent_.selected_pair();
    if (!p) return "none";
    return absl::StrCat(ice::ToString(p->local.candidate.type), "/",
                        ice::ToString(p->remote.candidate.type));
  }
  size_t ReceivedFrom(char side) const {
    size_t n = 0;
    for (const auto& r : received) n += r.size() == 100 && r[1] == static_cast<uint8_t>(side);
    return n;
  }

  struct Timed {
    absl::Time at;
    IceEvent event;
  };
  std::vector<Timed> events;
  std::vector<Bytes> received;
  absl::Time started_at;
  std::optional<absl::Time> connected_at;
  uint64_t transmits = 0;
  uint64_t transmits_from_unknown_source = 0;
  uint64_t timeout_not_advanced = 0;
  std::string first_stuck;  // when timeout_not_advanced first counted

 private:
  // UTURN_SIM_TRACE=1: every datagram in and out of the agent, STUN ones
  // decoded (method/class, USE-CANDIDATE), on stderr.
  void Trace(const char* dir, const SocketAddress& local, const SocketAddress& remote,
             std::span<const uint8_t> bytes, absl::Time now) const {
    if (!trace_) return;
    std::string what = absl::StrCat(bytes.size(), " bytes");
    stun::MessageView m;
    if (stun::MessageView::Parse(bytes, &m) == stun::ParseError::kNone) {
      what = absl::StrCat("stun method ", m.method(), " class ", static_cast<int>(m.message_class()),
                          m.Has(stun::attr::kUseCandidate) ? " USE-CANDIDATE" : "");
    }
    std::fprintf(stderr, "%s +%ld ms %s %s %s %s\n", name_.c_str(),
                 static_cast<long>(absl::ToInt64Milliseconds(now - started_at)),
                 local.ToString().c_str(), dir, remote.ToString().c_str(), what.c_str());
  }

  const RealmId* RealmOf(const SocketAddress& source) const {
    for (const auto& [realm, base] : bases_) {
      if (base == source) return &realm;
    }
    return nullptr;
  }

  Network* net_;
  std::string name_;
  IceAgent agent_;
  std::vector<std::pair<RealmId, SocketAddress>> bases_;
  bool frozen_ = false;
  const bool trace_ = std::getenv("UTURN_SIM_TRACE") != nullptr;
};

// Offer/answer and trickle between two agents: what one signals reaches the
// other `delay` later, in order. Candidates are written with FormatCandidate
// and read back with ParseCandidate, as through SDP.
class Signalling {
 public:
  Signalling(Network* net, SimAgent* a, SimAgent* b) : net_(net), a_(a), b_(b) {
    a_->on_signal = [this](const IceEvent& e) { Forward(a_, b_, e); };
    b_->on_signal = [this](const IceEvent& e) { Forward(b_, a_, e); };
  }
  absl::Duration delay = absl::Milliseconds(50);
  // Extra delay for candidates of one type (trickle arriving late).
  std::optional<std::pair<ice::CandidateType, absl::Duration>> late_type;
  // Candidates delivered (and refused) per receiver.
  int delivered_to_a = 0, delivered_to_b = 0, refused = 0;
  // Stats of the receiver when a late candidate arrived.
  std::optional<IceAgentStats> stats_at_late_delivery;

  // Credentials both ways; call before Start().
  void ExchangeCredentials() {
    SendCredentials(a_, b_);
    SendCredentials(b_, a_);
  }
  void SendCredentials(SimAgent* from, SimAgent* to) {
    const ice::Credentials creds = from->agent().local_credentials();
    net_->Schedule(net_->now() + delay, [this, to, creds] {
      EXPECT_TRUE(to->agent().SetRemoteCredentials(creds, net_->now()).ok());
      to->Flush(net_->now());
    });
  }

 private:
  void Forward(SimAgent* from, SimAgent* to, const IceEvent& e) {
    const absl::Time now = net_->now();
    if (e.kind == IceEvent::Kind::kRestarted) {
      // New local credentials after a local restart: signal them (RFC 8445 §9).
      // A remote restart also raises kRestarted; its credentials are unchanged
      // and re-sending them is harmless (the same ufrag/pwd is no restart).
      SendCredentials(from, to);
      return;
    }
    if (e.kind == IceEvent::Kind::kGatheringComplete) {
      // After every candidate signalled before it, late ones included
      // (RFC 8838 §13: end-of-candidates closes the generation).
      absl::Time& last = to == a_ ? last_to_a_ : last_to_b_;
      net_->Schedule(std::max(now + delay, last), [this, to] {
        to->agent().SetRemoteEndOfCandidates(net_->now());
        to->Flush(net_->now());
      });
      return;
    }
    const std::string line = ice::FormatCandidate(e.candidate.candidate);
    auto parsed = ice::ParseCandidate(line);
    EXPECT_TRUE(parsed.ok()) << from->name() << " signalled an unparsable " << line;
    if (!parsed.ok()) return;
    absl::Duration d = delay;
    const bool late = late_type && parsed->type == late_type->first;
    if (late) d += late_type->second;
    absl::Time& last = to == a_ ? last_to_a_ : last_to_b_;
    last = std::max(last, now + d);
    net_->Schedule(now + d, [this, to, c = *parsed, late] {
      if (late) stats_at_late_delivery = to->agent().stats();
      const absl::Status s = to->agent().AddRemoteCandidate(c, net_->now());
      if (!s.ok()) ++refused;
      (to == a_ ? delivered_to_a : delivered_to_b)++;
      to->Flush(net_->now());
    });
  }

  Network* net_;
  SimAgent* a_;
  SimAgent* b_;
  absl::Time last_to_a_ = absl::InfinitePast(), last_to_b_ = absl::InfinitePast();
};

// An ice-lite remote (RFC 8445 §2.5) at a public address: a LiteSession
// answering checks; application data is recorded when received and sent on
// request to the tuple the full agent nominated.
class LiteRemote : public Node, public ice::SessionOutput {
 public:
  LiteRemote(Network* net, SocketAddress address)
      : net_(net),
        address_(address),
        session_(Config(net), ice::GenerateCredentials(net->random().Source()), this) {
    EXPECT_TRUE(net_->Bind(kPublicRealm, address_, this));
    net_->AddTimerNode(this);
  }
  ~LiteRemote() override {
    net_->RemoveTimerNode(this);
    net_->Unbind(kPublicRealm, address_);
  }
  ice::LiteSession& session() { return session_; }
  // Its only candidate: host, at its address.
  ice::Candidate HostCandidate() const {
    ice::Candidate c;
    c.foundation = "1";
    c.component = 1;
    c.transport = "udp";
    c.priority = ice::CandidatePriority(126, 65535, 1);
    c.address = address_.IpString();
    c.ip = address_;
    c.port = address_.port;
    c.type = ice::CandidateType::kHost;
    return c;
  }
  bool SendToSelected(const Bytes& payload) {
    auto t = session_.selected();
    if (!t) return false;
    net_->Send(kPublicRealm, address_, t->remote, payload);
    return true;
  }

  void OnPacket(const SocketAddress& local, const SocketAddress& from,
                std::span<const uint8_t> bytes, absl::Time now) override {
    if (stun::Classify(bytes) != stun::PacketKind::kStun) {
      received.emplace_back(bytes.begin(), bytes.end());
      return;
    }
    stun::MessageView m;
    if (stun::MessageView::Parse(bytes, &m) != stun::ParseError::kNone) return;
    session_.OnBindingRequest(ice::Tuple{from, local, ice::Transport::kUdp}, m, now);
  }
  absl::Time NextTimeout() const override { return session_.NextTimeout(); }
  void OnTimeout(absl::Time now) override { session_.HandleTimeout(now); }

  void SendStun(const ice::Tuple& tuple, std::span<const uint8_t> bytes) override {
    net_->Send(kPublicRealm, tuple.local, tuple.remote, bytes);
  }
  void OnEvent(const ice::SessionEvent& event) override { events.push_back(event); }

  std::vector<ice::SessionEvent> events;
  std::vector<Bytes> received;

 private:
  static ice::SessionConfig Config(Network* net) {
    ice::SessionConfig c;
    c.tie_breaker = net->random().Next();
    return c;
  }
  Network* net_;
  SocketAddress address_;
  ice::LiteSession session_;
};


// The addresses the scenarios use (documentation ranges; 10/8 behind NATs).
inline const SocketAddress kTurn = V4(203, 0, 113, 1, 3478);
inline const SocketAddress kNatA = V4(198, 51, 100, 1, 0);
inline const SocketAddress kNatB = V4(198, 51, 100, 2, 0);
inline const SocketAddress kLanA = V4(10, 0, 1, 2, 40000);
inline const SocketAddress kLanB = V4(10, 0, 2, 2, 40000);
inline const SocketAddress kPublicA = V4(192, 0, 2, 10, 40000);
inline const SocketAddress kPublicB = V4(192, 0, 2, 20, 40000);

// On failure: what each agent went through, for the report.
inline void DumpRun(const Network& net, std::initializer_list<const SimAgent*> agents,
             const Signalling* sig) {
  for (const SimAgent* s : agents) {
    if (s == nullptr) continue;
    IceAgent& agent = const_cast<SimAgent*>(s)->agent();
    const IceAgentStats st = agent.stats();
    std::printf("  %s: state %s role %s pair %s; checks sent %lu received %lu rejected %lu "
                "responses %lu ignored %lu; pairs %zu valid %zu; transmits %lu; next timeout %s\n",
                s->name().c_str(), ToString(agent.state()),
                agent.role() == ice::Role::kControlling ? "controlling" : "controlled",
                s->PairTypes().c_str(), static_cast<unsigned long>(st.checks_sent),
                static_cast<unsigned long>(st.checks_received),
                static_cast<unsigned long>(st.checks_rejected),
                static_cast<unsigned long>(st.responses_received),
                static_cast<unsigned long>(st.packets_ignored), st.pairs, st.valid_pairs,
                static_cast<unsigned long>(s->transmits),
                absl::FormatTime(agent.PollTimeout()).c_str());
    for (const auto& e : s->events) {
      std::printf("    +%ld ms kind %d state %s %s %s\n",
                  static_cast<long>(absl::ToInt64Milliseconds(e.at - s->started_at)),
                  static_cast<int>(e.event.kind), ToString(e.event.state), e.event.reason.c_str(),
                  e.event.kind == IceEvent::Kind::kLocalCandidate
                      ? ice::FormatCandidate(e.event.candidate.candidate).c_str()
                      : "");
    }
  }
  std::printf("  net: sent %lu delivered %lu loss %lu filtered %lu blocked %lu unroutable %lu; "
              "signalled to A %d to B %d refused %d\n",
              static_cast<unsigned long>(net.stats().sent),
              static_cast<unsigned long>(net.stats().delivered),
              static_cast<unsigned long>(net.stats().dropped_loss),
              static_cast<unsigned long>(net.stats().dropped_filtered),
              static_cast<unsigned long>(net.stats().dropped_blocked),
              static_cast<unsigned long>(net.stats().dropped_unroutable),
              sig ? sig->delivered_to_a : 0, sig ? sig->delivered_to_b : 0, sig ? sig->refused : 0);
}

}  // namespace uturn::client::sim
