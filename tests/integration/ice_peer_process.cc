#include "tests/integration/ice_peer_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace uturn::testing {
namespace {

using Clock = std::chrono::steady_clock;

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

const char* IcePeerBinary() { return UTURN_ICE_BINARY; }

PeerProcess::~PeerProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
}

bool PeerProcess::Spawn(const std::vector<std::string>& args, int stdin_fd, int stdout_fd,
                        std::string* error) {
  assert(pid_ < 0);
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  std::vector<std::string> storage{IcePeerBinary()};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err[1]);
  if (rc != 0) {
    *error = std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc);
    pid_ = -1;
    ::close(err[0]);
    return false;
  }
  reader_ = std::thread([this, fd = err[0]] { ReadLoop(fd); });
  return true;
}

void PeerProcess::ReadLoop(int fd) {
  std::string partial;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
      lines_.push_back(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
    cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  eof_ = true;
  cv_.notify_all();
}

bool PeerProcess::WaitForLine(const std::function<bool(const std::string&)>& pred,
                              std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t checked = 0;
  const auto deadline = Clock::now() + timeout;
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

bool PeerProcess::WaitForPrefix(const std::string& prefix, std::chrono::milliseconds timeout) {
  return WaitForLine([&](const std::string& l) { return l.rfind(prefix, 0) == 0; }, timeout);
}

void PeerProcess::Signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> PeerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  if (reaped_) return exit_status_;
  bool closed = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    closed = cv_.wait_for(lock, timeout, [this] { return eof_; });
  }
  if (!closed) ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);  // stderr closed: the child is exiting
  reaped_ = true;
  exit_status_ = DecodeStatus(status);
  if (!closed) return std::nullopt;
  return exit_status_;
}

std::vector<std::string> PeerProcess::Lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::string PeerProcess::Log() const {
  std::string out;
  for (const std::string& l : Lines()) out += l + "\n";
  return out;
}

std::vector<std::string> PeerProcess::Matching(const std::string& prefix) const {
  std::vector<std::string> out;
  for (const std::string& l : Lines()) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}

PeerPair::~PeerPair() {
  a.Signal(SIGKILL);
  b.Signal(SIGKILL);
  a.WaitExit(std::chrono::seconds(5));
  b.WaitExit(std::chrono::seconds(5));
  for (std::thread& t : tees_) t.join();  // EOF once both children are gone
}

void PeerPair::Tee(int from, int to, std::string* keep) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      keep->append(buf, static_cast<size_t>(n));
    }
    // The other peer may have exited: its stdin is gone, keep reading anyway.
    ssize_t off = 0;
    while (off < n) {
      const ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) break;
      off += w;
    }
  }
  ::close(from);
  ::close(to);  // EOF on the other's stdin
}

bool PeerPair::Start(const std::vector<std::string>& a_args, const std::vector<std::string>& b_args,
                     std::string* error) {
  // a stdout -> tee -> b stdin; b stdout -> tee -> a stdin.
  int a_out[2], b_in[2], b_out[2], a_in[2];
  for (int* p : {a_out, b_in, b_out, a_in}) {
    if (::pipe2(p, O_CLOEXEC) != 0) {
      *error = std::string("pipe2: ") + std::strerror(errno);
      return false;
    }
  }
  signal(SIGPIPE, SIG_IGN);  // a tee writing to an exited peer
  const bool ok = a.Spawn(a_args, a_in[0], a_out[1], error) && b.Spawn(b_args, b_in[0], b_out[1], error);
  for (int fd : {a_in[0], a_out[1], b_in[0], b_out[1]}) ::close(fd);
  tees_.emplace_back([this, f = a_out[0], t = b_in[1]] { Tee(f, t, &a_out_); });
  tees_.emplace_back([this, f = b_out[0], t = a_in[1]] { Tee(f, t, &b_out_); });
  return ok;
}

std::string PeerPair::Dump() const {
  std::lock_guard<std::mutex> lock(mu_);
  return "--- a stderr:\n" + a.Log() + "--- a stdout:\n" + a_out_ + "--- b stderr:\n" + b.Log() +
         "--- b stdout:\n" + b_out_;
}

}  // namespace uturn::testing
