#include "server/driver_base.h"

#include "server/tcp_ip_limiter.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <ctime>

namespace uturn::server {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;

int64_t CoarseNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kSecondNs + ts.tv_nsec;
}

bool IsBindingSuccess(std::span<const uint8_t> bytes) {
  // RFC 8489 §5: message type 0x0101 is a Binding success response.
  return bytes.size() >= 20 && bytes[0] == 0x01 && bytes[1] == 0x01;
}

}  // namespace

DriverBase::DriverBase(const DriverOptions& options)
    : options_(options),
      tcp_scratch_(turn::kPacketHeadroom + stun::StreamFramer::kCapacity + turn::kPacketTailroom) {
  // Monotonic time mapped once onto the wall clock, so the core's `now` is
  // close to Unix time (REST usernames carry Unix expiry times) yet never
  // jumps when the wall clock is stepped.
  now_ns_ = CoarseNowNs();
  epoch_ = absl::Now() - absl::Nanoseconds(now_ns_);
}

DriverBase::~DriverBase() {
  for (const auto& s : udp_) ::close(s->fd);
  for (const Listener& l : listeners_) ::close(l.fd);
  for (auto& c : conns_) {
    if (!c) continue;
    ::close(c->fd);
    // The limiter is shared with other shards, which go on.
    if (options_.ip_limiter) options_.ip_limiter->Release(c->peer);
  }
}

void DriverBase::ReadClock() { now_ns_ = CoarseNowNs(); }

void DriverBase::BeginRun() {
  assert(turn_ != nullptr);
  ReadClock();
  next_housekeeping_ns_ = now_ns_ + kSecondNs;
}

int64_t DriverBase::WaitNs() const {
  int64_t wait_ns = next_housekeeping_ns_ - now_ns_;
  const absl::Time next = turn_->NextTimeout();
  if (next != absl::InfiniteFuture()) {
    wait_ns = std::min(wait_ns, absl::ToInt64Nanoseconds(next - Now()));
  }
  // At least 1 ms so a deadline inside the coarse clock's tick does not spin.
  return std::clamp<int64_t>(wait_ns, 1'000'000, kSecondNs);
}

void DriverBase::EndTurn() {
  RunTimers();
  FlushTcp();
  if (on_turn_) on_turn_();
  if (now_ns_ >= next_housekeeping_ns_) {
    CloseIdle();
    relays_.ExpireReservations(now_ns_);
    next_housekeeping_ns_ = now_ns_ + kSecondNs;
  }
}

void DriverBase::RunTimers() {
  const absl::Time now = Now();
  if (turn_->NextTimeout() <= now) turn_->HandleTimeout(now);
  CloseExpired();
}

void DriverBase::OnAllocationExpired(const turn::FiveTuple& tuple) {
  if (tuple.transport == turn::Transport::kUdp) return;
  auto it = tcp_by_tuple_.find(tuple);
  if (it == tcp_by_tuple_.end()) return;
  // Inside the core's HandleTimeout: closing now would call back into it.
  tcp_expired_.emplace_back(it->second, conns_[it->second]->generation);
}

void DriverBase::CloseExpired() {
  for (const auto& [i, generation] : tcp_expired_) {
    TcpConnection* c = conn(i);
    if (c == nullptr || c->generation != generation || c->closing) continue;
    // RFC 8656 §3.1: the connection was there for the allocation, which is
    // gone; a client wanting another one opens a new connection.
    LogLimited(LogLevel::kInfo, "tcp_allocation_expired", c->peer.ToString());
    CloseConnection(i, &stats_.tcp_closed_allocation_expired);
  }
  tcp_expired_.clear();
}

void DriverBase::DeliverClientDatagram(const UdpSocket& socket, const stun::SocketAddress& peer,
                                       std::span<uint8_t> payload) {
  ++stats_.udp_received;
  const turn::FiveTuple tuple{peer, socket.local, turn::Transport::kUdp};
  turn_->OnClientPacket(tuple, payload, Now());
}

void DriverBase::DeliverPeerDatagram(turn::RelayId relay, const stun::SocketAddress& peer,
                                     std::span<uint8_t> payload) {
  ++stats_.relay_received;
  const RelaySockets::Socket* s = relays_.get(relay);
  assert(s != nullptr);
  // After CloseRelay the core no longer knows this relay: drop.
  if (s != nullptr && !s->closing) turn_->OnPeerPacket(relay, peer, payload, Now());
}

