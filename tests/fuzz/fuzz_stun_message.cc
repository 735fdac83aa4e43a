// libFuzzer target for the STUN codec: every decoder reachable from bytes off
// the wire, plus a response built from what was decoded. Views returned by the
// codec are read byte by byte so ASan sees any view that escapes its buffer.
// Properties checked (a failure aborts, which libFuzzer reports):
//  - a message the builder finished parses again, and its integrity verifies;
//  - StreamFramer hands out exactly the frames NextFrame() finds in one piece.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <type_traits>

#include "stun/address.h"
#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/constants.h"
#include "stun/demux.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "stun/nonce_cookie.h"
#include "stun/stream_framing.h"

namespace {

using namespace uturn::stun;  // NOLINT: a fuzz harness, one file

// The key tests/fuzz/gen_seeds.py signs seeds with, so Verify* reaches kOk.
constexpr std::string_view kFuzzKey = "uturn-fuzz-key";

// Defeats dead-code elimination of the reads below.
volatile uint32_t g_sink = 0;

void Touch(std::span<const uint8_t> s) {
  uint32_t acc = 0;
  for (uint8_t b : s) acc += b;
  g_sink = g_sink + acc;
}
void Touch(std::string_view s) {
  Touch(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
void Touch(const SocketAddress& a) { g_sink = g_sink + a.port + a.bytes[0] + a.bytes[15]; }

template <typename T>
void TouchResult(const AttrResult<T>& r) {
  if (!r.ok()) return;
  if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, SocketAddress>) {
    Touch(r.value);
  } else if constexpr (std::is_same_v<T, std::span<const uint8_t>> ||
                       std::is_same_v<T, Userhash> || std::is_same_v<T, ReservationToken>) {
    Touch(std::span<const uint8_t>(r.value.data(), r.value.size()));
  } else if constexpr (std::is_same_v<T, ErrorCodeValue>) {
    if (r.value.code < 300 || r.value.code > 699) abort();  // RFC 8489 §14.8 range
    Touch(r.value.reason);
  } else if constexpr (std::is_same_v<T, AddressErrorCodeValue>) {
    Touch(r.value.reason);
  } else if constexpr (std::is_same_v<T, PasswordAlgorithmEntry>) {
    Touch(r.value.parameters);
  } else if constexpr (std::is_same_v<T, IcmpValue>) {
    g_sink = g_sink + r.value.type + r.value.code + r.value.error_data;
  } else {
    g_sink = g_sink + static_cast<uint32_t>(r.value);
  }
}

void DecodeEverything(const MessageView& m) {
  for (size_t i = 0; i < m.attribute_count(); ++i) {
    const AttributeView a = m.attribute(i);
    Touch(a.value);
    g_sink = g_sink + IsKnownAttribute(a.type);
  }
  TouchResult(GetMappedAddress(m));
  TouchResult(GetXorMappedAddress(m));
  TouchResult(GetXorPeerAddress(m));
  TouchResult(GetXorRelayedAddress(m));
  TouchResult(GetAlternateServer(m));
  for (uint16_t type : {attr::kXorPeerAddress, attr::kXorRelayedAddress, attr::kXorMappedAddress}) {
    ForEachXorAddress(m, type, [](const SocketAddress& a) { Touch(a); });
  }
  TouchResult(GetUsername(m));
  TouchResult(GetRealm(m));
  const auto nonce = GetNonce(m);
  TouchResult(nonce);
  if (nonce.ok()) {
    const auto features = ParseNonceCookie(nonce.value);
    if (features) g_sink = g_sink + *features;
  }
  TouchResult(GetSoftware(m));
  TouchResult(GetAlternateDomain(m));
  TouchResult(GetUserhash(m));
  TouchResult(GetErrorCode(m));
  ForEachUnknownAttribute(m, [](uint16_t t) { g_sink = g_sink + t; });
  TouchResult(GetAddressErrorCode(m));
  TouchResult(GetIcmp(m));
  ForEachPasswordAlgorithm(m, [](const PasswordAlgorithmEntry& e) {
    g_sink = g_sink + e.algorithm;
    Touch(e.parameters);
  });
  TouchResult(GetPasswordAlgorithm(m));
  TouchResult(GetChannelNumber(m));
  TouchResult(GetLifetime(m));
  TouchResult(GetData(m));
  TouchResult(GetRequestedAddressFamily(m));
  TouchResult(GetAdditionalAddressFamily(m));
  TouchResult(GetEvenPort(m));
  TouchResult(GetRequestedTransport(m));
  g_sink = g_sink + HasDontFragment(m);
  TouchResult(GetReservationToken(m));
  TouchResult(GetPriority(m));
  g_sink = g_sink + HasUseCandidate(m);
  TouchResult(GetIceControlled(m));
  TouchResult(GetIceControlling(m));
  TouchResult(GetNomination(m));

  if (const auto bad = FindMalformedAttribute(m)) g_sink = g_sink + *bad;
  uint16_t unknown[4];
  const size_t n = CollectUnknownComprehensionRequired(
      m, [](uint16_t t) { return IsKnownAttribute(t); }, unknown);
  for (size_t i = 0; i < n && i < 4; ++i) g_sink = g_sink + unknown[i];

  g_sink = g_sink + static_cast<uint32_t>(VerifyMessageIntegrity(m, KeyBytes(kFuzzKey)));
  g_sink = g_sink + static_cast<uint32_t>(VerifyMessageIntegritySha256(m, KeyBytes(kFuzzKey)));
}

// Answers a parsed request the way a server would, into a deliberately small
// buffer so the overflow path runs too. `knob` picks optional parts.
void BuildResponse(const MessageView& request, uint8_t knob) {
  uint8_t buffer[160];
  const bool error = knob & 1;
  MessageBuilder b = MessageBuilder::ResponseTo(
      request, error ? MessageClass::kErrorResponse : MessageClass::kSuccessResponse, buffer);
  if (error) {
    b.AddErrorCode(300 + (knob % 4) * 100 + knob % 40);  // 300..699 (RFC 8489 §14.8)
    uint16_t unknown[4];
    const size_t n = CollectUnknownComprehensionRequired(
        request, [](uint16_t t) { return IsKnownAttribute(t); }, unknown);
    if (n > 0) b.AddUnknownAttributes(std::span<const uint16_t>(unknown, n < 4 ? n : 4));
  } else {
    const auto peer = GetXorPeerAddress(request);
    const SocketAddress mapped =
        peer.ok() ? peer.value : SocketAddress::V4({192, 0, 2, 1}, 32853);
    b.AddXorAddress(attr::kXorMappedAddress, mapped);
    b.AddAddress(attr::kMappedAddress, mapped);
    if (const auto lifetime = GetLifetime(request); lifetime.ok()) {
      b.AddU32(attr::kLifetime, lifetime.value);
    }
  }
  // Echo decoded (hence validated) strings: their length drives overflow.
  if (const auto software = GetSoftware(request); software.ok()) {
    b.AddString(attr::kSoftware, software.value);
  }
  if (const auto realm = GetRealm(request); realm.ok()) b.AddString(attr::kRealm, realm.value);
  if (knob & 2) b.AddMessageIntegrity(KeyBytes(kFuzzKey));
  // RFC 8489 §14.6: truncation to 16..32 bytes in steps of 4.
  const size_t sha256_len = 16 + 4 * ((knob >> 4) % 5);
  if (knob & 4) b.AddMessageIntegritySha256(KeyBytes(kFuzzKey), sha256_len);
  if (knob & 8) b.AddFingerprint();
  if (!b.ok()) {
    if (!b.bytes().empty() || b.size() != 0) abort();  // failed builders hand out nothing
    return;
  }

  MessageView response;
  ParseOptions options;  // RFC 3489 requests get RFC 3489-shaped responses
  const ParseError err = MessageView::Parse(b.bytes(), &response, options);
  if (err != ParseError::kNone) abort();
  if (response.type() != EncodeMessageType(request.method(), error ? MessageClass::kErrorResponse
                                                                   : MessageClass::kSuccessResponse)) {
    abort();
  }
  if ((knob & 2) && VerifyMessageIntegrity(response, KeyBytes(kFuzzKey)) != IntegrityCheck::kOk) {
    abort();
  }
  if ((knob & 4) &&
      VerifyMessageIntegritySha256(response, KeyBytes(kFuzzKey)) != IntegrityCheck::kOk) {
    abort();
  }
  DecodeEverything(response);
}

void FuzzDatagram(std::span<const uint8_t> data, uint8_t knob) {
  g_sink = g_sink + static_cast<uint32_t>(Classify(data)) + LooksLikeStun(data);
  // Both option sets: a server's (RFC 3489 accepted) and a client's.
  for (const ParseOptions options :
       {ParseOptions{}, ParseOptions{.allow_rfc3489 = false, .verify_fingerprint = false}}) {
    MessageView m;
    if (MessageView::Parse(data, &m, options) != ParseError::kNone) continue;
    g_sink = g_sink + m.cookie_word() + m.has_magic_cookie();
    Touch(m.transaction_id());
    DecodeEverything(m);
    if (m.message_class() == MessageClass::kRequest) BuildResponse(m, knob);
  }
  for (const bool stream : {false, true}) {
    ChannelDataView cd;
    if (ParseChannelData(data, stream, &cd) == ChannelDataError::kNone) Touch(cd.payload);
  }
  // Raw address decoders on the leading bytes.
  if (data.size() >= 12) {
    const auto a = DecodeAddress(data.subspan(12));
    if (a) Touch(*a);
    const auto x = DecodeXorAddress(data.subspan(12), data.first<12>());
    if (x) Touch(*x);
  }
}

// Feeds the input to a StreamFramer in chunks whose sizes come from the
// input itself, parsing each frame it hands out.
void FuzzStream(std::span<const uint8_t> data) {
  StreamFramer framer;
  size_t pos = 0;
  size_t step = 0;
  while (pos < data.size()) {
    const size_t chunk = 1 + (data[step++ % data.size()] % 61);
    const size_t n = chunk < data.size() - pos ? chunk : data.size() - pos;
    if (!framer.Append(data.subspan(pos, n))) return;  // larger than kCapacity
    pos += n;
    for (;;) {
      const FrameInfo info = framer.Peek();
      if (info.status == FrameInfo::Status::kInvalid) return;  // caller would close
      if (info.status == FrameInfo::Status::kNeedMore) break;
      const std::span<const uint8_t> frame = framer.buffered().first(info.size);
      if (info.kind == FrameKind::kStun) {
        MessageView m;
        if (MessageView::Parse(frame, &m) == ParseError::kNone) DecodeEverything(m);
      } else {
        ChannelDataView cd;
        if (ParseChannelData(frame, /*stream=*/true, &cd) == ChannelDataError::kNone) {
          Touch(cd.payload);
        }
      }
      framer.Consume(info.size);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  const uint8_t knob = size > 0 ? data[size - 1] : 0;
  FuzzDatagram(input, knob);
  FuzzStream(input);
  return 0;
}
