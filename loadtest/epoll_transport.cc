// The fallback transport: epoll readiness, recvmmsg per ready socket,
// sendmmsg per run of queued sends to the same socket. With one socket per
// allocation, interleaved sending costs one system call per packet here;
// that is what the io_uring transport removes.
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "loadtest/transport.h"

namespace uturn::loadtest {

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

namespace {

constexpr int kBatch = 64;  // datagrams per recvmmsg, events per epoll wait

class EpollTransport final : public Transport {
 public:
  explicit EpollTransport(const BufferSizes& sizes)
      : Transport(sizes),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        recv_bytes_(static_cast<size_t>(kBatch) * sizes.recv_size) {
    pending_.reserve(pool_.capacity());
    batch_.reserve(pool_.capacity());
  }
  ~EpollTransport() override {
    if (epoll_ >= 0) ::close(epoll_);
  }

  const char* name() const override { return "epoll"; }

  absl::Status Watch(int fd, uint32_t tag) override {
    if (epoll_ < 0) return absl::InternalError("epoll_create1 failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (static_cast<uint64_t>(fd) << 32) | tag;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  void Send(int fd, uint32_t id, size_t len, const sockaddr* to, socklen_t to_len,
            Traffic traffic) override {
    assert(pending_.size() < pool_.capacity());
    mmsghdr m{};
    m.msg_hdr = pool_.Prepare(id, len, to, to_len);
    pending_.push_back({m, fd, id, traffic});
  }

  void Poll(uint64_t until_ns, Wait mode, OnReceive on_receive) override {
    Flush();
    uint64_t now = NowNs();
    if (mode == Wait::kUntil && until_ns > now) {
      // steady_clock is CLOCK_MONOTONIC on Linux.
      const timespec at{static_cast<time_t>(until_ns / 1000000000),
                        static_cast<long>(until_ns % 1000000000)};
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
      now = until_ns;
    }
    const uint64_t wait = until_ns > now ? until_ns - now : 0;
    const timespec ts{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
    epoll_event evs[kBatch];
    int n = ::epoll_pwait2(epoll_, evs, kBatch, &ts, nullptr);
    if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond timeouts
      n = ::epoll_wait(epoll_, evs, kBatch, static_cast<int>((wait + 999999) / 1000000));
    }
    for (int e = 0; e < n; ++e) {
      ReceiveAll(static_cast<int>(evs[e].data.u64 >> 32),
                 static_cast<uint32_t>(evs[e].data.u64), on_receive);
    }
  }

 private:
  struct Pending {
    mmsghdr m;
    int fd;
    uint32_t id;
    Traffic traffic;
  };

  // One sendmmsg per run of consecutive sends on the same socket.
  void Flush() {
    std::vector<mmsghdr>& batch = batch_;
    for (size_t i = 0; i < pending_.size();) {
      size_t j = i;
      batch.clear();
      while (j < pending_.size() && pending_[j].fd == pending_[i].fd) batch.push_back(pending_[j++].m);
      size_t done = 0;
      while (done < batch.size()) {
        const int s = ::sendmmsg(pending_[i].fd, batch.data() + done,
                                 static_cast<unsigned>(batch.size() - done), 0);
        if (s <= 0) break;  // EAGAIN/ENOBUFS: the rest of this run is dropped
        done += static_cast<size_t>(s);
      }
      for (size_t k = i; k < j; ++k) {
        if (k - i >= done) CountFailure(pending_[k].traffic);
        pool_.Release(pending_[k].id);
      }
      i = j;
    }
    pending_.clear();
  }

  void ReceiveAll(int fd, uint32_t tag, OnReceive on_receive) {
    for (;;) {
      for (int j = 0; j < kBatch; ++j) {
        iov_[j] = {recv_bytes_.data() + static_cast<size_t>(j) * sizes_.recv_size, sizes_.recv_size};
        msgs_[j].msg_hdr = msghdr{};
        msgs_[j].msg_hdr.msg_name = &names_[j];
        msgs_[j].msg_hdr.msg_namelen = sizeof names_[j];
        msgs_[j].msg_hdr.msg_iov = &iov_[j];
        msgs_[j].msg_hdr.msg_iovlen = 1;
      }
      const int n = ::recvmmsg(fd, msgs_, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      for (int j = 0; j < n; ++j) {
        on_receive(Received{tag,
                            {static_cast<const uint8_t*>(iov_[j].iov_base), msgs_[j].msg_len},
                            reinterpret_cast<const sockaddr*>(&names_[j]),
                            msgs_[j].msg_hdr.msg_namelen});
      }
      if (n < kBatch) return;
    }
  }

  int epoll_;
  std::vector<Pending> pending_;
  std::vector<mmsghdr> batch_;
  std::vector<uint8_t> recv_bytes_;
  sockaddr_storage names_[kBatch]{};
  iovec iov_[kBatch]{};
  mmsghdr msgs_[kBatch]{};
};

}  // namespace

std::unique_ptr<Transport> MakeEpollTransport(const BufferSizes& sizes) {
  return std::make_unique<EpollTransport>(sizes);
}

}  // namespace uturn::loadtest
