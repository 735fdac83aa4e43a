// Typed decoding of every STUN/TURN/ICE attribute value (RFC 8489 §14,
// RFC 8656 §18, RFC 8445 §16.1). Each Get* looks up the first occurrence in a
// MessageView; each Decode* takes one attribute value. Results distinguish
// "absent" from "present but malformed", because the latter earns a 400.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "stun/address.h"
#include "stun/constants.h"
#include "stun/message_view.h"

namespace uturn::stun {

enum class AttrStatus : uint8_t { kOk, kAbsent, kMalformed };

template <typename T>
struct AttrResult {
  AttrStatus status = AttrStatus::kAbsent;
  T value{};
  bool ok() const { return status == AttrStatus::kOk; }
  bool absent() const { return status == AttrStatus::kAbsent; }
  bool malformed() const { return status == AttrStatus::kMalformed; }
};

struct ErrorCodeValue {
  int code = 0;                 // 300..699
  std::string_view reason;      // UTF-8, not NUL-terminated
};

// RFC 8656 §18.12 ADDRESS-ERROR-CODE.
struct AddressErrorCodeValue {
  uint8_t family = 0;
  int code = 0;
  std::string_view reason;
};

// RFC 8656 §18.13 ICMP.
struct IcmpValue {
  uint8_t type = 0;
  uint8_t code = 0;
  uint32_t error_data = 0;
};

// RFC 8489 §14.11 PASSWORD-ALGORITHMS: (algorithm, parameters) pairs. A view
// over the raw value; iterate with ForEachPasswordAlgorithm.
struct PasswordAlgorithmEntry {
  uint16_t algorithm = 0;
  std::span<const uint8_t> parameters;
};

using Userhash = std::span<const uint8_t, 32>;
using ReservationToken = std::span<const uint8_t, 8>;

// ---- Addresses ----
AttrResult<SocketAddress> GetMappedAddress(const MessageView& m);
AttrResult<SocketAddress> GetXorMappedAddress(const MessageView& m);
AttrResult<SocketAddress> GetXorPeerAddress(const MessageView& m);      // first one
AttrResult<SocketAddress> GetXorRelayedAddress(const MessageView& m);   // first one
AttrResult<SocketAddress> GetAlternateServer(const MessageView& m);
// Repeated address attributes (XOR-PEER-ADDRESS in CreatePermission,
// XOR-RELAYED-ADDRESS in a dual-stack Allocate response). Calls `fn` for each
// occurrence in order; returns kMalformed at the first bad one, kAbsent if
// none, kOk otherwise.
AttrStatus ForEachXorAddress(const MessageView& m, uint16_t type,
                             absl::FunctionRef<void(const SocketAddress&)> fn);

// ---- Strings (RFC 8489 §14.3 USERNAME < 513 bytes, §14.9 REALM,
// §14.10 NONCE and §14.14 SOFTWARE < 128 characters / 763 bytes,
// §14.16 ALTERNATE-DOMAIN < 256 bytes). Malformed if longer or not UTF-8. ----
AttrResult<std::string_view> GetUsername(const MessageView& m);
AttrResult<std::string_view> GetRealm(const MessageView& m);
AttrResult<std::string_view> GetNonce(const MessageView& m);
AttrResult<std::string_view> GetSoftware(const MessageView& m);
AttrResult<std::string_view> GetAlternateDomain(const MessageView& m);
AttrResult<Userhash> GetUserhash(const MessageView& m);  // exactly 32 bytes

// ---- Errors ----
AttrResult<ErrorCodeValue> GetErrorCode(const MessageView& m);
// Calls `fn` for each attribute type listed in UNKNOWN-ATTRIBUTES.
AttrStatus ForEachUnknownAttribute(const MessageView& m, absl::FunctionRef<void(uint16_t)> fn);
AttrResult<AddressErrorCodeValue> GetAddressErrorCode(const MessageView& m);
AttrResult<IcmpValue> GetIcmp(const MessageView& m);

// ---- Password algorithms (RFC 8489 §14.11, §14.12) ----
AttrStatus ForEachPasswordAlgorithm(const MessageView& m,
                                    absl::FunctionRef<void(const PasswordAlgorithmEntry&)> fn);
AttrResult<PasswordAlgorithmEntry> GetPasswordAlgorithm(const MessageView& m);

// ---- TURN (RFC 8656 §18) ----
AttrResult<uint16_t> GetChannelNumber(const MessageView& m);   // value, RFFU ignored
AttrResult<uint32_t> GetLifetime(const MessageView& m);        // seconds
AttrResult<std::span<const uint8_t>> GetData(const MessageView& m);
AttrResult<uint8_t> GetRequestedAddressFamily(const MessageView& m);  // 0x01 or 0x02
AttrResult<uint8_t> GetAdditionalAddressFamily(const MessageView& m); // must be 0x02
AttrResult<bool> GetEvenPort(const MessageView& m);            // the R bit
AttrResult<uint8_t> GetRequestedTransport(const MessageView& m);  // protocol number
bool HasDontFragment(const MessageView& m);
AttrResult<ReservationToken> GetReservationToken(const MessageView& m);

// ---- ICE (RFC 8445 §16.1) ----
AttrResult<uint32_t> GetPriority(const MessageView& m);
bool HasUseCandidate(const MessageView& m);
AttrResult<uint64_t> GetIceControlled(const MessageView& m);   // tie-breaker
AttrResult<uint64_t> GetIceControlling(const MessageView& m);
AttrResult<uint32_t> GetNomination(const MessageView& m);      // renomination draft

// True for every attribute type this codec understands (all of the above,
// plus MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT).
bool IsKnownAttribute(uint16_t type);

// Checks the value of every known attribute in `m`; returns the type of the
// first malformed one, or nullopt if all are well formed. Used to answer 400.
std::optional<uint16_t> FindMalformedAttribute(const MessageView& m);

// Collects comprehension-required attribute types that `is_known` rejects
// (RFC 8489 §7.3.1: answered with 420 and UNKNOWN-ATTRIBUTES). Writes up to
// `out.size()` types and returns how many there were in total.
size_t CollectUnknownComprehensionRequired(const MessageView& m,
                                           absl::FunctionRef<bool(uint16_t)> is_known,
                                           std::span<uint16_t> out);

}  // namespace uturn::stun
