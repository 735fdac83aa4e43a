#include "server/config_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "stun/text.h"

namespace uturn::server {
namespace {

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<ConfigEntry>> ParseConfigText(std::string_view text,
                                                         std::string_view source) {
  std::vector<ConfigEntry> entries;
  int line_number = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_number;

    line = text::Strip(line);  // also drops a CR of CRLF files
    if (line.empty() || line.front() == '#') continue;

    ConfigEntry entry;
    entry.line = line_number;
    const size_t eq = line.find('=');
    std::string_view name = text::Strip(line.substr(0, eq));
    if (eq != std::string_view::npos) {
      std::string_view value = text::Strip(line.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      entry.value = std::string(value);
    }
    if (!IsValidName(name)) {
      return absl::InvalidArgumentError(
          text::Cat(source, ":", line_number, ": expected `name = value` or `name`, got \"",
                       line, "\""));
    }
    entry.name = std::string(name);
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<ConfigEntry>> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        text::Cat("cannot read config file \"", path, "\": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(text::Cat("error reading config file \"", path, "\""));
  }
  return ParseConfigText(contents.str(), path);
}

}  // namespace uturn::server
