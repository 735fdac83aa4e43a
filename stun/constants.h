// STUN/TURN/ICE wire constants: message methods and classes, attribute types,
// error codes. Values are from the IANA STUN registry as set by RFC 8489,
// RFC 8656, RFC 8445 and the drafts noted beside them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uturn::stun {

// RFC 8489 §5: "The Magic Cookie field MUST contain the fixed value 0x2112A442".
inline constexpr uint32_t kMagicCookie = 0x2112A442;
inline constexpr size_t kHeaderSize = 20;
inline constexpr size_t kTransactionIdSize = 12;
inline constexpr size_t kAttributeHeaderSize = 4;
// RFC 8489 §14.7: FINGERPRINT value is CRC-32 XOR 0x5354554e.
inline constexpr uint32_t kFingerprintXor = 0x5354554e;

enum class Method : uint16_t {
  kBinding = 0x001,           // RFC 8489
  kAllocate = 0x003,          // RFC 8656 §17
  kRefresh = 0x004,
  kSend = 0x006,
  kData = 0x007,
  kCreatePermission = 0x008,
  kChannelBind = 0x009,
};

enum class MessageClass : uint8_t {
  kRequest = 0b00,
  kIndication = 0b01,
  kSuccessResponse = 0b10,
  kErrorResponse = 0b11,
};

// RFC 8489 §5: the class bits C1 C0 sit at bits 8 and 4 of the 14-bit type,
// the method bits fill the remaining 12 positions.
constexpr uint16_t EncodeMessageType(uint16_t method, MessageClass cls) {
  const uint16_t c = static_cast<uint16_t>(cls);
  return static_cast<uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) |
                               ((method & 0x0F80) << 2) | ((c & 0x1) << 4) |
                               ((c & 0x2) << 7));
}
constexpr uint16_t EncodeMessageType(Method method, MessageClass cls) {
  return EncodeMessageType(static_cast<uint16_t>(method), cls);
}
constexpr uint16_t DecodeMethod(uint16_t type) {
  return static_cast<uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) |
                               ((type & 0x3E00) >> 2));
}
constexpr MessageClass DecodeClass(uint16_t type) {
  return static_cast<MessageClass>(((type >> 4) & 0x1) | ((type >> 7) & 0x2));
}
static_assert(EncodeMessageType(Method::kBinding, MessageClass::kRequest) == 0x0001);
static_assert(EncodeMessageType(Method::kBinding, MessageClass::kSuccessResponse) == 0x0101);
static_assert(EncodeMessageType(Method::kBinding, MessageClass::kErrorResponse) == 0x0111);
static_assert(EncodeMessageType(Method::kData, MessageClass::kIndication) == 0x0017);

namespace attr {
// RFC 8489 §18.3.1 comprehension-required range 0x0000-0x7FFF.
inline constexpr uint16_t kMappedAddress = 0x0001;
inline constexpr uint16_t kUsername = 0x0006;
inline constexpr uint16_t kMessageIntegrity = 0x0008;
inline constexpr uint16_t kErrorCode = 0x0009;
inline constexpr uint16_t kUnknownAttributes = 0x000A;
inline constexpr uint16_t kChannelNumber = 0x000C;        // RFC 8656 §18.1
inline constexpr uint16_t kLifetime = 0x000D;             // RFC 8656 §18.2
inline constexpr uint16_t kXorPeerAddress = 0x0012;       // RFC 8656 §18.3
inline constexpr uint16_t kData = 0x0013;                 // RFC 8656 §18.4
inline constexpr uint16_t kRealm = 0x0014;
inline constexpr uint16_t kNonce = 0x0015;
inline constexpr uint16_t kXorRelayedAddress = 0x0016;    // RFC 8656 §18.5
inline constexpr uint16_t kRequestedAddressFamily = 0x0017;  // RFC 8656 §18.6
inline constexpr uint16_t kEvenPort = 0x0018;             // RFC 8656 §18.7
inline constexpr uint16_t kRequestedTransport = 0x0019;   // RFC 8656 §18.8
inline constexpr uint16_t kDontFragment = 0x001A;         // RFC 8656 §18.9
inline constexpr uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr uint16_t kUserhash = 0x001E;
inline constexpr uint16_t kXorMappedAddress = 0x0020;
inline constexpr uint16_t kReservationToken = 0x0022;     // RFC 8656 §18.10
inline constexpr uint16_t kPriority = 0x0024;             // RFC 8445 §16.1
inline constexpr uint16_t kUseCandidate = 0x0025;         // RFC 8445 §16.1
// RFC 8489 §18.3.2 comprehension-optional range 0x8000-0xFFFF.
inline constexpr uint16_t kPasswordAlgorithms = 0x8002;
inline constexpr uint16_t kAlternateDomain = 0x8003;
inline constexpr uint16_t kSoftware = 0x8022;
inline constexpr uint16_t kAlternateServer = 0x8023;
inline constexpr uint16_t kFingerprint = 0x8028;
inline constexpr uint16_t kIceControlled = 0x8029;        // RFC 8445 §16.1
inline constexpr uint16_t kIceControlling = 0x802A;       // RFC 8445 §16.1
inline constexpr uint16_t kAdditionalAddressFamily = 0x8000;  // RFC 8656 §18.11
inline constexpr uint16_t kAddressErrorCode = 0x8001;     // RFC 8656 §18.12
inline constexpr uint16_t kIcmp = 0x8004;                 // RFC 8656 §18.13
// draft-thatcher-ice-renomination (used by Chrome); comprehension-optional.
inline constexpr uint16_t kNomination = 0xC001;

// RFC 8489 §14: attributes with type values between 0x0000 and 0x7FFF are
// comprehension-required.
constexpr bool IsComprehensionRequired(uint16_t type) { return type < 0x8000; }
}  // namespace attr

// RFC 8489 §14.8 and RFC 8656 §19 error codes.
namespace error {
inline constexpr int kTryAlternate = 300;
inline constexpr int kBadRequest = 400;
inline constexpr int kUnauthorized = 401;
inline constexpr int kForbidden = 403;
inline constexpr int kUnknownAttribute = 420;
inline constexpr int kAllocationMismatch = 437;
inline constexpr int kStaleNonce = 438;
inline constexpr int kAddressFamilyNotSupported = 440;
inline constexpr int kWrongCredentials = 441;
inline constexpr int kUnsupportedTransportProtocol = 442;
inline constexpr int kPeerAddressFamilyMismatch = 443;
inline constexpr int kAllocationQuotaReached = 486;
inline constexpr int kRoleConflict = 487;                 // RFC 8445 §7.3.1.1
inline constexpr int kServerError = 500;
inline constexpr int kInsufficientCapacity = 508;
}  // namespace error

// The reason phrase recommended by the RFCs for a code, or "" if unknown.
const char* DefaultReasonPhrase(int code);

// RFC 8489 §18.5 PASSWORD-ALGORITHM registry.
enum class PasswordAlgorithm : uint16_t { kMd5 = 0x0001, kSha256 = 0x0002 };

// RFC 8656 §18.6 address family codes (shared by REQUESTED-ADDRESS-FAMILY,
// ADDITIONAL-ADDRESS-FAMILY and ADDRESS-ERROR-CODE).
inline constexpr uint8_t kFamilyIPv4 = 0x01;
inline constexpr uint8_t kFamilyIPv6 = 0x02;

// RFC 8656 §18.8: protocol number for UDP in REQUESTED-TRANSPORT.
inline constexpr uint8_t kTransportUdp = 17;
inline constexpr uint8_t kTransportTcp = 6;

}  // namespace uturn::stun
