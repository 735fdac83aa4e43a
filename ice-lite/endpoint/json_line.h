// One JSON object per log line (the endpoint's event log on stdout).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace uturn::ice::endpoint {

class JsonLine {
 public:
  explicit JsonLine(std::string_view event);
  JsonLine& Str(std::string_view key, std::string_view value);
  JsonLine& Num(std::string_view key, uint64_t value);
  JsonLine& Real(std::string_view key, double value);
  JsonLine& Bool(std::string_view key, bool value);
  // The object, without a line end.
  std::string Done() const { return text_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string text_;
};

// RFC 8259 §7 string escaping (quotes not included).
std::string JsonEscape(std::string_view s);

}  // namespace uturn::ice::endpoint
