// UringDriver as turn::TurnHost: relay sockets over the port pool, EVEN-PORT
// reservations, and the sends the core asks for (in place or copied).
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

#include "server/text.h"
#include "server/uring_driver.h"

namespace uturn::server {
namespace {

// Ports tried per OpenRelay before giving up with 508: the kernel may refuse
// ports other programs hold; scanning a whole 16k range for each allocation
// would be too slow when most of it is taken.
constexpr int kMaxBindAttempts = 64;

uint64_t RandomToken() {
  uint64_t token = 0;
  while (getrandom(&token, sizeof token, 0) != static_cast<ssize_t>(sizeof token)) {
  }
  return token;
}

bool IsBindingSuccess(std::span<const uint8_t> bytes) {
  // RFC 8489 §5: message type 0x0101 is a Binding success response.
  return bytes.size() >= 20 && bytes[0] == 0x01 && bytes[1] == 0x01;
}

}  // namespace

void UringDriver::ConfigureRelays(const RelayAddresses& relay, uint16_t min_port,
                                  uint16_t max_port, uint32_t random_start) {
  assert(min_port <= max_port);
  if (relay.ipv4.has_value()) {
    relay_v4_.pool.emplace(min_port, max_port, random_start);
    relay_v4_.bind = *relay.ipv4;
    relay_v4_.advertised = relay.advertised_ipv4.value_or(*relay.ipv4);
  }
  if (relay.ipv6.has_value()) {
    relay_v6_.pool.emplace(min_port, max_port, random_start);
    relay_v6_.bind = *relay.ipv6;
    relay_v6_.advertised = relay.advertised_ipv6.value_or(*relay.ipv6);
  }
}

int UringDriver::OpenRelaySocket(const stun::SocketAddress& bind, uint16_t port, int* error) {
  const int fd = ::socket(bind.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return -1;
  }
  const int one = 1;
  if (!bind.is_v4()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  stun::SocketAddress a = bind;
  a.port = port;
  sockaddr_storage ss{};
  const socklen_t len = a.ToSockaddr(&ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    *error = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

uint32_t UringDriver::AddRelay(int fd, stun::Family family, uint16_t port) {
  uint32_t i;
  if (!free_relays_.empty()) {
    i = free_relays_.back();
    free_relays_.pop_back();
  } else {
    i = static_cast<uint32_t>(relays_.size());
    relays_.emplace_back();
  }
  assert(!relays_[i]);
  relays_[i] = std::make_unique<RelaySocket>();
  ResetGso(fd);
  RelaySocket& r = *relays_[i];
  r.fd = fd;
  r.port = port;
  r.family = family;
  r.msg.msg_namelen = kRecvNameLen;
  ArmRecvmsg(fd, &r.msg, Tag(Op::kRelayReceive, i));
  ++open_relays_;
  ++stats_.relays_opened;
  return i;
}

std::variant<turn::TurnHost::Relay, turn::TurnHost::RelayError> UringDriver::OpenRelay(
    const RelayRequest& request) {
  RelayFamily& fam = request.family == stun::Family::kIPv4 ? relay_v4_ : relay_v6_;
  // RFC 8656 §7.2: a family the server cannot relay is 440.
  if (!fam.pool.has_value()) return RelayError::kFamilyUnsupported;
  auto relay_for = [&](uint32_t id, uint16_t port) {
    Relay out;
    out.id = id;
    out.advertised = fam.advertised;
    out.advertised.port = port;
    return out;
  };

  if (request.reservation_token.has_value()) {
    // RFC 8656 §7.2: the port reserved by an earlier EVEN-PORT R=1 Allocate.
    std::optional<Reservations::Entry> e =
        reservations_.Claim(*request.reservation_token, request.family, now_ns_);
    if (!e.has_value()) return RelayError::kBadReservation;
    return relay_for(AddRelay(e->fd, e->family, e->port), e->port);
  }

  const bool with_next = request.even_port && request.reserve_next;
  for (int attempt = 0; attempt < kMaxBindAttempts; ++attempt) {
    std::optional<uint16_t> port = fam.pool->Take(request.even_port, with_next);
    if (!port.has_value()) break;
    int error = 0;
    const int fd = OpenRelaySocket(fam.bind, *port, &error);
    int next_fd = -1;
    if (fd >= 0 && with_next) {
      next_fd = OpenRelaySocket(fam.bind, static_cast<uint16_t>(*port + 1), &error);
      if (next_fd < 0) ::close(fd);
    }
    if (fd < 0 || (with_next && next_fd < 0)) {
      fam.pool->Release(*port);
      if (with_next) fam.pool->Release(static_cast<uint16_t>(*port + 1));
      if (error == EADDRINUSE || error == EACCES) {
        ++stats_.relay_port_refused;  // another program holds it: try the next
        continue;
      }
      LogLimited(LogLevel::kWarning, "relay_socket_error", std::strerror(error));
      break;  // EMFILE, ENOBUFS...: out of capacity, not of ports
    }
    Relay out = relay_for(AddRelay(fd, request.family, *port), *port);
    if (with_next) {
      const uint64_t token = RandomToken();
      reservations_.Add({token, request.family, static_cast<uint16_t>(*port + 1), next_fd,
                         now_ns_ + Reservations::kLifetimeNs});
      out.reservation_token = token;
    }
    return out;
  }
  ++stats_.relay_capacity_exhausted;
  return RelayError::kInsufficientCapacity;  // RFC 8656 §7.2: 508
}

void UringDriver::CloseRelay(turn::RelayId id) {
  assert(id < relays_.size() && relays_[id] && !relays_[id]->closing);
  if (id >= relays_.size() || !relays_[id] || relays_[id]->closing) return;
  RelaySocket& r = *relays_[id];
  r.closing = true;
  // The multishot receive ends with a final completion (no F_MORE); the
  // socket is closed and its port returned then (FinishRelayClose).
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel64(sqe, Tag(Op::kRelayReceive, id), 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kCancel, id));
}

void UringDriver::FinishRelayClose(uint32_t id) {
  RelaySocket& r = *relays_[id];
  assert(r.closing);
  ::close(r.fd);  // in-flight sends hold their own file reference
  RelayFamily& fam = r.family == stun::Family::kIPv4 ? relay_v4_ : relay_v6_;
  fam.pool->Release(r.port);
  relays_[id].reset();
  free_relays_.push_back(id);
  assert(open_relays_ > 0);
  --open_relays_;
  ++stats_.relays_closed;
}

void UringDriver::ExpireReservations() {
  for (const Reservations::Entry& e : reservations_.TakeExpired(now_ns_)) {
    ::close(e.fd);
    RelayFamily& fam = e.family == stun::Family::kIPv4 ? relay_v4_ : relay_v6_;
    fam.pool->Release(e.port);
  }
}

void UringDriver::SendToClient(const turn::FiveTuple& tuple, std::span<const uint8_t> bytes) {
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
      if (static_cast<int64_t>(i) == tcp_in_receive_) {
        c.overflowed = true;  // its receive loop closes it
      } else {
        LogLimited(LogLevel::kInfo, "tcp_write_backlog", c.peer.ToString());
        Close(i, &stats_.tcp_closed_backlog);
      }
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

void UringDriver::SendToPeer(turn::RelayId relay, const stun::SocketAddress& peer,
                             std::span<const uint8_t> payload, bool dont_fragment) {
  assert(relay < relays_.size() && relays_[relay]);
  if (relay >= relays_.size() || !relays_[relay]) return;
  RelaySocket& r = *relays_[relay];
  if (dont_fragment && !r.dont_fragment) {
    // RFC 8656 §7.2/§14.4 DONT-FRAGMENT: set DF on what this relay sends. Per
    // socket, once: the allocation asked for it and keeps the socket.
    const int v = r.family == stun::Family::kIPv4 ? IP_PMTUDISC_DO : IPV6_PMTUDISC_DO;
    if (r.family == stun::Family::kIPv4) {
      setsockopt(r.fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    } else {
      setsockopt(r.fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
    }
    r.dont_fragment = true;
  }
  QueueDatagram(r.fd, peer, payload);
}

void UringDriver::QueueDatagram(int fd, const stun::SocketAddress& to,
                                std::span<const uint8_t> bytes) {
  if (current_buffer_ >= 0) {
    const std::span<uint8_t> buf = buffers_->buffer(static_cast<uint16_t>(current_buffer_));
    if (bytes.data() >= buf.data() && bytes.data() + bytes.size() <= buf.data() + buf.size()) {
      // In place: the receive buffer stays referenced until the send
      // completes. Queued into a GSO batch; the loop submits the turn's
      // batches together.
      if (!gso_.Add(fd, to, bytes, current_buffer_, GsoAllowed(fd))) {
        ++stats_.send_pool_exhausted;
        return;
      }
      ++buffer_refs_[current_buffer_];
      ++stats_.sends_in_place;
      return;
    }
  }
  SendSlot* slot = send_pool_.Acquire();
  if (slot == nullptr) {
    ++stats_.send_pool_exhausted;
    return;
  }
  if (bytes.size() > slot->buffer.size()) {
    ++stats_.send_too_large;
    send_pool_.Release(slot);
    return;
  }
  std::memcpy(slot->buffer.data(), bytes.data(), bytes.size());
  slot->Prepare(bytes.size(), to);
  ++stats_.sends_copied;
  // Queued only: the loop submits the turn's SQEs together.
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_sendmsg(sqe, fd, &slot->msg, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kUdpSend, slot->index));
}

void UringDriver::SubmitBatch(GsoBatch& b) {
  b.PrepareMessage();
  if (b.count > 1) {
    ++stats_.gso_sends;
    stats_.gso_datagrams += b.count;
  }
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_sendmsg(sqe, b.fd, &b.msg, 0);
  io_uring_sqe_set_data64(sqe, Tag(Op::kUdpBatchSend, b.index));
}

void UringDriver::OnBatchSend(uint32_t index, int res) {
  GsoBatch& b = gso_.batch(index);
  if (res < 0) {
    ++stats_.udp_send_errors;
    if (b.count > 1 && (res == -EIO || res == -EINVAL || res == -EOPNOTSUPP) &&
        GsoAllowed(b.fd)) {
      // The kernel refused UDP_SEGMENT here (no checksum offload on the
      // route's device, IPsec, a segment over the path MTU...): this socket
      // sends one datagram per sendmsg from now on. The batch itself is lost,
      // as a datagram may be.
      if (static_cast<size_t>(b.fd) >= gso_refused_.size()) gso_refused_.resize(b.fd + 1, 0);
      gso_refused_[b.fd] = 1;
      ++stats_.gso_refused;
      LogLimited(LogLevel::kWarning, "udp_gso_refused", std::strerror(-res));
    } else {
      LogLimited(LogLevel::kWarning, "udp_send_error", std::strerror(-res));
    }
  }
  for (uint32_t i = 0; i < b.count; ++i) Unref(static_cast<uint16_t>(b.cookies[i]));
  gso_.Release(b);
}

void UringDriver::ResetGso(int fd) {
  if (static_cast<size_t>(fd) < gso_refused_.size()) gso_refused_[fd] = 0;
}

void UringDriver::OnUdpSend(uint32_t slot, int res) {
  if (res < 0) {
    ++stats_.udp_send_errors;
    LogLimited(LogLevel::kWarning, "udp_send_error", std::strerror(-res));
  }
  send_pool_.Release(&send_pool_.slot(slot));
}

void UringDriver::Unref(uint16_t id) {
  assert(buffer_refs_[id] > 0);
  if (--buffer_refs_[id] == 0) buffers_->Return(id);
}

}  // namespace uturn::server
