#include "server/relay_sockets.h"

#include <netinet/in.h>
#include <sys/random.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>

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

}  // namespace

int OpenBoundUdpSocket(const stun::SocketAddress& bind, uint16_t port, int* error) {
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

RelaySockets::~RelaySockets() {
  for (auto& s : table_) {
    if (s && s->fd >= 0) ::close(s->fd);
  }
}

void RelaySockets::Configure(const RelayAddresses& relay, uint16_t min_port, uint16_t max_port,
                             uint32_t random_start) {
  assert(min_port <= max_port);
  if (relay.ipv4.has_value()) {
    v4_.pool.emplace(min_port, max_port, random_start);
    v4_.bind = *relay.ipv4;
    v4_.advertised = relay.advertised_ipv4.value_or(*relay.ipv4);
  }
  if (relay.ipv6.has_value()) {
    v6_.pool.emplace(min_port, max_port, random_start);
    v6_.bind = *relay.ipv6;
    v6_.advertised = relay.advertised_ipv6.value_or(*relay.ipv6);
  }
}

turn::RelayId RelaySockets::Add(int fd, stun::Family fam, uint16_t port,
                                std::optional<uint32_t> foreign_owner) {
  uint32_t i;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
  } else {
    i = static_cast<uint32_t>(table_.size());
    table_.emplace_back();
    generations_.push_back(0);
  }
  assert(!table_[i]);
  table_[i] = std::make_unique<Socket>();
  Socket& s = *table_[i];
  s.fd = fd;
  s.port = port;
  s.family = fam;
  s.generation = ++generations_[i];
  s.foreign_owner = foreign_owner;
  ++open_;
  ++stats_->relays_opened;
  return i;
}

std::variant<turn::TurnHost::Relay, turn::TurnHost::RelayError> RelaySockets::Open(
    const turn::TurnHost::RelayRequest& request, int64_t now_ns, int* socket_error) {
  using RelayError = turn::TurnHost::RelayError;
  *socket_error = 0;
  auto relay_for = [&](turn::RelayId id, stun::Family f, uint16_t port) {
    turn::TurnHost::Relay out;
    out.id = id;
    out.advertised = family(f).advertised;
    out.advertised.port = port;
    return out;
  };

  if (request.reservation_token.has_value()) {
    // RFC 8656 §7.2: the port reserved by an earlier EVEN-PORT R=1 Allocate,
    // named by the token alone (its family is the reservation's). It may be
    // another shard's (shared_reservations.h).
    std::optional<SharedReservations::Claimed> c =
        reservations_->Claim(*request.reservation_token, now_ns);
    if (!c.has_value()) return RelayError::kBadReservation;
    const Reservations::Entry& e = c->entry;
    std::optional<uint32_t> foreign;
    if (c->owner != shard_) foreign = c->owner;
    return relay_for(Add(e.fd, e.family, e.port, foreign), e.family, e.port);
  }

  Family& fam = family(request.family);
  // RFC 8656 §7.2: a family the server cannot relay is 440.
  if (!fam.pool.has_value()) return RelayError::kFamilyUnsupported;

  // RFC 8656 §7.2 EVEN-PORT with R=1: port+1 is held too.
  const bool with_next = request.even_port && request.reserve_next;
  for (int attempt = 0; attempt < kMaxBindAttempts; ++attempt) {
    std::optional<uint16_t> port = fam.pool->Take(request.even_port, with_next);
    if (!port.has_value()) break;
    int error = 0;
    const int fd = OpenBoundUdpSocket(fam.bind, *port, &error);
    int next_fd = -1;
    if (fd >= 0 && with_next) {
      next_fd = OpenBoundUdpSocket(fam.bind, static_cast<uint16_t>(*port + 1), &error);
      if (next_fd < 0) ::close(fd);
    }
    if (fd < 0 || (with_next && next_fd < 0)) {
      fam.pool->Release(*port);
      if (with_next) fam.pool->Release(static_cast<uint16_t>(*port + 1));
      if (error == EADDRINUSE || error == EACCES) {
        ++stats_->relay_port_refused;  // another program holds it: try the next
        continue;
      }
      *socket_error = error;
      break;  // EMFILE, ENOBUFS...: out of capacity, not of ports
    }
    turn::TurnHost::Relay out =
        relay_for(Add(fd, request.family, *port), request.family, *port);
    if (with_next) {
      const uint64_t token = RandomToken();
      reservations_->Add(shard_, {token, request.family, static_cast<uint16_t>(*port + 1), next_fd,
                                  now_ns + Reservations::kLifetimeNs});
      out.reservation_token = token;
    }
    return out;
  }
  ++stats_->relay_capacity_exhausted;
  return RelayError::kInsufficientCapacity;  // RFC 8656 §7.2: 508
}

void RelaySockets::Close(turn::RelayId id) {
  assert(id < table_.size() && table_[id]);
  Socket& s = *table_[id];
  ::close(s.fd);  // io_uring: in-flight sends hold their own file reference
  if (s.foreign_owner.has_value()) {
    reservations_->ReturnPort(*s.foreign_owner, s.family, s.port);
  } else {
    family(s.family).pool->Release(s.port);
  }
  table_[id].reset();
  free_.push_back(id);
  assert(open_ > 0);
  --open_;
  ++stats_->relays_closed;
}

void RelaySockets::SetDontFragment(Socket& s) {
  if (s.dont_fragment) return;
  // RFC 8656 §7.2/§14.4 DONT-FRAGMENT: the allocation asked for it and keeps
  // the socket, so it is set once.
  if (s.family == stun::Family::kIPv4) {
    const int v = IP_PMTUDISC_DO;
    setsockopt(s.fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
  } else {
    const int v = IPV6_PMTUDISC_DO;
    setsockopt(s.fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
  }
  s.dont_fragment = true;
}

void RelaySockets::ExpireReservations(int64_t now_ns) {
  for (const Reservations::Entry& e : reservations_->TakeExpired(shard_, now_ns)) {
    ::close(e.fd);
    family(e.family).pool->Release(e.port);
  }
  for (const auto& [f, port] : reservations_->TakeReturnedPorts(shard_)) {
    family(f).pool->Release(port);
  }
}

void RelaySockets::ShareReservations(SharedReservations* shared, uint32_t shard) {
  assert(shared != nullptr && shard < shared->shards() && open_ == 0);
  reservations_ = shared;
  shard_ = shard;
  own_reservations_.reset();
}

}  // namespace uturn::server
