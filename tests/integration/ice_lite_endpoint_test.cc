// The real `ice-lite-endpoint` binary on loopback (port 0 everywhere): the
// WHIP-style HTTP surface, connectivity checks built with the project's STUN
// builder over UDP and ICE-TCP (RFC 4571 framing), the JSON event log, and
// consent expiry. Helpers (process, HTTP client, sockets) are at the top.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ice-lite/sdp.h"
#include "stun/attributes.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace {

using namespace std::chrono_literals;
using uturn::stun::SocketAddress;
namespace stun = uturn::stun;
namespace ice = uturn::ice;

constexpr auto kWait = 5s;  // generous: a loaded 2-core CI machine

// Value of "key" in one of the endpoint's JSON lines (string or number), ""
// if absent. The log is flat JSON written by the endpoint, so a scan is enough.
std::string JsonField(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t p = line.find(k);
  if (p == std::string::npos) return "";
  p += k.size();
  if (p < line.size() && line[p] == '"') {
    std::string out;
    for (++p; p < line.size() && line[p] != '"'; ++p) {
      if (line[p] == '\\' && p + 1 < line.size()) ++p;
      out += line[p];
    }
    return out;
  }
  const size_t end = line.find_first_of(",}", p);
  return line.substr(p, end - p);
}

// The endpoint as a child process; stdout (the JSON log) is collected by a
// thread so tests wait on lines instead of sleeping.
class Endpoint {
 public:
  ~Endpoint() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  bool Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {ICE_LITE_ENDPOINT_BINARY, "--listen", "127.0.0.1:0", "--http",
                                     "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] { ReadLoop(fd); });
    std::string ready;
    if (!WaitFor([](const std::string& l) { return JsonField(l, "event") == "ready"; }, &ready)) {
      return false;
    }
    for (const std::string& l : Lines()) {
      if (JsonField(l, "event") != "listening") continue;
      auto a = SocketAddress::Parse(JsonField(l, "address"));
      if (!a) return false;
      const std::string t = JsonField(l, "transport");
      (t == "udp" ? udp : t == "tcp" ? tcp : http) = *a;
    }
    return udp.port != 0 && tcp.port != 0 && http.port != 0;
  }

  bool WaitFor(const std::function<bool(const std::string&)>& pred, std::string* found = nullptr,
               std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    size_t seen = 0;
    return cv_.wait_for(lock, timeout, [&] {
      for (; seen < lines_.size(); ++seen) {
        if (pred(lines_[seen])) {
          if (found) *found = lines_[seen];
          return true;
        }
      }
      return eof_;
    }) && seen < lines_.size();
  }
  // The first line with "event":event and "session":session.
  bool WaitEvent(const std::string& event, const std::string& session, std::string* found = nullptr,
                 std::chrono::milliseconds timeout = kWait) {
    return WaitFor(
        [&](const std::string& l) {
          return JsonField(l, "event") == event && JsonField(l, "session") == session;
        },
        found, timeout);
  }

  std::vector<std::string> Lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  std::string Log() {
    std::string all;
    for (auto& l : Lines()) all += l + "\n";
    return all;
  }

  // SIGTERM and the exit status (-1 if it had to be killed).
  int Stop() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);  // polling the child's exit, bounded
    }
    return -1;
  }

  SocketAddress udp, tcp, http;

 private:
  void ReadLoop(int fd) {
    std::string partial;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      partial.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        std::lock_guard lock(mu_);
        lines_.push_back(partial.substr(0, nl));
        partial.erase(0, nl + 1);
        cv_.notify_all();
      }
    }
    close(fd);
    std::lock_guard lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

SocketAddress LocalOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

int Connect(const SocketAddress& to) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const socklen_t len = to.ToSockaddr(&ss);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool Readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

struct HttpReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower) const {
    for (auto& [k, v] : headers) {
      if (k == lower) return v;
    }
    return "";
  }
};

