#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace uturn::testing {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "BlockIoUring: add this architecture's AUDIT_ARCH_*"
#endif

// Classic BPF: io_uring_setup fails with EPERM, every other call is allowed.
const sock_filter kNoIoUring[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

// fork + seccomp filter + exec, stderr to `err_fd`. Between fork and exec
// only system calls (the parent has threads).
pid_t SpawnWithoutIoUring(char* const* argv, int err_fd, std::string* error) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(std::size(kNoIoUring));
  prog.filter = const_cast<sock_filter*>(kNoIoUring);
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      ::_exit(126);
    }
    ::execve(argv[0], argv, environ);
    ::_exit(127);
  }
  return pid;
}

std::vector<std::string> WithTestBackend(const std::vector<std::string>& args) {
  const char* backend = std::getenv("UTURN_TEST_IO_BACKEND");
  if (backend == nullptr || *backend == '\0') return args;
  for (const std::string& a : args) {
    if (a.rfind("--io-backend", 0) == 0) return args;  // the test chose one
  }
  std::vector<std::string> out = args;
  out.push_back(std::string("--io-backend=") + backend);
  return out;
}

std::vector<char*> Argv(std::vector<std::string>& storage) {
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

// Spawns the binary with stdout/stderr redirected to the given fds (-1: keep).
pid_t SpawnWith(const std::string& binary, const std::vector<std::string>& args, int out_fd,
                int err_fd, std::string* error) {
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(argv_storage);

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

bool ServerProcess::Spawn(const std::vector<std::string>& args, std::string* error) {
  assert(child_.pid() < 0);
  pid_t pid = -1;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  if (block_io_uring_) {
    std::vector<std::string> storage{UturnBinary()};
    for (const std::string& a : WithTestBackend(args)) storage.push_back(a);
    std::vector<char*> argv = Argv(storage);
    pid = SpawnWithoutIoUring(argv.data(), fds[1], error);
  } else {
    pid = SpawnWith(UturnBinary(), WithTestBackend(args), -1, fds[1], error);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return false;
  }
  child_.Attach(pid, fds[0]);
  return true;
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
  if (child_.pid() <= 0 || child_.reaped()) return false;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so WaitExit can still collect the status.
  if (::waitid(P_PID, static_cast<id_t>(child_.pid()), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return false;
  }
  return info.si_pid == 0;
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
  result.exit_status = timed_out ? -1 : DecodeExitStatus(status);
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
