// uturn-load: drives a TURN server on loopback and reports what it relayed.
// See README.md for usage.
#include <iostream>
#include <string_view>
#include <vector>

#include "loadtest/options.h"
#include "loadtest/runner.h"

int main(int argc, char** argv) {
  using namespace uturn::loadtest;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  auto options = ParseOptions(args);
  if (!options.ok()) {
    if (absl::IsNotFound(options.status())) {  // --help
      std::cout << options.status().message();
      return 0;
    }
    std::cerr << "uturn-load: " << options.status().message() << "\n" << Usage();
    return 2;
  }
  auto report = Run(*options, options->quiet ? nullptr : &std::cerr);
  if (!report.ok()) {
    std::cerr << "uturn-load: " << report.status().message() << "\n";
    return 1;
  }
  if (options->json) {
    std::cout << FormatJson(*report) << "\n";
  } else {
    std::cout << FormatHuman(*report);
  }
  return 0;
}
