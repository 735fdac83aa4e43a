// AnswerFor: the ICE-lite endpoint's answer to WebRTC offers.
#include "ice-lite/sdp.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/ice_sdp/sdp_offers.h"

namespace uturn::ice {
namespace {

using namespace ::uturn::ice::sdp_testing;  // NOLINT: test helpers

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = text.find("\r\n", start)) != std::string::npos; start = at + 2) {
    out.push_back(text.substr(start, at - start));
  }
  EXPECT_EQ(start, text.size()) << "text does not end with CRLF";
  return out;
}

TEST(AnswerForTest, ChromeOfferAnswerParsesBackWithEverythingChromeNeeds) {
  auto offer = ParseSdp(Join(ChromeOffer()));
  ASSERT_TRUE(offer.ok()) << offer.status();
  const AnswerParams params = Params();
  auto text = AnswerFor(*offer, params);
  ASSERT_TRUE(text.ok()) << text.status();

  // CRLF only: no bare LF.
  for (size_t i = 0; i < text->size(); ++i) {
    if ((*text)[i] == '\n') {
      ASSERT_TRUE(i > 0 && (*text)[i - 1] == '\r') << i;
    }
  }
  const std::vector<std::string> lines = Lines(*text);
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "v=0");
  EXPECT_EQ(lines[1], "o=- 123456789 2 IN IP4 127.0.0.1");
  EXPECT_TRUE(Has(lines, "s=-"));
  EXPECT_TRUE(Has(lines, "t=0 0"));

  auto ans = ParseSdp(*text);
  ASSERT_TRUE(ans.ok()) << ans.status() << "\n" << *text;
  EXPECT_TRUE(ans->ice_lite);
  EXPECT_EQ(ans->bundle_mids, (std::vector<std::string>{"0", "1", "2"}));
  ASSERT_EQ(ans->media.size(), offer->media.size());
  for (size_t i = 0; i < ans->media.size(); ++i) {
    const MediaSection& a = ans->media[i];
    const MediaSection& o = offer->media[i];
    EXPECT_EQ(a.media, o.media);
    EXPECT_EQ(a.protocol, o.protocol);
    EXPECT_EQ(a.formats, o.formats);
    EXPECT_EQ(a.mid, o.mid);
    EXPECT_EQ(a.port, 40000);  // the first candidate with an IP
    EXPECT_EQ(a.ice, params.ice);
    EXPECT_EQ(a.fingerprint, params.fingerprint);
    EXPECT_EQ(a.setup, "passive");
    EXPECT_EQ(a.rtcp_mux, o.media != "application");
    // No header extensions, ssrcs or msids are echoed.
    for (const std::string& attr : a.attributes) {
      EXPECT_FALSE(attr.starts_with("extmap") || attr.starts_with("ssrc") ||
                   attr.starts_with("msid") || attr.starts_with("ice-options"))
          << attr;
    }
  }
  EXPECT_TRUE(Has(lines, "c=IN IP4 192.0.2.10"));
  EXPECT_EQ(ans->media[0].direction, "recvonly");
  EXPECT_EQ(ans->media[1].direction, "recvonly");
  EXPECT_FALSE(ans->media[2].direction);
  // Candidates and end-of-candidates in the tagged (first) section only.
  ASSERT_EQ(ans->media[0].candidates.size(), 2u);
  EXPECT_EQ(FormatCandidate(ans->media[0].candidates[0]), FormatCandidate(params.candidates[0]));
  EXPECT_EQ(ans->media[0].candidates[1].tcp_type, TcpType::kPassive);
  EXPECT_TRUE(ans->media[0].end_of_candidates);
  EXPECT_TRUE(ans->media[1].candidates.empty());
  EXPECT_FALSE(ans->media[1].end_of_candidates);
  EXPECT_TRUE(ans->media[2].candidates.empty());
  EXPECT_EQ(CountLines(*text, "a=end-of-candidates\r\n"), 1u);
  EXPECT_EQ(CountLines(*text, "a=ice-lite\r\n"), 1u);
  // Format lines kept, per section.
  const auto& audio = ans->media[0].attributes;
  EXPECT_TRUE(Has(audio, "rtpmap:111 opus/48000/2"));
  EXPECT_TRUE(Has(audio, "fmtp:111 minptime=10;useinbandfec=1"));
  EXPECT_TRUE(Has(audio, "rtcp-fb:111 transport-cc"));
  EXPECT_TRUE(Has(audio, "rtpmap:126 telephone-event/8000"));
  EXPECT_FALSE(Has(audio, "rtpmap:96 VP8/90000"));
  const auto& video = ans->media[1].attributes;
  EXPECT_TRUE(Has(video, "rtpmap:96 VP8/90000"));
  EXPECT_TRUE(Has(video, "fmtp:103 apt=102"));
  EXPECT_TRUE(Has(video, "rtcp-fb:96 nack pli"));
  EXPECT_TRUE(Has(video, "rtcp-rsize"));
  const auto& data = ans->media[2].attributes;
  EXPECT_TRUE(Has(data, "sctp-port:5000"));
  EXPECT_TRUE(Has(data, "max-message-size:262144"));
  EXPECT_FALSE(Has(data, "rtcp-mux"));
}