std::variant<turn::TurnHost::Relay, turn::TurnHost::RelayError> DriverBase::OpenRelay(
    const RelayRequest& request) {
  int error = 0;
  std::variant<Relay, RelayError> out = relays_.Open(request, now_ns_, &error);
  if (error != 0) LogLimited(LogLevel::kWarning, "relay_socket_error", std::strerror(error));
  if (const Relay* r = std::get_if<Relay>(&out)) StartRelayReceive(r->id);
  return out;
}

void DriverBase::CloseRelay(turn::RelayId id) {
  RelaySockets::Socket* s = relays_.get(id);
  assert(s != nullptr && !s->closing);
  if (s == nullptr || s->closing) return;
  s->closing = true;
  StopRelay(id);
}

void DriverBase::SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) {
  if (IsBindingSuccess(bytes)) ++stats_.binding_success;
  if (tuple.transport != turn::Transport::kUdp) {
    auto it = tcp_by_tuple_.find(tuple);
    if (it == tcp_by_tuple_.end()) {
      ++stats_.tcp_send_no_connection;
      return;
    }
    const uint32_t i = it->second;
    TcpConnection& c = *conns_[i];
    if (!c.out.Append(bytes)) {
      // Closed once out of the core's call (closing releases the allocation,
      // which the core may be using now): by the connection's receive loop,
      // or by the turn's flush.
      c.overflowed = true;
      if (static_cast<int64_t>(i) != tcp_in_receive_) tcp_dirty_.push_back(i);
      return;
    }
    tcp_dirty_.push_back(i);
    return;
  }
  for (const auto& s : udp_) {
    if (s->local == tuple.server) return QueueDatagram(s->fd, tuple.client, bytes);
  }
  assert(false && "SendToClient on a tuple of no listening socket");
}

void DriverBase::SendDataToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) {
  if (tuple.transport != turn::Transport::kUdp) {
    auto it = tcp_by_tuple_.find(tuple);
    if (it != tcp_by_tuple_.end() &&
        conns_[it->second]->out.size() + bytes.size() > TcpConnection::kDataQueueLimit) {
      ++stats_.tcp_dropped_backpressure;
      return;
    }
  }
  SendToClient(tuple, bytes);
}

void DriverBase::SendToPeer(turn::RelayId relay, const stun::SocketAddress& peer,
                            std::span<const uint8_t> payload, bool dont_fragment) {
  RelaySockets::Socket* s = relays_.get(relay);
  assert(s != nullptr);
  if (s == nullptr) return;
  if (dont_fragment) relays_.SetDontFragment(*s);
  QueueDatagram(s->fd, peer, payload);
}

