// uturn-ice --http (client/README.md §HTTP offer/answer mode) with an
// in-process full agent on the socket driver standing in for the browser:
// it POSTs a non-trickle data-channel offer, takes the answer's credentials
// and candidates, and both sides reach connected.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "client/ice_agent.h"
#include "client/ice_socket_driver.h"
#include "ice-lite/sdp.h"
#include "tests/integration/ice_peer_process.h"
#include "tests/integration/server_process.h"

namespace uturn::testing {
namespace {

using std::chrono::seconds;

void Random(std::span<uint8_t> out) {
  ASSERT_EQ(getrandom(out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
}

struct HttpReply {
  int status = 0;
  std::string head;
  std::string body;
};

// One request on a fresh connection; the peer closes after answering.
std::optional<HttpReply> Request(const stun::SocketAddress& to, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_storage ss{};
  const socklen_t len = to.ToSockaddr(&ss);
  std::string in;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) in.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return std::nullopt;
  HttpReply r;
  r.status = std::stoi(in.substr(9, 3));
  r.head = in.substr(0, end);
  r.body = in.substr(end + 4);
  return r;
}

std::string Post(const std::string& body) {
  return "POST /offer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sdp\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The in-process "browser": a controlling full agent on its own driver thread.
struct Browser {
  Browser() : agent(Config(), Random), driver(&agent, Callbacks()) {}
  static client::IceAgentConfig Config() {
    client::IceAgentConfig c;
    c.role = ice::Role::kControlling;
    return c;
  }
  client::IceDriverCallbacks Callbacks() {
    return {[this](const client::IceEvent& e) {
              std::lock_guard<std::mutex> l(mu);
              using K = client::IceEvent::Kind;
              if (e.kind == K::kLocalCandidate) candidates.push_back(e.candidate.candidate);
              if (e.kind == K::kGatheringComplete) gathered = true;
              if (e.kind == K::kStateChanged && (e.state == client::IceState::kConnected ||
                                                 e.state == client::IceState::kCompleted)) {
                connected = true;
              }
              cv.notify_all();
            },
            {},
            {}};
  }
  // mdns: every candidate's address replaced by a .local name, as browsers
  // write their host candidates by default.
  std::string Offer(bool mdns = false) {
    std::string s =
        "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n";
    std::lock_guard<std::mutex> l(mu);
    for (ice::Candidate c : candidates) {
      if (mdns) {
        c.address = "c897ed84-7542-4289-9bd7-da6a41691e16.local";
        c.ip.reset();
      }
      s += "a=" + ice::FormatCandidate(c) + "\r\n";
    }
    s += "a=end-of-candidates\r\n";
    s += "a=ice-ufrag:" + agent.local_credentials().ufrag + "\r\n";
    s += "a=ice-pwd:" + agent.local_credentials().pwd + "\r\n";
    s += "a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:"
         "43:F0:A1:58:D0:A1:2C:19:08\r\n"
         "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
    return s;
  }
  client::IceAgent agent;
  client::IceSocketDriver driver;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ice::Candidate> candidates;
  bool gathered = false;
  bool connected = false;
};

void OfferAnswer(bool mdns) {
  PeerProcess peer;
  std::string error;
  ASSERT_TRUE(peer.Spawn({"--http", "127.0.0.1:0", "--bind", "127.0.0.1", "--timeout", "20"}, -1, -1, &error))
      << error;
  ASSERT_TRUE(peer.WaitForPrefix("event=listening address=", seconds(10))) << peer.Log();
  const std::string line = peer.Matching("event=listening address=")[0];
  const auto http = stun::SocketAddress::Parse(LogField(line, "address"));
  ASSERT_TRUE(http.has_value()) << line;

  Browser browser;
  client::IceSocketDriverOptions o;
  o.bind = {*stun::SocketAddress::ParseIp("127.0.0.1", 0)};
  ASSERT_TRUE(browser.driver.Open(o).ok());
  ASSERT_TRUE(browser.driver.Start().ok());
  ASSERT_TRUE(browser.driver.WithAgent([](client::IceAgent& a) { return a.StartGathering(absl::Now()); }).ok());
  {
    // Non-trickle, as the page does: wait for gathering to complete.
    std::unique_lock<std::mutex> l(browser.mu);
    ASSERT_TRUE(browser.cv.wait_for(l, seconds(10), [&] { return browser.gathered; }));
  }

  // CORS preflight first, as a browser on another origin sends it.
  auto pre = Request(*http, "OPTIONS /offer HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(pre.has_value());
  EXPECT_EQ(pre->status, 204);
  EXPECT_NE(pre->head.find("Access-Control-Allow-Origin: *"), std::string::npos) << pre->head;

  auto reply = Request(*http, Post(browser.Offer(mdns)));
  ASSERT_TRUE(reply.has_value()) << peer.Log();
  ASSERT_EQ(reply->status, 200) << reply->body << peer.Log();
  EXPECT_NE(reply->head.find("Content-Type: application/sdp"), std::string::npos);
  auto answer = ice::ParseSdp(reply->body);
  ASSERT_TRUE(answer.ok()) << answer.status() << reply->body;
  EXPECT_FALSE(answer->ice_lite);  // a full agent
  ASSERT_EQ(answer->media.size(), 1u);
  const ice::MediaSection& m = answer->media[0];
  EXPECT_EQ(m.mid, "0");
  EXPECT_EQ(m.setup, "passive");
  EXPECT_TRUE(m.fingerprint.has_value());
  EXPECT_TRUE(m.end_of_candidates);
  ASSERT_FALSE(m.candidates.empty());
  ASSERT_TRUE(m.ice.has_value());

  ASSERT_TRUE(browser.driver
                  .WithAgent([&](client::IceAgent& a) {
                    absl::Status s = a.SetRemoteCredentials(*m.ice, absl::Now());
                    for (const ice::Candidate& c : m.candidates) {
                      if (s.ok()) s = a.AddRemoteCandidate(c, absl::Now());
                    }
                    a.SetRemoteEndOfCandidates(absl::Now());
                    return s;
                  })
                  .ok());
  {
    std::unique_lock<std::mutex> l(browser.mu);
    EXPECT_TRUE(browser.cv.wait_for(l, seconds(10), [&] { return browser.connected; }));
  }
  ASSERT_TRUE(peer.WaitForPrefix("event=connected", seconds(10))) << peer.Log();
  const auto selected = peer.Matching("event=selected ");
  ASSERT_FALSE(selected.empty()) << peer.Log();
  EXPECT_EQ(LogField(selected.back(), "local_type"), "host");
  // With only mDNS names offered, our agent learnt the browser's address
  // from its checks (RFC 8445 §7.3.1.3).
  EXPECT_EQ(LogField(selected.back(), "remote_type"), mdns ? "prflx" : "host") << peer.Log();

  // One session per process.
  auto again = Request(*http, Post(browser.Offer()));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 409);

  browser.driver.Stop();
  peer.Signal(SIGTERM);
  EXPECT_EQ(peer.WaitExit(seconds(10)), 0) << peer.Log();
}

TEST(IcePeerHttpTest, OfferAnswerReachesConnected) { OfferAnswer(false); }

TEST(IcePeerHttpTest, MdnsOnlyOfferConnectsPeerReflexive) { OfferAnswer(true); }

TEST(IcePeerHttpTest, BadOfferIs400AndThePeerKeepsServing) {
  PeerProcess peer;
  std::string error;
  ASSERT_TRUE(peer.Spawn({"--http", "127.0.0.1:0", "--bind", "127.0.0.1"}, -1, -1, &error)) << error;
  ASSERT_TRUE(peer.WaitForPrefix("event=listening address=", seconds(10))) << peer.Log();
  const auto http =
      stun::SocketAddress::Parse(LogField(peer.Matching("event=listening address=")[0], "address"));
  ASSERT_TRUE(http.has_value());
  auto bad = Request(*http, Post("this is not SDP"));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  auto garbage = Request(*http, "GARBAGE\r\n\r\n");
  ASSERT_TRUE(garbage.has_value());
  EXPECT_GE(garbage->status, 400);
  auto missing = Request(*http, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
  // Never connected: SIGTERM exits 1.
  peer.Signal(SIGTERM);
  EXPECT_EQ(peer.WaitExit(seconds(10)), 1) << peer.Log();
}

// Connections beyond the cap are closed at once; closing the idle ones
// frees their slots and the peer answers again.
TEST(IcePeerHttpTest, ConnectionCapAndRecovery) {
  PeerProcess peer;
  std::string error;
  ASSERT_TRUE(peer.Spawn({"--http", "127.0.0.1:0", "--bind", "127.0.0.1"}, -1, -1, &error)) << error;
  ASSERT_TRUE(peer.WaitForPrefix("event=listening address=", seconds(10))) << peer.Log();
  const auto http =
      stun::SocketAddress::Parse(LogField(peer.Matching("event=listening address=")[0], "address"));
  ASSERT_TRUE(http.has_value());
  auto open_idle = [&] {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    const socklen_t len = http->ToSockaddr(&ss);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
    const timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  };
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(open_idle());
  // The peer accepts in the kernel's queue order, so the ninth finds eight
  // held. A request begun on the last one is answered once complete.
  const std::string partial = "OPTIONS /offer HTTP/1.1\r\n";
  ASSERT_EQ(send(idle.back(), partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  const int ninth = open_idle();
  char c;
  EXPECT_EQ(read(ninth, &c, 1), 0);  // closed by the peer without an answer
  close(ninth);
  const std::string rest = "Host: x\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(send(idle.back(), rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  std::string in;
  char buf[1024];
  for (ssize_t n; (n = read(idle.back(), buf, sizeof buf)) > 0;) in.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(in.rfind("HTTP/1.1 204", 0), 0u) << in;
  for (int fd : idle) close(fd);
  // The slots come back once the peer has seen the closes (a request that
  // comes first is closed unanswered: retried, bounded).
  std::optional<HttpReply> again;
  for (int i = 0; i < 50 && !(again && again->status == 400); ++i) again = Request(*http, Post("not SDP"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 400);
  peer.Signal(SIGTERM);
  EXPECT_EQ(peer.WaitExit(seconds(10)), 1) << peer.Log();
}

}  // namespace
}  // namespace uturn::testing
