#include "ice-lite/endpoint/http.h"

#include <cassert>

#include "ice-lite/endpoint/text.h"

namespace uturn::ice::endpoint {
namespace {

HttpParse Error(int status, std::string reason) {
  HttpParse p;
  p.status = HttpParse::Status::kError;
  p.error_status = status;
  p.error_reason = std::move(reason);
  return p;
}

// RFC 9110 §5.6.2 tchar.
bool IsTokenChar(char c) {
  return (c >= '0' && c <= '9') || (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Field values: visible ASCII, obs-text, SP and HTAB (RFC 9110 §5.5); no CTLs.
bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return std::string_view(value);
  }
  return std::nullopt;
}

HttpParse ParseHttpRequest(std::string_view buffered, const HttpLimits& limits) {
  // RFC 9112 §2.2: lines end in CRLF; a bare LF is tolerated as a terminator.
  size_t head_end = buffered.find("\r\n\r\n");
  size_t sep = 4;
  if (const size_t lf = buffered.find("\n\n"); lf != std::string_view::npos && lf < head_end) {
    head_end = lf;
    sep = 2;
  }
  if (head_end == std::string_view::npos) {
    if (buffered.size() > limits.max_header_bytes) return Error(431, "request header too large");
    return {};
  }
  if (head_end > limits.max_header_bytes) return Error(431, "request header too large");

  HttpParse out;
  HttpRequest& req = out.request;
  std::string_view head = buffered.substr(0, head_end);
  bool first = true;
  std::optional<size_t> content_length;
  while (!head.empty() || first) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      // request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
      const size_t sp1 = line.find(' ');
      const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return Error(400, "malformed request line");
      }
      std::string_view method = line.substr(0, sp1);
      std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string_view version = line.substr(sp2 + 1);
      if (!IsToken(method)) return Error(400, "malformed method");
      if (target.empty() || target[0] != '/' || !IsFieldValue(target) ||
          target.find_first_of(" \t") != std::string_view::npos) {
        return Error(400, "request target must be a path");
      }
      if (!version.starts_with("HTTP/")) return Error(400, "malformed HTTP version");
      if (version != "HTTP/1.1" && version != "HTTP/1.0") return Error(505, "HTTP/1.x only");
      req.method = method;
      req.target = target;
      continue;
    }
    if (line.empty()) return Error(400, "empty header line");
    // RFC 9112 §5.2: obsolete line folding is refused.
    if (line[0] == ' ' || line[0] == '\t') return Error(400, "obsolete header line folding");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Error(400, "header field without ':'");
    std::string_view name = line.substr(0, colon);
    // RFC 9112 §5.1: no whitespace between field name and colon.
    if (!IsToken(name)) return Error(400, "malformed header field name");
    std::string_view value = Strip(line.substr(colon + 1));
    if (!IsFieldValue(value)) return Error(400, "control character in header field");
    if (req.headers.size() >= limits.max_headers) return Error(431, "too many header fields");
    std::string lower = Lower(name);
    if (lower == "content-length") {
      // RFC 9110 §8.6: 1*DIGIT; twelve digits are far past any limit.
      std::optional<size_t> parsed = value.size() > 12 ? std::nullopt : ParseUnsigned<size_t>(value);
      if (!parsed) return Error(400, "malformed Content-Length");
      const size_t n = *parsed;
      // RFC 9112 §6.3: differing Content-Length values are an error.
      if (content_length && *content_length != n) return Error(400, "conflicting Content-Length");
      content_length = n;
    } else if (lower == "transfer-encoding") {
      // Bodies by Content-Length only: keeps the parser small and closes the
      // request-smuggling door (RFC 9112 §6.1).
      return Error(501, "Transfer-Encoding is not supported; send Content-Length");
    }
    req.headers.emplace_back(std::move(lower), std::string(value));
  }
  const size_t body_len = content_length.value_or(0);
  if (body_len > limits.max_body_bytes) {
    return Error(413, Cat("body over ", limits.max_body_bytes, " bytes"));
  }
  const size_t body_start = head_end + sep;
  if (buffered.size() - body_start < body_len) return {};  // kNeedMore
  req.body = buffered.substr(body_start, body_len);
  out.consumed = body_start + body_len;
  out.status = HttpParse::Status::kComplete;
  assert(out.consumed <= buffered.size());
  return out;
}

const char* HttpReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string SerializeResponse(const HttpResponse& r) {
  std::string out = Cat("HTTP/1.1 ", r.status, " ", HttpReason(r.status), "\r\n");
  for (const auto& [name, value] : r.headers) out += Cat(name, ": ", value, "\r\n");
  out += Cat("Content-Length: ", r.body.size(), "\r\nConnection: close\r\n\r\n", r.body);
  return out;
}

}  // namespace uturn::ice::endpoint
