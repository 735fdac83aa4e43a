#include "ice-lite/ice_types.h"

#include <cassert>
#include <string_view>

namespace uturn::ice {
namespace {

// RFC 8445 §5.3 / RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/".
// 64 symbols, so one random byte masked to 6 bits picks one uniformly.
constexpr std::string_view kIceChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static_assert(kIceChars.size() == 64);

// RFC 8445 §5.3: ufrag >= 24 bits, pwd >= 128 bits of randomness; with
// 6 bits per char these lengths give 48 and 144 bits.
constexpr size_t kUfragChars = 8;
constexpr size_t kPwdChars = 24;

bool IsIceChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

bool AllIceChars(std::string_view s) {
  for (char c : s) {
    if (!IsIceChar(c)) return false;
  }
  return true;
}

std::string RandomIceString(const RandomSource& random, size_t n) {
  uint8_t bytes[kPwdChars];
  assert(n <= sizeof(bytes));
  random(std::span<uint8_t>(bytes, n));
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = kIceChars[bytes[i] & 0x3F];
  return out;
}

}  // namespace

std::string Tuple::ToString() const {
  std::string out = transport == Transport::kUdp ? "udp " : "tcp ";
  out += remote.ToString();
  out += "->";
  out += local.ToString();
  return out;
}

Credentials GenerateCredentials(const RandomSource& random) {
  assert(random);
  Credentials c;
  c.ufrag = RandomIceString(random, kUfragChars);
  c.pwd = RandomIceString(random, kPwdChars);
  return c;
}

// RFC 8839 §5.4: ice-ufrag = 4*256ice-char, ice-pwd = 22*256ice-char.
bool IsValidUfrag(std::string_view s) {
  return s.size() >= 4 && s.size() <= 256 && AllIceChars(s);
}
bool IsValidPwd(std::string_view s) {
  return s.size() >= 22 && s.size() <= 256 && AllIceChars(s);
}

const char* ToString(SessionState s) {
  switch (s) {
    case SessionState::kNew: return "new";
    case SessionState::kConnected: return "connected";
    case SessionState::kDisconnected: return "disconnected";
    case SessionState::kFailed: return "failed";
    case SessionState::kClosed: return "closed";
  }
  return "?";
}

const char* ToString(SessionEvent::Kind k) {
  switch (k) {
    case SessionEvent::Kind::kTupleAdded: return "tuple-added";
    case SessionEvent::Kind::kTupleRemoved: return "tuple-removed";
    case SessionEvent::Kind::kSelectedChanged: return "selected-changed";
    case SessionEvent::Kind::kConnected: return "connected";
    case SessionEvent::Kind::kDisconnected: return "disconnected";
    case SessionEvent::Kind::kFailed: return "failed";
  }
  return "?";
}

}  // namespace uturn::ice
