// Structural validation of one STUN message (RFC 8489 §5, §6, §14).
#include "stun/message_view.h"

#include <cassert>

#include "stun/attributes.h"
#include "stun/fingerprint.h"

namespace uturn::stun {
namespace {

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Load32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// RFC 8656 §18.3, §18.5: these may legitimately repeat (several peers in one
// CreatePermission, one relayed address per family in a dual-stack Allocate).
bool MayRepeat(uint16_t type) {
  return type == attr::kXorPeerAddress || type == attr::kXorRelayedAddress;
}

}  // namespace

const char* ToString(ParseError error) {
  switch (error) {
    case ParseError::kNone: return "none";
    case ParseError::kTooShort: return "too_short";
    case ParseError::kNotStun: return "not_stun";
    case ParseError::kNoMagicCookie: return "no_magic_cookie";
    case ParseError::kLengthNotMultipleOf4: return "length_not_multiple_of_4";
    case ParseError::kLengthMismatch: return "length_mismatch";
    case ParseError::kAttributeOverrun: return "attribute_overrun";
    case ParseError::kTooManyAttributes: return "too_many_attributes";
    case ParseError::kDuplicateAttribute: return "duplicate_attribute";
    case ParseError::kBadIntegrityLength: return "bad_integrity_length";
    case ParseError::kFingerprintNotLast: return "fingerprint_not_last";
    case ParseError::kBadFingerprintLength: return "bad_fingerprint_length";
    case ParseError::kFingerprintMismatch: return "fingerprint_mismatch";
  }
  return "unknown";
}

bool IsSilentlyDiscarded(ParseError error) {
  switch (error) {
    case ParseError::kTooShort:
    case ParseError::kNotStun:
    case ParseError::kNoMagicCookie:
    case ParseError::kLengthNotMultipleOf4:
    case ParseError::kLengthMismatch:
    case ParseError::kFingerprintNotLast:
    case ParseError::kBadFingerprintLength:
    case ParseError::kFingerprintMismatch:
      return true;
    case ParseError::kNone:
    case ParseError::kAttributeOverrun:
    case ParseError::kTooManyAttributes:
    case ParseError::kDuplicateAttribute:
    case ParseError::kBadIntegrityLength:
      return false;
  }
  return true;
}

ParseError MessageView::Parse(std::span<const uint8_t> data, MessageView* out,
                              const ParseOptions& options) {
  assert(out != nullptr);
  if (data.size() < kHeaderSize) return ParseError::kTooShort;
  // RFC 8489 §5: "The most significant 2 bits of every STUN message MUST be zeroes."
  if ((data[0] & 0xC0) != 0) return ParseError::kNotStun;
  const size_t length = Load16(&data[2]);
  // RFC 8489 §5: every attribute is padded to 4, so the length's last two bits are 0.
  if (length % 4 != 0) return ParseError::kLengthNotMultipleOf4;
  if (kHeaderSize + length != data.size()) return ParseError::kLengthMismatch;
  const bool has_cookie = Load32(&data[4]) == kMagicCookie;
  // RFC 8489 §11: without the cookie this can only be an RFC 3489 message.
  if (!has_cookie && !options.allow_rfc3489) return ParseError::kNoMagicCookie;

  MessageView v;
  v.data_ = data;
  v.type_ = Load16(&data[0]);
  v.has_magic_cookie_ = has_cookie;

  size_t pos = kHeaderSize;
  size_t seen = 0;  // every TLV on the wire, kept or not
  while (pos < data.size()) {
    // Length is a multiple of 4 and so is every padded attribute, so at
    // least 4 bytes remain here: the attribute header is always in bounds.
    assert(data.size() - pos >= kAttributeHeaderSize);
    if (++seen > kMaxAttributes) return ParseError::kTooManyAttributes;
    const uint16_t type = Load16(&data[pos]);
    const size_t value_len = Load16(&data[pos + 2]);
    const size_t value_off = pos + kAttributeHeaderSize;
    const size_t padded = (value_len + 3) & ~size_t{3};  // RFC 8489 §14
    if (padded > data.size() - value_off) return ParseError::kAttributeOverrun;
    const size_t attr_off = pos;
    pos = value_off + padded;

    // RFC 8489 §14.7: nothing may follow FINGERPRINT.
    if (v.fingerprint_offset_) return ParseError::kFingerprintNotLast;
    // RFC 8489 §14.5/§14.6: after MESSAGE-INTEGRITY only MI-SHA256 and
    // FINGERPRINT count; after MI-SHA256 only FINGERPRINT. Skip the rest.
    if (v.mi256_offset_ && type != attr::kFingerprint) continue;
    if (v.mi_offset_ && type != attr::kMessageIntegritySha256 && type != attr::kFingerprint) {
      continue;
    }

    if (IsKnownAttribute(type) && !MayRepeat(type)) {
      // Deliberate deviation from RFC 8489 §14 ("only the first need be
      // processed"): a repeated once-only attribute is rejected, because
      // two parsers picking different copies is a smuggling vector.
      for (size_t i = 0; i < v.count_; ++i) {
        if (v.entries_[i].type == type) return ParseError::kDuplicateAttribute;
      }
    }
    switch (type) {
      case attr::kMessageIntegrity:
        // RFC 8489 §14.5: HMAC-SHA1, always 20 bytes.
        if (value_len != 20) return ParseError::kBadIntegrityLength;
        v.mi_offset_ = attr_off;
        break;
      case attr::kMessageIntegritySha256:
        // RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.
        if (value_len < 16 || value_len > 32 || value_len % 4 != 0) {
          return ParseError::kBadIntegrityLength;
        }
        v.mi256_offset_ = attr_off;
        break;
      case attr::kFingerprint:
        // RFC 8489 §14.7: a 32-bit CRC.
        if (value_len != 4) return ParseError::kBadFingerprintLength;
        v.fingerprint_offset_ = attr_off;
        break;
      default:
        break;
    }
    assert(v.count_ < kMaxAttributes);
    v.entries_[v.count_++] = Entry{type, static_cast<uint16_t>(value_len),
                                   static_cast<uint32_t>(value_off)};
  }
  assert(pos == data.size());

  if (v.fingerprint_offset_ && options.verify_fingerprint) {
    // RFC 8489 §14.7: CRC-32 over the message up to FINGERPRINT, the header
    // length already covering it (it does: FINGERPRINT is last).
    const size_t off = *v.fingerprint_offset_;
    const uint32_t expected = ComputeFingerprint(data.first(off));
    if (Load32(&data[off + kAttributeHeaderSize]) != expected) {
      return ParseError::kFingerprintMismatch;
    }
  }
  *out = v;
  return ParseError::kNone;
}

uint32_t MessageView::cookie_word() const {
  assert(data_.size() >= kHeaderSize);
  return Load32(data_.data() + 4);
}

AttributeView MessageView::attribute(size_t i) const {
  assert(i < count_);
  const Entry& e = entries_[i];
  return AttributeView{e.type, data_.subspan(e.value_offset, e.length)};
}

std::optional<AttributeView> MessageView::Find(uint16_t type) const {
  for (size_t i = 0; i < count_; ++i) {
    if (entries_[i].type == type) return attribute(i);
  }
  return std::nullopt;
}

bool LooksLikeStun(std::span<const uint8_t> data) {
  if (data.size() < kHeaderSize) return false;
  if ((data[0] & 0xC0) != 0) return false;  // RFC 8489 §5
  const size_t length = Load16(&data[2]);
  return length % 4 == 0 && kHeaderSize + length == data.size() &&
         Load32(&data[4]) == kMagicCookie;
}

}  // namespace uturn::stun
