#include "stun/integrity.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <optional>

#include "absl/status/status.h"
#include "stun/constants.h"
#include "stun/string_prep.h"

namespace uturn::stun {
namespace {

constexpr size_t kSha1Size = 20;
constexpr size_t kSha256Size = 32;
// RFC 8489 §14.6: MESSAGE-INTEGRITY-SHA256 may be truncated, but to no fewer
// than 16 bytes, and its length is a multiple of 4.
constexpr size_t kMinTruncatedSha256 = 16;

// ---- HMAC through EVP_MAC ----

// The HMAC implementation, fetched from the provider once per process.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) std::abort();  // OpenSSL without HMAC: nothing can work
  return mac;
}

// One context per thread and digest, created on first use with its digest
// set; each HMAC only re-keys it (EVP_MAC_init), so the hot path does not
// allocate or fetch.
class ThreadMacContext {
 public:
  explicit ThreadMacContext(const char* digest) : ctx_(EVP_MAC_CTX_new(HmacAlgorithm())) {
    if (ctx_ == nullptr) std::abort();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx_, params) != 1) std::abort();
  }
  ~ThreadMacContext() { EVP_MAC_CTX_free(ctx_); }
  ThreadMacContext(const ThreadMacContext&) = delete;
  ThreadMacContext& operator=(const ThreadMacContext&) = delete;

  void Compute(std::span<const uint8_t> key, std::span<const std::span<const uint8_t>> parts,
               std::span<uint8_t> out) {
    // A null key would make EVP_MAC_init keep the previous call's key; an
    // empty key must still be a non-null pointer.
    static constexpr uint8_t kEmpty = 0;
    const uint8_t* key_data = key.empty() ? &kEmpty : key.data();
    bool ok = EVP_MAC_init(ctx_, key_data, key.size(), nullptr) == 1;
    for (const auto& part : parts) {
      if (!ok) break;
      ok = EVP_MAC_update(ctx_, part.data(), part.size()) == 1;
    }
    size_t written = 0;
    ok = ok && EVP_MAC_final(ctx_, out.data(), &written, out.size()) == 1;
    // Failure here is an OpenSSL malfunction, not bad input.
    if (!ok || written != out.size()) std::abort();
  }

 private:
  EVP_MAC_CTX* ctx_;
};

// ---- Plain digests ----

template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, std::string_view data) {
  std::array<uint8_t, N> out{};
  unsigned int written = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &written, md, nullptr) != 1 ||
      written != N) {
    std::abort();
  }
  return out;
}

// How realm and password are prepared for the long-term key. RFC 8489 §9.2.2
// / §18.5.1 say OpaqueString. RFC 5389 §15.4 said SASLprep, and both
// published vectors (RFC 5769 §2.4 and RFC 8489 Appendix B.1) key with the
// SASLprep form of "The<U+00AD>M<U+00AA>tr<U+2168>", which OpaqueString
// refuses (U+00AD is default-ignorable). So: OpaqueString when it accepts
// the string (every RFC 8489 input is keyed exactly as RFC 8489 says);
// otherwise the SASLprep form, if that is a valid OpaqueString. See
// stun/README.md, "Deliberate deviations".
absl::StatusOr<std::string> PrepareForKey(std::string_view s) {
  absl::StatusOr<std::string> opaque = OpaqueString(s);
  if (opaque.ok()) return opaque;
  absl::StatusOr<std::string> sasl = SaslPrep(s);
  if (!sasl.ok()) return opaque.status();
  absl::StatusOr<std::string> sasl_opaque = OpaqueString(*sasl);
  if (!sasl_opaque.ok()) return opaque.status();
  return sasl_opaque;
}

// username ":" prepared(realm) ":" prepared(password); RFC 8489 §18.5.1.1/2.
// The username goes in as received: §14.3 requires the sender to have
// processed it with OpaqueString already.
absl::StatusOr<std::string> LongTermKeyInput(std::string_view username, std::string_view realm,
                                             std::string_view password) {
  absl::StatusOr<std::string> r = PrepareForKey(realm);
  if (!r.ok()) return r.status();
  absl::StatusOr<std::string> p = PrepareForKey(password);
  if (!p.ok()) return p.status();
  std::string input;
  input.reserve(username.size() + r->size() + p->size() + 2);
  input.append(username).append(":").append(*r).append(":").append(*p);
  return input;
}

