#include "client/turn_client.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/demux.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/nonce_cookie.h"

namespace uturn::client {
namespace {

constexpr size_t Padded(size_t n) { return (n + 3) & ~size_t{3}; }
constexpr size_t AttrSize(size_t value) { return stun::kAttributeHeaderSize + Padded(value); }
// Largest XOR address value (IPv6, RFC 8489 §14.2).
constexpr size_t kAddrAttr = AttrSize(stun::kAddressValueSizeV6);
// RFC 8489 §5: the message length field is 16 bits.
constexpr size_t kMaxMessage = stun::kHeaderSize + (0xFFFF & ~size_t{3});

stun::SocketAddress WithoutPort(stun::SocketAddress a) {
  a.port = 0;
  return a;
}

std::vector<uint8_t> Copy(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

}  // namespace

const char* ToString(TurnState s) {
  switch (s) {
    case TurnState::kIdle: return "idle";
    case TurnState::kAllocating: return "allocating";
    case TurnState::kAllocated: return "allocated";
  }
  return "unknown";
}

TurnClient::TurnClient(TurnClientConfig config, RandomSource random)
    : config_(std::move(config)), random_(std::move(random)) {}

// ---------------------------------------------------------------- requests

absl::StatusOr<RequestHandle> TurnClient::Allocate(absl::Time now) {
  if (state_ != TurnState::kIdle) {
    // RFC 8656 §7.1: one allocation per 5-tuple; a second one earns 437.
    return absl::FailedPreconditionError(std::string("cannot allocate while ") + ToString(state_));
  }
  Pending p;
  p.method = stun::Method::kAllocate;
  auto handle = Start(now, std::move(p));
  if (handle.ok()) state_ = TurnState::kAllocating;
  return handle;
}

absl::StatusOr<RequestHandle> TurnClient::Refresh(absl::Time now, std::optional<uint32_t> lifetime) {
  if (state_ != TurnState::kAllocated) return absl::FailedPreconditionError("no allocation to refresh");
  Pending p;
  p.method = stun::Method::kRefresh;
  p.lifetime = lifetime;
  return Start(now, std::move(p));
}

absl::StatusOr<RequestHandle> TurnClient::CreatePermission(
    absl::Time now, std::span<const stun::SocketAddress> peers) {
  if (state_ != TurnState::kAllocated) return absl::FailedPreconditionError("no allocation");
  // RFC 8656 §9.1: at least one XOR-PEER-ADDRESS.
  if (peers.empty()) return absl::InvalidArgumentError("CreatePermission needs at least one peer");
  Pending p;
  p.method = stun::Method::kCreatePermission;
  p.peers.assign(peers.begin(), peers.end());
  return Start(now, std::move(p));
}

absl::StatusOr<RequestHandle> TurnClient::ChannelBind(absl::Time now, uint16_t channel,
                                                      const stun::SocketAddress& peer) {
  if (state_ != TurnState::kAllocated) return absl::FailedPreconditionError("no allocation");
  // RFC 8656 §12: only 0x4000 through 0x4FFF may be bound.
  if (!stun::IsValidChannelNumber(channel)) {
    return absl::InvalidArgumentError("channel number outside 0x4000-0x4FFF (RFC 8656 §12)");
  }
  // RFC 8656 §12.1: a channel is bound to one peer, a peer to one channel.
  if (auto it = channels_.find(channel); it != channels_.end() && !(it->second == peer)) {
    return absl::FailedPreconditionError("channel already bound to another peer");
  }
  if (auto other = ChannelFor(peer); other && *other != channel) {
    return absl::FailedPreconditionError("peer already bound to another channel");
  }
  Pending p;
  p.method = stun::Method::kChannelBind;
  p.channel = channel;
  p.peers = {peer};
  return Start(now, std::move(p));
}

absl::StatusOr<RequestHandle> TurnClient::CustomRequest(absl::Time now, stun::Method method,
                                                        std::vector<ExtraAttribute> attributes,
                                                        std::vector<stun::SocketAddress> xor_peers) {
  Pending p;
  p.method = method;
  p.custom = true;
  p.attributes = std::move(attributes);
  p.peers = std::move(xor_peers);
  return Start(now, std::move(p));
}

absl::StatusOr<RequestHandle> TurnClient::Start(absl::Time now, Pending p) {
  if (!random_) return absl::FailedPreconditionError("no random source for transaction IDs");
  p.handle = next_handle_;
  if (absl::Status s = BuildAndSend(p, now); !s.ok()) return s;
  ++next_handle_;
  pending_.push_back(std::move(p));
  return pending_.back().handle;
}

// Builds the request with a fresh transaction ID (RFC 8489 §9.2.4: a retry
// after 401/438 is a new transaction) and queues it.
absl::Status TurnClient::BuildAndSend(Pending& p, absl::Time now) {
  const bool auth = config_.credentials.has_value() && !nonce_.empty() && !key_.empty();
  size_t size = stun::kHeaderSize + p.peers.size() * kAddrAttr + 64;
  if (p.method == stun::Method::kAllocate) {
    size += 64;
    for (const ExtraAttribute& a : config_.allocate_extra_attributes) size += AttrSize(a.value.size());
  }
  for (const ExtraAttribute& a : p.attributes) size += AttrSize(a.value.size());
  if (!config_.software.empty()) size += AttrSize(config_.software.size());
  if (auth) {
    size += AttrSize(config_.credentials->username.size()) + AttrSize(realm_.size()) +
            AttrSize(nonce_.size()) + AttrSize(password_algorithms_raw_.size()) + AttrSize(4) +
            AttrSize(32);
  }
  if (config_.fingerprint) size += AttrSize(4);
  if (size > kMaxMessage) return absl::InvalidArgumentError("the request does not fit one message");

  random_(p.id);
  std::vector<uint8_t> buf(size);
  stun::MessageBuilder b(buf, stun::EncodeMessageType(p.method, stun::MessageClass::kRequest), p.id);
  switch (p.custom ? stun::Method::kBinding : p.method) {
    case stun::Method::kAllocate:
      // RFC 8656 §7.1: REQUESTED-TRANSPORT is mandatory; the rest optional.
      b.AddRequestedTransport(config_.requested_transport);
      if (config_.lifetime_seconds) b.AddU32(stun::attr::kLifetime, *config_.lifetime_seconds);
      if (config_.requested_address_family) {
        b.AddRequestedAddressFamily(*config_.requested_address_family);
      }
      if (config_.additional_ipv6) b.AddAdditionalAddressFamily(stun::kFamilyIPv6);
      if (config_.even_port) b.AddEvenPort(*config_.even_port);
      if (config_.reservation_token) b.Add(stun::attr::kReservationToken, *config_.reservation_token);
      if (config_.dont_fragment) b.AddFlag(stun::attr::kDontFragment);
      for (const ExtraAttribute& a : config_.allocate_extra_attributes) b.Add(a.type, a.value);
      break;
    case stun::Method::kRefresh:
      if (p.lifetime) b.AddU32(stun::attr::kLifetime, *p.lifetime);  // RFC 8656 §8.1
      break;
    case stun::Method::kCreatePermission:
      for (const stun::SocketAddress& peer : p.peers) b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
      break;
    case stun::Method::kChannelBind:
      b.AddChannelNumber(p.channel);  // RFC 8656 §11.1
      b.AddXorAddress(stun::attr::kXorPeerAddress, p.peers.at(0));
      break;
    default:
      break;
  }
  for (const ExtraAttribute& a : p.attributes) b.Add(a.type, a.value);
  if (p.custom) {
    for (const stun::SocketAddress& peer : p.peers) b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
  }
  if (!config_.software.empty()) b.AddString(stun::attr::kSoftware, config_.software);
  if (auth) {
    // RFC 8489 §9.2.4: USERNAME, REALM, NONCE, and when the server offered
    // them, PASSWORD-ALGORITHMS (verbatim) and the chosen PASSWORD-ALGORITHM.
    b.AddString(stun::attr::kUsername, config_.credentials->username);
    b.AddString(stun::attr::kRealm, realm_);
    b.AddString(stun::attr::kNonce, nonce_);
    if (!password_algorithms_raw_.empty()) {
      b.Add(stun::attr::kPasswordAlgorithms, password_algorithms_raw_);
      b.AddPasswordAlgorithm(use_sha256_ ? stun::PasswordAlgorithm::kSha256
                                         : stun::PasswordAlgorithm::kMd5);
    }
    if (use_sha256_) {
      b.AddMessageIntegritySha256(key_);
    } else {
      b.AddMessageIntegrity(key_);
    }
  }
  if (config_.fingerprint) b.AddFingerprint();
  if (!b.ok()) return absl::InvalidArgumentError("could not build the request (attribute too large?)");
  buf.resize(b.size());

  p.authenticated = auth;
  p.bytes = std::move(buf);
  p.transaction.emplace(config_.transaction, config_.transport, config_.transaction.initial_rto, now);
  transmit_.push_back(p.bytes);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- data plane

absl::StatusOr<size_t> TurnClient::WriteSendIndication(const stun::SocketAddress& peer,
                                                       std::span<const uint8_t> payload,
                                                       std::span<uint8_t> out) {
  if (state_ != TurnState::kAllocated) return absl::FailedPreconditionError("no allocation");
  if (!random_) return absl::FailedPreconditionError("no random source for transaction IDs");
  const size_t need = stun::kHeaderSize + kAddrAttr + AttrSize(payload.size()) +
                      (config_.dont_fragment ? AttrSize(0) : 0);
  if (need > kMaxMessage) return absl::InvalidArgumentError("payload too large for a Send indication");
  if (out.size() < need) return absl::ResourceExhaustedError("output buffer too small");
  stun::TransactionId id;
  random_(id);
  // RFC 8656 §10.1: XOR-PEER-ADDRESS and DATA; DONT-FRAGMENT optional.
  stun::MessageBuilder b(out, stun::EncodeMessageType(stun::Method::kSend, stun::MessageClass::kIndication),
                         id);
  b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
  b.Add(stun::attr::kData, payload);
  if (config_.dont_fragment) b.AddFlag(stun::attr::kDontFragment);
  assert(b.ok());
  return b.size();
}

absl::StatusOr<size_t> TurnClient::WriteChannelData(uint16_t channel, std::span<const uint8_t> payload,
                                                    std::span<uint8_t> out) const {
  if (!channels_.contains(channel)) return absl::FailedPreconditionError("channel not bound");
  // RFC 8656 §12.4: the length field is 16 bits.
  if (payload.size() > 0xFFFF) return absl::InvalidArgumentError("payload too large for ChannelData");
  const bool stream = config_.transport == stun::TransportKind::kReliable;
  const size_t need = stun::ChannelDataFrameSize(payload.size(), stream);
  if (out.size() < need) return absl::ResourceExhaustedError("output buffer too small");
  stun::WriteChannelDataHeader(out.data(), channel, static_cast<uint16_t>(payload.size()));
  std::copy(payload.begin(), payload.end(), out.begin() + stun::kChannelDataHeaderSize);
  // RFC 8656 §12.5: over TCP the frame is padded to 4 bytes (zeros here).
  std::fill(out.begin() + static_cast<ptrdiff_t>(stun::kChannelDataHeaderSize + payload.size()),
            out.begin() + static_cast<ptrdiff_t>(need), uint8_t{0});
  return need;
}

std::optional<uint16_t> TurnClient::ChannelFor(const stun::SocketAddress& peer) const {
  for (const auto& [ch, p] : channels_) {
    if (p == peer) return ch;
  }
  return std::nullopt;
}

bool TurnClient::HasPermission(const stun::SocketAddress& peer) const {
  return permitted_.contains(WithoutPort(peer));
}

// ---------------------------------------------------------------- driving

Incoming TurnClient::HandleIncoming(std::span<const uint8_t> bytes, absl::Time now) {
  // RFC 7983 §7 / RFC 8656 §12: the first byte tells STUN from ChannelData.
  switch (stun::Classify(bytes)) {
    case stun::PacketKind::kStun: return HandleStun(bytes, now);
    case stun::PacketKind::kChannelData: return HandleChannelData(bytes);
    default: return {};
  }
}

Incoming TurnClient::HandleChannelData(std::span<const uint8_t> bytes) {
  stun::ChannelDataView view;
  const bool stream = config_.transport == stun::TransportKind::kReliable;
  if (stun::ParseChannelData(bytes, stream, &view) != stun::ChannelDataError::kNone) return {};
  if (state_ != TurnState::kAllocated) return {};
  std::optional<stun::SocketAddress> peer;
  if (const auto it = channels_.find(view.channel); it != channels_.end()) {
    peer = it->second;
  } else {
    // RFC 8656 §12.2: the server binds when it accepts the ChannelBind, so
    // while our request is unanswered (its response may be lost) the
    // server may already send on the channel: it is the peer we asked for.
    for (const Pending& p : pending_) {
      if (p.method == stun::Method::kChannelBind && p.channel == view.channel && !p.peers.empty()) {
        peer = p.peers.front();
        break;
      }
    }
  }
  if (!peer) return {};  // RFC 8656 §12.6: an unknown channel is discarded
  Incoming in;
  in.kind = Incoming::Kind::kData;
  in.peer = *peer;
  in.payload = view.payload;
  in.channel = view.channel;
  return in;
}

Incoming TurnClient::HandleStun(std::span<const uint8_t> bytes, absl::Time now) {
  stun::ParseOptions options;
  options.allow_rfc3489 = false;
  stun::MessageView m;
  // RFC 8489 §6.3: malformed messages (and bad FINGERPRINTs) are discarded.
  if (stun::MessageView::Parse(bytes, &m, options) != stun::ParseError::kNone) return {};

  if (m.message_class() == stun::MessageClass::kIndication) {
    // RFC 8656 §10.4: a Data indication without XOR-PEER-ADDRESS or DATA is
    // discarded, as is one from a peer we gave no permission.
    if (!m.Is(stun::Method::kData, stun::MessageClass::kIndication)) return {};
    if (state_ != TurnState::kAllocated) return {};
    const auto peer = stun::GetXorPeerAddress(m);
    const auto data = stun::GetData(m);
    if (!peer.ok() || !data.ok() || !HasPermission(peer.value)) return {};
    Incoming in;
    in.kind = Incoming::Kind::kData;
    in.peer = peer.value;
    in.payload = data.value;
    return in;
  }
  if (m.message_class() == stun::MessageClass::kRequest) return {};

  const auto id = m.transaction_id();
  const auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return std::equal(p.id.begin(), p.id.end(), id.begin());
  });
  if (it == pending_.end()) return {};  // late retransmission answer, or not ours
  const size_t index = static_cast<size_t>(it - pending_.begin());
  const size_t before = pending_.size();
  const stun::TransactionId id_before = pending_[index].id;
  HandleResponse(index, m, now);
  // Discarded (e.g. failed integrity): the transaction keeps running.
  if (pending_.size() == before && pending_[index].id == id_before) return {};
  Incoming in;
  in.kind = Incoming::Kind::kResponse;
  return in;
}

void TurnClient::HandleResponse(size_t index, const stun::MessageView& m, absl::Time now) {
  Pending& p = pending_[index];
  TurnEvent ev;
  ev.request = p.handle;
  ev.method = p.method;
  ev.response = Copy(m.bytes());

  if (m.method() != static_cast<uint16_t>(p.method)) {
    ev.reason = "answer has another method than the request";
    return Finish(index, std::move(ev));
  }
  const bool success = m.message_class() == stun::MessageClass::kSuccessResponse;
  if (p.authenticated) {
    // RFC 8489 §9.2.5: a response to an authenticated request is checked
    // with the same key; one that fails (or, for a success, lacks integrity)
    // is discarded as if never received. Error responses such as 401 and
    // 438 are unsigned by design.
    stun::IntegrityCheck check = stun::IntegrityCheck::kAbsent;
    if (m.message_integrity_sha256_offset()) {
      check = stun::VerifyMessageIntegritySha256(m, key_);
    } else if (m.message_integrity_offset()) {
      check = stun::VerifyMessageIntegrity(m, key_);
    }
    if (check == stun::IntegrityCheck::kMismatch) return;
    if (success && check == stun::IntegrityCheck::kAbsent) return;
  }
  // RFC 8489 §6.3.1, §6.3.4: unknown comprehension-required attributes in a
  // response fail the transaction.
  std::array<uint16_t, 1> unknown{};
  if (stun::CollectUnknownComprehensionRequired(m, stun::IsKnownAttribute, unknown) > 0) {
    ev.reason = "response carries an unknown comprehension-required attribute";
    return Finish(index, std::move(ev));
  }
  if (success) {
    HandleSuccess(p, m, now, ev);
    return Finish(index, std::move(ev));
  }

  const auto code = stun::GetErrorCode(m);
  if (!code.ok()) {
    ev.reason = code.absent() ? "error response without ERROR-CODE" : "ERROR-CODE is malformed";
    return Finish(index, std::move(ev));
  }
  ev.error_code = code.value.code;
  ev.reason.assign(code.value.reason);
  stun::ForEachUnknownAttribute(m, [&](uint16_t t) { ev.unknown_attributes.push_back(t); });

  const bool has_challenge = stun::GetRealm(m).ok() && stun::GetNonce(m).ok();
  // RFC 8489 §9.2.3: the first 401 carries REALM and NONCE; retry with
  // credentials. A 401 to a request that had them is final (§9.2.5).
  const bool retry_401 = code.value.code == stun::error::kUnauthorized && has_challenge &&
                         config_.credentials && !p.authenticated;
  // RFC 8489 §9.2.5: 438 means retry with the new NONCE (and REALM).
  const bool retry_438 = code.value.code == stun::error::kStaleNonce && has_challenge &&
                         config_.credentials &&
                         p.stale_retries < config_.max_stale_nonce_retries;
  if (retry_401 || retry_438) {
    if (retry_438) ++p.stale_retries;
    absl::Status s = LearnChallenge(m);
    if (s.ok()) s = BuildAndSend(p, now);
    if (!s.ok()) {
      ev.reason = std::string(s.message());
      return Finish(index, std::move(ev));
    }
    return;
  }
  // RFC 8656 §8.3: 437 to a Refresh means the allocation is already gone.
  if (p.method == stun::Method::kRefresh && code.value.code == stun::error::kAllocationMismatch) {
    state_ = TurnState::kIdle;
    allocation_ = {};
    channels_.clear();
    permitted_.clear();
  }
  Finish(index, std::move(ev));
}

// Takes REALM, NONCE and the password algorithm offer from a 401 or 438 and
// derives the long-term key (RFC 8489 §9.2.3, §9.2.4).
absl::Status TurnClient::LearnChallenge(const stun::MessageView& m) {
  const std::string realm(stun::GetRealm(m).value);
  nonce_.assign(stun::GetNonce(m).value);
  password_algorithms_raw_.clear();
  bool offers_md5 = false, offers_sha256 = false;
  const auto features = stun::ParseNonceCookie(nonce_);
  // RFC 8489 §9.2.4: PASSWORD-ALGORITHMS counts only when the nonce cookie
  // advertises the "Password algorithms" feature.
  if (features && (*features & stun::kFeaturePasswordAlgorithms)) {
    if (auto raw = m.Find(stun::attr::kPasswordAlgorithms)) {
      if (stun::ForEachPasswordAlgorithm(m, [&](const stun::PasswordAlgorithmEntry& e) {
            offers_md5 |= e.algorithm == static_cast<uint16_t>(stun::PasswordAlgorithm::kMd5);
            offers_sha256 |= e.algorithm == static_cast<uint16_t>(stun::PasswordAlgorithm::kSha256);
          }) != stun::AttrStatus::kOk) {
        return absl::InvalidArgumentError("PASSWORD-ALGORITHMS is malformed");
      }
      if (!offers_md5 && !offers_sha256) {
        return absl::UnimplementedError("the server offers no password algorithm we support");
      }
      password_algorithms_raw_ = Copy(raw->value);
    }
  }
  const bool sha256 = offers_sha256 && (config_.prefer_sha256 || !offers_md5);
  // Derive only when something that goes into the key changed.
  if (realm == realm_ && sha256 == use_sha256_ && !key_.empty()) return absl::OkStatus();
  realm_ = realm;
  use_sha256_ = sha256;
  key_.clear();
  const TurnCredentials& c = *config_.credentials;
  if (sha256) {
    auto k = stun::LongTermKeySha256(c.username, realm_, c.password);
    if (!k.ok()) return k.status();
    key_.assign(k->begin(), k->end());
  } else {
    auto k = stun::LongTermKeyMd5(c.username, realm_, c.password);
    if (!k.ok()) return k.status();
    key_.assign(k->begin(), k->end());
  }
  return absl::OkStatus();
}

void TurnClient::HandleSuccess(Pending& p, const stun::MessageView& m, absl::Time now, TurnEvent& ev) {
  if (p.custom) {
    ev.kind = TurnEvent::Kind::kSuccess;
    return;
  }
  switch (p.method) {
    case stun::Method::kAllocate: {
      // RFC 8656 §7.3: XOR-RELAYED-ADDRESS (one per family), LIFETIME,
      // XOR-MAPPED-ADDRESS; RESERVATION-TOKEN if EVEN-PORT R was granted.
      RelayedAddresses a;
      const stun::AttrStatus relayed = stun::ForEachXorAddress(
          m, stun::attr::kXorRelayedAddress, [&](const stun::SocketAddress& r) { a.relayed.push_back(r); });
      const auto lifetime = stun::GetLifetime(m);
      if (relayed != stun::AttrStatus::kOk || !lifetime.ok()) {
        ev.reason = "Allocate success without a usable XOR-RELAYED-ADDRESS or LIFETIME";
        return;
      }
      if (auto mapped = stun::GetXorMappedAddress(m); mapped.ok()) {
        a.mapped = mapped.value;
        a.has_mapped = true;
      }
      if (auto token = stun::GetReservationToken(m); token.ok()) {
        std::array<uint8_t, 8> t{};
        std::copy(token.value.begin(), token.value.end(), t.begin());
        a.reservation_token = t;
      }
      if (auto aec = stun::GetAddressErrorCode(m); aec.ok()) {
        a.address_error_family = aec.value.family;
        a.address_error_code = aec.value.code;
        a.address_error_reason.assign(aec.value.reason);
      }
      a.lifetime_seconds = lifetime.value;
      a.expires = now + absl::Seconds(lifetime.value);
      allocation_ = a;
      state_ = TurnState::kAllocated;
      ev.kind = TurnEvent::Kind::kAllocated;
      ev.allocation = std::move(a);
      ev.lifetime_seconds = lifetime.value;
      return;
    }
    case stun::Method::kRefresh: {
      const auto lifetime = stun::GetLifetime(m);
      if (lifetime.malformed() || (lifetime.absent() && p.lifetime != 0u)) {
        ev.reason = "Refresh success without a usable LIFETIME";
        return;
      }
      const uint32_t seconds = lifetime.ok() ? lifetime.value : 0;
      ev.kind = TurnEvent::Kind::kRefreshed;
      ev.lifetime_seconds = seconds;
      if (seconds == 0) {
        // RFC 8656 §8.3: lifetime 0 deletes the allocation at once.
        state_ = TurnState::kIdle;
        allocation_ = {};
        channels_.clear();
        permitted_.clear();
      } else {
        allocation_.lifetime_seconds = seconds;
        allocation_.expires = now + absl::Seconds(seconds);
      }
      return;
    }
    case stun::Method::kCreatePermission:
      for (const stun::SocketAddress& peer : p.peers) permitted_.insert(WithoutPort(peer));
      ev.kind = TurnEvent::Kind::kPermissionCreated;
      ev.peers = p.peers;
      return;
    case stun::Method::kChannelBind:
      // RFC 8656 §11.3: the binding also installs a permission for the peer.
      channels_[p.channel] = p.peers.at(0);
      permitted_.insert(WithoutPort(p.peers.at(0)));
      ev.kind = TurnEvent::Kind::kChannelBound;
      ev.channel = p.channel;
      ev.peers = p.peers;
      return;
    default:
      ev.kind = TurnEvent::Kind::kSuccess;
      return;
  }
}

void TurnClient::Finish(size_t index, TurnEvent ev) {
  assert(index < pending_.size());
  Pending& p = pending_[index];
  if (ev.kind == TurnEvent::Kind::kError && p.method == stun::Method::kAllocate && !p.custom &&
      state_ == TurnState::kAllocating) {
    state_ = TurnState::kIdle;
  }
  if (ev.kind == TurnEvent::Kind::kError && ev.reason.empty()) {
    ev.reason = stun::DefaultReasonPhrase(ev.error_code);
  }
  pending_.erase(pending_.begin() + static_cast<ptrdiff_t>(index));
  events_.push_back(std::move(ev));
}

absl::Time TurnClient::deadline() const {
  absl::Time t = absl::InfiniteFuture();
  for (const Pending& p : pending_) t = std::min(t, p.transaction->deadline());
  if (state_ == TurnState::kAllocated) t = std::min(t, allocation_.expires);
  return t;
}

void TurnClient::HandleTimeout(absl::Time now) {
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = pending_[i];
    if (now < p.transaction->deadline()) {
      ++i;
      continue;
    }
    switch (p.transaction->HandleTimeout(now)) {
      case stun::ClientTransaction::Action::kNone:
        ++i;
        break;
      case stun::ClientTransaction::Action::kRetransmit:
        // RFC 8489 §6.2.1: the retransmission is the identical request.
        transmit_.push_back(p.bytes);
        ++i;
        break;
      case stun::ClientTransaction::Action::kTimedOut: {
        TurnEvent ev;
        ev.request = p.handle;
        ev.method = p.method;
        ev.timed_out = true;
        ev.reason = "no answer (RFC 8489 §6.2 timers ran out)";
        Finish(i, std::move(ev));  // erases index i
        break;
      }
    }
  }
  // RFC 8656 §7: the allocation ends when its lifetime runs out.
  if (state_ == TurnState::kAllocated && now >= allocation_.expires) {
    state_ = TurnState::kIdle;
    allocation_ = {};
    channels_.clear();
    permitted_.clear();
    TurnEvent ev;
    ev.kind = TurnEvent::Kind::kExpired;
    events_.push_back(std::move(ev));
  }
}

std::optional<std::vector<uint8_t>> TurnClient::PollTransmit() {
  if (transmit_.empty()) return std::nullopt;
  std::vector<uint8_t> out = std::move(transmit_.front());
  transmit_.pop_front();
  return out;
}

std::optional<TurnEvent> TurnClient::PollEvent() {
  if (events_.empty()) return std::nullopt;
  TurnEvent ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

}  // namespace uturn::client
