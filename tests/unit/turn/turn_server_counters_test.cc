// The core's per-method, per-code and per-reason counters (issue 4), and
// the layout promise the server relies on to sum them (flat uint64_t).
#include <set>
#include <type_traits>

#include "stun/channel_data.h"
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

// server/shard.cc sums shards by adding the struct as an array of uint64_t.
static_assert(std::is_trivially_copyable_v<TurnCounters>);
static_assert(std::has_unique_object_representations_v<TurnCounters>);
static_assert(sizeof(TurnCounters) % sizeof(uint64_t) == 0);

constexpr size_t Row(CountedMethod m) { return static_cast<size_t>(m); }
constexpr size_t Reason(AuthFailure f) { return static_cast<size_t>(f); }

class CountersTest : public TurnHarness {
 protected:
  const TurnCounters& c() const { return server->counters(); }
  uint64_t Responses(CountedMethod m, int code) const {
    return c().responses[Row(m)][ResponseColumn(code)];
  }
  // Total of the per-reason table.
  uint64_t ReasonSum() const {
    uint64_t sum = 0;
    for (uint64_t v : c().auth_failures_by_reason) sum += v;
    return sum;
  }
};

TEST(ResponseColumns, EveryCountedCodeHasItsOwnColumn) {
  EXPECT_EQ(ResponseColumn(0), kSuccessColumn);
  std::set<size_t> seen = {kSuccessColumn};
  for (int code : kCountedErrorCodes) {
    const size_t col = ResponseColumn(code);
    EXPECT_LT(col, kOtherCodeColumn) << code;
    EXPECT_TRUE(seen.insert(col).second) << code;
  }
  EXPECT_EQ(ResponseColumn(599), kOtherCodeColumn);
  EXPECT_EQ(ResponseColumn(300), kOtherCodeColumn);
}

TEST(CountedMethods, NamesAndNumbers) {
  EXPECT_EQ(CountedMethodFor(0x001), CountedMethod::kBinding);
  EXPECT_EQ(CountedMethodFor(0x003), CountedMethod::kAllocate);
  EXPECT_EQ(CountedMethodFor(0x004), CountedMethod::kRefresh);
  EXPECT_EQ(CountedMethodFor(0x008), CountedMethod::kCreatePermission);
  EXPECT_EQ(CountedMethodFor(0x009), CountedMethod::kChannelBind);
  EXPECT_EQ(CountedMethodFor(0x006), CountedMethod::kOther);  // Send: not a request
  EXPECT_EQ(CountedMethodName(CountedMethod::kCreatePermission), "create_permission");
  EXPECT_EQ(CountedMethodName(CountedMethod::kChannelBind), "channel_bind");
  EXPECT_EQ(CountedMethodName(CountedMethod::kOther), "other");
  EXPECT_EQ(AuthFailureName(AuthFailure::kBadIntegrity), "bad_integrity");
  EXPECT_EQ(AuthFailureName(AuthFailure::kWrongCredentials), "wrong_credentials");
  EXPECT_EQ(AuthFailureName(AuthFailure::kNone), "");
}

TEST_F(CountersTest, RequestsAndResponsesByMethodAndCode) {
  const SocketAddress peer = V4(198, 51, 100, 7, 5000);
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());  // after a 401 challenge
  ASSERT_EQ(Request(Method::kAllocate, Udp())->code(), 437);
  ASSERT_TRUE(Request(Method::kRefresh, {})->success());
  ASSERT_TRUE(Request(Method::kCreatePermission, Peers({peer}))->success());
  ASSERT_EQ(Request(Method::kCreatePermission, {})->code(), 400);
  ASSERT_TRUE(Request(Method::kChannelBind, Bind(0x4000, peer))->success());
  ASSERT_EQ(Request(Method::kChannelBind, Bind(0x3000, peer))->code(), 400);

  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kAllocate)], 3u);
  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kRefresh)], 1u);
  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kCreatePermission)], 2u);
  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kChannelBind)], 2u);
  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kBinding)], 0u);
  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kOther)], 0u);
  EXPECT_EQ(c().requests, 8u);

  EXPECT_EQ(Responses(CountedMethod::kAllocate, 401), 1u);
  EXPECT_EQ(Responses(CountedMethod::kAllocate, 0), 1u);
  EXPECT_EQ(Responses(CountedMethod::kAllocate, 437), 1u);
  EXPECT_EQ(Responses(CountedMethod::kRefresh, 0), 1u);
  EXPECT_EQ(Responses(CountedMethod::kCreatePermission, 0), 1u);
  EXPECT_EQ(Responses(CountedMethod::kCreatePermission, 400), 1u);
  EXPECT_EQ(Responses(CountedMethod::kChannelBind, 0), 1u);
  EXPECT_EQ(Responses(CountedMethod::kChannelBind, 400), 1u);
  // The per-method table adds up to the old totals.
  uint64_t success = 0, errors = 0;
  for (const auto& row : c().responses) {
    success += row[kSuccessColumn];
    for (size_t col = 1; col < kResponseColumnCount; ++col) errors += row[col];
  }
  EXPECT_EQ(success, c().responses_success);
  EXPECT_EQ(errors, c().responses_error);
  EXPECT_EQ(ReasonSum(), 0u);  // a challenge is not a failure
}

