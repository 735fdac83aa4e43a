// The configuration file format: one `name = value` per line, or a bare
// `name` for a flag; names are the long option names without the leading
// dashes; lines whose first non-blank character is '#' are comments. Values
// are taken verbatim after trimming blanks (so a value may contain '#', which
// secrets often do); one pair of surrounding double quotes is removed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace uturn::server {

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;  // nullopt for a bare `name`
  int line = 0;                      // 1-based, for error messages
};

// Splits `text` into entries. Errors carry "<source>:<line>: ..." and are
// about syntax only; option names and values are checked by options.cc.
absl::StatusOr<std::vector<ConfigEntry>> ParseConfigText(std::string_view text,
                                                         std::string_view source);

// Reads and parses a file; a missing or unreadable file is an error naming it.
absl::StatusOr<std::vector<ConfigEntry>> ReadConfigFile(const std::string& path);

}  // namespace uturn::server
