// The relay side of a shard, shared by both drivers: a port pool per address
// family, opening and binding relay sockets with the port-scan policy,
// EVEN-PORT reservations and their expiry (RFC 8656 §7.2), DONT-FRAGMENT
// (RFC 8656 §14.4), and the table RelayId -> socket. How a socket is read
// (multishot recvmsg or epoll) is the driver's business: it is told the id
// after Open() and calls Close() once it no longer reads the socket.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "server/io_driver.h"
#include "server/port_pool.h"
#include "server/shared_reservations.h"
#include "server/turn_config.h"
#include "turn/turn_server.h"
#include "turn/types.h"

namespace uturn::server {

class RelaySockets {
 public:
  struct Socket {
    int fd = -1;
    uint16_t port = 0;
    stun::Family family = stun::Family::kIPv4;
    uint32_t generation = 0;     // of the slot: events of an earlier socket are stale
    bool closing = false;        // CloseRelay called; the driver finishes the close
    bool dont_fragment = false;  // DF already set on the socket
    // The shard whose port slice `port` is in, when not this one (a token
    // another shard reserved): the port goes back to it on close.
    std::optional<uint32_t> foreign_owner;
    msghdr msg{};                // io_uring: the template the multishot recvmsg reads
  };

  // Counts relays_opened/closed, relay_port_refused, relay_capacity_exhausted.
  explicit RelaySockets(DriverStats* stats) : stats_(stats) {}
  ~RelaySockets();  // closes every socket, reserved ones too
  RelaySockets(const RelaySockets&) = delete;
  RelaySockets& operator=(const RelaySockets&) = delete;

  void Configure(const RelayAddresses& relay, uint16_t min_port, uint16_t max_port,
                 uint32_t random_start);
  // Reservations shared with the other shards, this one being `shard`;
  // without a call the shard keeps a registry of its own.
  void ShareReservations(SharedReservations* shared, uint32_t shard);

  // A bound relay socket for `request` (or the one its RESERVATION-TOKEN
  // holds), entered in the table; the driver then starts reading it. On
  // kInsufficientCapacity because of a socket error (not a lack of ports)
  // `*socket_error` is that errno, for the driver's log.
  std::variant<turn::TurnHost::Relay, turn::TurnHost::RelayError> Open(
      const turn::TurnHost::RelayRequest& request, int64_t now_ns, int* socket_error);

  // nullptr if `id` is not open.
  Socket* get(turn::RelayId id) {
    return id < table_.size() ? table_[id].get() : nullptr;
  }
  // Closes the socket, returns its port to the pool and frees the id.
  void Close(turn::RelayId id);
  // RFC 8656 §14.4 DONT-FRAGMENT: DF on what this relay sends; once per socket.
  void SetDontFragment(Socket& socket);
  // Housekeeping: closes this shard's reservations past their 30 s
  // (RFC 8656 §7.2) and takes back the ports other shards returned.
  void ExpireReservations(int64_t now_ns);

  size_t open() const { return open_; }
  size_t reservations() const { return reservations_->size(); }

 private:
  struct Family {
    std::optional<PortPool> pool;
    stun::SocketAddress bind;        // port 0
    stun::SocketAddress advertised;  // port 0
  };
  Family& family(stun::Family f) { return f == stun::Family::kIPv4 ? v4_ : v6_; }
  turn::RelayId Add(int fd, stun::Family family, uint16_t port,
                    std::optional<uint32_t> foreign_owner = std::nullopt);

  DriverStats* stats_;
  Family v4_, v6_;
  std::vector<std::unique_ptr<Socket>> table_;  // index = RelayId; stable addresses
  std::vector<uint32_t> generations_;           // per slot, survives its reuse
  std::vector<uint32_t> free_;
  size_t open_ = 0;
  std::unique_ptr<SharedReservations> own_reservations_ = std::make_unique<SharedReservations>(1);
  SharedReservations* reservations_ = own_reservations_.get();
  uint32_t shard_ = 0;
};

// A UDP socket bound to `bind` with `port`, or -1 with `*error` = errno.
int OpenBoundUdpSocket(const stun::SocketAddress& bind, uint16_t port, int* error);

}  // namespace uturn::server
