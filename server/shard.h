// One shard of the data plane (DESIGN.md §The data plane): a thread that owns
// an event loop (io_uring or epoll, server/io_driver.h), a TURN core, its
// SO_REUSEPORT listening sockets and its slice of the relay ports. The main thread talks to it only through
// RequestStop/RequestDrain/RequestReload: an atomic set of flags and an
// eventfd the shard's loop reads, handled between loop turns, so the hot path
// takes no lock. The shard reports back (drained, exited) through atomics
// and a shared eventfd the main thread polls.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "server/metrics.h"
#include "server/shared_reservations.h"
#include "server/listeners.h"
#include "server/shard_plan.h"
#include "server/turn_config.h"
#include "server/io_driver.h"
#include "turn/turn_server.h"

namespace uturn::server {

struct ShardSetup {
  uint32_t index = 0;
  DriverOptions driver;
  // Decided once in main (ProbeIoBackend): kUring or kEpoll.
  IoBackend backend = IoBackend::kUring;
  RelayAddresses relay;
  PortSlice ports;
  uint32_t port_start = 0;  // random: where the relay port scan begins
  turn::TurnConfig turn;
  // The same for every shard, so a nonce one shard issued verifies on another.
  std::array<uint8_t, 64> seed{};
  std::vector<ListeningSocket> sockets;  // owned by the shard from Start() on
  // --prometheus: the shard publishes its counters here about once a second.
  CounterSlot* metrics = nullptr;
  // EVEN-PORT reservations of all shards (a token may be redeemed on another
  // shard than the one that issued it); outlives the shard.
  SharedReservations* reservations = nullptr;
};

class Shard {
 public:
  // `notify_fd`: an eventfd the shard writes when drained() or exited()
  // becomes true; owned by the caller and must outlive Join().
  Shard(ShardSetup setup, int notify_fd);
  ~Shard();  // joins the thread if still running (after RequestStop)
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Starts the thread and waits until the driver, the core and the sockets are
  // set up; on failure the thread has ended and the sockets are closed.
  absl::Status Start();

  void RequestStop();
  // SIGTERM with --drain-seconds: new Allocates get 508 (turn::TurnServer::
  // SetDraining); drained() once no allocation is left.
  void RequestDrain();
  // SIGHUP: new users and secrets for the core; live allocations keep theirs.
  void RequestReload(std::shared_ptr<const turn::AuthConfig> auth);

  bool drained() const { return drained_.load(std::memory_order_acquire); }
  bool exited() const { return exited_.load(std::memory_order_acquire); }
  void Join();

  uint32_t index() const { return setup_.index; }
  const PortSlice& ports() const { return setup_.ports; }
  // Valid after Join().
  const absl::Status& run_status() const { return run_status_; }
  const DriverStats& stats() const { return stats_; }
  const turn::TurnCounters& counters() const { return counters_; }

 private:
  enum Request : uint32_t { kStop = 1, kDrain = 2, kReload = 4 };

  void Post(uint32_t request);
  void Notify();
  void ThreadMain(std::promise<absl::Status>* ready);
  void OnWake(IoDriver& driver, turn::TurnServer& turn);

  ShardSetup setup_;
  int notify_fd_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<uint32_t> requests_{0};
  std::mutex reload_mu_;  // guards reload_ only; taken on SIGHUP, never per packet
  std::shared_ptr<const turn::AuthConfig> reload_;
  bool draining_ = false;  // shard thread only
  std::atomic<bool> drained_{false};
  std::atomic<bool> exited_{false};
  absl::Status run_status_;
  DriverStats stats_;
  turn::TurnCounters counters_;
};

// Adds `b` into `a` field by field (the stopped line sums the shards).
void AddStats(DriverStats& a, const DriverStats& b);
void AddCounters(turn::TurnCounters& a, const turn::TurnCounters& b);

}  // namespace uturn::server
