// In-place STUN message writer (RFC 8489 §5, §14).
#include "stun/message_builder.h"

#include <array>
#include <cassert>
#include <cstring>

#include "stun/fingerprint.h"
#include "stun/integrity.h"
#include "stun/utf8.h"

namespace uturn::stun {
namespace {

void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Store32(uint8_t* p, uint32_t v) {
  Store16(p, static_cast<uint16_t>(v >> 16));
  Store16(p + 2, static_cast<uint16_t>(v));
}

// RFC 8489 §14.8: the reason phrase is fewer than 128 characters (at most
// 509 bytes when encoding).
bool ReasonAcceptable(std::string_view s) {
  if (s.size() > 509) return false;
  const long chars = Utf8Length(s);
  return chars >= 0 && chars < 128;
}

// RFC 8489 §14.8 / RFC 8656 §18.12: class 3..6, number 0..99.
bool ValidErrorCode(int code) { return code >= 300 && code <= 699; }

}  // namespace

MessageBuilder::MessageBuilder(std::span<uint8_t> buffer, uint16_t type,
                               std::span<const uint8_t, kTransactionIdSize> transaction_id,
                               uint32_t cookie)
    : buffer_(buffer) {
  // RFC 8489 §5: the top two bits of the type are zero.
  if (buffer_.size() < kHeaderSize || (type & 0xC000) != 0) {
    ok_ = false;
    return;
  }
  Store16(&buffer_[0], type);
  Store16(&buffer_[2], 0);
  Store32(&buffer_[4], cookie);
  std::memcpy(&buffer_[8], transaction_id.data(), kTransactionIdSize);
  size_ = kHeaderSize;
}

MessageBuilder MessageBuilder::ResponseTo(const MessageView& request, MessageClass cls,
                                          std::span<uint8_t> buffer) {
  // RFC 8489 §6.3.3: same method and transaction ID; copying the cookie word
  // is what lets an RFC 3489 client (no cookie) match the answer.
  return MessageBuilder(buffer, EncodeMessageType(request.method(), cls),
                        request.transaction_id(), request.cookie_word());
}

std::span<const uint8_t> MessageBuilder::bytes() const {
  if (!ok_) return {};
  return std::span<const uint8_t>(buffer_.data(), size_);
}

void MessageBuilder::SetLength(size_t body_length) {
  assert(body_length <= 0xFFFF && body_length % 4 == 0);
  Store16(&buffer_[2], static_cast<uint16_t>(body_length));
}

std::span<uint8_t> MessageBuilder::Reserve(uint16_t type, size_t length) {
  if (!ok_) return {};
  // RFC 8489 §14.5-§14.7: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256
  // and FINGERPRINT may follow, after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT,
  // and nothing after FINGERPRINT. A receiver would ignore or reject anything
  // else, so writing it is a caller bug: fail the build instead.
  const bool allowed =
      seal_ == Seal::kOpen ||
      (seal_ == Seal::kAfterIntegrity &&
       (type == attr::kMessageIntegritySha256 || type == attr::kFingerprint)) ||
      (seal_ == Seal::kAfterIntegritySha256 && type == attr::kFingerprint);
  if (!allowed) {
    ok_ = false;
    return {};
  }
  const size_t padded = (length + 3) & ~size_t{3};  // RFC 8489 §14
  const size_t total = kAttributeHeaderSize + padded;
  if (length > 0xFFFF || total > buffer_.size() - size_ ||
      size_ + total - kHeaderSize > 0xFFFF) {
    ok_ = false;
    return {};
  }
  uint8_t* p = buffer_.data() + size_;
  Store16(p, type);
  Store16(p + 2, static_cast<uint16_t>(length));
  std::memset(p + kAttributeHeaderSize + length, 0, padded - length);
  size_ += total;
  SetLength(size_ - kHeaderSize);
  if (type == attr::kMessageIntegrity) seal_ = Seal::kAfterIntegrity;
  if (type == attr::kMessageIntegritySha256) seal_ = Seal::kAfterIntegritySha256;
  if (type == attr::kFingerprint) seal_ = Seal::kAfterFingerprint;
  return std::span<uint8_t>(p + kAttributeHeaderSize, length);
}

MessageBuilder& MessageBuilder::Add(uint16_t type, std::span<const uint8_t> value) {
  std::span<uint8_t> dst = Reserve(type, value.size());
  if (!dst.empty()) std::memcpy(dst.data(), value.data(), value.size());
  return *this;
}

std::span<uint8_t> MessageBuilder::AddUninitialized(uint16_t type, size_t length) {
  return Reserve(type, length);
}

MessageBuilder& MessageBuilder::AddString(uint16_t type, std::string_view value) {
  return Add(type, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()),
                                            value.size()));
}

