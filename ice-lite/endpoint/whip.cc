#include "ice-lite/endpoint/whip.h"

#include <array>
#include <cassert>

#include "ice-lite/endpoint/text.h"
#include "ice-lite/endpoint/json_line.h"
#include "ice-lite/sdp.h"

namespace uturn::ice::endpoint {
namespace {

constexpr std::string_view kCollection = "/whip";

HttpResponse Plain(int status, std::string_view text) {
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  r.body = Cat(text, "\n");
  return r;
}

// A browser page on another origin POSTs the offer and reads Location.
void AddCors(HttpResponse& r) {
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Access-Control-Expose-Headers", "Location");
}

// "application/sdp", parameters and case aside (RFC 9110 §8.3.1).
bool IsSdpContentType(std::string_view value) {
  std::string_view type = value.substr(0, value.find(';'));
  return EqualsIgnoreCase(Strip(type), "application/sdp");
}

void AddTupleFields(JsonLine& line, const Tuple& t) {
  line.Str("transport", t.transport == Transport::kUdp ? "udp" : "tcp")
      .Str("local", t.local.ToString())
      .Str("remote", t.remote.ToString());
}

}  // namespace

WhipService::WhipService(WhipConfig config, Router* router, RandomSource random, LogSink log)
    : config_(std::move(config)), router_(router), random_(std::move(random)), log_(std::move(log)) {
  assert(router_ != nullptr);
}

HttpResponse WhipService::Handle(const HttpRequest& request, absl::Time now) {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  const bool collection = path == kCollection;
  const bool resource = path.starts_with(Cat(kCollection, "/")) &&
                        path.size() > kCollection.size() + 1 &&
                        path.find('/', kCollection.size() + 1) == std::string_view::npos;
  HttpResponse r;
  if (!collection && !resource) {
    r = Plain(404, "no such resource");
  } else if (request.method == "OPTIONS") {
    // CORS preflight (Fetch standard): the page may POST application/sdp
    // and DELETE.
    r.status = 204;
    r.headers = {{"Access-Control-Allow-Methods", collection ? "POST, OPTIONS" : "DELETE, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Content-Type"},
                 {"Access-Control-Max-Age", "600"}};
  } else if (collection && request.method == "POST") {
    r = Create(request, now);
  } else if (resource && request.method == "DELETE") {
    r = Delete(path.substr(kCollection.size() + 1));
  } else {
    r = Plain(405, "method not allowed");
    r.headers.emplace_back("Allow", collection ? "POST, OPTIONS" : "DELETE, OPTIONS");
  }
  AddCors(r);
  return r;
}

HttpResponse WhipService::Create(const HttpRequest& request, absl::Time now) {
  std::optional<std::string_view> type = request.Header("content-type");
  if (!type || !IsSdpContentType(*type)) return Plain(415, "Content-Type must be application/sdp");
  absl::StatusOr<SessionDescription> offer = ParseSdp(request.body);
  if (!offer.ok()) return Plain(400, Cat("bad offer: ", std::string(offer.status().message())));
  if (offer->media.empty()) return Plain(400, "bad offer: no m-line");
  // With BUNDLE every section shares the first one's transport, and with it
  // its ICE credentials (RFC 9143 §7.1.3).
  std::optional<Credentials> remote = offer->CredentialsFor(0);
  if (!remote) return Plain(400, "bad offer: no a=ice-ufrag/a=ice-pwd");

  SessionConfig session = config_.session;
  // RFC 8445 §6.1.1: the lite agent is controlled, against a full peer and
  // as the answerer of a lite-lite pair alike.
  session.role = Role::kControlled;
  std::array<uint8_t, 8> tb{};
  random_(tb);
  session.tie_breaker = 0;
  for (uint8_t b : tb) session.tie_breaker = (session.tie_breaker << 8) | b;

  absl::StatusOr<SessionId> id = absl::InternalError("not tried");
  Credentials local;
  // A fresh ufrag collides with a live one only by bad luck (48 random bits).
  for (int attempt = 0; attempt < 3 && !id.ok(); ++attempt) {
    local = GenerateCredentials(random_);
    id = router_->AddSession(session, local, remote);
  }
  if (!id.ok()) return Plain(503, Cat("cannot add a session: ", std::string(id.status().message())));

  AnswerParams params;
  params.ice = local;
  params.candidates = config_.candidates;
  params.fingerprint = config_.fingerprint;
  std::array<uint8_t, 8> sid{};
  random_(sid);
  for (uint8_t b : sid) params.session_id = (params.session_id << 8) | b;
  params.session_id &= 0x7fffffffffffffffULL;  // RFC 8866 §5.2 sess-id: keep it positive
  absl::StatusOr<std::string> answer = AnswerFor(*offer, params);
  if (!answer.ok()) {
    router_->RemoveSession(*id);
    return Plain(400, Cat("cannot answer the offer: ", std::string(answer.status().message())));
  }

  // The Location is an unguessable token, not the router's id: DELETE must
  // not be a way for one client to end another's session.
  std::array<uint8_t, 16> token{};
  random_(token);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string public_id;
  for (uint8_t b : token) {
    public_id += kHex[b >> 4];
    public_id += kHex[b & 0xf];
  }
  by_public_id_[public_id] = *id;
  sessions_[*id] = Entry{public_id, 0, false};
  assert(connect_deadlines_.empty() || connect_deadlines_.back().first <= now + config_.connect_timeout);
  connect_deadlines_.emplace_back(now + config_.connect_timeout, *id);
  log_(JsonLine("created")
           .Str("session", public_id)
           .Str("ufrag", local.ufrag)
           .Str("remote_ufrag", remote->ufrag)
           .Num("m_lines", offer->media.size())
           .Done());

  HttpResponse r;
  r.status = 201;
  r.headers = {{"Content-Type", "application/sdp"},
               {"Location", Cat(kCollection, "/", public_id)}};
  r.body = *std::move(answer);
  return r;
}

HttpResponse WhipService::Delete(std::string_view public_id) {
  auto it = by_public_id_.find(std::string(public_id));
  if (it == by_public_id_.end()) return Plain(404, "no such session");
  Remove(it->second, "http_delete");
  return Plain(200, "session ended");
}

void WhipService::Remove(SessionId id, std::string_view reason) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  router_->RemoveSession(id);
  log_(JsonLine("deleted")
           .Str("session", it->second.public_id)
           .Str("reason", reason)
           .Num("media_packets", it->second.media_packets)
           .Done());
  by_public_id_.erase(it->second.public_id);
  sessions_.erase(it);
}

