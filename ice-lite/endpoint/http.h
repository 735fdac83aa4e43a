// A small, bounded HTTP/1.1 request parser and response writer (RFC 9112),
// enough for the WHIP-style endpoint: one request per connection, bodies by
// Content-Length only. Sans-IO: it looks at the bytes read so far.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace uturn::ice::endpoint {

struct HttpLimits {
  size_t max_header_bytes = 8 * 1024;  // request line + header fields
  size_t max_headers = 64;
  size_t max_body_bytes = 64 * 1024;   // an SDP offer is a few KiB
};

struct HttpRequest {
  std::string method;
  std::string target;  // origin-form path (query kept)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // First value of a header (name lower-case), trimmed.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
};

struct HttpParse {
  enum class Status { kNeedMore, kComplete, kError } status = Status::kNeedMore;
  HttpRequest request;  // kComplete
  size_t consumed = 0;  // kComplete: bytes of the request
  int error_status = 0;  // kError: 400, 413, 431, 501 or 505
  std::string error_reason;
};

// Parses the request at the start of `buffered`. kNeedMore while incomplete
// but within the limits; kError as soon as a limit or the grammar is broken
// (a too large Content-Length is refused before the body arrives).
HttpParse ParseHttpRequest(std::string_view buffered, const HttpLimits& limits);

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

const char* HttpReason(int status);
// Status line, the headers, Content-Length and `Connection: close`, body.
std::string SerializeResponse(const HttpResponse& response);

}  // namespace uturn::ice::endpoint
