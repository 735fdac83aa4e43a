#include "ice-lite/endpoint/json_line.h"

#include "ice-lite/endpoint/text.h"
#include "absl/strings/str_format.h"

namespace uturn::ice::endpoint {

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Control characters must be escaped; bytes >= 0x80 pass through
        // (log fields are ASCII or UTF-8 from our own code).
        if (u < 0x20) {
          out += absl::StrFormat("\\u%04x", u);
        } else {
          out += c;
        }
    }
  }
  return out;
}

JsonLine::JsonLine(std::string_view event) {
  text_ = Cat("{\"event\":\"", JsonEscape(event), "\"");
}

void JsonLine::Key(std::string_view key) { text_ += Cat(",\"", JsonEscape(key), "\":"); }

JsonLine& JsonLine::Str(std::string_view key, std::string_view value) {
  Key(key);
  text_ += Cat("\"", JsonEscape(value), "\"");
  return *this;
}
JsonLine& JsonLine::Num(std::string_view key, uint64_t value) {
  Key(key);
  text_ += std::to_string(value);
  return *this;
}
JsonLine& JsonLine::Real(std::string_view key, double value) {
  Key(key);
  text_ += absl::StrFormat("%.3f", value);
  return *this;
}
JsonLine& JsonLine::Bool(std::string_view key, bool value) {
  Key(key);
  text_ += value ? "true" : "false";
  return *this;
}

}  // namespace uturn::ice::endpoint