// Sends `raw` and reads the reply until the server closes (it always sends
// Connection: close).
HttpReply RawHttp(const SocketAddress& server, const std::string& raw) {
  HttpReply r;
  Fd s(Connect(server));
  if (s.fd < 0) return r;
  if (send(s.fd, raw.data(), raw.size(), MSG_NOSIGNAL) < 0) return r;
  std::string all;
  char buf[4096];
  while (Readable(s.fd, kWait)) {
    const ssize_t n = read(s.fd, buf, sizeof buf);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  const size_t head_end = all.find("\r\n\r\n");
  if (head_end == std::string::npos || !all.starts_with("HTTP/1.1 ")) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.body = all.substr(head_end + 4);
  size_t p = all.find("\r\n") + 2;
  while (p < head_end) {
    const size_t e = all.find("\r\n", p);
    const std::string line = all.substr(p, e - p);
    const size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(name, line.substr(line.find_first_not_of(' ', colon + 1)));
    p = e + 2;
  }
  return r;
}

HttpReply Request(const SocketAddress& server, const std::string& method, const std::string& path,
                  const std::string& content_type = "", const std::string& body = "") {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: test\r\n";
  if (!content_type.empty()) raw += "Content-Type: " + content_type + "\r\n";
  if (!body.empty() || method == "POST") raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return RawHttp(server, raw + "\r\n" + body);
}

constexpr char kRemoteUfrag[] = "EsAw";
constexpr char kRemotePwd[] = "P2uYro0UCOQ4zxjKXaWCBui1";

// A Chrome-shaped data-channel offer.
std::string Offer() {
  return std::string(
             "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
             "a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
             "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
             "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 network-id 1\r\n"
             "a=ice-ufrag:") +
         kRemoteUfrag + "\r\na=ice-pwd:" + kRemotePwd +
         "\r\na=ice-options:trickle\r\n"
         "a=fingerprint:sha-256 "
         "6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n"
         "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
}

struct Session {
  std::string id;  // Location's last segment
  ice::SessionDescription answer;
  ice::Credentials ice;
};

// POSTs the offer; fails the test unless it gets a usable 201.
std::optional<Session> CreateSession(const Endpoint& ep) {
  HttpReply r = Request(ep.http, "POST", "/whip", "application/sdp", Offer());
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/sdp");
  EXPECT_EQ(r.Header("access-control-allow-origin"), "*");
  const std::string location = r.Header("location");
  EXPECT_TRUE(std::regex_match(location, std::regex("/whip/[0-9a-f]{32}"))) << location;
  absl::StatusOr<ice::SessionDescription> answer = ice::ParseSdp(r.body);
  EXPECT_TRUE(answer.ok()) << answer.status() << "\n" << r.body;
  if (r.status != 201 || !answer.ok() || location.size() < 7) return std::nullopt;
  std::optional<ice::Credentials> creds = answer->CredentialsFor(0);
  EXPECT_TRUE(creds.has_value());
  if (!creds) return std::nullopt;
  return Session{location.substr(6), *answer, *creds};
}

// A check as a controlling full agent sends it (RFC 8445 §7.2.2).
std::vector<uint8_t> Check(const Session& s, std::array<uint8_t, 12>* tid, bool use_candidate = true,
                           const std::string& pwd = "") {
  static std::mt19937 rng(std::random_device{}());
  for (auto& b : *tid) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> buf(512);
  stun::MessageBuilder b(buf, stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kRequest),
                         *tid);
  b.AddString(stun::attr::kUsername, s.ice.ufrag + ":" + kRemoteUfrag);
  b.AddU32(stun::attr::kPriority, 1853824767);
  if (use_candidate) b.AddFlag(stun::attr::kUseCandidate);
  b.AddU64(stun::attr::kIceControlling, 0x1122334455667788ULL);
  const std::string key = *stun::ShortTermKey(pwd.empty() ? s.ice.pwd : pwd);
  b.AddMessageIntegrity(stun::KeyBytes(key));
  b.AddFingerprint();
  EXPECT_TRUE(b.ok());
  buf.resize(b.size());
  return buf;
}

