// Small string helpers over std::string_view. Debian's Abseil is built with
// its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so absl::StrCat
// does not take std::string_view; these do.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

namespace uturn::server {

namespace text_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
}  // namespace text_internal

template <typename... T>
std::string Cat(const T&... parts) {
  std::string out;
  (text_internal::Append(out, parts), ...);
  return out;
}

inline std::string_view StripBlanks(std::string_view s) {
  constexpr std::string_view kBlanks = " \t\r\n\f\v";
  const size_t first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kBlanks) - first + 1);
}

}  // namespace uturn::server
