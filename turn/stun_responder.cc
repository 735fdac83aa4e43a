#include "turn/stun_responder.h"

#include <cassert>

#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::turn {
namespace {

using stun::MessageBuilder;
using stun::MessageClass;
using stun::MessageView;
using stun::ParseError;

uint16_t ReadU16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
uint32_t ReadU32(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint32_t>(b[at]) << 24 | static_cast<uint32_t>(b[at + 1]) << 16 |
         static_cast<uint32_t>(b[at + 2]) << 8 | b[at + 3];
}

bool IsFingerprintError(ParseError e) {
  return e == ParseError::kFingerprintNotLast || e == ParseError::kBadFingerprintLength ||
         e == ParseError::kFingerprintMismatch;
}

}  // namespace

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess: return "success";
    case Outcome::kBadRequest: return "bad_request";
    case Outcome::kUnknownAttribute: return "unknown_attribute";
    case Outcome::kIndication: return "indication";
    case Outcome::kNotStun: return "not_stun";
    case Outcome::kBadFingerprint: return "bad_fingerprint";
    case Outcome::kUnsupportedMethod: return "unsupported_method";
    case Outcome::kUnexpectedClass: return "unexpected_class";
    case Outcome::kMalformedDropped: return "malformed_dropped";
    case Outcome::kResponseTooLarge: return "response_too_large";
    case Outcome::kCount: break;
  }
  return "unknown";
}

StunResponder::StunResponder(ResponderOptions options) : options_(std::move(options)) {
  // Keeps kMaxResponseSize a true bound (the option table enforces it too).
  assert(options_.software.size() <= 127);
}

StunResponder::Result StunResponder::Finish(Outcome outcome, size_t size) {
  ++counters_[static_cast<size_t>(outcome)];
  return Result{outcome, size};
}