// Sends a check over UDP and returns the response bytes (empty if none in
// `timeout`; UDP on loopback does not lose packets).
std::vector<uint8_t> UdpCheck(int fd, const SocketAddress& to, const std::vector<uint8_t>& check,
                              std::chrono::milliseconds timeout = kWait) {
  sockaddr_storage ss{};
  const socklen_t len = to.ToSockaddr(&ss);
  sendto(fd, check.data(), check.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  if (!Readable(fd, timeout)) return {};
  std::vector<uint8_t> out(2048);
  const ssize_t n = recv(fd, out.data(), out.size(), 0);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// A success response to `tid`, with XOR-MAPPED-ADDRESS `mapped`, integrity
// under `pwd` and a FINGERPRINT (checked by Parse).
void ExpectSuccess(const std::vector<uint8_t>& bytes, const std::array<uint8_t, 12>& tid,
                   const SocketAddress& mapped, const std::string& pwd) {
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(bytes, &m), stun::ParseError::kNone);
  EXPECT_TRUE(m.Is(stun::Method::kBinding, stun::MessageClass::kSuccessResponse));
  EXPECT_TRUE(std::equal(tid.begin(), tid.end(), m.transaction_id().begin()));
  EXPECT_TRUE(m.fingerprint_offset().has_value());
  auto xma = stun::GetXorMappedAddress(m);
  ASSERT_TRUE(xma.ok());
  EXPECT_EQ(xma.value, mapped);
  const std::string key = *stun::ShortTermKey(pwd);
  EXPECT_EQ(stun::VerifyMessageIntegrity(m, stun::KeyBytes(key)), stun::IntegrityCheck::kOk);
}

int UdpSocket() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const SocketAddress any = SocketAddress::V4({127, 0, 0, 1}, 0);
  sockaddr_storage ss{};
  const socklen_t len = any.ToSockaddr(&ss);
  bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  return fd;
}

class IceLiteEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ep_.Start()) << ep_.Log(); }
  Endpoint ep_;
};

TEST_F(IceLiteEndpointTest, AnswersAnOfferWithALiteAnswer) {
  std::optional<Session> s = CreateSession(ep_);
  ASSERT_TRUE(s);
  const ice::SessionDescription& a = s->answer;
  EXPECT_TRUE(a.ice_lite);
  EXPECT_TRUE(ice::IsValidUfrag(s->ice.ufrag));
  EXPECT_TRUE(ice::IsValidPwd(s->ice.pwd));
  ASSERT_EQ(a.media.size(), 1u);
  const ice::MediaSection& m = a.media[0];
  EXPECT_EQ(m.media, "application");
  EXPECT_EQ(m.setup, "passive");
  const std::string fp = m.fingerprint ? *m.fingerprint : a.fingerprint.value_or("");
  EXPECT_TRUE(std::regex_match(fp, std::regex("sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}"))) << fp;
  // Both host candidates, on the ports the endpoint said it listens on.
  bool udp = false, tcp = false;
  for (const ice::Candidate& c : m.candidates) {
    ASSERT_TRUE(c.ip);
    if (c.is_udp() && *c.ip == ep_.udp) udp = true;
    if (c.is_tcp() && *c.ip == ep_.tcp && c.tcp_type == ice::TcpType::kPassive) tcp = true;
  }
  EXPECT_TRUE(udp && tcp) << ep_.Log();
  EXPECT_TRUE(ep_.WaitEvent("created", s->id));
}

