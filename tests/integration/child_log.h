// A spawned child process and its stderr, read by a thread into a list of
// lines, so that integration tests wait for a log line without sleeping and
// the child never blocks on a full pipe. ServerProcess (uturn) and
// PeerProcess (uturn-ice) are built on it. Header only: the test binaries
// list their sources one by one.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace uturn::testing {

// waitpid's status as an exit code: the code, 128+N for signal N, -1 else.
inline int DecodeExitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

class ChildLog {
 public:
  ChildLog() = default;
  ChildLog(const ChildLog&) = delete;
  ChildLog& operator=(const ChildLog&) = delete;
  ~ChildLog() {  // SIGKILLs and reaps the child if it still runs
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  // The child `pid` was spawned with its stderr on the pipe whose read end
  // is `stderr_fd` (owned from now on). Once per object.
  void Attach(pid_t pid, int stderr_fd) {
    assert(pid_ < 0 && pid > 0);
    pid_ = pid;
    reader_ = std::thread([this, stderr_fd] { ReadLoop(stderr_fd); });
  }

  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }

  // Waits until a line satisfies `pred`; false on timeout or EOF.
  bool WaitForLine(const std::function<bool(const std::string&)>& pred,
                   std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    size_t checked = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (; checked < lines_.size(); ++checked) {
        if (pred(lines_[checked])) return true;
      }
      if (eof_) return false;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && checked == lines_.size()) {
        return false;
      }
    }
  }

  void Signal(int sig) const {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }

  // Waits for the child to exit (stderr EOF, then reap): its exit status as
  // DecodeExitStatus gives it, or nullopt on timeout (the child is killed).
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    if (reaped_) return exit_status_;
    bool closed = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      closed = cv_.wait_for(lock, timeout, [this] { return eof_; });
    }
    if (!closed) ::kill(pid_, SIGKILL);
    int status = 0;
    // stderr closed: the child is exiting, so this does not block for long.
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    exit_status_ = DecodeExitStatus(status);
    if (!closed) return std::nullopt;
    return exit_status_;
  }

  std::vector<std::string> Lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

  std::string Log() const {
    std::string all;
    for (const std::string& l : Lines()) all += l + "\n";
    return all;
  }

 private:
  void ReadLoop(int fd) {
    std::string partial;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      partial.append(buf, static_cast<size_t>(n));
      std::vector<std::string> complete;
      for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
        complete.push_back(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
      if (!complete.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        for (std::string& l : complete) lines_.push_back(std::move(l));
        cv_.notify_all();
      }
    }
    ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    if (!partial.empty()) lines_.push_back(partial);
    eof_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_status_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

}  // namespace uturn::testing
