#include "client/tools/ice_peer_http_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "stun/text.h"
#include "ice-lite/endpoint/dtls_identity.h"
#include "ice-lite/endpoint/http.h"

namespace uturn::client::peer {
namespace {

// The answer waits for gathering to complete, but not forever.
constexpr absl::Duration kAnswerWait = absl::Seconds(5);
// A connection that has not sent a whole request by then is closed.
constexpr absl::Duration kRequestTimeout = absl::Seconds(10);
// A browser opens a few (preflight, offer); more is not a browser.
constexpr size_t kMaxConnections = 8;

}  // namespace

OfferHttpServer::OfferHttpServer(IceSocketDriver* driver, RandomSource random, Hooks hooks)
    : driver_(driver), random_(std::move(random)), hooks_(std::move(hooks)) {
  assert(driver_ != nullptr);
}

OfferHttpServer::~OfferHttpServer() {
  for (auto& [fd, conn] : conns_) {
    driver_->Unwatch(fd);
    close(fd);
  }
  if (listen_fd_ >= 0) {
    driver_->Unwatch(listen_fd_);
    close(listen_fd_);
  }
}

absl::StatusOr<stun::SocketAddress> OfferHttpServer::Open(const stun::SocketAddress& at) {
  absl::StatusOr<ice::endpoint::DtlsIdentity> id = ice::endpoint::GenerateDtlsIdentity();
  if (!id.ok()) return id.status();
  service_ = OfferAnswerService(id->fingerprint);
  listen_fd_ = socket(at.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::InternalError(text::Cat("socket(http): ", std::strerror(errno)));
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  const socklen_t len = at.ToSockaddr(&ss);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(listen_fd_, 16) != 0) {
    return absl::UnavailableError(text::Cat("--http ", at.ToString(), ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  std::optional<stun::SocketAddress> local;
  if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &blen) == 0) {
    local = stun::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), blen);
  }
  if (!local) return absl::InternalError(text::Cat("getsockname(http): ", std::strerror(errno)));
  if (absl::Status s = driver_->Watch(listen_fd_, [this](absl::Time now) { OnAccept(now); }); !s.ok()) {
    return s;
  }
  return *local;
}

void OfferHttpServer::OnAccept(absl::Time now) {
  const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  if (conns_.size() >= kMaxConnections) {
    close(fd);
    hooks_.debug("http: too many connections, one refused");
    return;
  }
  conns_[fd] = Conn{std::string(), now + kRequestTimeout};
  if (!driver_->Watch(fd, [this, fd](absl::Time t) { OnConn(fd, t); }).ok()) Drop(fd);
}

void OfferHttpServer::Drop(int fd) {
  driver_->Unwatch(fd);
  close(fd);
  conns_.erase(fd);
  if (pending_ == fd) pending_.reset();
}

void OfferHttpServer::Respond(int fd, const ice::endpoint::HttpResponse& r) {
  // Answers are a few KiB: written with a short blocking timeout, then closed.
  const std::string bytes = ice::endpoint::SerializeResponse(r);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  size_t off = 0;
  // Bounded: each send either progresses or times out after 2 s.
  for (int attempts = 0; off < bytes.size() && attempts < 16; ++attempts) {
    const ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  shutdown(fd, SHUT_WR);
  Drop(fd);
}

void OfferHttpServer::OnConn(int fd, absl::Time now) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  char buf[8192];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (fd == pending_) {
    // Nothing more is read from the offer's connection; a close ends it.
    if (n <= 0) Drop(fd);
    return;
  }
  if (n <= 0) {  // closed before a whole request
    Drop(fd);
    return;
  }
  it->second.in.append(buf, static_cast<size_t>(n));
  const ice::endpoint::HttpParse p = ice::endpoint::ParseHttpRequest(it->second.in, {});
  if (p.status == ice::endpoint::HttpParse::Status::kNeedMore) return;
  if (p.status == ice::endpoint::HttpParse::Status::kError) {
    ice::endpoint::HttpResponse r;
    r.status = p.error_status;
    r.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    r.body = p.error_reason + "\n";
    AddCors(r);
    Respond(fd, r);
    return;
  }
  OfferAnswerService::Result res = service_.Handle(p.request);
  if (res.response) {
    Respond(fd, *res.response);
    return;
  }
  assert(res.offer && !pending_);
  pending_ = fd;
  answer_by_ = now + kAnswerWait;
  hooks_.on_offer(*res.offer, now);
  if (hooks_.ready()) AnswerPending();
}

void OfferHttpServer::AnswerPending() {
  const int fd = *pending_;
  pending_.reset();
  std::array<uint8_t, 8> sid{};
  random_(sid);
  uint64_t session_id = 0;
  for (uint8_t b : sid) session_id = (session_id << 8) | b;
  Respond(fd, service_.Answer(hooks_.local_credentials(), hooks_.local_candidates(), session_id));
}

void OfferHttpServer::Tick(absl::Time now) {
  if (pending_ && (hooks_.ready() || now >= answer_by_)) AnswerPending();
  std::vector<int> expired;
  for (const auto& [fd, c] : conns_) {
    if (now >= c.deadline && fd != pending_) expired.push_back(fd);
  }
  for (int fd : expired) Drop(fd);
}

absl::Time OfferHttpServer::NextDeadline() const {
  absl::Time t = pending_ ? answer_by_ : absl::InfiniteFuture();
  for (const auto& [fd, c] : conns_) t = std::min(t, c.deadline);
  return t;
}

}  // namespace uturn::client::peer