StunResponder::Result StunResponder::Handle(std::span<const uint8_t> message,
                                            const stun::SocketAddress& peer, Transport transport,
                                            std::span<uint8_t> out) {
  ++messages_by_transport_[static_cast<size_t>(transport)];

  MessageView request;
  const ParseError parse_error = stun::MessageView::Parse(
      message, &request, stun::ParseOptions{.allow_rfc3489 = true, .verify_fingerprint = true});
  if (parse_error != ParseError::kNone) {
    if (stun::IsSilentlyDiscarded(parse_error)) {
      return Finish(IsFingerprintError(parse_error) ? Outcome::kBadFingerprint : Outcome::kNotStun,
                    0);
    }
    // The header passed, the attributes did not (overrun, too many,
    // duplicates, a bad MESSAGE-INTEGRITY length). The header is enough to
    // answer: a Binding request gets 400 (RFC 8489 §14.8 "The request was
    // malformed"); anything else is discarded as in §6.3 / §6.3.2.
    assert(message.size() >= stun::kHeaderSize);
    const uint16_t type = ReadU16(message, 0);
    if (stun::DecodeMethod(type) != static_cast<uint16_t>(stun::Method::kBinding)) {
      return Finish(Outcome::kUnsupportedMethod, 0);
    }
    if (stun::DecodeClass(type) != MessageClass::kRequest) {
      return Finish(Outcome::kMalformedDropped, 0);
    }
    MessageBuilder b(out, stun::EncodeMessageType(stun::Method::kBinding,
                                                  MessageClass::kErrorResponse),
                     std::span<const uint8_t, stun::kTransactionIdSize>(message.data() + 8,
                                                                        stun::kTransactionIdSize),
                     ReadU32(message, 4));
    b.AddErrorCode(stun::error::kBadRequest);
    if (!options_.software.empty()) b.AddString(stun::attr::kSoftware, options_.software);
    // No FINGERPRINT: we could not tell whether the request carried one.
    return b.ok() ? Finish(Outcome::kBadRequest, b.size()) : Finish(Outcome::kResponseTooLarge, 0);
  }

  // RFC 8489 §6.3: "the method value is a supported method", else the
  // message is silently discarded. TURN methods land here until the TURN
  // core is wired in.
  if (request.method() != static_cast<uint16_t>(stun::Method::kBinding)) {
    return Finish(Outcome::kUnsupportedMethod, 0);
  }

  std::array<uint16_t, MessageView::kMaxAttributes> unknown{};
  const size_t unknown_count =
      stun::CollectUnknownComprehensionRequired(request, stun::IsKnownAttribute, unknown);

  switch (request.message_class()) {
    case MessageClass::kSuccessResponse:
    case MessageClass::kErrorResponse:
      // RFC 8489 §6.3: a response must match a transaction in progress; the
      // server sends no requests, so none does.
      return Finish(Outcome::kUnexpectedClass, 0);
    case MessageClass::kIndication:
      // RFC 8489 §6.3.2: an indication with unknown comprehension-required
      // attributes is discarded; otherwise a Binding indication (a keepalive,
      // §3) needs no processing and never gets a response.
      return Finish(unknown_count > 0 ? Outcome::kMalformedDropped : Outcome::kIndication, 0);
    case MessageClass::kRequest:
      break;
  }

  // Answers for RFC 3489 clients (no magic cookie) echo their 128-bit
  // transaction ID through the builder's cookie word (RFC 8489 §11.2).
  const bool rfc3489 = !request.has_magic_cookie();
  const bool fingerprint = request.fingerprint_offset().has_value();
  auto finish_common = [&](MessageBuilder& b) {
    // RFC 3489 has no SOFTWARE; its clients get only what they know.
    if (!rfc3489 && !options_.software.empty()) {
      b.AddString(stun::attr::kSoftware, options_.software);
    }
    // RFC 8489 §7: FINGERPRINT is a usage's choice; we mirror the request.
    if (fingerprint) b.AddFingerprint();
  };

  if (unknown_count > 0) {
    // RFC 8489 §6.3.1: unknown comprehension-required attributes get 420
    // with UNKNOWN-ATTRIBUTES listing them.
    assert(unknown_count <= unknown.size());
    MessageBuilder b = MessageBuilder::ResponseTo(request, MessageClass::kErrorResponse, out);
    b.AddErrorCode(stun::error::kUnknownAttribute);
    b.AddUnknownAttributes(std::span<const uint16_t>(unknown.data(), unknown_count));
    finish_common(b);
    return b.ok() ? Finish(Outcome::kUnknownAttribute, b.size())
                  : Finish(Outcome::kResponseTooLarge, 0);
  }

  if (stun::FindMalformedAttribute(request).has_value()) {
    // RFC 8489 §6.3.1 "additional checking that the method ... requires",
    // answered with 400 (§14.8).
    MessageBuilder b = MessageBuilder::ResponseTo(request, MessageClass::kErrorResponse, out);
    b.AddErrorCode(stun::error::kBadRequest);
    finish_common(b);
    return b.ok() ? Finish(Outcome::kBadRequest, b.size()) : Finish(Outcome::kResponseTooLarge, 0);
  }

  // RFC 8489 §6.3.1.1 / §14.2: the reflexive address in XOR-MAPPED-ADDRESS,
  // or MAPPED-ADDRESS for an RFC 3489 client (§11.2), which cannot read
  // XOR-MAPPED-ADDRESS.
  MessageBuilder b = MessageBuilder::ResponseTo(request, MessageClass::kSuccessResponse, out);
  if (rfc3489) {
    b.AddAddress(stun::attr::kMappedAddress, peer);
  } else {
    b.AddXorAddress(stun::attr::kXorMappedAddress, peer);
  }
  finish_common(b);
  return b.ok() ? Finish(Outcome::kSuccess, b.size()) : Finish(Outcome::kResponseTooLarge, 0);
}

}  // namespace uturn::turn
