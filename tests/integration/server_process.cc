#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
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

// Spawns the binary with stdout/stderr redirected to the given fds (-1: keep).
pid_t SpawnWith(const std::string& binary, const std::vector<std::string>& args, int out_fd,
                int err_fd, std::string* error) {
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out_fd >= 0) posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    *error = std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

}  // namespace

const char* UturnBinary() { return UTURN_BINARY; }
const char* StunClientBinary() { return UTURN_STUNCLIENT_BINARY; }

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
}

bool ServerProcess::Spawn(const std::vector<std::string>& args, std::string* error) {
  assert(pid_ < 0);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  pid_ = SpawnWith(UturnBinary(), args, -1, fds[1], error);
  ::close(fds[1]);
  if (pid_ < 0) {
    ::close(fds[0]);
    return false;
  }
  reader_ = std::thread([this, fd = fds[0]] { ReadLoop(fd); });
  return true;
}

void ServerProcess::ReadLoop(int fd) {
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

bool ServerProcess::WaitForLine(const std::function<bool(const std::string&)>& pred,
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

bool ServerProcess::StartAndWaitReady(const std::vector<std::string>& args, std::string* error,
                                      std::chrono::milliseconds timeout) {
  if (!Spawn(args, error)) return false;
  const bool ready = WaitForLine(
      [](const std::string& l) { return LogField(l, "event") == "ready"; }, timeout);
  if (!ready) {
    *error = "uturn did not log event=ready; its log:\n" + Log();
    return false;
  }
  for (const std::string& l : Lines()) {
    if (LogField(l, "event") != "listening") continue;
    const auto address = stun::SocketAddress::Parse(LogField(l, "address"));
    if (!address) {
      *error = "unparsable listening line: " + l;
      return false;
    }
    listeners_.push_back(Listener{LogField(l, "transport"), *address});
  }
  return true;
}

std::optional<stun::SocketAddress> ServerProcess::Udp() const {
  for (const Listener& l : listeners_) {
    if (l.transport == "udp") return l.address;
  }
  return std::nullopt;
}

std::optional<stun::SocketAddress> ServerProcess::Tcp() const {
  for (const Listener& l : listeners_) {
    if (l.transport == "tcp") return l.address;
  }
  return std::nullopt;
}

bool ServerProcess::Alive() const {
  if (pid_ <= 0 || reaped_) return false;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so WaitExit can still collect the status.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return false;
  }
  return info.si_pid == 0;
}

void ServerProcess::Signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  if (reaped_) return exit_status_;
  bool closed = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    closed = cv_.wait_for(lock, timeout, [this] { return eof_; });
  }
  if (!closed) ::kill(pid_, SIGKILL);
  int status = 0;
  // stderr closed: the process is exiting, so this does not block for long.
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  exit_status_ = DecodeStatus(status);
  if (!closed) return std::nullopt;
  return exit_status_;
}

std::vector<std::string> ServerProcess::Lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::string ServerProcess::Log() const {
  std::string all;
  for (const std::string& l : Lines()) all += l + "\n";
  return all;
}

RunResult RunToCompletion(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  return RunBinary(UturnBinary(), args, timeout);
}

RunResult RunBinary(const std::string& binary, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout) {
  RunResult result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  std::string error;
  const pid_t pid = SpawnWith(binary, args, out[1], err[1], &error);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    result.err = error;
    ::close(out[0]);
    ::close(err[0]);
    return result;
  }
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  while (open_count > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int r = ::poll(fds, 2, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_status = timed_out ? -1 : DecodeStatus(status);
  return result;
}

std::string LogField(const std::string& line, const std::string& key) {
  const std::string needle = key + "=";
  size_t pos = 0;
  for (;;) {
    pos = line.find(needle, pos);
    if (pos == std::string::npos) return "";
    if (pos == 0 || line[pos - 1] == ' ') break;
    pos += needle.size();
  }
  size_t start = pos + needle.size();
  if (start < line.size() && line[start] == '"') {
    const size_t end = line.find('"', start + 1);
    return line.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
  }
  const size_t end = line.find(' ', start);
  return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace uturn::testing
