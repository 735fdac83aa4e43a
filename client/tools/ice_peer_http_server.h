// uturn-ice --http: the sockets of the offer/answer mode. Listens on TCP,
// reads requests (ice-lite/endpoint/http.h parses them), hands them to the
// OfferAnswerService (ice_peer_http.h), and holds the offer's connection
// until the answer can be made: when the peer's gathering is complete, or
// at most kAnswerWait after the offer. Its fds run in the socket driver's
// poll loop.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/ice_socket_driver.h"
#include "client/tools/ice_peer_http.h"

namespace uturn::client::peer {

class OfferHttpServer {
 public:
  struct Hooks {
    std::function<void(const RemoteOffer&, absl::Time now)> on_offer;  // the accepted offer
    std::function<bool()> ready;  // the answer can be made now (gathering complete)
    std::function<ice::Credentials()> local_credentials;
    std::function<std::vector<ice::Candidate>()> local_candidates;
    std::function<void(std::string_view)> debug;
  };
  OfferHttpServer(IceSocketDriver* driver, RandomSource random, Hooks hooks);
  ~OfferHttpServer();
  OfferHttpServer(const OfferHttpServer&) = delete;
  OfferHttpServer& operator=(const OfferHttpServer&) = delete;

  // Makes the certificate whose fingerprint answers carry, listens at `at`
  // (port 0: ephemeral), watches the socket. Returns the bound address.
  absl::StatusOr<stun::SocketAddress> Open(const stun::SocketAddress& at);
  // Answers the held offer when ready or overdue; closes idle connections.
  void Tick(absl::Time now);
  absl::Time NextDeadline() const;

 private:
  struct Conn {
    std::string in;
    absl::Time deadline;
  };
  void OnAccept(absl::Time now);
  void OnConn(int fd, absl::Time now);
  void Respond(int fd, const ice::endpoint::HttpResponse& r);
  void Drop(int fd);
  void AnswerPending();

  IceSocketDriver* driver_;
  RandomSource random_;
  Hooks hooks_;
  OfferAnswerService service_{std::string()};
  int listen_fd_ = -1;
  absl::flat_hash_map<int, Conn> conns_;
  std::optional<int> pending_;  // the connection waiting for our answer
  absl::Time answer_by_ = absl::InfiniteFuture();
};

}  // namespace uturn::client::peer