TEST(AnswerForTest, DirectionIsMirrored) {
  // RFC 3264 §6.1.
  for (const auto& [offered, answered] : std::vector<std::pair<std::string, std::string>>{
           {"a=sendonly", "recvonly"}, {"a=recvonly", "sendonly"},
           {"a=sendrecv", "sendrecv"}, {"a=inactive", "inactive"}, {"", "sendrecv"}}) {
    std::vector<std::string> l = {"v=0", "a=ice-ufrag:uuuu", "a=ice-pwd:pppppppppppppppppppppp",
                                  "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=rtcp-mux",
                                  "a=setup:actpass"};
    if (!offered.empty()) l.push_back(offered);
    auto offer = ParseSdp(Join(l));
    ASSERT_TRUE(offer.ok()) << offer.status();
    auto text = AnswerFor(*offer, Params());
    ASSERT_TRUE(text.ok()) << text.status();
    auto ans = ParseSdp(*text);
    ASSERT_TRUE(ans.ok()) << ans.status();
    EXPECT_EQ(ans->media[0].direction, answered) << offered;
  }
}

TEST(AnswerForTest, FirefoxOffer) {
  auto offer = ParseSdp(Join(FirefoxOffer()));
  ASSERT_TRUE(offer.ok()) << offer.status();
  auto text = AnswerFor(*offer, Params());
  ASSERT_TRUE(text.ok()) << text.status();
  auto ans = ParseSdp(*text);
  ASSERT_TRUE(ans.ok()) << ans.status();
  EXPECT_EQ(ans->bundle_mids, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(ans->media[0].direction, "sendrecv");
  EXPECT_EQ(ans->media[1].direction, "sendonly");
  EXPECT_TRUE(Has(ans->media[0].attributes, "fmtp:101 0-15"));
}

TEST(AnswerForTest, RejectedSectionsGetPortZeroAndLeaveTheBundle) {
  auto offer = ParseSdp(Join({
      "v=0", "a=group:BUNDLE a b c d e f", "a=ice-ufrag:uuuu", "a=ice-pwd:pppppppppppppppppppppp",
      "m=audio 0 UDP/TLS/RTP/SAVPF 111", "a=mid:a", "a=rtcp-mux",       // rejected by offerer
      "m=audio 9 RTP/AVP 0", "a=mid:b", "a=rtcp-mux",                   // not DTLS
      "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:c",                      // no rtcp-mux
      "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:d", "a=rtcp-mux", "a=setup:passive",
      "m=video 0 UDP/TLS/RTP/SAVPF 97", "a=mid:e", "a=rtcp-mux", "a=bundle-only",  // accepted
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:f", "a=sctp-port:5000",
  }));
  ASSERT_TRUE(offer.ok()) << offer.status();
  auto text = AnswerFor(*offer, Params());
  ASSERT_TRUE(text.ok()) << text.status();
  auto ans = ParseSdp(*text);
  ASSERT_TRUE(ans.ok()) << ans.status() << "\n" << *text;
  ASSERT_EQ(ans->media.size(), 6u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ans->media[i].port, 0) << i;
    EXPECT_EQ(ans->media[i].direction, "inactive") << i;
    EXPECT_FALSE(ans->media[i].ice) << i;
    EXPECT_EQ(ans->media[i].formats, offer->media[i].formats) << i;
    EXPECT_EQ(ans->media[i].mid, offer->media[i].mid) << i;
  }
  EXPECT_EQ(ans->media[4].port, 40000);
  EXPECT_EQ(ans->media[5].port, 40000);
  EXPECT_EQ(ans->bundle_mids, (std::vector<std::string>{"e", "f"}));
  // The tagged section is the first accepted one of the group.
  EXPECT_EQ(ans->media[4].candidates.size(), 2u);
  EXPECT_TRUE(ans->media[5].candidates.empty());
}

