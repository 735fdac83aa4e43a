#include "client/tools/ice_peer_http.h"

#include <cassert>

#include "stun/text.h"

namespace uturn::client::peer {
namespace {

using ice::endpoint::HttpRequest;
using ice::endpoint::HttpResponse;

constexpr std::string_view kOfferPath = "/offer";

HttpResponse Plain(int status, std::string_view text) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  r.body = text::Cat(text, "\n");
  return r;
}

// application/sdp, or text/plain (a CORS "simple" type: no preflight).
bool AcceptedContentType(std::string_view value) {
  std::string_view type = text::Strip(value.substr(0, value.find(';')));
  return text::EqualsIgnoreCase(type, "application/sdp") || text::EqualsIgnoreCase(type, "text/plain");
}

// RFC 9143 §7.3.1: the BUNDLE-tagged section (the group's first mid)
// carries the transport; without a group, the first section.
size_t TransportSection(const ice::SessionDescription& sdp) {
  if (!sdp.bundle_mids.empty()) {
    for (size_t i = 0; i < sdp.media.size(); ++i) {
      if (sdp.media[i].mid == sdp.bundle_mids.front()) return i;
    }
  }
  return 0;
}

// A stand-in candidate to see whether the offer can be answered at all
// before accepting it (the real ones are gathered after).
ice::Candidate Placeholder() {
  ice::Candidate c;
  c.foundation = std::string("0");
  c.transport = std::string("udp");
  c.priority = 1;
  c.address = std::string("192.0.2.1");
  c.ip = stun::SocketAddress::V4({192, 0, 2, 1}, 9);
  c.port = 9;
  return c;
}

}  // namespace

void AddCors(HttpResponse& r) { r.headers.emplace_back("Access-Control-Allow-Origin", "*"); }

OfferAnswerService::Result OfferAnswerService::Handle(const HttpRequest& request) {
  Result result;
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  HttpResponse r;
  if (path != kOfferPath) {
    r = Plain(404, "no such resource (POST /offer)");
  } else if (request.method == "OPTIONS") {
    // CORS preflight (Fetch standard): the page POSTs application/sdp.
    r.status = 204;
    r.headers = {{"Access-Control-Allow-Methods", "POST, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Content-Type"},
                 {"Access-Control-Max-Age", "600"}};
  } else if (request.method == "POST") {
    r = Accept(request, &result);
    if (result.offer) return result;  // answered later
  } else {
    r = Plain(405, "method not allowed");
    r.headers.emplace_back("Allow", "POST, OPTIONS");
  }
  AddCors(r);
  result.response = std::move(r);
  return result;
}

HttpResponse OfferAnswerService::Accept(const HttpRequest& request, Result* result) {
  if (offer_) return Plain(409, "this peer has an offer already (one session per process)");
  std::optional<std::string_view> type = request.Header("content-type");
  if (type && !AcceptedContentType(*type)) {
    return Plain(415, "Content-Type must be application/sdp or text/plain");
  }
  absl::StatusOr<ice::SessionDescription> sdp = ice::ParseSdp(request.body);
  if (!sdp.ok()) return Plain(400, text::Cat("bad offer: ", sdp.status().message()));
  if (sdp->media.empty()) return Plain(400, "bad offer: no m-line");
  const size_t section = TransportSection(*sdp);
  std::optional<ice::Credentials> remote = sdp->CredentialsFor(section);
  if (!remote) return Plain(400, "bad offer: no a=ice-ufrag/a=ice-pwd");
  ice::AnswerParams trial;
  trial.ice = ice::Credentials{std::string("trial000"), std::string("trialtrialtrialtrialtrial")};
  trial.candidates = {Placeholder()};
  trial.fingerprint = fingerprint_;
  trial.lite = false;
  if (absl::StatusOr<std::string> a = ice::AnswerFor(*sdp, trial); !a.ok()) {
    return Plain(400, text::Cat("cannot answer the offer: ", a.status().message()));
  }
  RemoteOffer offer;
  offer.credentials = *remote;
  offer.candidates = sdp->media[section].candidates;
  offer_ = *std::move(sdp);
  result->offer = std::move(offer);
  return HttpResponse{};
}

HttpResponse OfferAnswerService::Answer(const ice::Credentials& local,
                                        const std::vector<ice::Candidate>& candidates,
                                        uint64_t session_id) {
  assert(offer_ && !answered_);
  answered_ = true;
  HttpResponse r;
  if (candidates.empty()) {
    r = Plain(503, "no local candidate was gathered");
  } else {
    ice::AnswerParams params;
    params.ice = local;
    params.candidates = candidates;
    params.fingerprint = fingerprint_;
    params.session_id = session_id & 0x7fffffffffffffffULL;  // RFC 8866 §5.2: sess-id positive
    params.lite = false;  // a full agent (RFC 8839 §5.3: no a=ice-lite)
    absl::StatusOr<std::string> answer = ice::AnswerFor(*offer_, params);
    if (!answer.ok()) {
      r = Plain(500, text::Cat("cannot answer: ", answer.status().message()));
    } else {
      r.status = 200;
      r.headers = {{"Content-Type", "application/sdp"}};
      r.body = *std::move(answer);
    }
  }
  AddCors(r);
  return r;
}

}  // namespace uturn::client::peer
