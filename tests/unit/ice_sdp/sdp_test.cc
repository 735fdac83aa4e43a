// ParseSdp: WebRTC offers as browsers write them, and every way to get one wrong.
#include "ice-lite/sdp.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/ice_sdp/sdp_offers.h"

namespace uturn::ice {
namespace {

using namespace ::uturn::ice::sdp_testing;  // NOLINT: test helpers

TEST(ParseSdpTest, ChromeOffer) {
  auto sd = ParseSdp(Join(ChromeOffer()));
  ASSERT_TRUE(sd.ok()) << sd.status();
  EXPECT_FALSE(sd->ice_lite);
  EXPECT_FALSE(sd->ice);
  EXPECT_EQ(sd->bundle_mids, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(sd->ice_options, std::vector<std::string>{"trickle"});  // union, not repeated
  EXPECT_FALSE(sd->fingerprint);
  ASSERT_EQ(sd->media.size(), 3u);

  const MediaSection& audio = sd->media[0];
  EXPECT_EQ(audio.media, "audio");
  EXPECT_EQ(audio.port, 9);
  EXPECT_EQ(audio.protocol, "UDP/TLS/RTP/SAVPF");
  EXPECT_EQ(audio.formats,
            (std::vector<std::string>{"111", "63", "9", "0", "8", "13", "110", "126"}));
  EXPECT_EQ(audio.mid, "0");
  ASSERT_TRUE(audio.ice);
  EXPECT_EQ(audio.ice->ufrag, "EsAw");
  EXPECT_EQ(audio.ice->pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
  EXPECT_TRUE(audio.rtcp_mux);
  EXPECT_EQ(audio.setup, "actpass");
  EXPECT_EQ(audio.fingerprint, kFp);
  EXPECT_EQ(audio.direction, "sendonly");
  EXPECT_TRUE(audio.candidates.empty());
  EXPECT_FALSE(audio.end_of_candidates);
  EXPECT_TRUE(Has(audio.attributes, "rtpmap:111 opus/48000/2"));
  EXPECT_TRUE(Has(audio.attributes, "extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
  EXPECT_TRUE(Has(audio.attributes, "fmtp:111 minptime=10;useinbandfec=1"));
  EXPECT_TRUE(Has(audio.attributes, "ice-ufrag:EsAw"));  // every a= line, as written
  EXPECT_EQ(audio.attributes.size(), 24u);  // the a= lines of the audio section

  EXPECT_EQ(sd->media[1].media, "video");
  EXPECT_EQ(sd->media[1].formats, (std::vector<std::string>{"96", "97", "102", "103"}));
  EXPECT_TRUE(sd->media[1].rtcp_mux);

  const MediaSection& data = sd->media[2];
  EXPECT_EQ(data.media, "application");
  EXPECT_EQ(data.protocol, "UDP/DTLS/SCTP");
  EXPECT_EQ(data.formats, std::vector<std::string>{"webrtc-datachannel"});
  EXPECT_FALSE(data.rtcp_mux);
  EXPECT_FALSE(data.direction);
  EXPECT_TRUE(Has(data.attributes, "sctp-port:5000"));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(sd->CredentialsFor(i), audio.ice) << i;
}

TEST(ParseSdpTest, LfAndCrlfGiveTheSameResult) {
  auto crlf = ParseSdp(Join(ChromeOffer(), "\r\n"));
  auto lf = ParseSdp(Join(ChromeOffer(), "\n"));
  ASSERT_TRUE(crlf.ok()) << crlf.status();
  ASSERT_TRUE(lf.ok()) << lf.status();
  ASSERT_EQ(lf->media.size(), crlf->media.size());
  for (size_t i = 0; i < lf->media.size(); ++i) {
    EXPECT_EQ(lf->media[i].attributes, crlf->media[i].attributes);
    EXPECT_EQ(lf->media[i].formats, crlf->media[i].formats);
  }
  // Neither keeps a CR in any value.
  for (const std::string& a : lf->media[0].attributes) EXPECT_EQ(a.find('\r'), std::string::npos);
  for (const std::string& a : crlf->media[0].attributes) EXPECT_EQ(a.find('\r'), std::string::npos);
  // No final line end at all is fine too.
  std::string no_eol = Join(ChromeOffer(), "\n");
  no_eol.pop_back();
  EXPECT_TRUE(ParseSdp(no_eol).ok());
}

TEST(ParseSdpTest, FirefoxOfferSessionLevelFingerprint) {
  auto sd = ParseSdp(Join(FirefoxOffer()));
  ASSERT_TRUE(sd.ok()) << sd.status();
  EXPECT_EQ(sd->fingerprint, kFp);
  EXPECT_EQ(sd->ice_options, std::vector<std::string>{"trickle"});
  ASSERT_EQ(sd->media.size(), 2u);
  EXPECT_FALSE(sd->media[0].fingerprint);
  EXPECT_EQ(sd->media[0].direction, "sendrecv");
  EXPECT_EQ(sd->media[1].direction, "recvonly");
  auto cred = sd->CredentialsFor(1);
  ASSERT_TRUE(cred);
  EXPECT_EQ(cred->ufrag, "9f8e7d6c");
  EXPECT_EQ(cred->pwd, "a1b2c3d4e5f60718293a4b5c6d7e8f90");
}

TEST(ParseSdpTest, SessionLevelCredentialsAndOverride) {
  auto sd = ParseSdp(Join({"v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=ice-lite",
                           "a=ice-ufrag:sessU", "a=ice-pwd:sessionpassword0123456789",
                           "a=ice-options:trickle ice2", "m=audio 5000 UDP/TLS/RTP/SAVPF 0",
                           "a=rtcp-mux", "m=video 5002 UDP/TLS/RTP/SAVPF 96",
                           "a=ice-ufrag:mediU", "a=ice-pwd:mediapassword0123456789ab"}));
  ASSERT_TRUE(sd.ok()) << sd.status();
  EXPECT_TRUE(sd->ice_lite);
  EXPECT_EQ(sd->ice_options, (std::vector<std::string>{"trickle", "ice2"}));
  ASSERT_TRUE(sd->ice);
  EXPECT_EQ(sd->ice->ufrag, "sessU");
  EXPECT_FALSE(sd->media[0].ice);
  EXPECT_EQ(sd->CredentialsFor(0)->ufrag, "sessU");
  EXPECT_EQ(sd->CredentialsFor(1)->ufrag, "mediU");
  EXPECT_EQ(sd->CredentialsFor(7)->ufrag, "sessU");  // out of range: the session's
  EXPECT_EQ(sd->media[0].port, 5000);
  EXPECT_TRUE(sd->bundle_mids.empty());
}

TEST(ParseSdpTest, CandidatesAndEndOfCandidates) {
  std::vector<std::string> lines = ChromeOffer();
  // After the audio section's a=mid:0 (index 15).
  ASSERT_EQ(lines[15], "a=mid:0");
  lines.insert(lines.begin() + 16,
               {"a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host "
                "generation 0 ufrag EsAw network-id 1",
                "a=candidate:3058292358 1 udp 2113937151 5c4c2c4e-0f4e-4b2a-9a3e-1a2b3c4d5e6f.local "
                "54321 typ host generation 0 ufrag EsAw network-cost 999",
                "a=candidate:1853887674 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active "
                "generation 0 ufrag EsAw network-id 1",
                "a=end-of-candidates"});
  auto sd = ParseSdp(Join(lines));
  ASSERT_TRUE(sd.ok()) << sd.status();
  const MediaSection& audio = sd->media[0];
  ASSERT_EQ(audio.candidates.size(), 3u);
  EXPECT_EQ(audio.candidates[0].port, 46243);
  EXPECT_FALSE(audio.candidates[1].ip);
  EXPECT_EQ(audio.candidates[2].tcp_type, TcpType::kActive);
  EXPECT_TRUE(audio.end_of_candidates);
  EXPECT_FALSE(sd->media[1].end_of_candidates);

  // At session level, end-of-candidates covers every section (RFC 8840 §8.2).
  std::vector<std::string> s = ChromeOffer();
  s.insert(s.begin() + 4, "a=end-of-candidates");
  auto sd2 = ParseSdp(Join(s));
  ASSERT_TRUE(sd2.ok()) << sd2.status();
  for (const MediaSection& m : sd2->media) EXPECT_TRUE(m.end_of_candidates);
}

TEST(ParseSdpTest, PortCountAndBundleOnly) {
  auto sd = ParseSdp(Join({"v=0", "a=group:BUNDLE a b", "a=ice-ufrag:uuuu",
                           "a=ice-pwd:pppppppppppppppppppppp", "m=audio 9/2 RTP/AVP 0", "a=mid:a",
                           "m=video 0 UDP/TLS/RTP/SAVPF 96", "a=mid:b", "a=bundle-only"}));
  ASSERT_TRUE(sd.ok()) << sd.status();
  EXPECT_EQ(sd->media[0].port, 9);
  EXPECT_EQ(sd->media[1].port, 0);
}

TEST(ParseSdpTest, BundledSectionsMayShareTheTaggedSectionsCredentials) {
  // RFC 9143 §7.5.3: only the tagged (first in the group) section need carry
  // the transport attributes.
  const std::vector<std::string> body = {
      "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=ice-ufrag:EsAw",
      "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1", "a=rtcp-mux", "m=video 9 UDP/TLS/RTP/SAVPF 96",
      "a=mid:1", "a=rtcp-mux"};
  std::vector<std::string> ok = {"v=0", "a=group:BUNDLE 0 1"};
  ok.insert(ok.end(), body.begin(), body.end());
  auto sd = ParseSdp(Join(ok));
  ASSERT_TRUE(sd.ok()) << sd.status();
  EXPECT_FALSE(sd->CredentialsFor(1));  // the section's own view stays honest
  auto text = AnswerFor(*sd, Params());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(ParseSdp(*text).ok());

  // Tagged section without credentials: the other section's are not borrowed.
  std::vector<std::string> bad = {"v=0", "a=group:BUNDLE 1 0"};
  bad.insert(bad.end(), body.begin(), body.end());
  auto r = ParseSdp(Join(bad));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("line 8: section has no a=ice-ufrag"),
            std::string::npos)
      << r.status();
  // Outside the group, no sharing either.
  std::vector<std::string> outside = {"v=0", "a=group:BUNDLE 0"};
  outside.insert(outside.end(), body.begin(), body.end());
  EXPECT_FALSE(ParseSdp(Join(outside)).ok());
}

struct BadSdp {
  std::vector<std::string> lines;
  std::string reason;  // a piece of the expected message, e.g. "line 3"
};

TEST(ParseSdpTest, ErrorsNameTheLine) {
  const std::vector<std::string> head = {"v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"};
  auto with = [&](std::vector<std::string> tail) {
    std::vector<std::string> l = head;
    l.insert(l.end(), tail.begin(), tail.end());
    return l;
  };
  const std::string u = "a=ice-ufrag:abcd", p = "a=ice-pwd:0123456789012345678901";
  const std::vector<BadSdp> bad = {
      {{"o=- 1 1 IN IP4 0.0.0.0", "v=0"}, "line 1: the first line must be v=0"},
      {{"v=1"}, "line 1"},
      {{" v=0"}, "line 1"},
      {with({"v=0"}), "line 5"},
      {with({"hello"}), "line 5: not a <type>=<value>"},
      {with({"A=b"}), "line 5"},
      {with({"="}), "line 5"},
      {with({"", "m=audio 9 RTP/AVP 0"}), "line 5"},
      {with({"m=audio 9 UDP/TLS/RTP/SAVPF"}), "line 5: bad m-line"},
      {with({"m=audio"}), "line 5: bad m-line"},
      {with({"m=audio x UDP/TLS/RTP/SAVPF 0"}), "line 5: bad m-line: port"},
      {with({"m=audio 70000 UDP/TLS/RTP/SAVPF 0"}), "line 5: bad m-line: port"},
      {with({"m=audio 9/ UDP/TLS/RTP/SAVPF 0"}), "line 5: bad m-line: port count"},
      {with({"m=audio 9 UDP//TLS 0"}), "line 5: bad m-line: proto"},
      {with({"m=audio  9 RTP/AVP 0"}), "line 5: bad m-line: empty field"},
      {with({"m=au(dio 9 RTP/AVP 0"}), "line 5: bad m-line: media"},
      {with({"m=audio 9 RTP/AVP 0 (x)"}), "line 5: bad m-line: format"},
      {with({u, "m=audio 9 RTP/AVP 0"}), "line 5: a=ice-ufrag without a=ice-pwd"},
      {with({p, "m=audio 9 RTP/AVP 0"}), "line 5: a=ice-pwd without a=ice-ufrag"},
      {with({"m=audio 9 RTP/AVP 0", "a=mid:0", u}), "line 7: a=ice-ufrag without"},
      {with({"m=audio 9 RTP/AVP 0", u, p, "m=video 9 RTP/AVP 0", p}), "line 9: a=ice-pwd without"},
      {with({"a=ice-ufrag:ab-cd", p}), "line 5: a=ice-ufrag must be"},
      {with({"a=ice-ufrag:abc", p}), "line 5: a=ice-ufrag must be"},
      {with({"a=ice-ufrag:" + std::string(257, 'a'), p}), "line 5: a=ice-ufrag must be"},
      {with({u, "a=ice-pwd:tooshort"}), "line 6: a=ice-pwd must be"},
      {with({u, "a=ice-pwd:0123456789012345678901\xc3\xa9"}), "line 6: a=ice-pwd must be"},
      {with({u, u, p}), "line 6: a=ice-ufrag given twice"},
      {with({"a=ice-options:trick-le"}), "line 5: a=ice-options"},
      {with({"a=ice-options:"}), "line 5: a=ice-options"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=candidate:1 1 udp 1 10.0.0.1 99999 typ host"}),
       "line 8: a=candidate: port"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=candidate:1 1 udp 1 10.0.0.1 1 typ host raddr"}),
       "line 8: a=candidate"},
      {with({"a=candidate:1 1 udp 1 10.0.0.1 1 typ host"}), "line 5: a=candidate at session"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=mid:x", "m=video 9 RTP/AVP 0", "a=mid:x"}),
       "line 10: duplicate a=mid"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=mid:x", "a=mid:y"}), "line 9: a=mid given twice"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=mid:"}), "line 8: a=mid"},
      {with({"a=group:BUNDLE 0 1", u, p, "m=audio 9 RTP/AVP 0", "a=mid:0"}),
       "line 5: BUNDLE names unknown mid \"1\""},
      {with({"a=group:BUNDLE 0", "a=group:BUNDLE 1"}), "line 6: more than one BUNDLE"},
      {with({"a=fingerprint:sha-256"}), "line 5: a=fingerprint"},
      {with({"a=fingerprint:sha-256 AB:C"}), "line 5: a=fingerprint"},
      {with({"a=fingerprint:sha-256 AB:CD:"}), "line 5: a=fingerprint"},
      {with({"a=fingerprint:sha-256 AB:XY"}), "line 5: a=fingerprint"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=setup:server"}), "line 8: a=setup"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=ice-lite"}), "line 8: a=ice-lite"},
      {with({u, p, "m=audio 9 RTP/AVP 0", "a=group:BUNDLE 0"}), "line 8: a=group"},
      {with({"m=audio 9 RTP/AVP 0"}), "line 5: section has no a=ice-ufrag"},
      {with({u, "m=audio 9 RTP/AVP 0"}), "line 5"},
      {with({"a="}), "line 5: empty attribute"},
      {with({"a=:x"}), "line 5: attribute name"},
      {with({"s=\x01"}), "line 5: control character"},
      {with({"s=a\rb"}), "line 5: control character"},
  };
  for (const BadSdp& b : bad) {
    for (const char* eol : {"\r\n", "\n"}) {
      auto sd = ParseSdp(Join(b.lines, eol));
      ASSERT_FALSE(sd.ok()) << "accepted: " << Join(b.lines);
      EXPECT_EQ(sd.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(std::string(sd.status().message()).find(b.reason), std::string::npos)
          << Join(b.lines, "|") << " -> " << sd.status().message() << " (wanted \"" << b.reason
          << "\")";
    }
  }
}

TEST(ParseSdpTest, EmptyAndOversizedInput) {
  EXPECT_FALSE(ParseSdp("").ok());
  EXPECT_FALSE(ParseSdp("\r\n\r\n").ok());
  std::string big = "v=0\r\n";
  while (big.size() <= 128 * 1024) big += "a=x-filler:" + std::string(100, 'z') + "\r\n";
  auto r = ParseSdp(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("too large"), std::string::npos);
  std::string many = "v=0\r\na=ice-ufrag:uuuu\r\na=ice-pwd:pppppppppppppppppppppp\r\n";
  for (int i = 0; i < 257; ++i) many += "m=audio 9 RTP/AVP 0\r\n";
  auto m = ParseSdp(many);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(std::string(m.status().message()).find("line 260: too many m-lines"),
            std::string::npos)
      << m.status();
}

// Every prefix and many one-byte changes of a real offer: never a crash.
TEST(ParseSdpTest, MutationsNeverCrash) {
  const std::string offer = Join(FirefoxOffer());
  size_t ok = 0;
  for (size_t n = 0; n <= offer.size(); n += 7) ok += ParseSdp(offer.substr(0, n)).ok();
  for (size_t i = 0; i < offer.size(); i += 3) {
    for (char r : {' ', ':', '\n', '\0', '\xff', '='}) {
      std::string m = offer;
      m[i] = r;
      auto sd = ParseSdp(m);
      if (sd.ok()) {
        ++ok;
      } else {
        EXPECT_NE(std::string(sd.status().message()).find("SDP"), std::string::npos);
      }
    }
  }
  EXPECT_GT(ok, 0u);
}

}  // namespace
}  // namespace uturn::ice
