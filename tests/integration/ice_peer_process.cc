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

const char* IcePeerBinary() { return UTURN_ICE_BINARY; }

bool PeerProcess::Spawn(const std::vector<std::string>& args, int stdin_fd, int stdout_fd,
                        std::string* error) {
  assert(child_.pid() < 0);
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
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err[1]);
  if (rc != 0) {
    *error = std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc);
    ::close(err[0]);
    return false;
  }
  child_.Attach(pid, err[0]);
  return true;
}

bool PeerProcess::WaitForPrefix(const std::string& prefix, std::chrono::milliseconds timeout) {
  return WaitForLine([&](const std::string& l) { return l.rfind(prefix, 0) == 0; }, timeout);
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
