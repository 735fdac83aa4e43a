// The endpoint's DTLS identity (RFC 8827 §6.5, RFC 8122): a self-signed
// ECDSA P-256 certificate made at start, of which answers carry the SHA-256
// fingerprint. DTLS itself is not terminated yet; the fingerprint makes the
// answer one a browser accepts.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace uturn::ice::endpoint {

struct DtlsIdentity {
  std::string fingerprint;  // "sha-256 AB:CD:..." (RFC 8122 §5)
  std::string certificate_pem;
};

absl::StatusOr<DtlsIdentity> GenerateDtlsIdentity();

}  // namespace uturn::ice::endpoint
