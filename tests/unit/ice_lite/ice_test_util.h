// Test helpers for the ICE-lite library: connectivity checks shaped the way
// real full agents send them (built with the STUN codec, not by hand), a
// recording SessionOutput/RouterOutput, and response decoding.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ice-lite/ice_types.h"
#include "ice-lite/lite_session.h"
#include "ice-lite/router.h"
#include "stun/attributes.h"
#include "stun/constants.h"
#include "stun/integrity.h"
#include "stun/message_builder.h"
#include "stun/message_view.h"

namespace uturn::ice::testing {

// Chrome's GOOG-NETWORK-INFO (comprehension-optional; must be ignored).
inline constexpr uint16_t kGoogNetworkInfo = 0xC057;

inline absl::Time T0() { return absl::FromUnixSeconds(1'700'000'000); }

inline stun::SocketAddress V4(uint8_t last, uint16_t port) {
  return stun::SocketAddress::V4({192, 0, 2, last}, port);
}
inline stun::SocketAddress V6(uint8_t last, uint16_t port) {
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[15] = last;
  return stun::SocketAddress::V6(ip, port);
}
inline stun::SocketAddress ServerV4() { return stun::SocketAddress::V4({198, 51, 100, 1}, 3478); }
inline stun::SocketAddress ServerV6() {
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return stun::SocketAddress::V6(ip, 3478);
}
inline Tuple UdpTuple(const stun::SocketAddress& remote,
                      const stun::SocketAddress& local = ServerV4()) {
  return Tuple{remote, local, Transport::kUdp};
}

// Everything a full agent may put in a check. The defaults make a valid
// check; tests knock out or alter one thing at a time.
struct CheckSpec {
  std::optional<std::string> username;  // "local:remote"
  std::string key_pwd;                  // the password MI is computed with
  std::optional<uint32_t> priority = 0x6E7F1EFF;
  std::optional<uint64_t> controlling = 0x1122334455667788ull;
  std::optional<uint64_t> controlled;
  bool use_candidate = false;
  std::optional<uint32_t> nomination;
  bool goog_network_info = false;
  bool software = false;
  bool integrity = true;
  bool fingerprint = true;
  bool corrupt_fingerprint = false;
  bool cookie = true;
  uint16_t type = stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kRequest);
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> extra;  // before MI
  // Attribute order differs by agent; the codec must not care.
  enum class Order : uint8_t { kChrome, kFirefox, kLibnice } order = Order::kChrome;
};

// One built message plus a view of it (parsed without FINGERPRINT
// verification so that a corrupted one still reaches the session).
class Packet {
 public:
  explicit Packet(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::span<const uint8_t> bytes() const { return bytes_; }
  stun::MessageView View() const {
    stun::MessageView v;
    stun::ParseOptions o;
    o.verify_fingerprint = false;
    const stun::ParseError e = stun::MessageView::Parse(bytes_, &v, o);
    EXPECT_EQ(e, stun::ParseError::kNone) << stun::ToString(e);
    return v;
  }

 private:
  std::vector<uint8_t> bytes_;
};

inline uint32_t NextTxSeed() {
  static uint32_t seed = 1;
  return seed++;
}

inline Packet BuildCheck(const CheckSpec& s) {
  std::array<uint8_t, stun::kTransactionIdSize> txid{};
  const uint32_t seed = NextTxSeed();
  for (size_t i = 0; i < txid.size(); ++i) txid[i] = static_cast<uint8_t>(seed >> (8 * (i % 4)) ^ i);
  std::vector<uint8_t> buf(1024);
  const uint32_t cookie = s.cookie ? stun::kMagicCookie : 0x01020304;
  stun::MessageBuilder b(buf, s.type, txid, cookie);
  auto add_username = [&] {
    if (s.username) b.AddString(stun::attr::kUsername, *s.username);
  };
  auto add_role = [&] {
    if (s.controlling) b.AddU64(stun::attr::kIceControlling, *s.controlling);
    if (s.controlled) b.AddU64(stun::attr::kIceControlled, *s.controlled);
  };
  auto add_priority = [&] {
    if (s.priority) b.AddU32(stun::attr::kPriority, *s.priority);
  };
  auto add_nomination = [&] {
    if (s.use_candidate) b.AddFlag(stun::attr::kUseCandidate);
    if (s.nomination) b.AddU32(stun::attr::kNomination, *s.nomination);
  };
  switch (s.order) {
    case CheckSpec::Order::kChrome:
      add_username();
      if (s.goog_network_info) {
        const uint8_t info[4] = {0x00, 0x01, 0x00, 0x0a};  // network id, cost
        b.Add(kGoogNetworkInfo, info);
      }
      add_role();
      add_nomination();
      add_priority();
      break;
    case CheckSpec::Order::kFirefox:
      add_priority();
      add_nomination();
      add_role();
      add_username();
      break;
    case CheckSpec::Order::kLibnice:
      add_username();
      add_priority();
      add_role();
      add_nomination();
      break;
  }
  if (s.software) b.AddString(stun::attr::kSoftware, "libnice");
  for (const auto& [type, value] : s.extra) b.Add(type, value);
  if (s.integrity) b.AddMessageIntegrity(stun::KeyBytes(s.key_pwd));
  if (s.fingerprint) b.AddFingerprint();
  EXPECT_TRUE(b.ok());
  std::vector<uint8_t> out(b.bytes().begin(), b.bytes().end());
  if (s.corrupt_fingerprint) out.back() ^= 0x01;
  return Packet(std::move(out));
}

// Chrome: regular nomination (USE-CANDIDATE only when nominating) or
// renomination (NOMINATION with an increasing value), GOOG-NETWORK-INFO.
inline CheckSpec ChromeCheck(const Credentials& server, const std::string& client_ufrag,
                             bool nominate = false, std::optional<uint32_t> nomination = {}) {
  CheckSpec s;
  s.username = server.ufrag + ":" + client_ufrag;
  s.key_pwd = server.pwd;
  s.use_candidate = nominate;
  s.nomination = nomination;
  s.goog_network_info = true;
  s.order = CheckSpec::Order::kChrome;
  return s;
}
// Firefox: aggressive nomination, USE-CANDIDATE on every check.
inline CheckSpec FirefoxCheck(const Credentials& server, const std::string& client_ufrag,
                              uint32_t priority = 0x6E7F1EFF) {
  CheckSpec s;
  s.username = server.ufrag + ":" + client_ufrag;
  s.key_pwd = server.pwd;
  s.use_candidate = true;
  s.priority = priority;
  s.controlling = 0x0102030405060708ull;
  s.goog_network_info = false;
  s.order = CheckSpec::Order::kFirefox;
  return s;
}
// libnice: aggressive nomination too, SOFTWARE, its own attribute order.
inline CheckSpec LibniceCheck(const Credentials& server, const std::string& client_ufrag,
                              uint32_t priority = 0x6E7F1EFF) {
  CheckSpec s = FirefoxCheck(server, client_ufrag, priority);
  s.software = true;
  s.order = CheckSpec::Order::kLibnice;
  return s;
}

// A decoded response, checked with the codec.
struct Response {
  stun::MessageClass cls{};
  int error_code = 0;
  std::optional<stun::SocketAddress> xor_mapped;
  bool has_integrity = false;
  bool integrity_ok = false;  // against the password given to Decode
  bool fingerprint_ok = false;
  std::vector<uint16_t> unknown;
  std::array<uint8_t, stun::kTransactionIdSize> txid{};
};

inline Response Decode(std::span<const uint8_t> bytes, const std::string& pwd) {
  Response r;
  stun::MessageView v;
  // Default options verify FINGERPRINT when present.
  const stun::ParseError e = stun::MessageView::Parse(bytes, &v);
  EXPECT_EQ(e, stun::ParseError::kNone) << stun::ToString(e);
  if (e != stun::ParseError::kNone) return r;
  EXPECT_EQ(v.method(), static_cast<uint16_t>(stun::Method::kBinding));
  r.cls = v.message_class();
  std::copy(v.transaction_id().begin(), v.transaction_id().end(), r.txid.begin());
  if (auto ec = stun::GetErrorCode(v); ec.ok()) r.error_code = ec.value.code;
  if (auto xa = stun::GetXorMappedAddress(v); xa.ok()) r.xor_mapped = xa.value;
  r.has_integrity = v.message_integrity_offset().has_value();
  r.integrity_ok =
      stun::VerifyMessageIntegrity(v, stun::KeyBytes(pwd)) == stun::IntegrityCheck::kOk;
  r.fingerprint_ok = v.fingerprint_offset().has_value();
  stun::ForEachUnknownAttribute(v, [&](uint16_t t) { r.unknown.push_back(t); });
  return r;
}

inline std::array<uint8_t, stun::kTransactionIdSize> TxidOf(const Packet& p) {
  std::array<uint8_t, stun::kTransactionIdSize> t{};
  std::copy(p.bytes().begin() + 8, p.bytes().begin() + 20, t.begin());
  return t;
}

struct Sent {
  Tuple tuple;
  std::vector<uint8_t> bytes;
};

class RecordingOutput : public SessionOutput {
 public:
  void SendStun(const Tuple& tuple, std::span<const uint8_t> bytes) override {
    sent.push_back({tuple, std::vector<uint8_t>(bytes.begin(), bytes.end())});
  }
  void OnEvent(const SessionEvent& event) override {
    events.push_back(event);
    if (on_event) on_event(event);
  }
  size_t Count(SessionEvent::Kind k) const {
    size_t n = 0;
    for (const auto& e : events) n += e.kind == k ? 1 : 0;
    return n;
  }
  std::vector<SessionEvent::Kind> Kinds() const {
    std::vector<SessionEvent::Kind> k;
    for (const auto& e : events) k.push_back(e.kind);
    return k;
  }
  std::vector<Sent> sent;
  std::vector<SessionEvent> events;
  std::function<void(const SessionEvent&)> on_event;
};

struct RouterEvent {
  SessionId id;
  SessionEvent event;
};
struct MediaPacket {
  SessionId id;
  Tuple tuple;
  std::vector<uint8_t> bytes;
};

class RecordingRouterOutput : public RouterOutput {
 public:
  void Send(const Tuple& tuple, std::span<const uint8_t> bytes) override {
    sent.push_back({tuple, std::vector<uint8_t>(bytes.begin(), bytes.end())});
  }
  void OnSessionEvent(SessionId id, const SessionEvent& event) override {
    events.push_back({id, event});
    if (on_event) on_event(id, event);
  }
  void OnMedia(SessionId id, const Tuple& tuple, std::span<const uint8_t> packet) override {
    media.push_back({id, tuple, std::vector<uint8_t>(packet.begin(), packet.end())});
  }
  size_t Count(SessionEvent::Kind k, std::optional<SessionId> id = {}) const {
    size_t n = 0;
    for (const auto& e : events) n += (e.event.kind == k && (!id || e.id == *id)) ? 1 : 0;
    return n;
  }
  std::vector<Sent> sent;
  std::vector<RouterEvent> events;
  std::vector<MediaPacket> media;
  std::function<void(SessionId, const SessionEvent&)> on_event;
};

// Deterministic "CSPRNG" for credential tests: a counter stream.
inline RandomSource CounterRandom(uint8_t start) {
  auto state = std::make_shared<uint8_t>(start);
  return [state](std::span<uint8_t> out) {
    for (uint8_t& b : out) b = (*state)++;
  };
}

inline Credentials Creds(const std::string& ufrag) {
  // 22+ ice-chars: RFC 8839 §5.4.
  return Credentials{ufrag, ufrag + "pwdpwdpwdpwdpwdpwdpwdpwd"};
}

}  // namespace uturn::ice::testing