TEST_F(IceLiteEndpointTest, UdpCheckConnectsAndDeleteEndsTheSession) {
  std::optional<Session> s = CreateSession(ep_);
  ASSERT_TRUE(s);
  Fd sock(UdpSocket());
  const SocketAddress me = LocalOf(sock.fd);
  std::array<uint8_t, 12> tid;
  std::vector<uint8_t> check = Check(*s, &tid);
  ExpectSuccess(UdpCheck(sock.fd, ep_.udp, check), tid, me, s->ice.pwd);

  std::string line;
  ASSERT_TRUE(ep_.WaitEvent("connected", s->id, &line)) << ep_.Log();
  EXPECT_EQ(JsonField(line, "transport"), "udp");
  EXPECT_EQ(JsonField(line, "remote"), me.ToString());
  EXPECT_EQ(JsonField(line, "local"), ep_.udp.ToString());

  // A DTLS-looking packet (RFC 7983: first byte 20..63) on the tuple is
  // counted; the next check's answer proves it was read before the DELETE.
  const std::array<uint8_t, 13> dtls = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  sockaddr_storage ss{};
  const socklen_t len = ep_.udp.ToSockaddr(&ss);
  sendto(sock.fd, dtls.data(), dtls.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  check = Check(*s, &tid);
  ExpectSuccess(UdpCheck(sock.fd, ep_.udp, check), tid, me, s->ice.pwd);

  HttpReply d = Request(ep_.http, "DELETE", "/whip/" + s->id);
  EXPECT_EQ(d.status, 200) << d.body;
  ASSERT_TRUE(ep_.WaitEvent("deleted", s->id, &line));
  EXPECT_EQ(JsonField(line, "media_packets"), "1");
  EXPECT_EQ(JsonField(line, "reason"), "http_delete");

  // The session's ufrag is forgotten: checks go unanswered (the router's
  // default drops unknown ufrags). Waiting for silence needs a time bound.
  check = Check(*s, &tid);
  EXPECT_TRUE(UdpCheck(sock.fd, ep_.udp, check, 500ms).empty());
  EXPECT_EQ(Request(ep_.http, "DELETE", "/whip/" + s->id).status, 404);
  EXPECT_EQ(ep_.Stop(), 0);
  EXPECT_TRUE(ep_.WaitFor([](const std::string& l) { return JsonField(l, "event") == "stopped"; }));
}

TEST_F(IceLiteEndpointTest, WrongPasswordGets401) {
  std::optional<Session> s = CreateSession(ep_);
  ASSERT_TRUE(s);
  Fd sock(UdpSocket());
  std::array<uint8_t, 12> tid;
  const std::string wrong = "WrongPasswordWrongPassword";
  std::vector<uint8_t> reply = UdpCheck(sock.fd, ep_.udp, Check(*s, &tid, true, wrong));
  stun::MessageView m;
  ASSERT_EQ(stun::MessageView::Parse(reply, &m), stun::ParseError::kNone);
  EXPECT_TRUE(m.Is(stun::Method::kBinding, stun::MessageClass::kErrorResponse));
  auto code = stun::GetErrorCode(m);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code.value.code, 401);
}

TEST_F(IceLiteEndpointTest, IceTcpCheckWithRfc4571Framing) {
  std::optional<Session> s = CreateSession(ep_);
  ASSERT_TRUE(s);
  Fd conn(Connect(ep_.tcp));
  ASSERT_GE(conn.fd, 0);
  const SocketAddress me = LocalOf(conn.fd);
  std::array<uint8_t, 12> tid;
  std::vector<uint8_t> check = Check(*s, &tid);
  // RFC 4571 §2: a 16-bit big-endian length before each packet.
  std::vector<uint8_t> framed = {static_cast<uint8_t>(check.size() >> 8),
                                 static_cast<uint8_t>(check.size() & 0xff)};
  framed.insert(framed.end(), check.begin(), check.end());
  // Split in two writes: the endpoint must reassemble.
  ASSERT_EQ(send(conn.fd, framed.data(), 7, MSG_NOSIGNAL), 7);
  ASSERT_EQ(send(conn.fd, framed.data() + 7, framed.size() - 7, MSG_NOSIGNAL),
            static_cast<ssize_t>(framed.size() - 7));
  std::vector<uint8_t> in;
  while (in.size() < 2 || in.size() < 2u + ((in[0] << 8) | in[1])) {
    ASSERT_TRUE(Readable(conn.fd, kWait)) << ep_.Log();
    uint8_t buf[1024];
    const ssize_t n = read(conn.fd, buf, sizeof buf);
    ASSERT_GT(n, 0);
    in.insert(in.end(), buf, buf + n);
  }
  const size_t len = (in[0] << 8) | in[1];
  ASSERT_EQ(in.size(), 2 + len);
  ExpectSuccess(std::vector<uint8_t>(in.begin() + 2, in.end()), tid, me, s->ice.pwd);
  std::string line;
  ASSERT_TRUE(ep_.WaitEvent("connected", s->id, &line)) << ep_.Log();
  EXPECT_EQ(JsonField(line, "transport"), "tcp");
  EXPECT_EQ(JsonField(line, "remote"), me.ToString());
}

