// Typed decoding and validation of attribute values (RFC 8489 §14,
// RFC 8656 §18, RFC 8445 §16.1).
#include "stun/attributes.h"

#include <array>
#include <cassert>

#include "stun/utf8.h"

namespace uturn::stun {
namespace {

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Load32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

constexpr std::array<uint8_t, 32> kZeros{};

template <typename T>
AttrResult<T> Ok(T v) { return AttrResult<T>{AttrStatus::kOk, v}; }
template <typename T>
AttrResult<T> Malformed() { return AttrResult<T>{AttrStatus::kMalformed, T{}}; }

std::string_view AsString(std::span<const uint8_t> v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

// A UTF-8 string attribute with a byte limit and optionally a character limit.
AttrResult<std::string_view> DecodeString(std::span<const uint8_t> v, size_t max_bytes,
                                          long max_chars) {
  if (v.size() > max_bytes) return Malformed<std::string_view>();
  const long chars = Utf8Length(AsString(v));
  if (chars < 0 || chars > max_chars) return Malformed<std::string_view>();
  return Ok(AsString(v));
}

// RFC 8489 §14.3: USERNAME fewer than 513 bytes (RFC 5389's limit; RFC 8489
// tightened it to 509, older clients still use up to 512).
AttrResult<std::string_view> DecodeUsername(std::span<const uint8_t> v) {
  return DecodeString(v, 512, 512);
}
// RFC 8489 §14.9, §14.10, §14.14: fewer than 128 characters, at most 763 bytes.
AttrResult<std::string_view> DecodeShortText(std::span<const uint8_t> v) {
  return DecodeString(v, 763, 127);
}
// RFC 8489 §14.16: ALTERNATE-DOMAIN fewer than 256 bytes.
AttrResult<std::string_view> DecodeAlternateDomain(std::span<const uint8_t> v) {
  return DecodeString(v, 255, 255);
}

// Class/number pair of ERROR-CODE and ADDRESS-ERROR-CODE: RFC 8489 §14.8
// "class MUST be between 3 and 6", "number ... between 0 and 99".
int DecodeCode(uint8_t class_byte, uint8_t number) {
  const int cls = class_byte & 0x07;
  if (cls < 3 || cls > 6 || number > 99) return -1;
  return cls * 100 + number;
}

AttrResult<ErrorCodeValue> DecodeErrorCode(std::span<const uint8_t> v) {
  if (v.size() < 4) return Malformed<ErrorCodeValue>();
  const int code = DecodeCode(v[2], v[3]);  // the 21 reserved bits are ignored
  AttrResult<std::string_view> reason = DecodeShortText(v.subspan(4));
  if (code < 0 || !reason.ok()) return Malformed<ErrorCodeValue>();
  return Ok(ErrorCodeValue{code, reason.value});
}

AttrResult<AddressErrorCodeValue> DecodeAddressErrorCode(std::span<const uint8_t> v) {
  // RFC 8656 §18.12: family(8) | reserved(13) | class(3) | number(8) | reason.
  if (v.size() < 4) return Malformed<AddressErrorCodeValue>();
  const int code = DecodeCode(v[2], v[3]);
  AttrResult<std::string_view> reason = DecodeShortText(v.subspan(4));
  if ((v[0] != kFamilyIPv4 && v[0] != kFamilyIPv6) || code < 0 || !reason.ok()) {
    return Malformed<AddressErrorCodeValue>();
  }
  return Ok(AddressErrorCodeValue{v[0], code, reason.value});
}

AttrResult<IcmpValue> DecodeIcmp(std::span<const uint8_t> v) {
  // RFC 8656 §18.13: reserved(16) | type(8) | code(8) | error data(32).
  if (v.size() != 8) return Malformed<IcmpValue>();
  return Ok(IcmpValue{v[2], v[3], Load32(&v[4])});
}

// RFC 8489 §14.11/§14.12: algorithm(16) | params length(16) | params padded
// to 4. The last entry's padding may be left to the attribute padding.
// Calls fn per entry; false if the list does not tile the value exactly.
template <typename Fn>
bool WalkPasswordAlgorithms(std::span<const uint8_t> v, Fn&& fn) {
  size_t pos = 0;
  while (pos < v.size()) {
    if (v.size() - pos < 4) return false;
    const size_t plen = Load16(&v[pos + 2]);
    if (plen > v.size() - pos - 4) return false;
    fn(PasswordAlgorithmEntry{Load16(&v[pos]), v.subspan(pos + 4, plen)});
    const size_t padded = (plen + 3) & ~size_t{3};
    if (padded > v.size() - pos - 4) {
      pos = v.size();  // unpadded last entry (checked above: plen fits)
    } else {
      pos += 4 + padded;
    }
  }
  return true;
}

AttrResult<PasswordAlgorithmEntry> DecodePasswordAlgorithm(std::span<const uint8_t> v) {
  size_t n = 0;
  PasswordAlgorithmEntry entry;
  const bool ok = WalkPasswordAlgorithms(v, [&](const PasswordAlgorithmEntry& e) {
    ++n;
    entry = e;
  });
  if (!ok || n != 1) return Malformed<PasswordAlgorithmEntry>();
  return Ok(entry);
}

template <size_t N>
bool HasSize(std::span<const uint8_t> v) { return v.size() == N; }

// REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY: family(8) | RFFU(24).
AttrResult<uint8_t> DecodeFamily(std::span<const uint8_t> v, bool allow_v4) {
  if (v.size() != 4) return Malformed<uint8_t>();
  if (v[0] == kFamilyIPv6 || (allow_v4 && v[0] == kFamilyIPv4)) return Ok(v[0]);
  return Malformed<uint8_t>();
}

AttrResult<SocketAddress> GetAddress(const MessageView& m, uint16_t type, bool xored) {
  std::optional<AttributeView> a = m.Find(type);
  if (!a) return {};
  std::optional<SocketAddress> addr =
      xored ? DecodeXorAddress(a->value, m.transaction_id()) : DecodeAddress(a->value);
  if (!addr) return Malformed<SocketAddress>();
  return Ok(*addr);
}

template <typename T, typename Decode>
AttrResult<T> Get(const MessageView& m, uint16_t type, Decode&& decode) {
  std::optional<AttributeView> a = m.Find(type);
  if (!a) return {};
  return decode(a->value);
}

AttrResult<uint32_t> DecodeU32(std::span<const uint8_t> v) {
  if (v.size() != 4) return Malformed<uint32_t>();
  return Ok(Load32(v.data()));
}

AttrResult<uint64_t> DecodeU64(std::span<const uint8_t> v) {
  if (v.size() != 8) return Malformed<uint64_t>();
  return Ok(uint64_t{Load32(v.data())} << 32 | Load32(v.data() + 4));
}

// True if the value of a known attribute is well formed.
bool IsWellFormed(const MessageView& m, const AttributeView& a) {
  const std::span<const uint8_t> v = a.value;
  switch (a.type) {
    case attr::kMappedAddress:
    case attr::kAlternateServer:
      return DecodeAddress(v).has_value();
    case attr::kXorMappedAddress:
    case attr::kXorPeerAddress:
    case attr::kXorRelayedAddress:
      return DecodeXorAddress(v, m.transaction_id()).has_value();
    case attr::kUsername: return DecodeUsername(v).ok();
    case attr::kRealm:
    case attr::kNonce:
    case attr::kSoftware:
      return DecodeShortText(v).ok();
    case attr::kAlternateDomain: return DecodeAlternateDomain(v).ok();
    case attr::kUserhash: return HasSize<32>(v);             // RFC 8489 §14.4
    case attr::kMessageIntegrity: return HasSize<20>(v);     // RFC 8489 §14.5
    case attr::kMessageIntegritySha256:                      // RFC 8489 §14.6
      return v.size() >= 16 && v.size() <= 32 && v.size() % 4 == 0;
    case attr::kFingerprint: return HasSize<4>(v);           // RFC 8489 §14.7
    case attr::kErrorCode: return DecodeErrorCode(v).ok();
    case attr::kUnknownAttributes: return v.size() % 2 == 0;  // RFC 8489 §14.9
    case attr::kAddressErrorCode: return DecodeAddressErrorCode(v).ok();
    case attr::kIcmp: return DecodeIcmp(v).ok();
    case attr::kPasswordAlgorithms:
      return WalkPasswordAlgorithms(v, [](const PasswordAlgorithmEntry&) {});
    case attr::kPasswordAlgorithm: return DecodePasswordAlgorithm(v).ok();
    case attr::kChannelNumber:                               // RFC 8656 §18.1
    case attr::kLifetime:                                    // RFC 8656 §18.2
    case attr::kRequestedTransport:                          // RFC 8656 §18.8
    case attr::kPriority:                                    // RFC 8445 §16.1
    case attr::kNomination:
      return HasSize<4>(v);
    case attr::kData: return true;                           // RFC 8656 §18.4: any bytes
    case attr::kRequestedAddressFamily: return DecodeFamily(v, true).ok();
    case attr::kAdditionalAddressFamily: return DecodeFamily(v, false).ok();
    case attr::kEvenPort: return HasSize<1>(v);              // RFC 8656 §18.7
    case attr::kDontFragment:                                // RFC 8656 §18.9
    case attr::kUseCandidate:                                // RFC 8445 §16.1
      return v.empty();
    case attr::kReservationToken: return HasSize<8>(v);      // RFC 8656 §18.10
    case attr::kIceControlled:
    case attr::kIceControlling:
      return HasSize<8>(v);                                  // RFC 8445 §16.1
    default:
      return true;  // unknown: not ours to judge
  }
}

}  // namespace

AttrResult<SocketAddress> GetMappedAddress(const MessageView& m) {
  return GetAddress(m, attr::kMappedAddress, false);
}
AttrResult<SocketAddress> GetXorMappedAddress(const MessageView& m) {
  return GetAddress(m, attr::kXorMappedAddress, true);
}
AttrResult<SocketAddress> GetXorPeerAddress(const MessageView& m) {
  return GetAddress(m, attr::kXorPeerAddress, true);
}
AttrResult<SocketAddress> GetXorRelayedAddress(const MessageView& m) {
  return GetAddress(m, attr::kXorRelayedAddress, true);
}
AttrResult<SocketAddress> GetAlternateServer(const MessageView& m) {
  return GetAddress(m, attr::kAlternateServer, false);
}

AttrStatus ForEachXorAddress(const MessageView& m, uint16_t type,
                             absl::FunctionRef<void(const SocketAddress&)> fn) {
  AttrStatus status = AttrStatus::kAbsent;
  for (size_t i = 0; i < m.attribute_count(); ++i) {
    const AttributeView a = m.attribute(i);
    if (a.type != type) continue;
    std::optional<SocketAddress> addr = DecodeXorAddress(a.value, m.transaction_id());
    if (!addr) return AttrStatus::kMalformed;
    fn(*addr);
    status = AttrStatus::kOk;
  }
  return status;
}

AttrResult<std::string_view> GetUsername(const MessageView& m) {
  return Get<std::string_view>(m, attr::kUsername, DecodeUsername);
}
AttrResult<std::string_view> GetRealm(const MessageView& m) {
  return Get<std::string_view>(m, attr::kRealm, DecodeShortText);
}
AttrResult<std::string_view> GetNonce(const MessageView& m) {
  return Get<std::string_view>(m, attr::kNonce, DecodeShortText);
}
AttrResult<std::string_view> GetSoftware(const MessageView& m) {
  return Get<std::string_view>(m, attr::kSoftware, DecodeShortText);
}
AttrResult<std::string_view> GetAlternateDomain(const MessageView& m) {
  return Get<std::string_view>(m, attr::kAlternateDomain, DecodeAlternateDomain);
}

AttrResult<Userhash> GetUserhash(const MessageView& m) {
  std::optional<AttributeView> a = m.Find(attr::kUserhash);
  // A fixed-extent span has no empty state; absent/malformed results point at
  // zeros instead.
  AttrResult<Userhash> r{AttrStatus::kAbsent, Userhash(kZeros.data(), 32)};
  if (!a) return r;
  r.status = AttrStatus::kMalformed;
  if (a->value.size() != 32) return r;
  r.status = AttrStatus::kOk;
  r.value = Userhash(a->value.data(), 32);
  return r;
}

AttrResult<ErrorCodeValue> GetErrorCode(const MessageView& m) {
  return Get<ErrorCodeValue>(m, attr::kErrorCode, DecodeErrorCode);
}

AttrStatus ForEachUnknownAttribute(const MessageView& m, absl::FunctionRef<void(uint16_t)> fn) {
  std::optional<AttributeView> a = m.Find(attr::kUnknownAttributes);
  if (!a) return AttrStatus::kAbsent;
  if (a->value.size() % 2 != 0) return AttrStatus::kMalformed;
  for (size_t i = 0; i < a->value.size(); i += 2) fn(Load16(&a->value[i]));
  return AttrStatus::kOk;
}

AttrResult<AddressErrorCodeValue> GetAddressErrorCode(const MessageView& m) {
  return Get<AddressErrorCodeValue>(m, attr::kAddressErrorCode, DecodeAddressErrorCode);
}

AttrResult<IcmpValue> GetIcmp(const MessageView& m) {
  return Get<IcmpValue>(m, attr::kIcmp, DecodeIcmp);
}

AttrStatus ForEachPasswordAlgorithm(const MessageView& m,
                                    absl::FunctionRef<void(const PasswordAlgorithmEntry&)> fn) {
  std::optional<AttributeView> a = m.Find(attr::kPasswordAlgorithms);
  if (!a) return AttrStatus::kAbsent;
  // Validate first so that fn never sees a prefix of a malformed list.
  if (!WalkPasswordAlgorithms(a->value, [](const PasswordAlgorithmEntry&) {})) {
    return AttrStatus::kMalformed;
  }
  WalkPasswordAlgorithms(a->value, [&](const PasswordAlgorithmEntry& e) { fn(e); });
  return AttrStatus::kOk;
}

AttrResult<PasswordAlgorithmEntry> GetPasswordAlgorithm(const MessageView& m) {
  return Get<PasswordAlgorithmEntry>(m, attr::kPasswordAlgorithm, DecodePasswordAlgorithm);
}

AttrResult<uint16_t> GetChannelNumber(const MessageView& m) {
  // RFC 8656 §18.1: number(16) | RFFU(16).
  return Get<uint16_t>(m, attr::kChannelNumber, [](std::span<const uint8_t> v) {
    if (v.size() != 4) return Malformed<uint16_t>();
    return Ok(Load16(v.data()));
  });
}

AttrResult<uint32_t> GetLifetime(const MessageView& m) {
  return Get<uint32_t>(m, attr::kLifetime, DecodeU32);  // RFC 8656 §18.2
}

AttrResult<std::span<const uint8_t>> GetData(const MessageView& m) {
  std::optional<AttributeView> a = m.Find(attr::kData);
  if (!a) return {};
  return Ok(a->value);
}

AttrResult<uint8_t> GetRequestedAddressFamily(const MessageView& m) {
  // RFC 8656 §18.6: 0x01 IPv4 or 0x02 IPv6.
  return Get<uint8_t>(m, attr::kRequestedAddressFamily,
                      [](std::span<const uint8_t> v) { return DecodeFamily(v, true); });
}

AttrResult<uint8_t> GetAdditionalAddressFamily(const MessageView& m) {
  // RFC 8656 §18.11: "the only valid value is 0x02 (IPv6)".
  return Get<uint8_t>(m, attr::kAdditionalAddressFamily,
                      [](std::span<const uint8_t> v) { return DecodeFamily(v, false); });
}

AttrResult<bool> GetEvenPort(const MessageView& m) {
  // RFC 8656 §18.7: one byte, R is the top bit, the other 7 are RFFU.
  return Get<bool>(m, attr::kEvenPort, [](std::span<const uint8_t> v) {
    if (v.size() != 1) return Malformed<bool>();
    return Ok((v[0] & 0x80) != 0);
  });
}

AttrResult<uint8_t> GetRequestedTransport(const MessageView& m) {
  // RFC 8656 §18.8: protocol(8) | RFFU(24).
  return Get<uint8_t>(m, attr::kRequestedTransport, [](std::span<const uint8_t> v) {
    if (v.size() != 4) return Malformed<uint8_t>();
    return Ok(v[0]);
  });
}

bool HasDontFragment(const MessageView& m) { return m.Has(attr::kDontFragment); }

AttrResult<ReservationToken> GetReservationToken(const MessageView& m) {
  std::optional<AttributeView> a = m.Find(attr::kReservationToken);
  // See GetUserhash for why this is built field by field.
  AttrResult<ReservationToken> r{AttrStatus::kAbsent, ReservationToken(kZeros.data(), 8)};
  if (!a) return r;
  r.status = AttrStatus::kMalformed;
  if (a->value.size() != 8) return r;  // RFC 8656 §18.10
  r.status = AttrStatus::kOk;
  r.value = ReservationToken(a->value.data(), 8);
  return r;
}

AttrResult<uint32_t> GetPriority(const MessageView& m) {
  return Get<uint32_t>(m, attr::kPriority, DecodeU32);
}
bool HasUseCandidate(const MessageView& m) { return m.Has(attr::kUseCandidate); }
AttrResult<uint64_t> GetIceControlled(const MessageView& m) {
  return Get<uint64_t>(m, attr::kIceControlled, DecodeU64);
}
AttrResult<uint64_t> GetIceControlling(const MessageView& m) {
  return Get<uint64_t>(m, attr::kIceControlling, DecodeU64);
}
AttrResult<uint32_t> GetNomination(const MessageView& m) {
  return Get<uint32_t>(m, attr::kNomination, DecodeU32);
}

bool IsKnownAttribute(uint16_t type) {
  switch (type) {
    case attr::kMappedAddress:
    case attr::kUsername:
    case attr::kMessageIntegrity:
    case attr::kErrorCode:
    case attr::kUnknownAttributes:
    case attr::kChannelNumber:
    case attr::kLifetime:
    case attr::kXorPeerAddress:
    case attr::kData:
    case attr::kRealm:
    case attr::kNonce:
    case attr::kXorRelayedAddress:
    case attr::kRequestedAddressFamily:
    case attr::kEvenPort:
    case attr::kRequestedTransport:
    case attr::kDontFragment:
    case attr::kMessageIntegritySha256:
    case attr::kPasswordAlgorithm:
    case attr::kUserhash:
    case attr::kXorMappedAddress:
    case attr::kReservationToken:
    case attr::kPriority:
    case attr::kUseCandidate:
    case attr::kPasswordAlgorithms:
    case attr::kAlternateDomain:
    case attr::kSoftware:
    case attr::kAlternateServer:
    case attr::kFingerprint:
    case attr::kIceControlled:
    case attr::kIceControlling:
    case attr::kAdditionalAddressFamily:
    case attr::kAddressErrorCode:
    case attr::kIcmp:
    case attr::kNomination:
      return true;
    default:
      return false;
  }
}

std::optional<uint16_t> FindMalformedAttribute(const MessageView& m) {
  for (size_t i = 0; i < m.attribute_count(); ++i) {
    const AttributeView a = m.attribute(i);
    if (!IsWellFormed(m, a)) return a.type;
  }
  return std::nullopt;
}

size_t CollectUnknownComprehensionRequired(const MessageView& m,
                                           absl::FunctionRef<bool(uint16_t)> is_known,
                                           std::span<uint16_t> out) {
  size_t total = 0;
  for (size_t i = 0; i < m.attribute_count(); ++i) {
    const uint16_t type = m.attribute(i).type;
    // RFC 8489 §7.3.1: only comprehension-required ones earn a 420.
    if (!attr::IsComprehensionRequired(type) || is_known(type)) continue;
    // Unknown attributes may repeat; list each type once.
    bool repeat = false;
    for (size_t j = 0; j < i && !repeat; ++j) repeat = m.attribute(j).type == type;
    if (repeat) continue;
    if (total < out.size()) out[total] = type;
    ++total;
  }
  return total;
}

}  // namespace uturn::stun
