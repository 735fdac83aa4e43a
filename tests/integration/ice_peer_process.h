// Runs the real `uturn-ice` as a child process with the stdin and stdout the
// test chooses (another peer's pipe, or one the test writes itself), its
// stderr (the logfmt status lines) read by a thread into a list of lines,
// so tests wait for an event without sleeping.
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

#include "tests/integration/child_log.h"

namespace uturn::testing {

const char* IcePeerBinary();

class PeerProcess {
 public:
  PeerProcess() = default;
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess() = default;  // the child is SIGKILLed and reaped if it still runs

  // stdin_fd/stdout_fd are dup2'ed into the child (the caller closes its
  // copies). -1: /dev/null.
  bool Spawn(const std::vector<std::string>& args, int stdin_fd, int stdout_fd, std::string* error);
  bool WaitForLine(const std::function<bool(const std::string&)>& pred,
                   std::chrono::milliseconds timeout) {
    return child_.WaitForLine(pred, timeout);
  }
  // A line starting with `prefix`.
  bool WaitForPrefix(const std::string& prefix, std::chrono::milliseconds timeout);
  void Signal(int sig) const { child_.Signal(sig); }
  // Exit status, 128+N for a signal, nullopt on timeout (the child is then killed).
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) { return child_.WaitExit(timeout); }
  std::vector<std::string> Lines() const { return child_.Lines(); }
  std::string Log() const { return child_.Log(); }
  // Lines starting with `prefix`.
  std::vector<std::string> Matching(const std::string& prefix) const;

 private:
  ChildLog child_;
};

// Two peers, each one's stdout piped into the other's stdin (ICE-PEER.md).
// What they write is also kept (a tee thread per direction).
class PeerPair {
 public:
  ~PeerPair();
  bool Start(const std::vector<std::string>& a_args, const std::vector<std::string>& b_args,
             std::string* error);
  PeerProcess a, b;
  std::string Dump() const;

 private:
  void Tee(int from, int to, std::string* keep);
  std::vector<std::thread> tees_;
  mutable std::mutex mu_;
  std::string a_out_, b_out_;
};

}  // namespace uturn::testing
