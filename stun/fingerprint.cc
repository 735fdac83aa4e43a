#include "stun/fingerprint.h"

#include <zlib.h>

#include <cassert>
#include <limits>

#include "stun/constants.h"

namespace uturn::stun {

uint32_t ComputeFingerprint(std::span<const uint8_t> message_prefix) {
  // zlib's crc32 takes a uInt length; a STUN message is at most 64 KiB + 20.
  assert(message_prefix.size() <= std::numeric_limits<uInt>::max());
  const uLong crc = crc32(0L, message_prefix.data(), static_cast<uInt>(message_prefix.size()));
  // RFC 8489 §14.7: the CRC-32 of the message, XOR'ed with 0x5354554e.
  return static_cast<uint32_t>(crc) ^ kFingerprintXor;
}

}  // namespace uturn::stun