MessageBuilder& MessageBuilder::AddU32(uint16_t type, uint32_t value) {
  std::span<uint8_t> dst = Reserve(type, 4);
  if (!dst.empty()) Store32(dst.data(), value);
  return *this;
}

MessageBuilder& MessageBuilder::AddU64(uint16_t type, uint64_t value) {
  std::span<uint8_t> dst = Reserve(type, 8);
  if (!dst.empty()) {
    Store32(dst.data(), static_cast<uint32_t>(value >> 32));
    Store32(dst.data() + 4, static_cast<uint32_t>(value));
  }
  return *this;
}

MessageBuilder& MessageBuilder::AddFlag(uint16_t type) {
  Reserve(type, 0);
  return *this;
}

MessageBuilder& MessageBuilder::AddAddress(uint16_t type, const SocketAddress& addr) {
  std::span<uint8_t> dst = Reserve(type, addr.is_v4() ? kAddressValueSizeV4 : kAddressValueSizeV6);
  if (!dst.empty()) EncodeAddress(addr, dst);
  return *this;
}

MessageBuilder& MessageBuilder::AddXorAddress(uint16_t type, const SocketAddress& addr) {
  std::span<uint8_t> dst = Reserve(type, addr.is_v4() ? kAddressValueSizeV4 : kAddressValueSizeV6);
  if (!dst.empty()) {
    EncodeXorAddress(addr, std::span<const uint8_t, 12>(buffer_.data() + 8, 12), dst);
  }
  return *this;
}

