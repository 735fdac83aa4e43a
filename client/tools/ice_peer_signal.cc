#include "client/tools/ice_peer_signal.h"

#include <cassert>
#include <utility>

#include "stun/text.h"

namespace uturn::client::peer {

std::vector<std::string> LineSplitter::Feed(std::string_view bytes, size_t* overlong) {
  std::vector<std::string> lines;
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view chunk = bytes.substr(0, nl);
    if (!discarding_) {
      if (partial_.size() + chunk.size() > max_line_) {
        discarding_ = true;
        partial_.clear();
        if (overlong) ++*overlong;
      } else {
        partial_.append(chunk);
      }
    }
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
    if (!discarding_) {
      if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
      lines.push_back(std::move(partial_));
    }
    partial_.clear();
    discarding_ = false;
  }
  assert(partial_.size() <= max_line_);
  return lines;
}

std::optional<std::string> LineSplitter::Finish() {
  std::optional<std::string> rest;
  if (!discarding_ && !partial_.empty()) rest = std::move(partial_);
  partial_.clear();
  discarding_ = false;
  return rest;
}

std::vector<SignalAction> SignalReader::Line(std::string_view raw) {
  std::vector<SignalAction> out;
  const std::string_view line = text::Strip(raw);
  if (!line.starts_with("a=")) return out;  // ICE-PEER.md: any other line is ignored
  const std::string_view attr = line.substr(2);
  auto error = [&](std::string text) {
    SignalAction a;
    a.kind = SignalAction::Kind::kError;
    a.error = std::move(text);
    out.push_back(std::move(a));
    return out;
  };

  if (attr.starts_with("ice-ufrag:") || attr.starts_with("ice-pwd:")) {
    const bool is_ufrag = attr.starts_with("ice-ufrag:");
    const std::string_view v = attr.substr(attr.find(':') + 1);
    // RFC 8839 §5.4: ufrag 4..256 ice-chars, pwd 22..256.
    if (is_ufrag ? !ice::IsValidUfrag(v) : !ice::IsValidPwd(v)) {
      return error(text::Cat("malformed a=", is_ufrag ? "ice-ufrag" : "ice-pwd", " ignored"));
    }
    (is_ufrag ? ufrag_ : pwd_) = std::string(v);
    if (!ufrag_ || !pwd_) return out;
    ice::Credentials c{*ufrag_, *pwd_};
    // A half-changed pair waits for its other half (RFC 8839 §5.4: they change together).
    if (current_ && (c.ufrag == current_->ufrag || c.pwd == current_->pwd)) return out;
    const bool first = !current_;
    current_ = c;
    end_of_candidates_ = false;  // a restart starts a new generation (RFC 8838 §13)
    SignalAction a;
    a.kind = SignalAction::Kind::kCredentials;
    a.credentials = std::move(c);
    out.push_back(std::move(a));
    if (first) {
      for (SignalAction& h : held_) {
        if (h.kind == SignalAction::Kind::kEndOfCandidates) end_of_candidates_ = true;
        out.push_back(std::move(h));
      }
    }
    held_.clear();
    return out;
  }

  SignalAction a;
  if (attr.starts_with("candidate:")) {
    absl::StatusOr<ice::Candidate> c = ice::ParseCandidate(attr);
    if (!c.ok()) return error(text::Cat("malformed a=candidate ignored: ", c.status().message()));
    a.kind = SignalAction::Kind::kCandidate;
    a.candidate = *std::move(c);
  } else if (attr == "end-of-candidates") {
    a.kind = SignalAction::Kind::kEndOfCandidates;
  } else if (attr == "ice-lite") {
    a.kind = SignalAction::Kind::kLite;
    out.push_back(std::move(a));  // the role does not wait for credentials
    return out;
  } else {
    return out;  // ice-options and everything else: ignored
  }
  if (!current_) {
    if (held_.size() >= kMaxHeldCandidates) {
      return error("candidate before a=ice-ufrag/a=ice-pwd dropped: too many held");
    }
    held_.push_back(std::move(a));
    return out;
  }
  if (a.kind == SignalAction::Kind::kEndOfCandidates) end_of_candidates_ = true;
  out.push_back(std::move(a));
  return out;
}

std::vector<std::string> CredentialLines(const ice::Credentials& c) {
  return {text::Cat("a=ice-ufrag:", c.ufrag), text::Cat("a=ice-pwd:", c.pwd),
          "a=ice-options:trickle"};
}

std::string CandidateLine(const ice::Candidate& c) { return text::Cat("a=", ice::FormatCandidate(c)); }

}  // namespace uturn::client::peer
