// uturn-ice --http: the offer/answer surface a browser page talks to
// (client/README.md §HTTP offer/answer mode). POST /offer with the page's
// non-trickle SDP offer; the peer answers, once its gathering is complete,
// with a full (not lite) agent's SDP answer. One offer per process. Pure:
// parsed requests in (ice-lite/endpoint/http.h), responses out; the SDP is
// read and written by ice-lite/sdp.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ice-lite/candidate.h"
#include "ice-lite/endpoint/http.h"
#include "ice-lite/ice_types.h"
#include "ice-lite/sdp.h"

namespace uturn::client::peer {

// The ICE part of an accepted offer.
struct RemoteOffer {
  ice::Credentials credentials;
  std::vector<ice::Candidate> candidates;  // of the BUNDLE-tagged section, as offered
};

class OfferAnswerService {
 public:
  struct Result {
    // Set: send it now. Unset: the offer was accepted; answer with Answer()
    // once the local candidates are gathered.
    std::optional<ice::endpoint::HttpResponse> response;
    std::optional<RemoteOffer> offer;
  };
  // `fingerprint`: "sha-256 AB:..." of some certificate (DTLS is not run,
  // but a browser refuses an answer without one, RFC 8827 §6.5).
  explicit OfferAnswerService(std::string fingerprint) : fingerprint_(std::move(fingerprint)) {}

  Result Handle(const ice::endpoint::HttpRequest& request);
  // 200 with the answer to the accepted offer; 503 if it cannot be made
  // (no candidate gathered). Call once, after Handle accepted an offer.
  ice::endpoint::HttpResponse Answer(const ice::Credentials& local,
                                     const std::vector<ice::Candidate>& candidates,
                                     uint64_t session_id);
  bool offered() const { return offer_.has_value(); }

 private:
  ice::endpoint::HttpResponse Accept(const ice::endpoint::HttpRequest& request, Result* result);
  std::string fingerprint_;
  std::optional<ice::SessionDescription> offer_;
  bool answered_ = false;
};

// Every response carries the CORS header the endpoint's has (any origin).
void AddCors(ice::endpoint::HttpResponse& r);

}  // namespace uturn::client::peer
