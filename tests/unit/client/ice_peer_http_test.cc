// uturn-ice --http: the offer/answer service (client/README.md §HTTP offer/answer mode).
#include "client/tools/ice_peer_http.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::client::peer {
namespace {

using ice::endpoint::HttpRequest;

constexpr const char* kFp =
    "sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:"
    "58:D0:A1:2C:19:08";

// A data-channel offer in the shape Chromium writes it after gathering.
std::string ChromeDataChannelOffer(bool with_setup = true) {
  std::string s =
      "v=0\r\n"
      "o=- 1234 2 IN IP4 127.0.0.1\r\n"
      "s=-\r\n"
      "t=0 0\r\n"
      "a=group:BUNDLE 0\r\n"
      "a=extmap-allow-mixed\r\n"
      "a=msid-semantic: WMS\r\n"
      "m=application 50000 UDP/DTLS/SCTP webrtc-datachannel\r\n"
      "c=IN IP4 192.0.2.5\r\n"
      "a=candidate:1 1 udp 2113937151 192.0.2.5 50000 typ host generation 0 network-cost 999\r\n"
      "a=candidate:2 1 tcp 1518280447 192.0.2.5 9 typ host tcptype active generation 0\r\n"
      "a=ice-ufrag:Brws\r\n"
      "a=ice-pwd:browserbrowserbrowser12\r\n"
      "a=ice-options:trickle\r\n"
      "a=fingerprint:";
  s += kFp;
  s += "\r\n";
  if (with_setup) s += "a=setup:actpass\r\n";
  s += "a=mid:0\r\n"
       "a=sctp-port:5000\r\n"
       "a=max-message-size:262144\r\n";
  return s;
}

HttpRequest Post(std::string body, std::string type = "application/sdp") {
  HttpRequest r;
  r.method = "POST";
  r.target = "/offer";
  if (!type.empty()) r.headers.emplace_back("content-type", type);
  r.body = std::move(body);
  return r;
}

bool HasHeader(const ice::endpoint::HttpResponse& r, std::string_view name, std::string_view value) {
  for (const auto& [n, v] : r.headers) {
    if (n == name && v == value) return true;
  }
  return false;
}

ice::Candidate Ours() {
  auto c = ice::ParseCandidate("candidate:7 1 udp 2130706431 127.0.0.1 40000 typ host");
  EXPECT_TRUE(c.ok());
  return *c;
}

TEST(OfferAnswerTest, OfferIsTakenAndAnsweredAsAFullAgent) {
  OfferAnswerService s(kFp);
  auto res = s.Handle(Post(ChromeDataChannelOffer()));
  ASSERT_FALSE(res.response.has_value()) << res.response->body;
  ASSERT_TRUE(res.offer.has_value());
  EXPECT_EQ(res.offer->credentials.ufrag, "Brws");
  EXPECT_EQ(res.offer->credentials.pwd, "browserbrowserbrowser12");
  ASSERT_EQ(res.offer->candidates.size(), 2u);  // the agent refuses the TCP one itself
  EXPECT_EQ(res.offer->candidates[0].ip->ToString(), "192.0.2.5:50000");
  EXPECT_TRUE(s.offered());

  const ice::Credentials local{"ours", "oursoursoursoursoursou"};
  auto r = s.Answer(local, {Ours()}, 99);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(HasHeader(r, "Content-Type", "application/sdp"));
  EXPECT_TRUE(HasHeader(r, "Access-Control-Allow-Origin", "*"));
  auto ans = ice::ParseSdp(r.body);
  ASSERT_TRUE(ans.ok()) << ans.status() << r.body;
  EXPECT_FALSE(ans->ice_lite);
  EXPECT_EQ(ans->bundle_mids, std::vector<std::string>{"0"});
  ASSERT_EQ(ans->media.size(), 1u);
  const auto& m = ans->media[0];
  EXPECT_EQ(m.mid, "0");
  EXPECT_EQ(m.ice, local);
  EXPECT_EQ(m.fingerprint, kFp);
  EXPECT_EQ(m.setup, "passive");
  EXPECT_TRUE(m.end_of_candidates);
  ASSERT_EQ(m.candidates.size(), 1u);
  EXPECT_EQ(m.candidates[0].ip->ToString(), "127.0.0.1:40000");
  EXPECT_NE(r.body.find("a=sctp-port:5000\r\n"), std::string::npos);
}

TEST(OfferAnswerTest, TextPlainAndNoContentTypeAreAccepted) {
  OfferAnswerService a(kFp);
  EXPECT_TRUE(a.Handle(Post(ChromeDataChannelOffer(), "text/plain;charset=UTF-8")).offer.has_value());
  OfferAnswerService b(kFp);
  EXPECT_TRUE(b.Handle(Post(ChromeDataChannelOffer(), "")).offer.has_value());
}

TEST(OfferAnswerTest, OneOfferPerProcess) {
  OfferAnswerService s(kFp);
  ASSERT_TRUE(s.Handle(Post(ChromeDataChannelOffer())).offer.has_value());
  auto again = s.Handle(Post(ChromeDataChannelOffer()));
  ASSERT_TRUE(again.response.has_value());
  EXPECT_EQ(again.response->status, 409);
  EXPECT_FALSE(again.offer.has_value());
}

TEST(OfferAnswerTest, NoCandidateGatheredIs503) {
  OfferAnswerService s(kFp);
  ASSERT_TRUE(s.Handle(Post(ChromeDataChannelOffer())).offer.has_value());
  auto r = s.Answer({"ours", "oursoursoursoursoursou"}, {}, 1);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(HasHeader(r, "Access-Control-Allow-Origin", "*"));
}

TEST(OfferAnswerTest, BadRequestsGetTheirStatus) {
  struct Case {
    HttpRequest request;
    int status;
  };
  std::vector<Case> cases;
  cases.push_back({Post("not sdp"), 400});
  cases.push_back({Post(ChromeDataChannelOffer(), "application/json"), 415});
  std::string no_creds = ChromeDataChannelOffer();
  for (const char* attr : {"a=ice-ufrag:Brws\r\n", "a=ice-pwd:browserbrowserbrowser12\r\n"}) {
    no_creds.erase(no_creds.find(attr), std::string(attr).size());
  }
  cases.push_back({Post(no_creds), 400});
  // An offer whose section cannot be answered (not DTLS) is refused before it is taken.
  std::string plain = ChromeDataChannelOffer();
  plain.replace(plain.find("UDP/DTLS/SCTP"), 13, "UDP/SCTP");
  cases.push_back({Post(plain), 400});
  cases.push_back({Post("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"), 400});  // no m-line
  HttpRequest other = Post(ChromeDataChannelOffer());
  other.target = "/whip";
  cases.push_back({other, 404});
  HttpRequest get = Post("");
  get.method = "GET";
  cases.push_back({get, 405});
  for (Case& c : cases) {
    OfferAnswerService s(kFp);
    auto r = s.Handle(c.request);
    ASSERT_TRUE(r.response.has_value()) << c.status;
    EXPECT_EQ(r.response->status, c.status) << r.response->body;
    EXPECT_FALSE(r.offer.has_value());
    EXPECT_FALSE(s.offered());
    EXPECT_TRUE(HasHeader(*r.response, "Access-Control-Allow-Origin", "*"));
  }
}

TEST(OfferAnswerTest, CorsPreflight) {
  OfferAnswerService s(kFp);
  HttpRequest r;
  r.method = "OPTIONS";
  r.target = "/offer";
  auto res = s.Handle(r);
  ASSERT_TRUE(res.response.has_value());
  EXPECT_EQ(res.response->status, 204);
  EXPECT_TRUE(HasHeader(*res.response, "Access-Control-Allow-Methods", "POST, OPTIONS"));
  EXPECT_TRUE(HasHeader(*res.response, "Access-Control-Allow-Headers", "Content-Type"));
  EXPECT_TRUE(HasHeader(*res.response, "Access-Control-Allow-Origin", "*"));
  EXPECT_FALSE(s.offered());
}

}  // namespace
}  // namespace uturn::client::peer

