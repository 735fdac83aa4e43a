// Zero-copy, validated, read-only view of one STUN message in a caller's
// buffer. Parsing checks the structure (RFC 8489 §5, §14) and records where
// each attribute sits; typed decoding of attribute values is in attributes.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "stun/constants.h"

namespace uturn::stun {

using TransactionId = std::array<uint8_t, kTransactionIdSize>;

// Why a buffer is not an acceptable STUN message. Stable: used in logs,
// metrics and tests.
enum class ParseError : uint8_t {
  kNone = 0,
  kTooShort,            // fewer than 20 bytes
  kNotStun,             // first two bits not zero (RFC 8489 §5)
  kNoMagicCookie,       // cookie absent and RFC 3489 messages not accepted
  kLengthNotMultipleOf4,  // RFC 8489 §5: the last two bits of length are 0
  kLengthMismatch,      // length field disagrees with the bytes given
  kAttributeOverrun,    // an attribute's length runs past the message
  kTooManyAttributes,   // more than MessageView::kMaxAttributes
  kDuplicateAttribute,  // a once-only attribute appears twice
  kBadIntegrityLength,  // MESSAGE-INTEGRITY(-SHA256) with a wrong length
  kFingerprintNotLast,  // RFC 8489 §14.7: FINGERPRINT must be last
  kBadFingerprintLength,
  kFingerprintMismatch,  // CRC-32 check failed
};
const char* ToString(ParseError error);

// RFC 8489 §6.3: failures of the header checks (first two bits, magic cookie,
// "message length is sensible") or of FINGERPRINT mean the message is
// "silently discarded". The other errors are in the attributes of a message
// whose header is sound, so a request can still be answered with 400.
bool IsSilentlyDiscarded(ParseError error);

struct ParseOptions {
  // RFC 8489 §11: a server should answer RFC 3489 clients, whose messages
  // carry no magic cookie. Clients and ICE agents turn this off.
  bool allow_rfc3489 = true;
  // Verify FINGERPRINT when it is present (RFC 8489 §7.3).
  bool verify_fingerprint = true;
};

struct AttributeView {
  uint16_t type = 0;
  std::span<const uint8_t> value;  // without padding
};

class MessageView {
 public:
  // RFC 8489 §6: an upper bound on attributes a sane message carries; more is
  // treated as hostile (kTooManyAttributes).
  static constexpr size_t kMaxAttributes = 48;

  // `data` must hold exactly one message (a datagram, or one frame cut out by
  // StreamFramer). On success `*out` refers into `data`, which must outlive it.
  static ParseError Parse(std::span<const uint8_t> data, MessageView* out,
                          const ParseOptions& options = {});

  uint16_t type() const { return type_; }
  uint16_t method() const { return DecodeMethod(type_); }
  MessageClass message_class() const { return DecodeClass(type_); }
  bool Is(Method m, MessageClass c) const { return type_ == EncodeMessageType(m, c); }
  bool has_magic_cookie() const { return has_magic_cookie_; }
  // The 32-bit word at offset 4: the magic cookie, or for RFC 3489 messages
  // the first part of the 128-bit transaction ID.
  uint32_t cookie_word() const;
  std::span<const uint8_t, kTransactionIdSize> transaction_id() const {
    return std::span<const uint8_t, kTransactionIdSize>(data_.data() + 8, kTransactionIdSize);
  }
  std::span<const uint8_t> bytes() const { return data_; }

  // The attributes a receiver processes, in wire order. RFC 8489 §14.5/§14.6:
  // after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are
  // kept; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. Others are dropped.
  size_t attribute_count() const { return count_; }
  AttributeView attribute(size_t i) const;
  // First occurrence (RFC 8489 §14: only the first needs processing).
  std::optional<AttributeView> Find(uint16_t type) const;
  bool Has(uint16_t type) const { return Find(type).has_value(); }

  // Offsets into bytes() of the attribute headers, for integrity checking.
  std::optional<size_t> message_integrity_offset() const { return mi_offset_; }
  std::optional<size_t> message_integrity_sha256_offset() const { return mi256_offset_; }
  std::optional<size_t> fingerprint_offset() const { return fingerprint_offset_; }

 private:
  struct Entry {
    uint16_t type;
    uint16_t length;
    uint32_t value_offset;
  };
  std::span<const uint8_t> data_;
  uint16_t type_ = 0;
  bool has_magic_cookie_ = false;
  uint8_t count_ = 0;
  std::optional<size_t> mi_offset_, mi256_offset_, fingerprint_offset_;
  std::array<Entry, kMaxAttributes> entries_{};
};

// Cheap check on the first bytes, for demultiplexing: true if `data` could be
// a STUN message with the magic cookie (RFC 8489 §5 first two bits zero,
// cookie present, length a multiple of 4 and consistent with `data.size()`).
bool LooksLikeStun(std::span<const uint8_t> data);

}  // namespace uturn::stun