std::optional<uint32_t> DriverBase::AcceptConnection(int fd, const stun::SocketAddress& local) {
  if (open_conns_ >= options_.max_tcp_connections) {
    ::close(fd);
    ++stats_.tcp_rejected;
    LogLimited(LogLevel::kWarning, "tcp_connection_limit", "connection refused");
    return std::nullopt;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  std::optional<stun::SocketAddress> peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    peer = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (!peer.has_value()) {
    ::close(fd);  // already reset by the peer
    return std::nullopt;
  }
  if (options_.ip_limiter && !options_.ip_limiter->Acquire(*peer)) {
    ::close(fd);
    ++stats_.tcp_rejected_per_ip;
    LogLimited(LogLevel::kWarning, "tcp_connection_limit_per_ip", peer->IpString());
    return std::nullopt;
  }
  // Responses are small and latency matters more than segment count.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint32_t i;
  if (!free_conns_.empty()) {
    i = free_conns_.back();
    free_conns_.pop_back();
  } else {
    i = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
    generations_.push_back(0);
  }
  assert(!conns_[i]);
  conns_[i] = std::make_unique<TcpConnection>();
  TcpConnection& c = *conns_[i];
  c.fd = fd;
  c.generation = ++generations_[i];
  c.peer = *peer;
  c.tuple = turn::FiveTuple{*peer, local, turn::Transport::kTcp};
  c.last_receive_ns = now_ns_;
  c.allocation_seen_ns = now_ns_;
  c.routed = true;
  tcp_by_tuple_[c.tuple] = i;
  ++open_conns_;
  ++stats_.tcp_accepted;
  return i;
}

bool DriverBase::DeliverFrames(uint32_t i) {
  TcpConnection& c = *conns_[i];
  c.last_receive_ns = now_ns_;
  for (;;) {
    const stun::FrameInfo f = c.framer.Peek();
    if (f.status == stun::FrameInfo::Status::kNeedMore) break;
    if (f.status == stun::FrameInfo::Status::kInvalid) {
      // RFC 8489 §6.2.2 / RFC 8656 §12.4: a stream that is neither STUN nor
      // ChannelData cannot be resynchronised.
      LogLimited(LogLevel::kInfo, "tcp_invalid_stream", c.peer.ToString());
      CloseConnectionAfterFlush(i, &stats_.tcp_closed_invalid);
      return false;
    }
    // The core may rewrite a packet in place and expects headroom around it;
    // the framer's buffer is read-only, so the frame is copied (TCP is not
    // the hot path; UDP is zero-copy).
    assert(turn::kPacketHeadroom + f.size + turn::kPacketTailroom <= tcp_scratch_.size());
    std::span<uint8_t> frame(tcp_scratch_.data() + turn::kPacketHeadroom, f.size);
    std::memcpy(frame.data(), c.framer.buffered().data(), f.size);
    c.framer.Consume(f.size);
    tcp_in_receive_ = i;
    turn_->OnClientPacket(c.tuple, frame, Now());
    tcp_in_receive_ = -1;
    if (c.overflowed) {
      LogLimited(LogLevel::kInfo, "tcp_write_backlog", c.peer.ToString());
      CloseConnection(i, &stats_.tcp_closed_backlog);
      return false;
    }
  }
  if (c.framer.WritableSpace().empty()) {
    // Cannot happen with a framer that holds a maximal frame.
    CloseConnection(i, &stats_.tcp_closed_invalid);
    return false;
  }
  return true;
}

bool DriverBase::BeginClose(uint32_t i, uint64_t* reason) {
  TcpConnection& c = *conns_[i];
  if (c.closing) return false;
  c.closing = true;
  Unroute(i);
  ++stats_.tcp_closed;
  if (reason != nullptr) ++*reason;
  return true;
}

void DriverBase::Unroute(uint32_t i) {
  TcpConnection& c = *conns_[i];
  if (!c.routed) return;
  c.routed = false;
  tcp_by_tuple_.erase(c.tuple);
  // RFC 8656 §3.1: the allocation lives and dies with its connection.
  turn_->OnConnectionClosed(c.tuple, Now());
}

void DriverBase::ReleaseConnection(uint32_t i) {
  assert(conns_[i] && conns_[i]->closing);
  ::close(conns_[i]->fd);
  if (options_.ip_limiter) options_.ip_limiter->Release(conns_[i]->peer);
  conns_[i].reset();
  free_conns_.push_back(i);
  assert(open_conns_ > 0);
  --open_conns_;
}

void DriverBase::FlushTcp() {
  // Indexes, not iterators: closing may not add to the list, but be safe.
  for (size_t k = 0; k < tcp_dirty_.size(); ++k) {
    const uint32_t i = tcp_dirty_[k];
    TcpConnection* c = conn(i);
    if (c == nullptr || c->closing) continue;
    if (c->overflowed) {
      LogLimited(LogLevel::kInfo, "tcp_write_backlog", c->peer.ToString());
      CloseConnection(i, &stats_.tcp_closed_backlog);
      continue;
    }
    SendQueued(i);
  }
  tcp_dirty_.clear();
}

void DriverBase::CloseIdle() {
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    TcpConnection* c = conns_[i].get();
    if (c == nullptr || c->closing) continue;
    if (c->routed && turn_->HasAllocation(c->tuple)) {
      // Never idle-closed while it holds an allocation: the allocation's
      // lifetime and Refresh rules decide (RFC 8656 §3.1, §7).
      c->allocation_seen_ns = now_ns_;
      continue;
    }
    if (options_.max_allocate_timeout_ns > 0 &&
        now_ns_ - c->allocation_seen_ns > options_.max_allocate_timeout_ns) {
      // A connection that does not allocate holds a slot for nothing
      // (coturn's --max-allocate-timeout, default 60 s, the same rule).
      CloseConnection(i, &stats_.tcp_closed_allocate_timeout);
    } else if (now_ns_ - c->last_receive_ns > options_.tcp_idle_timeout_ns) {
      CloseConnection(i, &stats_.tcp_closed_idle);
    }
  }
}

void DriverBase::LogLimited(LogLevel level, std::string_view event, std::string_view detail) {
  if (!log_limiter_.Allow(now_ns_)) return;
  const uint64_t suppressed = log_limiter_.TakeSuppressed();
  if (suppressed > 0) {
    Log(level, event, {{"detail", detail}, {"suppressed", suppressed}});
  } else {
    Log(level, event, {{"detail", detail}});
  }
}

}  // namespace uturn::server