namespace uturn::client::peer {
namespace {

// Hostile POST bodies: mutations of a good offer. Each gets a response or
// is taken as an offer (then answerable); nothing crashes.
TEST(OfferAnswerTest, MutatedOffers) {
  const std::string good = ChromeDataChannelOffer();
  uint32_t x = 777;  // fixed-seed LCG: reproducible
  auto next = [&x] { return x = x * 1664525u + 1013904223u; };
  size_t taken = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string body = good;
    for (int m = 0; m < 1 + static_cast<int>(next() % 4); ++m) {
      const size_t at = next() % body.size();
      switch (next() % 3) {
        case 0: body[at] = static_cast<char>(next() >> 24); break;
        case 1: body.erase(at, next() % 16); break;
        default: body.insert(at, std::string(1 + next() % 8, static_cast<char>(next() >> 24))); break;
      }
      if (body.empty()) body = "x";
    }
    OfferAnswerService s(kFp);
    auto res = s.Handle(Post(body));
    ASSERT_NE(res.response.has_value(), res.offer.has_value());
    if (res.response) {
      EXPECT_GE(res.response->status, 400);
      continue;
    }
    ++taken;
    auto r = s.Answer({"ours", "oursoursoursoursoursou"}, {Ours()}, 1);
    EXPECT_EQ(r.status, 200) << body;
    EXPECT_TRUE(ice::ParseSdp(r.body).ok()) << r.body;
  }
  EXPECT_GT(taken, 0u);  // some mutations leave the offer usable
}

}  // namespace
}  // namespace uturn::client::peer