TEST(AnswerForTest, WithoutBundleEverySectionCarriesCandidates) {
  auto offer = ParseSdp(Join({"v=0", "a=ice-ufrag:uuuu", "a=ice-pwd:pppppppppppppppppppppp",
                              "m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=rtcp-mux",
                              "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=rtcp-mux"}));
  ASSERT_TRUE(offer.ok()) << offer.status();
  auto text = AnswerFor(*offer, Params());
  ASSERT_TRUE(text.ok()) << text.status();
  auto ans = ParseSdp(*text);
  ASSERT_TRUE(ans.ok()) << ans.status();
  EXPECT_TRUE(ans->bundle_mids.empty());
  EXPECT_EQ(text->find("a=group"), std::string::npos);
  for (const MediaSection& m : ans->media) {
    EXPECT_EQ(m.candidates.size(), 2u);
    EXPECT_TRUE(m.end_of_candidates);
    EXPECT_FALSE(m.mid);
  }
}

TEST(AnswerForTest, DefaultAddressFollowsTheCandidates) {
  auto offer = ParseSdp(Join(ChromeOffer()));
  ASSERT_TRUE(offer.ok());
  AnswerParams v6 = Params();
  v6.candidates.resize(1);
  v6.candidates[0].address = "2001:db8::10";
  v6.candidates[0].ip = stun::SocketAddress::ParseIp("2001:db8::10", 40000);
  auto text = AnswerFor(*offer, v6);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(CountLines(*text, "c=IN IP6 2001:db8::10\r\n"), 3u);

  AnswerParams mdns = Params();
  mdns.candidates.resize(1);
  mdns.candidates[0].address = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.local";
  mdns.candidates[0].ip.reset();
  auto t2 = AnswerFor(*offer, mdns);
  ASSERT_TRUE(t2.ok()) << t2.status();
  EXPECT_EQ(CountLines(*t2, "c=IN IP4 0.0.0.0\r\n"), 3u);
  EXPECT_EQ(CountLines(*t2, "m=audio 9 "), 1u);
}

TEST(AnswerForTest, RefusesWhatCannotBeAnswered) {
  auto offer = ParseSdp(Join(ChromeOffer()));
  ASSERT_TRUE(offer.ok());

  SessionDescription empty;
  EXPECT_EQ(AnswerFor(empty, Params()).status().code(), absl::StatusCode::kInvalidArgument);

  AnswerParams p = Params();
  p.ice.ufrag = "ab-c";
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);
  p = Params();
  p.ice.pwd = "short";
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);
  p = Params();
  p.fingerprint = "sha-256";
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);
  p = Params();
  p.candidates.clear();
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);
  p = Params();
  p.candidates[0].component = 0;
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);
  p = Params();
  p.candidates[0].foundation.clear();
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);
  p = Params();
  p.candidates[0].foundation = "bad foundation";
  EXPECT_EQ(AnswerFor(*offer, p).status().code(), absl::StatusCode::kInvalidArgument);

  auto none = ParseSdp(Join({"v=0", "a=ice-ufrag:uuuu", "a=ice-pwd:pppppppppppppppppppppp",
                             "m=audio 9 RTP/AVP 0", "m=video 0 UDP/TLS/RTP/SAVPF 96"}));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(AnswerFor(*none, Params()).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace uturn::ice
