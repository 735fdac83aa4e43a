#include "client/binding_client.h"

#include <cassert>
#include <cstring>
#include <utility>

#include "stun/attributes.h"
#include "stun/message_builder.h"

namespace uturn::client {
namespace {

// RFC 8489 §14.14: SOFTWARE "MUST be fewer than 128 characters (which can be
// as long as 509 bytes when encoding them and as long as 763 bytes when
// decoding them)". We are the encoder.
constexpr size_t kMaxSoftwareBytes = 509;
// RFC 8489 §5: the message length field is 16 bits.
constexpr size_t kMaxBodySize = 0xFFFF & ~size_t{3};
constexpr size_t kFingerprintAttributeSize = stun::kAttributeHeaderSize + 4;

constexpr size_t Padded(size_t n) { return (n + 3) & ~size_t{3}; }

uint32_t ReadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string HexType(uint16_t t) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x0000";
  for (size_t i = 5; i >= 2; --i, t = static_cast<uint16_t>(t >> 4)) s[i] = kHex[t & 0xF];
  return s;
}

}  // namespace

const char* ToString(BindingStatus s) {
  switch (s) {
    case BindingStatus::kIdle: return "idle";
    case BindingStatus::kPending: return "pending";
    case BindingStatus::kSuccess: return "success";
    case BindingStatus::kErrorResponse: return "error-response";
    case BindingStatus::kTimeout: return "timeout";
    case BindingStatus::kMalformed: return "malformed";
  }
  return "unknown";
}

BindingClient::BindingClient(BindingClientConfig config, RandomSource random)
    : config_(std::move(config)), random_(std::move(random)) {}

absl::Status BindingClient::Start(absl::Time now) {
  if (!random_) return absl::FailedPreconditionError("no random source to draw a transaction ID from");
  RequestId id;
  random_(id.transaction_id);
  if (config_.rfc3489) {
    std::array<uint8_t, 4> word{};
    random_(word);
    id.cookie = ReadU32(word.data());
    // An RFC 3489 ID that happens to begin with the magic cookie would be
    // read as an RFC 8489 request (RFC 8489 §12); flip one bit to avoid it.
    if (id.cookie == stun::kMagicCookie) id.cookie ^= 1;
  }
  return Start(now, id);
}

absl::Status BindingClient::Start(absl::Time now, const RequestId& id) {
  if (result_.status != BindingStatus::kIdle) {
    return absl::FailedPreconditionError("the transaction was already started");
  }
  if (config_.rfc3489 == (id.cookie == stun::kMagicCookie)) {
    return absl::InvalidArgumentError(
        config_.rfc3489 ? "an RFC 3489 request must not carry the magic cookie"
                        : "an RFC 8489 request must carry the magic cookie");
  }
  if (config_.software.size() > kMaxSoftwareBytes) {
    return absl::InvalidArgumentError("SOFTWARE is too long (RFC 8489 §14.14)");
  }

  size_t body = 0;
  if (!config_.software.empty()) body += stun::kAttributeHeaderSize + Padded(config_.software.size());
  for (const ExtraAttribute& a : config_.extra_attributes) {
    body += stun::kAttributeHeaderSize + Padded(a.value.size());
  }
  if (config_.fingerprint) body += kFingerprintAttributeSize;
  if (body > kMaxBodySize) return absl::InvalidArgumentError("the attributes do not fit one message");

  request_.assign(stun::kHeaderSize + body, 0);
  stun::MessageBuilder builder(
      request_, stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kRequest),
      id.transaction_id, id.cookie);
  if (!config_.software.empty()) builder.AddString(stun::attr::kSoftware, config_.software);
  for (const ExtraAttribute& a : config_.extra_attributes) builder.Add(a.type, a.value);
  if (config_.fingerprint) builder.AddFingerprint();
  if (!builder.ok()) {
    request_.clear();
    return absl::InternalError("could not build the request");
  }
  assert(builder.size() == request_.size());

  id_ = id;
  transaction_.emplace(config_.transaction, config_.transport, config_.transaction.initial_rto, now);
  result_ = BindingResult{};
  result_.status = BindingStatus::kPending;
  result_.transmissions = 1;
  return absl::OkStatus();
}

std::span<const uint8_t> BindingClient::request() const { return request_; }

bool BindingClient::done() const {
  return result_.status != BindingStatus::kIdle && result_.status != BindingStatus::kPending;
}

absl::Time BindingClient::deadline() const {
  if (result_.status != BindingStatus::kPending) return absl::InfiniteFuture();
  return transaction_->deadline();
}

bool BindingClient::HandleTimeout(absl::Time now) {
  if (result_.status != BindingStatus::kPending || now < transaction_->deadline()) return false;
  switch (transaction_->HandleTimeout(now)) {
    case stun::ClientTransaction::Action::kNone:
      return false;
    case stun::ClientTransaction::Action::kRetransmit:
      result_.transmissions = transaction_->transmissions();
      return true;
    case stun::ClientTransaction::Action::kTimedOut:
      Finish(BindingStatus::kTimeout, now);
      return false;
  }
  return false;
}

