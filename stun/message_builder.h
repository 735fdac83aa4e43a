// Writes one STUN message in place into a caller's buffer. No allocation; an
// attribute that does not fit puts the builder into a failed state and every
// later call is a no-op, so callers check ok() once at the end.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "stun/address.h"
#include "stun/constants.h"
#include "stun/message_view.h"

namespace uturn::stun {

class MessageBuilder {
 public:
  // `cookie` is the word at offset 4: kMagicCookie, or for an answer to an
  // RFC 3489 request the request's cookie_word().
  MessageBuilder(std::span<uint8_t> buffer, uint16_t type,
                 std::span<const uint8_t, kTransactionIdSize> transaction_id,
                 uint32_t cookie = kMagicCookie);
  // A response (success or error) to `request`: same method, same transaction
  // ID and cookie word.
  static MessageBuilder ResponseTo(const MessageView& request, MessageClass cls,
                                   std::span<uint8_t> buffer);

  bool ok() const { return ok_; }
  size_t size() const { return ok_ ? size_ : 0; }
  // The finished message, or an empty span if anything overflowed.
  std::span<const uint8_t> bytes() const;

  // Generic: value copied and zero-padded to 4 bytes.
  MessageBuilder& Add(uint16_t type, std::span<const uint8_t> value);
  // Reserves `length` bytes of value for the caller to fill (padding zeroed);
  // returns an empty span on overflow.
  std::span<uint8_t> AddUninitialized(uint16_t type, size_t length);
  MessageBuilder& AddString(uint16_t type, std::string_view value);
  MessageBuilder& AddU32(uint16_t type, uint32_t value);
  MessageBuilder& AddU64(uint16_t type, uint64_t value);
  MessageBuilder& AddFlag(uint16_t type);  // zero-length value
  MessageBuilder& AddAddress(uint16_t type, const SocketAddress& addr);
  MessageBuilder& AddXorAddress(uint16_t type, const SocketAddress& addr);

  // RFC 8489 §14.8: class = code / 100, number = code % 100, reason UTF-8
  // (at most 128 characters); an empty reason uses DefaultReasonPhrase(code).
  MessageBuilder& AddErrorCode(int code, std::string_view reason = {});
  MessageBuilder& AddUnknownAttributes(std::span<const uint16_t> types);
  MessageBuilder& AddPasswordAlgorithms(std::span<const PasswordAlgorithm> algorithms);
  MessageBuilder& AddPasswordAlgorithm(PasswordAlgorithm algorithm);
  MessageBuilder& AddChannelNumber(uint16_t channel);       // RFC 8656 §18.1
  MessageBuilder& AddRequestedTransport(uint8_t protocol);  // RFC 8656 §18.8
  MessageBuilder& AddRequestedAddressFamily(uint8_t family);
  MessageBuilder& AddAdditionalAddressFamily(uint8_t family);
  MessageBuilder& AddEvenPort(bool reserve_next);           // RFC 8656 §18.7
  MessageBuilder& AddAddressErrorCode(uint8_t family, int code, std::string_view reason = {});
  MessageBuilder& AddIcmp(uint8_t icmp_type, uint8_t icmp_code, uint32_t error_data);

  // Integrity and fingerprint come last, in this order (RFC 8489 §14.5-14.7).
  // Each sets the header length to cover itself before hashing. Adding any
  // other attribute after them fails the builder (ok() becomes false).
  MessageBuilder& AddMessageIntegrity(std::span<const uint8_t> key);
  // RFC 8489 §14.6: the HMAC may be truncated to 16..32 bytes, multiple of 4.
  MessageBuilder& AddMessageIntegritySha256(std::span<const uint8_t> key, size_t length = 32);
  MessageBuilder& AddFingerprint();

 private:
  std::span<uint8_t> Reserve(uint16_t type, size_t length);
  void SetLength(size_t body_length);

  // Which attributes may still be added (RFC 8489 §14.5-§14.7 ordering).
  enum class Seal : uint8_t { kOpen, kAfterIntegrity, kAfterIntegritySha256, kAfterFingerprint };

  std::span<uint8_t> buffer_;
  size_t size_ = 0;
  bool ok_ = true;
  Seal seal_ = Seal::kOpen;
};

}  // namespace uturn::stun
