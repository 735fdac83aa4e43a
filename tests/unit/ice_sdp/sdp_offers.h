// Offers in the shapes browsers write them, and helpers, shared by the SDP
// parser and answer tests.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "ice-lite/sdp.h"

namespace uturn::ice::sdp_testing {

inline const char* const kFp =
    "sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:"
    "58:D0:A1:2C:19:08";

inline std::string Join(const std::vector<std::string>& lines, const char* eol = "\r\n") {
  std::string out;
  for (const std::string& l : lines) out += l + eol;
  return out;
}

// A WHIP publish offer in the shape Chrome writes it (sendonly audio and
// video, a data channel, everything bundled, trickle, no candidates yet).
inline std::vector<std::string> ChromeOffer() {
  const std::string cred = "a=ice-ufrag:EsAw";
  const std::string pwd = "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1";
  const std::string fp = std::string("a=fingerprint:") + kFp;
  return {
      "v=0",
      "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
      "s=-",
      "t=0 0",
      "a=group:BUNDLE 0 1 2",
      "a=extmap-allow-mixed",
      "a=msid-semantic: WMS",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
      "c=IN IP4 0.0.0.0",
      "a=rtcp:9 IN IP4 0.0.0.0",
      cred,
      pwd,
      "a=ice-options:trickle",
      fp,
      "a=setup:actpass",
      "a=mid:0",
      "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
      "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
      "a=sendonly",
      "a=msid:- 7c3a0b7e-5d1f-4a7b-9c2e-3f1d2a4b5c6d",
      "a=rtcp-mux",
      "a=rtpmap:111 opus/48000/2",
      "a=rtcp-fb:111 transport-cc",
      "a=fmtp:111 minptime=10;useinbandfec=1",
      "a=rtpmap:63 red/48000/2",
      "a=fmtp:63 111/111",
      "a=rtpmap:9 G722/8000",
      "a=rtpmap:0 PCMU/8000",
      "a=rtpmap:8 PCMA/8000",
      "a=rtpmap:13 CN/8000",
      "a=rtpmap:110 telephone-event/48000",
      "a=rtpmap:126 telephone-event/8000",
      "a=ssrc:3735928559 cname:q1w2e3r4t5y6u7i8",
      "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
      "c=IN IP4 0.0.0.0",
      "a=rtcp:9 IN IP4 0.0.0.0",
      cred,
      pwd,
      "a=ice-options:trickle",
      fp,
      "a=setup:actpass",
      "a=mid:1",
      "a=extmap:3 urn:ietf:params:rtp-hdrext:toffset",
      "a=sendonly",
      "a=rtcp-mux",
      "a=rtcp-rsize",
      "a=rtpmap:96 VP8/90000",
      "a=rtcp-fb:96 goog-remb",
      "a=rtcp-fb:96 transport-cc",
      "a=rtcp-fb:96 ccm fir",
      "a=rtcp-fb:96 nack",
      "a=rtcp-fb:96 nack pli",
      "a=rtpmap:97 rtx/90000",
      "a=fmtp:97 apt=96",
      "a=rtpmap:102 H264/90000",
      "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
      "a=rtpmap:103 rtx/90000",
      "a=fmtp:103 apt=102",
      "a=ssrc-group:FID 1111 2222",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      "c=IN IP4 0.0.0.0",
      cred,
      pwd,
      "a=ice-options:trickle",
      fp,
      "a=setup:actpass",
      "a=mid:2",
      "a=sctp-port:5000",
      "a=max-message-size:262144",
  };
}

// Firefox's shape: fingerprint and ice-options at session level, ufrag/pwd
// per section, sendrecv.
inline std::vector<std::string> FirefoxOffer() {
  return {
      "v=0",
      "o=mozilla...THIS_IS_SDPARTA-115.0 7518429346255937042 0 IN IP4 0.0.0.0",
      "s=-",
      "t=0 0",
      std::string("a=fingerprint:") + kFp,
      "a=group:BUNDLE 0 1",
      "a=ice-options:trickle",
      "a=msid-semantic:WMS *",
      "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101",
      "c=IN IP4 0.0.0.0",
      "a=sendrecv",
      "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
      "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1",
      "a=fmtp:101 0-15",
      "a=ice-pwd:a1b2c3d4e5f60718293a4b5c6d7e8f90",
      "a=ice-ufrag:9f8e7d6c",
      "a=mid:0",
      "a=rtcp-mux",
      "a=rtpmap:109 opus/48000/2",
      "a=rtpmap:9 G722/8000/1",
      "a=rtpmap:0 PCMU/8000",
      "a=rtpmap:8 PCMA/8000",
      "a=rtpmap:101 telephone-event/8000",
      "a=setup:actpass",
      "a=ssrc:2864434397 cname:{4f5e6d7c-8b9a-0f1e-2d3c-4b5a69788796}",
      "m=video 9 UDP/TLS/RTP/SAVPF 120 124",
      "c=IN IP4 0.0.0.0",
      "a=recvonly",
      "a=fmtp:120 max-fs=12288;max-fr=60",
      "a=fmtp:124 apt=120",
      "a=ice-pwd:a1b2c3d4e5f60718293a4b5c6d7e8f90",
      "a=ice-ufrag:9f8e7d6c",
      "a=mid:1",
      "a=rtcp-fb:120 nack",
      "a=rtcp-mux",
      "a=rtpmap:120 VP8/90000",
      "a=rtpmap:124 rtx/90000",
      "a=setup:actpass",
  };
}

inline AnswerParams Params() {
  AnswerParams p;
  p.ice = {"Lite1234", "abcdefghijklmnopqrstuvwx"};
  Candidate c;
  c.foundation = "1";
  c.component = 1;
  c.transport = "udp";
  c.priority = 2130706431;
  c.address = "192.0.2.10";
  c.ip = stun::SocketAddress::V4({192, 0, 2, 10}, 40000);
  c.port = 40000;
  p.candidates.push_back(c);
  Candidate t = c;
  t.foundation = "2";
  t.transport = "tcp";
  t.priority = 2105524479;
  t.tcp_type = TcpType::kPassive;
  t.ip->port = 40001;
  t.port = 40001;
  p.candidates.push_back(t);
  p.fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  p.session_id = 123456789;
  return p;
}

inline bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

inline size_t CountLines(const std::string& text, std::string_view line) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(line, at)) != std::string::npos; at += line.size()) ++n;
  return n;
}

}  // namespace uturn::ice::sdp_testing
