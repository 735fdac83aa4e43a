// FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message up to the attribute,
// XOR 0x5354554e. CRC-32 is zlib's (ISO-HDLC polynomial, as the RFC names).
#pragma once

#include <cstdint>
#include <span>

namespace uturn::stun {

// `message_prefix` is the message up to (not including) the FINGERPRINT
// attribute, with the header length already covering FINGERPRINT.
uint32_t ComputeFingerprint(std::span<const uint8_t> message_prefix);

}  // namespace uturn::stun
