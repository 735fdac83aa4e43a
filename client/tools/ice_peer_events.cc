#include "client/tools/ice_peer_events.h"

#include "stun/text.h"

namespace uturn::client::peer {

std::string LogfmtValue(std::string_view v) {
  bool quote = v.empty();
  for (char ch : v) quote = quote || ch == ' ' || ch == '"' || ch == '=' || ch == '\\';
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out += '\\';
    // Control characters (a newline would end the line) become spaces.
    out += (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ? ' ' : ch;
  }
  out += '"';
  return out;
}

std::string GatheredLine(const IceCandidateInfo& c) {
  return text::Cat("event=gathered type=", ice::ToString(c.candidate.type),
                      " address=", c.address.ToString());
}

std::string SelectedLine(const IceSelectedPair& p) {
  return text::Cat("event=selected local_type=", ice::ToString(p.local.candidate.type),
                      " remote_type=", ice::ToString(p.remote.candidate.type),
                      " local=", p.local.address.ToString(), " remote=", p.remote.address.ToString());
}

std::string DisconnectedLine(std::string_view reason) {
  return text::Cat("event=disconnected reason=", LogfmtValue(reason.empty() ? "unknown" : reason));
}

std::string FailedLine(std::string_view reason) {
  return text::Cat("event=failed reason=", LogfmtValue(reason.empty() ? "unknown" : reason));
}

std::string DataLine(uint64_t sent, uint64_t received) {
  return text::Cat("event=data sent=", sent, " received=", received);
}

std::string ErrorLine(std::string_view what) { return text::Cat("event=error what=", LogfmtValue(what)); }

std::string RoleLine(ice::Role role) {
  return text::Cat("event=role role=", role == ice::Role::kControlling ? "controlling" : "controlled");
}

std::array<uint8_t, kDatagramSize> MakeDatagram(uint32_t sequence) {
  std::array<uint8_t, kDatagramSize> d{};
  d[0] = kDatagramMarker;
  d[1] = static_cast<uint8_t>(sequence >> 24);
  d[2] = static_cast<uint8_t>(sequence >> 16);
  d[3] = static_cast<uint8_t>(sequence >> 8);
  d[4] = static_cast<uint8_t>(sequence);
  for (size_t i = 5; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i);  // "the rest any value"
  return d;
}

std::optional<uint32_t> DatagramSequence(std::span<const uint8_t> bytes) {
  if (bytes.size() != kDatagramSize || bytes[0] != kDatagramMarker) return std::nullopt;
  return (uint32_t{bytes[1]} << 24) | (uint32_t{bytes[2]} << 16) | (uint32_t{bytes[3]} << 8) |
         uint32_t{bytes[4]};
}

bool EnoughEchoed(uint64_t sent, uint64_t received) {
  // received >= 0.9 * sent, in integers.
  return sent > 0 && received * 10 >= sent * 9;
}

}  // namespace uturn::client::peer