TEST_F(CountersTest, BindingIsCountedPerCodeButNotInTheTurnTotals) {
  const stun::TransactionId tid = NewTid();
  Bytes ok(64);
  MessageBuilder b(ok, stun::EncodeMessageType(Method::kBinding, MessageClass::kRequest), tid);
  ok.resize(b.bytes().size());
  ASSERT_TRUE(Feed(client, ok)->success());
  // 420: an unknown comprehension-required attribute (RFC 8489 §6.3.1).
  Bytes unknown(64);
  MessageBuilder u(unknown, stun::EncodeMessageType(Method::kBinding, MessageClass::kRequest),
                   NewTid());
  const uint8_t v[4] = {0, 0, 0, 0};
  u.Add(0x0777, v);
  unknown.resize(u.bytes().size());
  ASSERT_EQ(Feed(client, unknown)->code(), 420);
  EXPECT_EQ(c().requests_by_method[Row(CountedMethod::kBinding)], 2u);
  EXPECT_EQ(Responses(CountedMethod::kBinding, 0), 1u);
  EXPECT_EQ(Responses(CountedMethod::kBinding, 420), 1u);
  EXPECT_EQ(c().binding_success, 1u);
  EXPECT_EQ(c().binding_errors, 1u);
  EXPECT_EQ(c().requests, 0u);
  EXPECT_EQ(c().responses_success + c().responses_error, 0u);
}

TEST_F(CountersTest, UnparsableRequestOfAnyMethodIsCountedInItsRow) {
  Bytes req = Build(Method::kRefresh, {}, std::nullopt, "", NewTid(), false);
  req[3] = 8;  // length claims an attribute that is not there
  req.resize(req.size() + 8, 0);
  req[stun::kHeaderSize + 3] = 200;  // ...and that one overruns
  ASSERT_EQ(Feed(client, req)->code(), 400);
  EXPECT_EQ(Responses(CountedMethod::kRefresh, 400), 1u);
  Bytes other = req;
  other[1] = 0x0A;  // method 0x00A: not one of ours
  ASSERT_EQ(Feed(client, other)->code(), 400);
  EXPECT_EQ(Responses(CountedMethod::kOther, 400), 1u);
}

TEST_F(CountersTest, AuthFailureReasons) {
  // Wrong password.
  EXPECT_EQ(Request(Method::kAllocate, Udp(), std::nullopt, Credentials{"alice", "x"})->code(),
            401);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kBadIntegrity)], 1u);
  // Unknown user.
  EXPECT_EQ(Request(Method::kAllocate, Udp(), std::nullopt, Credentials{"mallory", "x"})->code(),
            401);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kUnknownUser)], 1u);
  // A nonce that was never issued (438, then the harness retries with the
  // fresh one from the 438, which succeeds).
  const std::string forged(NonceFor(client).size(), 'A');
  auto r = Feed(client, Build(Method::kAllocate, Udp(), Credentials{}, forged, NewTid(), false));
  EXPECT_EQ(r->code(), 438);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kBadNonce)], 1u);
  // An expired one of ours.
  const std::string old = NonceFor(client);
  now += config_.auth.nonce_lifetime + absl::Seconds(1);
  r = Feed(client, Build(Method::kAllocate, Udp(), Credentials{}, old, NewTid(), false));
  EXPECT_EQ(r->code(), 438);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kStaleNonce)], 1u);
  // Integrity without NONCE: 400.
  Bytes no_nonce(256);
  MessageBuilder b(no_nonce, stun::EncodeMessageType(Method::kAllocate, MessageClass::kRequest),
                   NewTid());
  b.AddRequestedTransport(stun::kTransportUdp);
  b.AddString(stun::attr::kUsername, "alice");
  b.AddString(stun::attr::kRealm, config_.auth.realm);
  b.AddMessageIntegrity(*stun::LongTermKeyMd5("alice", config_.auth.realm, "wonderland"));
  no_nonce.resize(b.bytes().size());
  EXPECT_EQ(Feed(client, no_nonce)->code(), 400);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kMissingCredentials)], 1u);
  // 438s are failures by reason but not in the legacy total.
  EXPECT_EQ(c().auth_failures, 3u);
  EXPECT_EQ(ReasonSum(), 5u);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kNone)], 0u);
}

TEST_F(CountersTest, AnotherUsersRequestOnAnAllocationIsWrongCredentials) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  EXPECT_EQ(Request(Method::kRefresh, {}, std::nullopt, Credentials{"bob", "builder"})->code(),
            441);
  EXPECT_EQ(c().auth_failures_by_reason[Reason(AuthFailure::kWrongCredentials)], 1u);
  EXPECT_EQ(Responses(CountedMethod::kRefresh, 441), 1u);
}

TEST_F(CountersTest, SendIndicationsAndChannelDataReceivedAreCountedEvenWhenDropped) {
  const SocketAddress peer = V4(198, 51, 100, 7, 5000);
  Bytes send = Build(
      Method::kSend,
      [&](MessageBuilder& b) {
        b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
        b.Add(stun::attr::kData, Bytes{1, 2, 3});
      },
      std::nullopt, "", NewTid(), false, MessageClass::kIndication);
  Bytes cd(7);
  stun::WriteChannelDataHeader(cd.data(), 0x4000, 3);
  server->OnClientPacket(client, send, now);  // no allocation: dropped
  server->OnClientPacket(client, cd, now);
  EXPECT_EQ(c().send_indications, 1u);
  EXPECT_EQ(c().channel_data, 1u);
  EXPECT_EQ(c().dropped_no_allocation, 2u);
}

}  // namespace
}  // namespace uturn::turn::testing
