// The endpoint's sans-IO pieces without the process: the bounded HTTP/1.1
// request parser, response serialisation, option parsing, JSON escaping and
// the DTLS identity.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ice-lite/endpoint/dtls_identity.h"
#include "ice-lite/endpoint/http.h"
#include "ice-lite/endpoint/json_line.h"
#include "ice-lite/endpoint/options.h"

namespace uturn::ice::endpoint {
namespace {

using Status = HttpParse::Status;

TEST(HttpParser, CompleteRequestWithBody) {
  const std::string raw =
      "POST /whip?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:  application/sdp \r\n"
      "Content-Length: 5\r\n\r\nv=0\r\nEXTRA";
  HttpParse p = ParseHttpRequest(raw, {});
  ASSERT_EQ(p.status, Status::kComplete) << p.error_reason;
  EXPECT_EQ(p.request.method, "POST");
  EXPECT_EQ(p.request.target, "/whip?x=1");
  EXPECT_EQ(p.request.Header("content-type"), "application/sdp");
  EXPECT_EQ(p.request.Header("host"), "a");
  EXPECT_FALSE(p.request.Header("accept").has_value());
  EXPECT_EQ(p.request.body, "v=0\r\n");
  EXPECT_EQ(p.consumed, raw.size() - 5);
}

TEST(HttpParser, NeedsMoreUntilHeaderAndBodyAreIn) {
  const std::string raw = "POST /whip HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
  for (size_t n = 0; n < raw.size(); ++n) {
    EXPECT_EQ(ParseHttpRequest(raw.substr(0, n), {}).status, Status::kNeedMore) << n;
  }
  EXPECT_EQ(ParseHttpRequest(raw, {}).status, Status::kComplete);
}

TEST(HttpParser, BareLineFeedsAndNoBody) {
  HttpParse p = ParseHttpRequest("DELETE /whip/ab HTTP/1.0\nHost: x\n\n", {});
  ASSERT_EQ(p.status, Status::kComplete) << p.error_reason;
  EXPECT_EQ(p.request.method, "DELETE");
  EXPECT_TRUE(p.request.body.empty());
}

struct BadCase {
  std::string raw;
  int status;
};

class HttpParserErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(HttpParserErrors, Refused) {
  HttpLimits limits;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  limits.max_body_bytes = 100;
  HttpParse p = ParseHttpRequest(GetParam().raw, limits);
  ASSERT_EQ(p.status, Status::kError);
  EXPECT_EQ(p.error_status, GetParam().status);
  EXPECT_FALSE(p.error_reason.empty());
}

INSTANTIATE_TEST_SUITE_P(
    All, HttpParserErrors,
    ::testing::Values(
        BadCase{"GET\r\n\r\n", 400},                                     // no target
        BadCase{"GET /a b HTTP/1.1\r\n\r\n", 400},                       // extra space
        BadCase{"G(T / HTTP/1.1\r\n\r\n", 400},                          // bad method token
        BadCase{"GET http://x/ HTTP/1.1\r\n\r\n", 400},                  // absolute-form
        BadCase{"GET / FTP/1.1\r\n\r\n", 400},                           // not HTTP
        BadCase{"GET / HTTP/2\r\n\r\n", 505},                            // version
        BadCase{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},               // header
        BadCase{"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},           // space in name
        BadCase{"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},       // obs-fold
        BadCase{"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400},              // control char
        BadCase{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},   // sign
        BadCase{"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},   // junk
        BadCase{"POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        BadCase{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        BadCase{"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413},  // over the body limit
        BadCase{"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431},
        BadCase{"GET / HTTP/1.1\r\nA: " + std::string(300, 'x') + "\r\n\r\n", 431},
        // Too large even before the header ends.
        BadCase{"GET / HTTP/1.1\r\nA: " + std::string(300, 'x'), 431}));

TEST(HttpParser, SameContentLengthTwiceIsAccepted) {
  HttpParse p = ParseHttpRequest("POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx", {});
  EXPECT_EQ(p.status, Status::kComplete);
}

TEST(HttpResponse, Serialises) {
  HttpResponse r;
  r.status = 201;
  r.headers = {{"Location", "/whip/1"}};
  r.body = "abc";
  EXPECT_EQ(SerializeResponse(r),
            "HTTP/1.1 201 Created\r\nLocation: /whip/1\r\nContent-Length: 3\r\n"
            "Connection: close\r\n\r\nabc");
  for (int s : {200, 204, 400, 404, 405, 413, 415, 431, 501, 503, 505}) {
    EXPECT_STRNE(HttpReason(s), "Unknown") << s;
  }
}

TEST(Options, ParsesEverything) {
  absl::StatusOr<Options> o = ParseOptions({"--listen", "127.0.0.1:3478", "--http=[::1]:8080",
                                            "--consent-timeout", "6", "--disconnected-after=0.5",
                                            "--connect-timeout", "7"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->listen.ToString(), "127.0.0.1:3478");
  EXPECT_EQ(o->http.ToString(), "[::1]:8080");
  EXPECT_EQ(o->consent_timeout, absl::Seconds(6));
  EXPECT_EQ(o->disconnected_after, absl::Milliseconds(500));
  EXPECT_EQ(o->connect_timeout, absl::Seconds(7));
  EXPECT_FALSE(o->help);
}

TEST(Options, DefaultsAndHelp) {
  absl::StatusOr<Options> o = ParseOptions({"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->consent_timeout, absl::Seconds(30));  // RFC 7675 §5.1
  EXPECT_EQ(o->disconnected_after, absl::Seconds(5));
  EXPECT_EQ(o->connect_timeout, absl::Seconds(30));
  EXPECT_TRUE(ParseOptions({"--help"})->help);
  EXPECT_TRUE(ParseOptions({"-h"})->help);
  EXPECT_NE(HelpText().find("--consent-timeout"), std::string::npos);
}

TEST(Options, Errors) {
  const std::vector<std::vector<std::string_view>> bad = {
      {},
      {"--listen", "127.0.0.1:0"},
      {"--http", "127.0.0.1:0"},
      {"--listen", "127.0.0.1:0", "--http"},
      {"--listen", "localhost:1", "--http", "127.0.0.1:0"},
      {"--listen", "0.0.0.0:1", "--http", "127.0.0.1:0"},
      {"--listen", "[::]:1", "--http", "127.0.0.1:0"},
      {"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--what"},
      {"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--consent-timeout", "0"},
      {"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--consent-timeout", "nan"},
      {"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--consent-timeout", "1e9"},
      {"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--disconnected-after", "30"},
      {"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--connect-timeout", "-1"},
  };
  for (const auto& args : bad) {
    absl::StatusOr<Options> o = ParseOptions(args);
    EXPECT_FALSE(o.ok()) << (args.empty() ? "(none)" : std::string(args.back()));
    if (!o.ok()) {
      EXPECT_FALSE(o.status().message().empty());
    }
  }
}

TEST(JsonLine, EscapesAndFormats) {
  EXPECT_EQ(JsonLine("x").Str("a", "q\"\\\n\x01").Num("n", 42).Bool("b", true).Done(),
            "{\"event\":\"x\",\"a\":\"q\\\"\\\\\\n\\u0001\",\"n\":42,\"b\":true}");
  EXPECT_EQ(JsonLine("y").Real("s", 1.5).Done(), "{\"event\":\"y\",\"s\":1.500}");
}

TEST(DtlsIdentity, FingerprintIsTheCertificatesSha256) {
  absl::StatusOr<DtlsIdentity> id = GenerateDtlsIdentity();
  ASSERT_TRUE(id.ok()) << id.status();
  // Recompute the digest from the PEM, independently of the generator.
  BIO* bio = BIO_new_mem_buf(id->certificate_pem.data(), static_cast<int>(id->certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  unsigned char md[32];
  unsigned int len = 0;
  ASSERT_EQ(X509_digest(cert, EVP_sha256(), md, &len), 1);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  EXPECT_EQ(X509_verify(cert, key), 1);  // self-signed
  X509_free(cert);
  char hex[4];
  std::string want = "sha-256 ";
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
    want += hex;
  }
  EXPECT_EQ(id->fingerprint, want);
  // A fresh key each time.
  EXPECT_NE(GenerateDtlsIdentity()->fingerprint, id->fingerprint);
}

}  // namespace
}  // namespace uturn::ice::endpoint