MessageBuilder& MessageBuilder::AddErrorCode(int code, std::string_view reason) {
  if (reason.empty()) reason = DefaultReasonPhrase(code);
  if (!ValidErrorCode(code) || !ReasonAcceptable(reason)) {
    ok_ = false;
    return *this;
  }
  // RFC 8489 §14.8: 21 reserved bits, 3-bit class, 8-bit number, reason.
  std::span<uint8_t> dst = Reserve(attr::kErrorCode, 4 + reason.size());
  if (dst.empty()) return *this;
  dst[0] = 0;
  dst[1] = 0;
  dst[2] = static_cast<uint8_t>(code / 100);
  dst[3] = static_cast<uint8_t>(code % 100);
  std::memcpy(dst.data() + 4, reason.data(), reason.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddUnknownAttributes(std::span<const uint16_t> types) {
  // RFC 8489 §14.9: a list of 16-bit types; an odd count gets ordinary zero
  // padding (RFC 3489's repeat-the-last-type padding is gone).
  std::span<uint8_t> dst = Reserve(attr::kUnknownAttributes, 2 * types.size());
  if (!ok_) return *this;
  for (size_t i = 0; i < types.size(); ++i) Store16(dst.data() + 2 * i, types[i]);
  return *this;
}

MessageBuilder& MessageBuilder::AddPasswordAlgorithms(
    std::span<const PasswordAlgorithm> algorithms) {
  // RFC 8489 §14.11: each entry is algorithm(16) | parameters length(16) |
  // parameters; MD5 and SHA-256 take no parameters.
  std::span<uint8_t> dst = Reserve(attr::kPasswordAlgorithms, 4 * algorithms.size());
  if (!ok_) return *this;
  for (size_t i = 0; i < algorithms.size(); ++i) {
    Store16(dst.data() + 4 * i, static_cast<uint16_t>(algorithms[i]));
    Store16(dst.data() + 4 * i + 2, 0);
  }
  return *this;
}

MessageBuilder& MessageBuilder::AddPasswordAlgorithm(PasswordAlgorithm algorithm) {
  std::span<uint8_t> dst = Reserve(attr::kPasswordAlgorithm, 4);  // RFC 8489 §14.12
  if (dst.empty()) return *this;
  Store16(dst.data(), static_cast<uint16_t>(algorithm));
  Store16(dst.data() + 2, 0);
  return *this;
}

MessageBuilder& MessageBuilder::AddChannelNumber(uint16_t channel) {
  // RFC 8656 §18.1: channel number then 16 RFFU bits.
  return AddU32(attr::kChannelNumber, uint32_t{channel} << 16);
}

MessageBuilder& MessageBuilder::AddRequestedTransport(uint8_t protocol) {
  // RFC 8656 §18.8: protocol then 24 RFFU bits.
  return AddU32(attr::kRequestedTransport, uint32_t{protocol} << 24);
}

MessageBuilder& MessageBuilder::AddRequestedAddressFamily(uint8_t family) {
  // RFC 8656 §18.6: family then 24 reserved bits.
  return AddU32(attr::kRequestedAddressFamily, uint32_t{family} << 24);
}

MessageBuilder& MessageBuilder::AddAdditionalAddressFamily(uint8_t family) {
  // RFC 8656 §18.11: same layout as REQUESTED-ADDRESS-FAMILY.
  return AddU32(attr::kAdditionalAddressFamily, uint32_t{family} << 24);
}

MessageBuilder& MessageBuilder::AddEvenPort(bool reserve_next) {
  // RFC 8656 §18.7: one byte, the R bit is the most significant.
  std::span<uint8_t> dst = Reserve(attr::kEvenPort, 1);
  if (!dst.empty()) dst[0] = reserve_next ? 0x80 : 0x00;
  return *this;
}

MessageBuilder& MessageBuilder::AddAddressErrorCode(uint8_t family, int code,
                                                    std::string_view reason) {
  if (reason.empty()) reason = DefaultReasonPhrase(code);
  if (!ValidErrorCode(code) || !ReasonAcceptable(reason)) {
    ok_ = false;
    return *this;
  }
  // RFC 8656 §18.12: family(8) | reserved(13) | class(3) | number(8) | reason.
  std::span<uint8_t> dst = Reserve(attr::kAddressErrorCode, 4 + reason.size());
  if (dst.empty()) return *this;
  dst[0] = family;
  dst[1] = 0;
  dst[2] = static_cast<uint8_t>(code / 100);
  dst[3] = static_cast<uint8_t>(code % 100);
  std::memcpy(dst.data() + 4, reason.data(), reason.size());
  return *this;
}

MessageBuilder& MessageBuilder::AddIcmp(uint8_t icmp_type, uint8_t icmp_code,
                                        uint32_t error_data) {
  // RFC 8656 §18.13: reserved(16) | type(8) | code(8) | error data(32).
  std::span<uint8_t> dst = Reserve(attr::kIcmp, 8);
  if (dst.empty()) return *this;
  Store16(dst.data(), 0);
  dst[2] = icmp_type;
  dst[3] = icmp_code;
  Store32(dst.data() + 4, error_data);
  return *this;
}

MessageBuilder& MessageBuilder::AddMessageIntegrity(std::span<const uint8_t> key) {
  // RFC 8489 §14.5: the header length covers MESSAGE-INTEGRITY (Reserve sets
  // it) and the HMAC runs over everything before the attribute.
  const size_t attr_off = size_;
  std::span<uint8_t> dst = Reserve(attr::kMessageIntegrity, 20);
  if (dst.empty()) return *this;
  const std::span<const uint8_t> parts[] = {std::span<const uint8_t>(buffer_.data(), attr_off)};
  HmacSha1(key, parts, std::span<uint8_t, 20>(dst.data(), 20));
  return *this;
}

MessageBuilder& MessageBuilder::AddMessageIntegritySha256(std::span<const uint8_t> key,
                                                          size_t length) {
  // RFC 8489 §14.6: truncation to 16..32 bytes in steps of 4.
  if (length < 16 || length > 32 || length % 4 != 0) {
    ok_ = false;
    return *this;
  }
  const size_t attr_off = size_;
  std::span<uint8_t> dst = Reserve(attr::kMessageIntegritySha256, length);
  if (dst.empty()) return *this;
  const std::span<const uint8_t> parts[] = {std::span<const uint8_t>(buffer_.data(), attr_off)};
  std::array<uint8_t, 32> mac;
  HmacSha256(key, parts, mac);
  std::memcpy(dst.data(), mac.data(), length);
  return *this;
}

MessageBuilder& MessageBuilder::AddFingerprint() {
  // RFC 8489 §14.7: CRC over everything before the attribute, with the
  // header length already counting the attribute.
  const size_t attr_off = size_;
  std::span<uint8_t> dst = Reserve(attr::kFingerprint, 4);
  if (dst.empty()) return *this;
  Store32(dst.data(), ComputeFingerprint(std::span<const uint8_t>(buffer_.data(), attr_off)));
  return *this;
}

}  // namespace uturn::stun
