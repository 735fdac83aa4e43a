// ice-lite-endpoint: an example ICE-lite media endpoint (ice-lite/README.md,
// section "ice-lite-endpoint").
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "ice-lite/endpoint/dtls_identity.h"
#include "ice-lite/endpoint/endpoint_loop.h"
#include "ice-lite/endpoint/options.h"

namespace ep = uturn::ice::endpoint;

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  absl::StatusOr<ep::Options> options = ep::ParseOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "ice-lite-endpoint: %s (see --help)\n",
                 std::string(options.status().message()).c_str());
    return ep::kExitUsage;
  }
  if (options->help) {
    std::fputs(ep::HelpText().c_str(), stdout);
    return ep::kExitOk;
  }
  absl::StatusOr<ep::DtlsIdentity> identity = ep::GenerateDtlsIdentity();
  if (!identity.ok()) {
    std::fprintf(stderr, "ice-lite-endpoint: %s\n", std::string(identity.status().message()).c_str());
    return ep::kExitFailure;
  }
  ep::EndpointLoop loop(*std::move(options), *std::move(identity));
  if (absl::Status s = loop.Open(); !s.ok()) {
    std::fprintf(stderr, "ice-lite-endpoint: %s\n", std::string(s.message()).c_str());
    return ep::kExitFailure;
  }
  if (absl::Status s = loop.Run(); !s.ok()) {
    std::fprintf(stderr, "ice-lite-endpoint: %s\n", std::string(s.message()).c_str());
    return ep::kExitFailure;
  }
  return ep::kExitOk;
}
