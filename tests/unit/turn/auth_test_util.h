// Helpers shared by the auth_*_test.cc files: build authenticated requests
// with MessageBuilder and read challenges back with the codec.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"
#include "stun/nonce_cookie.h"
#include "turn/auth.h"

namespace uturn::turn::testing {

inline const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
inline const stun::SocketAddress kClient = stun::SocketAddress::V4({192, 0, 2, 1}, 40000);
inline constexpr std::string_view kRealm = "example.org";

// 32 fixed bytes standing in for the host's CSPRNG output.
inline constexpr std::array<uint8_t, 32> kNonceSecret = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20};

inline std::vector<uint8_t> Hex(std::string_view hex) {
  const std::string raw = absl::HexStringToBytes(absl::string_view(hex.data(), hex.size()));
  return {raw.begin(), raw.end()};
}

// Raw PASSWORD-ALGORITHM(S) values (RFC 8489 §14.11, §14.12): algorithm(16),
// parameter length(16) = 0.
inline std::vector<uint8_t> AlgorithmList(std::initializer_list<uint16_t> ids) {
  std::vector<uint8_t> out;
  // push_back, not insert(): GCC 12 -O3 reports a bogus -Wstringop-overflow.
  for (uint16_t id : ids) {
    for (uint8_t b : {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), uint8_t{0}, uint8_t{0}}) {
      out.push_back(b);
    }
  }
  return out;
}

enum class Integrity { kNone, kMi, kMi256, kBoth };

struct Creds {
  std::optional<std::string> username;
  std::optional<std::vector<uint8_t>> username_raw;  // overrides username (malformed tests)
  std::optional<std::vector<uint8_t>> userhash;
  std::optional<std::string> realm = std::string(kRealm);
  std::optional<std::string> nonce;
  std::optional<std::vector<uint8_t>> password_algorithms;
  std::optional<std::vector<uint8_t>> password_algorithm;
  Integrity integrity = Integrity::kMi;
  std::vector<uint8_t> key;
  // With kBoth: the key for MESSAGE-INTEGRITY when it should differ.
  std::optional<std::vector<uint8_t>> mi_key;
};

// An Allocate request carrying `c`, parsed. Not copyable: the view points
// into the buffer.
class Request {
 public:
  explicit Request(const Creds& c) {
    static constexpr std::array<uint8_t, 12> kTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    stun::MessageBuilder b(buf_,
                           stun::EncodeMessageType(stun::Method::kAllocate,
                                                   stun::MessageClass::kRequest),
                           kTid);
    b.AddRequestedTransport(stun::kTransportUdp);
    if (c.username_raw) {
      b.Add(stun::attr::kUsername, *c.username_raw);
    } else if (c.username) {
      b.AddString(stun::attr::kUsername, *c.username);
    }
    if (c.userhash) b.Add(stun::attr::kUserhash, *c.userhash);
    if (c.realm) b.AddString(stun::attr::kRealm, *c.realm);
    if (c.nonce) b.AddString(stun::attr::kNonce, *c.nonce);
    if (c.password_algorithms) b.Add(stun::attr::kPasswordAlgorithms, *c.password_algorithms);
    if (c.password_algorithm) b.Add(stun::attr::kPasswordAlgorithm, *c.password_algorithm);
    if (c.integrity == Integrity::kMi || c.integrity == Integrity::kBoth) {
      b.AddMessageIntegrity(c.mi_key ? *c.mi_key : c.key);
    }
    if (c.integrity == Integrity::kMi256 || c.integrity == Integrity::kBoth) {
      b.AddMessageIntegritySha256(c.key);
    }
    b.AddFingerprint();
    EXPECT_TRUE(b.ok());
    size_ = b.size();
    EXPECT_EQ(stun::MessageView::Parse(std::span<const uint8_t>(buf_.data(), size_), &view_),
              stun::ParseError::kNone);
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  const stun::MessageView& view() const { return view_; }

 private:
  std::array<uint8_t, 2048> buf_{};
  size_t size_ = 0;
  stun::MessageView view_;
};

// What AddChallenge wrote into a 401, read back with the codec.
struct Challenge {
  std::string realm;
  std::string nonce;
  std::optional<std::vector<uint8_t>> password_algorithms;  // raw value
};

inline Challenge ReadChallenge(const Authenticator& auth, const stun::SocketAddress& client,
                               absl::Time now) {
  static constexpr std::array<uint8_t, 12> kTid = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  std::array<uint8_t, 1024> buf{};
  stun::MessageBuilder b(buf,
                         stun::EncodeMessageType(stun::Method::kAllocate,
                                                 stun::MessageClass::kErrorResponse),
                         kTid);
  b.AddErrorCode(stun::error::kUnauthorized);
  auth.AddChallenge(b, client, now);
  b.AddFingerprint();
  EXPECT_TRUE(b.ok());
  stun::MessageView m;
  EXPECT_EQ(stun::MessageView::Parse(b.bytes(), &m), stun::ParseError::kNone);
  Challenge c;
  const stun::AttrResult<std::string_view> realm = stun::GetRealm(m);
  const stun::AttrResult<std::string_view> nonce = stun::GetNonce(m);
  EXPECT_TRUE(realm.ok());
  EXPECT_TRUE(nonce.ok());
  c.realm = std::string(realm.value);
  c.nonce = std::string(nonce.value);
  if (std::optional<stun::AttributeView> a = m.Find(stun::attr::kPasswordAlgorithms)) {
    c.password_algorithms.emplace(a->value.begin(), a->value.end());
  }
  return c;
}

inline std::string NonceFor(const Authenticator& auth, const stun::SocketAddress& client = kClient,
                            absl::Time now = kT0) {
  return ReadChallenge(auth, client, now).nonce;
}

inline Authenticator MakeAuth(AuthConfig config) {
  absl::StatusOr<Authenticator> auth = Authenticator::Create(std::move(config), kNonceSecret);
  if (!auth.ok()) {
    ADD_FAILURE() << auth.status();
    std::abort();  // every caller needs a working authenticator
  }
  return *std::move(auth);
}

inline std::vector<uint8_t> KeyBytes(const AuthKey& key) {
  const std::span<const uint8_t> s = key.span();
  return {s.begin(), s.end()};
}

}  // namespace uturn::turn::testing
