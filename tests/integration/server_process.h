// Runs the real `uturn` binary as a child process for integration tests.
// With the environment variable UTURN_TEST_IO_BACKEND set (auto, uring or
// epoll), Spawn adds `--io-backend=<it>` unless the test passes --io-backend
// itself: CTest runs the whole suite once per backend that way.
// Its stderr (the logfmt event log) is read by a thread into a list of lines
// so that tests can wait for an event without sleeping and the child never
// blocks on a full pipe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "stun/address.h"
#include "tests/integration/child_log.h"

namespace uturn::testing {

// Paths of the binaries under test (compile definitions from CMake).
const char* UturnBinary();
const char* StunClientBinary();

struct Listener {
  std::string transport;  // "udp" or "tcp"
  stun::SocketAddress address;
};

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() = default;  // the child is SIGKILLed and reaped if it still runs

  // Spawns `uturn args...`. Returns false (with a message) if spawning failed.
  bool Spawn(const std::vector<std::string>& args, std::string* error);

  // Before Spawn: the child gets a seccomp filter that fails io_uring_setup
  // with EPERM, as container runtimes' default profiles do (proves the
  // epoll fallback). Needs no privilege (PR_SET_NO_NEW_PRIVS).
  void BlockIoUring() { block_io_uring_ = true; }

  // Spawns and waits for `event=ready`; collects the `event=listening` lines.
  // Returns false with the log in `error` if it exits or times out first.
  bool StartAndWaitReady(const std::vector<std::string>& args, std::string* error,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Waits until a log line satisfies `pred`; false on timeout or EOF.
  bool WaitForLine(const std::function<bool(const std::string&)>& pred,
                   std::chrono::milliseconds timeout) {
    return child_.WaitForLine(pred, timeout);
  }

  const std::vector<Listener>& listeners() const { return listeners_; }
  std::optional<stun::SocketAddress> Udp() const;
  std::optional<stun::SocketAddress> Tcp() const;

  pid_t pid() const { return child_.pid(); }
  // True if the child has not exited (checked without reaping it).
  bool Alive() const;
  void Signal(int sig) const { child_.Signal(sig); }
  // Waits for the child to exit (stderr EOF, then reap); returns the exit
  // status, 128+N for a signal, or nullopt on timeout (the child is killed).
  std::optional<int> WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return child_.WaitExit(timeout);
  }

  // Everything logged so far, one line per entry.
  std::vector<std::string> Lines() const { return child_.Lines(); }
  std::string Log() const { return child_.Log(); }

 private:
  ChildLog child_;
  bool block_io_uring_ = false;
  std::vector<Listener> listeners_;
};

// Runs `uturn args...` to completion (stdout and stderr captured).
struct RunResult {
  int exit_status = -1;  // as in WaitExit; -1 if it had to be killed
  std::string out;
  std::string err;
};
RunResult RunToCompletion(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Same for any binary.
RunResult RunBinary(const std::string& binary, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Value of `key=` in a logfmt line ("" if absent).
std::string LogField(const std::string& line, const std::string& key);

}  // namespace uturn::testing
