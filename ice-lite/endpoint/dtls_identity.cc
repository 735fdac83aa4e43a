#include "ice-lite/endpoint/dtls_identity.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/status/status.h"
#include "ice-lite/endpoint/text.h"

namespace uturn::ice::endpoint {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

absl::Status OpenSslError(const char* what) {
  return absl::InternalError(Cat("OpenSSL: ", what, " failed"));
}

}  // namespace

absl::StatusOr<DtlsIdentity> GenerateDtlsIdentity() {
  // ECDSA P-256: what browsers generate for their own DTLS certificates.
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError("P-256 key generation");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslError("X509_new");

  // A random positive 64-bit serial number.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    return OpenSslError("serial number");
  }
  // Valid from a day ago (clock skew) for 30 days: the process is short-lived.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 86400)) {
    return OpenSslError("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("ice-lite-endpoint"), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return OpenSslError("subject");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return OpenSslError("X509_sign");

  // RFC 8122 §5: the hash of the DER certificate, upper-case hex pairs
  // joined by colons.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1 || md_len != 32) {
    return OpenSslError("X509_digest");
  }
  DtlsIdentity id;
  id.fingerprint = "sha-256 ";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned int i = 0; i < md_len; ++i) {
    if (i) id.fingerprint += ':';
    id.fingerprint += kHex[md[i] >> 4];
    id.fingerprint += kHex[md[i] & 0xf];
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) return OpenSslError("PEM_write");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  id.certificate_pem.assign(data, static_cast<size_t>(len));
  return id;
}

}  // namespace uturn::ice::endpoint