// RFC 8489 §14.5/§14.6: HMAC over the message up to the integrity attribute,
// with the header's length field set as if the attribute were the last one.
// `offset` is the attribute header's offset in m.bytes().
IntegrityCheck Verify(const MessageView& m, std::optional<size_t> offset,
                      std::span<const uint8_t> key, bool sha256) {
  if (!offset.has_value()) return IntegrityCheck::kAbsent;
  const std::span<const uint8_t> bytes = m.bytes();
  const size_t at = *offset;
  // The parser guarantees these; a violation means a bug upstream, and the
  // safe answer for a security check is "mismatch".
  assert(at >= kHeaderSize && at % 4 == 0);
  if (at < kHeaderSize || at + kAttributeHeaderSize > bytes.size()) return IntegrityCheck::kMismatch;
  const size_t value_length = (size_t{bytes[at + 2]} << 8) | bytes[at + 3];
  if (sha256) {
    if (value_length < kMinTruncatedSha256 || value_length > kSha256Size || value_length % 4 != 0) {
      return IntegrityCheck::kMismatch;
    }
  } else if (value_length != kSha1Size) {
    return IntegrityCheck::kMismatch;
  }
  const size_t value_at = at + kAttributeHeaderSize;
  if (value_at + value_length > bytes.size()) return IntegrityCheck::kMismatch;

  // Only the 20-byte header is copied, to patch its length; the body is
  // hashed in place.
  std::array<uint8_t, kHeaderSize> header;
  std::copy_n(bytes.begin(), kHeaderSize, header.begin());
  const size_t patched_length = value_at + value_length - kHeaderSize;
  assert(patched_length <= 0xFFFF);
  header[2] = static_cast<uint8_t>(patched_length >> 8);
  header[3] = static_cast<uint8_t>(patched_length);
  const std::span<const uint8_t> parts[] = {header, bytes.subspan(kHeaderSize, at - kHeaderSize)};

  std::array<uint8_t, kSha256Size> mac{};
  if (sha256) {
    HmacSha256(key, parts, std::span<uint8_t, kSha256Size>(mac.data(), kSha256Size));
  } else {
    HmacSha1(key, parts, std::span<uint8_t, kSha1Size>(mac.data(), kSha1Size));
  }
  // RFC 8489 §14.6: a truncated value is compared over its own length.
  return CRYPTO_memcmp(mac.data(), bytes.data() + value_at, value_length) == 0
             ? IntegrityCheck::kOk
             : IntegrityCheck::kMismatch;
}

}  // namespace

absl::StatusOr<std::string> ShortTermKey(std::string_view password) {
  return OpaqueString(password);  // RFC 8489 §9.1.1
}

absl::StatusOr<Md5Key> LongTermKeyMd5(std::string_view username, std::string_view realm,
                                      std::string_view password) {
  absl::StatusOr<std::string> input = LongTermKeyInput(username, realm, password);
  if (!input.ok()) return input.status();
  return Digest<16>(EVP_md5(), *input);  // RFC 8489 §18.5.1.1
}

absl::StatusOr<Sha256Key> LongTermKeySha256(std::string_view username, std::string_view realm,
                                            std::string_view password) {
  absl::StatusOr<std::string> input = LongTermKeyInput(username, realm, password);
  if (!input.ok()) return input.status();
  return Digest<32>(EVP_sha256(), *input);  // RFC 8489 §18.5.1.2
}

absl::StatusOr<Sha256Key> ComputeUserhash(std::string_view username, std::string_view realm) {
  // RFC 8489 §14.4: SHA-256(OpaqueString(username) ":" OpaqueString(realm)).
  absl::StatusOr<std::string> u = OpaqueString(username);
  if (!u.ok()) return u.status();
  absl::StatusOr<std::string> r = OpaqueString(realm);
  if (!r.ok()) return r.status();
  std::string input;
  input.reserve(u->size() + 1 + r->size());
  input.append(*u).append(":").append(*r);
  return Digest<32>(EVP_sha256(), input);
}

void HmacSha1(std::span<const uint8_t> key, std::span<const std::span<const uint8_t>> parts,
              std::span<uint8_t, 20> out) {
  thread_local ThreadMacContext ctx("SHA1");
  ctx.Compute(key, parts, out);
}

void HmacSha256(std::span<const uint8_t> key, std::span<const std::span<const uint8_t>> parts,
                std::span<uint8_t, 32> out) {
  thread_local ThreadMacContext ctx("SHA256");
  ctx.Compute(key, parts, out);
}

IntegrityCheck VerifyMessageIntegrity(const MessageView& m, std::span<const uint8_t> key) {
  return Verify(m, m.message_integrity_offset(), key, /*sha256=*/false);
}

IntegrityCheck VerifyMessageIntegritySha256(const MessageView& m, std::span<const uint8_t> key) {
  return Verify(m, m.message_integrity_sha256_offset(), key, /*sha256=*/true);
}

}  // namespace uturn::stun