bool BindingClient::MatchesOurs(std::span<const uint8_t> bytes) const {
  if (bytes.size() < stun::kHeaderSize) return false;
  if (ReadU32(bytes.data() + 4) != id_.cookie) return false;
  return std::memcmp(bytes.data() + 8, id_.transaction_id.data(), stun::kTransactionIdSize) == 0;
}

Disposition BindingClient::HandleMessage(std::span<const uint8_t> bytes, absl::Time now) {
  if (result_.status != BindingStatus::kPending || !MatchesOurs(bytes)) return Disposition::kIgnored;

  stun::ParseOptions options;
  options.allow_rfc3489 = config_.rfc3489;
  options.verify_fingerprint = true;
  stun::MessageView m;
  const stun::ParseError error = stun::MessageView::Parse(bytes, &m, options);
  // RFC 8489 §7.3: a message whose FINGERPRINT does not check out is not
  // STUN (it may be another protocol sharing the port): discard silently.
  if (error == stun::ParseError::kFingerprintMismatch || error == stun::ParseError::kNotStun) {
    return Disposition::kIgnored;
  }
  if (error != stun::ParseError::kNone) {
    // Deviation (see client/README.md): §7.3 discards malformed messages; a
    // sender that echoes our transaction ID is the server (or someone able
    // to forge a valid answer anyway), so waiting on would only delay the
    // verdict.
    FinishMalformed(std::string("unparsable response: ") + stun::ToString(error), now);
    return Disposition::kAnswered;
  }
  const stun::MessageClass cls = m.message_class();
  if (cls == stun::MessageClass::kRequest || cls == stun::MessageClass::kIndication) {
    return Disposition::kIgnored;  // our own request reflected, or noise
  }
  if (m.method() != static_cast<uint16_t>(stun::Method::kBinding)) {
    FinishMalformed("answer to a Binding request has another method", now);
    return Disposition::kAnswered;
  }

  result_.response_had_fingerprint = m.fingerprint_offset().has_value();
  if (auto sw = stun::GetSoftware(m); sw.ok()) result_.server_software.assign(sw.value);

  // RFC 8489 §6.3.1 (success) and §6.3.4 (error): a response with unknown
  // comprehension-required attributes fails the transaction.
  std::array<uint16_t, 1> unknown{};
  if (stun::CollectUnknownComprehensionRequired(m, stun::IsKnownAttribute, unknown) > 0) {
    FinishMalformed("response carries unknown comprehension-required attribute " +
                        HexType(unknown[0]),
                    now);
    return Disposition::kAnswered;
  }

  if (cls == stun::MessageClass::kSuccessResponse) {
    ReadSuccess(m, now);
  } else {
    ReadError(m, now);
  }
  return Disposition::kAnswered;
}

void BindingClient::ReadSuccess(const stun::MessageView& m, absl::Time now) {
  // RFC 8489 §14.2 XOR-MAPPED-ADDRESS; RFC 8489 §14.1 / §12: MAPPED-ADDRESS
  // from servers that predate it, and the only choice for RFC 3489.
  if (m.has_magic_cookie()) {
    const auto xor_mapped = stun::GetXorMappedAddress(m);
    if (xor_mapped.malformed()) return FinishMalformed("XOR-MAPPED-ADDRESS is malformed", now);
    if (xor_mapped.ok()) {
      result_.mapped = xor_mapped.value;
      result_.from_xor_mapped = true;
      return Finish(BindingStatus::kSuccess, now);
    }
  }
  const auto mapped = stun::GetMappedAddress(m);
  if (mapped.malformed()) return FinishMalformed("MAPPED-ADDRESS is malformed", now);
  if (mapped.absent()) return FinishMalformed("success response without a mapped address", now);
  result_.mapped = mapped.value;
  result_.from_xor_mapped = false;
  Finish(BindingStatus::kSuccess, now);
}

void BindingClient::ReadError(const stun::MessageView& m, absl::Time now) {
  // RFC 8489 §6.3.4: an error response carries ERROR-CODE.
  const auto code = stun::GetErrorCode(m);
  if (!code.ok()) {
    return FinishMalformed(code.absent() ? "error response without ERROR-CODE"
                                         : "ERROR-CODE is malformed",
                           now);
  }
  result_.error_code = code.value.code;
  result_.error_reason.assign(code.value.reason);
  std::vector<uint16_t> unknown;
  const stun::AttrStatus st =
      stun::ForEachUnknownAttribute(m, [&](uint16_t t) { unknown.push_back(t); });
  if (st == stun::AttrStatus::kMalformed) return FinishMalformed("UNKNOWN-ATTRIBUTES is malformed", now);
  result_.unknown_attributes = std::move(unknown);
  Finish(BindingStatus::kErrorResponse, now);
}

void BindingClient::FinishMalformed(std::string reason, absl::Time now) {
  result_.malformed_reason = std::move(reason);
  Finish(BindingStatus::kMalformed, now);
}

void BindingClient::Finish(BindingStatus status, absl::Time now) {
  assert(result_.status == BindingStatus::kPending);
  assert(transaction_.has_value());
  if (status != BindingStatus::kTimeout) result_.rtt = transaction_->HandleResponse(now);
  result_.transmissions = transaction_->transmissions();
  result_.status = status;
}

}  // namespace uturn::client