void WhipService::OnSessionEvent(SessionId id, const SessionEvent& event) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  const char* name = nullptr;
  switch (event.kind) {
    case SessionEvent::Kind::kTupleAdded: name = "tuple_added"; break;
    case SessionEvent::Kind::kTupleRemoved: name = "tuple_removed"; break;
    case SessionEvent::Kind::kSelectedChanged: name = "selected_changed"; break;
    case SessionEvent::Kind::kConnected:
      name = "connected";
      it->second.connected = true;
      break;
    case SessionEvent::Kind::kDisconnected: name = "disconnected"; break;
    case SessionEvent::Kind::kFailed:
      name = "failed";
      // Removed after the router call returns (no re-entry from a callback).
      failed_.push_back(id);
      break;
  }
  JsonLine line(name);
  line.Str("session", it->second.public_id);
  AddTupleFields(line, event.tuple);
  log_(line.Done());
}

void WhipService::OnMedia(SessionId id) {
  if (auto it = sessions_.find(id); it != sessions_.end()) ++it->second.media_packets;
}

void WhipService::Reap(absl::Time now) {
  std::vector<SessionId> failed;
  failed.swap(failed_);
  for (SessionId id : failed) Remove(id, "consent_failed");
  while (!connect_deadlines_.empty() && connect_deadlines_.front().first <= now) {
    const SessionId id = connect_deadlines_.front().second;
    connect_deadlines_.pop_front();
    auto it = sessions_.find(id);
    if (it != sessions_.end() && !it->second.connected) Remove(id, "never_connected");
  }
}

absl::Time WhipService::NextDeadline() const {
  if (!failed_.empty()) return absl::InfinitePast();
  return connect_deadlines_.empty() ? absl::InfiniteFuture() : connect_deadlines_.front().first;
}

std::string WhipService::PublicId(SessionId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? std::string() : it->second.public_id;
}

}  // namespace uturn::ice::endpoint