TEST_F(IceLiteEndpointTest, HttpErrorPaths) {
  auto post = [&](const std::string& type, const std::string& body) {
    return Request(ep_.http, "POST", "/whip", type, body);
  };
  EXPECT_EQ(post("text/plain", Offer()).status, 415);
  EXPECT_EQ(post("", Offer()).status, 415);
  HttpReply bad = post("application/sdp", "hello");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("bad offer"), std::string::npos) << bad.body;
  // An offer without ICE credentials.
  std::string no_creds = Offer();
  no_creds.erase(no_creds.find("a=ice-ufrag"), no_creds.find("a=ice-options") - no_creds.find("a=ice-ufrag"));
  EXPECT_EQ(post("application/sdp", no_creds).status, 400);
  // Content type parameters and case are allowed.
  EXPECT_EQ(post("Application/SDP; charset=utf-8", Offer()).status, 201);
  // Over the body limit: refused from the Content-Length alone.
  HttpReply big = RawHttp(ep_.http,
                          "POST /whip HTTP/1.1\r\nContent-Type: application/sdp\r\n"
                          "Content-Length: 1000000\r\n\r\nv=0\r\n");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Request(ep_.http, "GET", "/").status, 404);
  EXPECT_EQ(Request(ep_.http, "POST", "/whep", "application/sdp", Offer()).status, 404);
  EXPECT_EQ(Request(ep_.http, "POST", "/whip/a/b", "application/sdp", Offer()).status, 404);
  HttpReply get = Request(ep_.http, "GET", "/whip");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.Header("allow"), "POST, OPTIONS");
  EXPECT_EQ(Request(ep_.http, "PUT", "/whip/abc").status, 405);
  EXPECT_EQ(Request(ep_.http, "DELETE", "/whip/0123456789abcdef0123456789abcdef").status, 404);
  // Protocol-level errors.
  EXPECT_EQ(RawHttp(ep_.http, "garbage\r\n\r\n").status, 400);
  EXPECT_EQ(RawHttp(ep_.http, "GET /whip HTTP/2.0\r\n\r\n").status, 505);
  EXPECT_EQ(RawHttp(ep_.http, "POST /whip HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501);
  EXPECT_EQ(RawHttp(ep_.http, "GET / HTTP/1.1\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n").status,
            431);
}

TEST_F(IceLiteEndpointTest, CorsPreflight) {
  HttpReply r = RawHttp(ep_.http,
                        "OPTIONS /whip HTTP/1.1\r\nOrigin: http://example.test\r\n"
                        "Access-Control-Request-Method: POST\r\n"
                        "Access-Control-Request-Headers: content-type\r\n\r\n");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.Header("access-control-allow-origin"), "*");
  EXPECT_NE(r.Header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(r.Header("access-control-allow-headers"), "Content-Type");
  EXPECT_EQ(r.Header("access-control-expose-headers"), "Location");
}

TEST_F(IceLiteEndpointTest, SlowHttpClientIsServedPieceByPiece) {
  const std::string body = Offer();
  const std::string head = "POST /whip HTTP/1.1\r\nContent-Type: application/sdp\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  const std::string all = head + body;
  Fd s(Connect(ep_.http));
  // Byte ranges that split the header terminator and the body.
  for (size_t p = 0; p < all.size(); p += 50) {
    ASSERT_GT(send(s.fd, all.data() + p, std::min<size_t>(50, all.size() - p), MSG_NOSIGNAL), 0);
  }
  ASSERT_TRUE(Readable(s.fd, kWait));
  char buf[32] = {};
  ASSERT_GT(read(s.fd, buf, 12), 0);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 201");
}

TEST_F(IceLiteEndpointTest, HttpLogLinesAreRateLimited) {
  // 20 lines of burst, 20 per second after that (DESIGN.md §Observability).
  const auto start = std::chrono::steady_clock::now();
  constexpr int kRequests = 100;
  for (int i = 0; i < kRequests; ++i) ASSERT_EQ(Request(ep_.http, "GET", "/nope").status, 404);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Lines are written before their responses; the reader thread may lag,
  // so wait for the burst's 20 before counting.
  int seen = 0;
  EXPECT_TRUE(ep_.WaitFor([&](const std::string& l) { return (seen += JsonField(l, "event") == "http") >= 20; }));
  int logged = 0;
  for (const std::string& l : ep_.Lines()) logged += JsonField(l, "event") == "http";
  EXPECT_LE(logged, 20 + static_cast<int>(20 * elapsed) + 1) << elapsed << " s";
  EXPECT_LT(logged, kRequests);
  EXPECT_GE(logged, 20);
}

TEST(IceLiteEndpointConsent, BrowserGoneMeansDisconnectedThenFailed) {
  Endpoint ep;
  ASSERT_TRUE(ep.Start({"--consent-timeout", "2", "--disconnected-after", "1"})) << ep.Log();
  std::optional<Session> s = CreateSession(ep);
  ASSERT_TRUE(s);
  Fd sock(UdpSocket());
  std::array<uint8_t, 12> tid;
  ExpectSuccess(UdpCheck(sock.fd, ep.udp, Check(*s, &tid)), tid, LocalOf(sock.fd), s->ice.pwd);
  ASSERT_TRUE(ep.WaitEvent("connected", s->id)) << ep.Log();
  // No more checks: RFC 7675 consent runs out.
  ASSERT_TRUE(ep.WaitEvent("disconnected", s->id)) << ep.Log();
  ASSERT_TRUE(ep.WaitEvent("failed", s->id)) << ep.Log();
  std::string line;
  ASSERT_TRUE(ep.WaitEvent("deleted", s->id, &line)) << ep.Log();
  EXPECT_EQ(JsonField(line, "reason"), "consent_failed");
  // Order in the log: connected < disconnected < failed.
  std::vector<std::string> order;
  for (const std::string& l : ep.Lines()) {
    if (JsonField(l, "session") == s->id) order.push_back(JsonField(l, "event"));
  }
  auto pos = [&](const std::string& e) { return std::find(order.begin(), order.end(), e) - order.begin(); };
  EXPECT_LT(pos("connected"), pos("disconnected"));
  EXPECT_LT(pos("disconnected"), pos("failed"));
}

TEST(IceLiteEndpointConsent, OfferNobodyFollowsUpIsRemoved) {
  Endpoint ep;
  ASSERT_TRUE(ep.Start({"--connect-timeout", "1"})) << ep.Log();
  std::optional<Session> s = CreateSession(ep);
  ASSERT_TRUE(s);
  std::string line;
  ASSERT_TRUE(ep.WaitEvent("deleted", s->id, &line)) << ep.Log();
  EXPECT_EQ(JsonField(line, "reason"), "never_connected");
  EXPECT_EQ(Request(ep.http, "DELETE", "/whip/" + s->id).status, 404);
}

// Runs the binary to completion; returns the exit status and stderr.
std::pair<int, std::string> RunArgs(std::vector<std::string> args) {
  args.insert(args.begin(), ICE_LITE_ENDPOINT_BINARY);
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) return {-1, ""};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(err[1]);
  std::string text;
  char buf[1024];
  while (Readable(err[0], kWait)) {
    const ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

TEST(IceLiteEndpointCli, ExitCodes) {
  EXPECT_EQ(RunArgs({"--help"}).first, 0);
  EXPECT_EQ(RunArgs({}).first, 2);
  EXPECT_EQ(RunArgs({"--listen", "127.0.0.1:0"}).first, 2);
  auto bad = RunArgs({"--listen", "nonsense", "--http", "127.0.0.1:0"});
  EXPECT_EQ(bad.first, 2);
  EXPECT_NE(bad.second.find("--listen"), std::string::npos) << bad.second;
  EXPECT_EQ(RunArgs({"--listen", "0.0.0.0:0", "--http", "127.0.0.1:0"}).first, 2);
  EXPECT_EQ(RunArgs({"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--bogus"}).first, 2);
  EXPECT_EQ(RunArgs({"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--consent-timeout", "x"}).first,
            2);
  EXPECT_EQ(RunArgs({"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--consent-timeout", "2",
                     "--disconnected-after", "3"})
                .first,
            2);
  // A runtime failure: the HTTP port is taken by a listening socket.
  Fd taken(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const SocketAddress lo = SocketAddress::V4({127, 0, 0, 1}, 0);
  sockaddr_storage ss{};
  socklen_t len = lo.ToSockaddr(&ss);
  ASSERT_EQ(bind(taken.fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(listen(taken.fd, 1), 0);
  auto busy = RunArgs({"--listen", "127.0.0.1:0", "--http", LocalOf(taken.fd).ToString()});
  EXPECT_EQ(busy.first, 1) << busy.second;
}

}  // namespace
