#include "ice-lite/router.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ice_test_util.h"

namespace uturn::ice {
namespace {

using namespace uturn::ice::testing;  // NOLINT: test helpers
using ::testing::UnorderedElementsAre;
using Kind = SessionEvent::Kind;

class IceRouterTest : public ::testing::Test {
 protected:
  void Make(RouterConfig c = {}) { r_ = std::make_unique<Router>(c, &out_); }
  void SetUp() override { Make(); }

  SessionId Add(const std::string& ufrag, SessionConfig cfg = {}) {
    absl::StatusOr<SessionId> id = r_->AddSession(cfg, Creds(ufrag), std::nullopt);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }
  void Feed(const Tuple& t, const CheckSpec& spec) {
    const Packet p = BuildCheck(spec);
    r_->OnPacket(t, p.bytes(), now_);
  }
  void Media(const Tuple& t, uint8_t first_byte) {
    const std::vector<uint8_t> pkt = {first_byte, 0xFE, 0xFD, 0x00, 0x01};
    r_->OnPacket(t, pkt, now_);
  }
  CheckSpec Chrome(const std::string& ufrag, bool nominate = false) {
    return ChromeCheck(Creds(ufrag), "clnt", nominate);
  }

  RecordingRouterOutput out_;
  std::unique_ptr<Router> r_;
  absl::Time now_ = T0();
  const Tuple a_ = UdpTuple(V4(1, 50000));
  const Tuple b_ = UdpTuple(V4(2, 50001));
};

TEST_F(IceRouterTest, FirstCheckRoutedByUfrag) {
  const SessionId s1 = Add("sesA");
  const SessionId s2 = Add("sesB");
  EXPECT_EQ(r_->session_count(), 2u);
  Feed(a_, Chrome("sesB", true));
  ASSERT_EQ(out_.sent.size(), 1u);
  const Response resp = Decode(out_.sent[0].bytes, Creds("sesB").pwd);
  EXPECT_EQ(resp.cls, stun::MessageClass::kSuccessResponse);
  EXPECT_TRUE(resp.integrity_ok);
  EXPECT_EQ(out_.sent[0].tuple, a_);
  EXPECT_EQ(out_.Count(Kind::kTupleAdded, s2), 1u);
  EXPECT_EQ(out_.Count(Kind::kConnected, s2), 1u);
  EXPECT_EQ(out_.Count(Kind::kTupleAdded, s1), 0u);
  EXPECT_TRUE(r_->session(s2)->HasTuple(a_));
  EXPECT_EQ(r_->tuple_count(), 1u);
  EXPECT_EQ(r_->counters().stun_in, 1u);
  EXPECT_EQ(r_->counters().checks_answered, 1u);
  EXPECT_EQ(r_->counters().tuples_added, 1u);
}

TEST_F(IceRouterTest, LaterPacketsRoutedByTuple) {
  const SessionId s = Add("sesA");
  Feed(a_, Chrome("sesA"));
  // No USERNAME: routed by tuple, so the session itself answers 400 (not
  // the router counting a malformed stranger).
  CheckSpec spec = Chrome("sesA");
  spec.username.reset();
  Feed(a_, spec);
  EXPECT_EQ(r_->counters().checks_rejected, 1u);
  EXPECT_EQ(r_->counters().malformed, 0u);
  EXPECT_EQ(Decode(out_.sent.back().bytes, "").error_code, 400);
  // The same from an unknown tuple is a stranger's malformed check.
  Feed(b_, spec);
  EXPECT_EQ(r_->counters().malformed, 1u);
  EXPECT_EQ(out_.sent.size(), 2u);  // not answered by default
  EXPECT_EQ(r_->session(s)->tuples().size(), 1u);
}

TEST_F(IceRouterTest, TupleJoinsOnlyAfterAuthenticatedCheck) {
  const SessionId s = Add("sesA");
  CheckSpec bad = Chrome("sesA", true);
  bad.key_pwd = "notthepasswordnotthepassword";
  Feed(a_, bad);
  EXPECT_EQ(Decode(out_.sent.back().bytes, "").error_code, 401);
  EXPECT_EQ(r_->tuple_count(), 0u);
  Media(a_, 23);  // DTLS application data
  EXPECT_TRUE(out_.media.empty());
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);
  CheckSpec no_prio = Chrome("sesA", true);
  no_prio.priority.reset();
  Feed(a_, no_prio);  // authenticated but rejected (400): still no tuple
  EXPECT_EQ(r_->tuple_count(), 0u);
  Feed(a_, Chrome("sesA"));
  EXPECT_EQ(r_->tuple_count(), 1u);
  Media(a_, 23);
  ASSERT_EQ(out_.media.size(), 1u);
  EXPECT_EQ(out_.media[0].id, s);
  EXPECT_EQ(out_.media[0].tuple, a_);
  EXPECT_EQ(out_.media[0].bytes[0], 23);
}

TEST_F(IceRouterTest, NonStunGoesToOwnerByRfc7983) {
  const SessionId s = Add("sesA");
  Feed(a_, Chrome("sesA", true));
  Media(a_, 22);    // DTLS handshake
  Media(a_, 0x80);  // RTP
  Media(a_, 0xBF);  // RTCP range end
  ASSERT_EQ(out_.media.size(), 3u);
  for (const MediaPacket& m : out_.media) EXPECT_EQ(m.id, s);
  EXPECT_EQ(r_->counters().media_in, 3u);
  Media(b_, 0x80);
  EXPECT_EQ(out_.media.size(), 3u);
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);
  r_->OnPacket(a_, std::span<const uint8_t>(), now_);  // empty datagram
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);  // owner's handler decides
}

TEST_F(IceRouterTest, UnknownUfragFloodLeavesNoState) {
  Add("sesA");
  for (int i = 0; i < 5000; ++i) {
    const Tuple t = UdpTuple(stun::SocketAddress::V4(
        {10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 1},
        static_cast<uint16_t>(1024 + i)));
    Feed(t, ChromeCheck(Creds(absl::StrCat("x", i, "yz")), "clnt", true));
  }
  EXPECT_EQ(r_->counters().unknown_ufrag, 5000u);
  EXPECT_EQ(r_->tuple_count(), 0u);
  EXPECT_EQ(r_->session_count(), 1u);
  EXPECT_TRUE(out_.sent.empty());
  EXPECT_TRUE(out_.events.empty());
  EXPECT_EQ(r_->NextTimeout(), absl::InfiniteFuture());
}

TEST_F(IceRouterTest, UnknownUfragAnsweredStatelesslyWhenConfigured) {
  RouterConfig cfg;
  cfg.answer_unknown_ufrag = true;
  Make(cfg);
  Feed(a_, Chrome("nobody"));
  ASSERT_EQ(out_.sent.size(), 1u);
  const Response resp = Decode(out_.sent[0].bytes, "");
  EXPECT_EQ(resp.error_code, 401);
  EXPECT_FALSE(resp.has_integrity);  // RFC 8489 §9.1.3
  EXPECT_TRUE(resp.fingerprint_ok);
  CheckSpec no_user = Chrome("nobody");
  no_user.username.reset();
  Feed(a_, no_user);
  ASSERT_EQ(out_.sent.size(), 2u);
  EXPECT_EQ(Decode(out_.sent[1].bytes, "").error_code, 400);
  // Without a valid FINGERPRINT it is not an ICE check: silence.
  CheckSpec bad_fp = Chrome("nobody");
  bad_fp.corrupt_fingerprint = true;
  Feed(a_, bad_fp);
  EXPECT_EQ(out_.sent.size(), 2u);
  EXPECT_EQ(r_->tuple_count(), 0u);
}

TEST_F(IceRouterTest, MalformedAndNonRequestStun) {
  Add("sesA");
  std::vector<uint8_t> junk = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42};
  junk.resize(20);  // length says 8, nothing follows
  r_->OnPacket(a_, junk, now_);
  EXPECT_EQ(r_->counters().malformed, 1u);
  CheckSpec ind = Chrome("sesA");
  ind.type = stun::EncodeMessageType(stun::Method::kBinding, stun::MessageClass::kIndication);
  Feed(a_, ind);
  EXPECT_EQ(r_->counters().checks_discarded, 1u);
  EXPECT_EQ(r_->counters().stun_in, 2u);
  EXPECT_TRUE(out_.sent.empty());
}

TEST_F(IceRouterTest, SessionDiscardsBadFingerprintOnKnownTuple) {
  Add("sesA");
  Feed(a_, Chrome("sesA"));
  CheckSpec bad = Chrome("sesA");
  bad.corrupt_fingerprint = true;
  Feed(a_, bad);
  EXPECT_EQ(r_->counters().checks_discarded, 1u);
  EXPECT_EQ(out_.sent.size(), 1u);
}

TEST_F(IceRouterTest, GlobalTupleCap) {
  RouterConfig cfg;
  cfg.max_tuples = 2;
  Make(cfg);
  Add("sesA");
  Add("sesB");
  Feed(a_, Chrome("sesA"));
  Feed(b_, Chrome("sesB"));
  const Tuple c = UdpTuple(V4(3, 3));
  Feed(c, Chrome("sesA"));
  EXPECT_EQ(r_->tuple_count(), 2u);
  EXPECT_EQ(out_.sent.size(), 2u);  // third check dropped unanswered
  EXPECT_EQ(r_->counters().checks_discarded, 1u);
  // Known tuples keep being served at the cap.
  Feed(a_, Chrome("sesA", true));
  EXPECT_EQ(out_.sent.size(), 3u);
}

TEST_F(IceRouterTest, PerSessionTupleCapEvictionUpdatesIndex) {
  SessionConfig sc;
  sc.max_tuples = 2;
  const SessionId s = Add("sesA", sc);
  Feed(a_, Chrome("sesA", true));
  now_ += absl::Seconds(1);
  Feed(b_, Chrome("sesA"));
  now_ += absl::Seconds(1);
  const Tuple c = UdpTuple(V4(3, 3));
  Feed(c, Chrome("sesA"));
  EXPECT_EQ(r_->tuple_count(), 2u);
  EXPECT_EQ(out_.Count(Kind::kTupleRemoved, s), 1u);
  EXPECT_EQ(r_->counters().tuples_removed, 1u);
  Media(b_, 0x80);
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);
  Media(c, 0x80);
  EXPECT_EQ(r_->counters().media_in, 1u);
}

TEST_F(IceRouterTest, AddSessionErrors) {
  RouterConfig cfg;
  cfg.max_sessions = 2;
  Make(cfg);
  Add("sesA");
  EXPECT_EQ(r_->AddSession({}, Creds("sesA"), std::nullopt).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r_->AddSession({}, Credentials{"a:b", Creds("xxxx").pwd}, std::nullopt)
                .status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r_->AddSession({}, Credentials{"good", "short"}, std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  Add("sesB");
  EXPECT_EQ(r_->AddSession({}, Creds("sesC"), std::nullopt).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r_->session_count(), 2u);
}

TEST_F(IceRouterTest, RemoteCredentialsAtAddAreEnforced) {
  absl::StatusOr<SessionId> id =
      r_->AddSession({}, Creds("sesA"), Credentials{"clnt", "clntpwdclntpwdclntpwdxx"});
  ASSERT_TRUE(id.ok());
  CheckSpec other = ChromeCheck(Creds("sesA"), "evil");
  Feed(a_, other);
  EXPECT_EQ(Decode(out_.sent.back().bytes, "").error_code, 401);
  Feed(a_, Chrome("sesA"));
  EXPECT_EQ(r_->tuple_count(), 1u);
}

TEST_F(IceRouterTest, RemoveSessionForgetsUfragsTuplesAndTimers) {
  const SessionId s = Add("sesA");
  Feed(a_, Chrome("sesA", true));
  ASSERT_NE(r_->NextTimeout(), absl::InfiniteFuture());
  const size_t events = out_.events.size();
  r_->RemoveSession(s);
  EXPECT_EQ(r_->session(s), nullptr);
  EXPECT_EQ(r_->session_count(), 0u);
  EXPECT_EQ(r_->tuple_count(), 0u);
  EXPECT_EQ(r_->NextTimeout(), absl::InfiniteFuture());
  EXPECT_EQ(out_.events.size(), events);  // no kTupleRemoved for a removal
  Media(a_, 0x80);
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);
  Feed(a_, Chrome("sesA"));
  EXPECT_EQ(r_->counters().unknown_ufrag, 1u);
  r_->RemoveSession(s);  // twice: harmless
  r_->RemoveSession(999);
  // The ufrag is free again.
  EXPECT_TRUE(r_->AddSession({}, Creds("sesA"), std::nullopt).ok());
}

TEST_F(IceRouterTest, RemoveSessionFromItsOwnEventCallback) {
  const SessionId s = Add("sesA");
  out_.on_event = [&](SessionId id, const SessionEvent& e) {
    if (e.kind == Kind::kSelectedChanged) r_->RemoveSession(id);
  };
  Feed(a_, Chrome("sesA", true));
  EXPECT_EQ(r_->session(s), nullptr);
  EXPECT_EQ(r_->tuple_count(), 0u);
  // kConnected was not reported after the removal.
  EXPECT_EQ(out_.Count(Kind::kConnected), 0u);
  EXPECT_EQ(r_->NextTimeout(), absl::InfiniteFuture());
}

TEST_F(IceRouterTest, RemoveSessionFromTimeoutCallback) {
  const SessionId s1 = Add("sesA");
  const SessionId s2 = Add("sesB");
  Feed(a_, Chrome("sesA", true));
  Feed(b_, Chrome("sesB", true));
  out_.on_event = [&](SessionId, const SessionEvent& e) {
    // The application tears both sessions down on the first failure.
    if (e.kind == Kind::kFailed) {
      r_->RemoveSession(s1);
      r_->RemoveSession(s2);
    }
  };
  r_->HandleTimeout(now_ + absl::Seconds(30));
  EXPECT_EQ(r_->session_count(), 0u);
  EXPECT_EQ(out_.Count(Kind::kFailed), 1u);
  EXPECT_EQ(r_->tuple_count(), 0u);
  EXPECT_EQ(r_->NextTimeout(), absl::InfiniteFuture());
}

TEST_F(IceRouterTest, RestartSessionReindexes) {
  const SessionId s = Add("sesA");
  Feed(a_, Chrome("sesA", true));
  ASSERT_TRUE(r_->RestartSession(s, Creds("sesN")).ok());
  EXPECT_THAT(r_->session(s)->local_ufrags(), UnorderedElementsAre("sesA", "sesN"));
  // Old ufrag still routes (from a new tuple too), new one routes.
  Feed(b_, Chrome("sesA"));
  EXPECT_EQ(r_->counters().checks_answered, 2u);
  const Tuple c = UdpTuple(V4(3, 3));
  Feed(c, Chrome("sesN"));
  EXPECT_EQ(r_->counters().checks_answered, 3u);
  EXPECT_TRUE(Decode(out_.sent.back().bytes, Creds("sesN").pwd).integrity_ok);
  // The restart is complete: the old ufrag is gone from the index.
  const Tuple d = UdpTuple(V4(4, 4));
  Feed(d, Chrome("sesA"));
  EXPECT_EQ(r_->counters().unknown_ufrag, 1u);
  // ...and can be given to a new session.
  EXPECT_TRUE(r_->AddSession({}, Creds("sesA"), std::nullopt).ok());
}

TEST_F(IceRouterTest, RestartSessionErrors) {
  const SessionId s = Add("sesA");
  Add("sesB");
  EXPECT_EQ(r_->RestartSession(s, Creds("sesB")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r_->RestartSession(s, Creds("sesA")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r_->RestartSession(77, Creds("sesC")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r_->RestartSession(s, Credentials{"no", "x"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r_->session(s)->local_ufrags(), UnorderedElementsAre("sesA"));
}

TEST_F(IceRouterTest, ReusedTupleMovesToTheSessionItNowAuthenticatesWith) {
  const SessionId s1 = Add("sesA");
  const SessionId s2 = Add("sesB");
  Feed(a_, Chrome("sesA", true));
  Feed(a_, Chrome("sesB", true));  // USERNAME names another session
  EXPECT_EQ(out_.Count(Kind::kTupleAdded, s2), 1u);
  Media(a_, 0x80);
  ASSERT_EQ(out_.media.size(), 1u);
  EXPECT_EQ(out_.media[0].id, s2);
  // s1 forgetting the tuple later does not unindex s2's.
  r_->RemoveSession(s1);
  EXPECT_EQ(r_->tuple_count(), 1u);
}

// A tuple both sessions hold: when the later owner drops it, the earlier
// one gets it back with its next authenticated check (its consent checks
// keep coming), not never.
TEST_F(IceRouterTest, SharedTupleReturnsToTheOtherHolderOnItsNextCheck) {
  const SessionId s1 = Add("sesA");
  const SessionId s2 = Add("sesB");
  Feed(a_, Chrome("sesA", true));
  Feed(a_, Chrome("sesB", true));
  r_->RemoveSession(s2);
  Media(a_, 0x80);
  EXPECT_TRUE(out_.media.empty()) << "no owner in the index until s1's next check";
  Feed(a_, Chrome("sesA", false));  // s1's consent check
  Media(a_, 0x80);
  ASSERT_EQ(out_.media.size(), 1u);
  EXPECT_EQ(out_.media[0].id, s1);
  EXPECT_EQ(r_->tuple_count(), 1u);
}

TEST_F(IceRouterTest, TcpTuplesAreSeparate) {
  const SessionId s = Add("sesA");
  Tuple tcp = a_;
  tcp.transport = Transport::kTcp;
  Feed(tcp, Chrome("sesA", true));  // one RFC 4571 frame's payload
  Media(a_, 0x80);
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);
  Media(tcp, 0x80);
  ASSERT_EQ(out_.media.size(), 1u);
  EXPECT_EQ(out_.media[0].id, s);
  EXPECT_EQ(out_.media[0].tuple.transport, Transport::kTcp);
}

TEST_F(IceRouterTest, TimersAcrossManySessions) {
  constexpr int kSessions = 1000;
  std::vector<SessionId> ids;
  const absl::Time start = now_;
  for (int i = 0; i < kSessions; ++i) {
    ids.push_back(Add(absl::StrCat("s", i, "xx")));
    now_ = start + absl::Milliseconds(10 * i);  // connected 10 ms apart
    const Tuple t = UdpTuple(stun::SocketAddress::V4(
        {10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}, 4000));
    Feed(t, ChromeCheck(Creds(absl::StrCat("s", i, "xx")), "clnt", true));
  }
  EXPECT_EQ(r_->tuple_count(), static_cast<size_t>(kSessions));
  EXPECT_EQ(r_->NextTimeout(), start + absl::Seconds(5));
  // Half a second after the first deadline: sessions 0..50 are due.
  r_->HandleTimeout(start + absl::Seconds(5) + absl::Milliseconds(500));
  EXPECT_EQ(out_.Count(Kind::kDisconnected), 51u);
  for (int i = 0; i <= 50; ++i) {
    EXPECT_EQ(r_->session(ids[i])->state(), SessionState::kDisconnected);
  }
  EXPECT_EQ(r_->session(ids[51])->state(), SessionState::kConnected);
  EXPECT_EQ(r_->NextTimeout(), start + absl::Seconds(5) + absl::Milliseconds(510));
  // Everything fails at its own consent deadline; tuples leave the index.
  r_->HandleTimeout(start + absl::Seconds(30) + absl::Milliseconds(10 * (kSessions - 1)));
  EXPECT_EQ(out_.Count(Kind::kDisconnected), static_cast<size_t>(kSessions));
  EXPECT_EQ(out_.Count(Kind::kFailed), static_cast<size_t>(kSessions));
  EXPECT_EQ(r_->tuple_count(), 0u);
  EXPECT_EQ(r_->counters().tuples_removed, static_cast<uint64_t>(kSessions));
  EXPECT_EQ(r_->NextTimeout(), absl::InfiniteFuture());
  EXPECT_EQ(r_->session_count(), static_cast<size_t>(kSessions));  // the app removes them
}

TEST_F(IceRouterTest, HandleTimeoutBeforeDeadlineDoesNothing) {
  Add("sesA");
  Feed(a_, Chrome("sesA", true));
  const size_t events = out_.events.size();
  r_->HandleTimeout(now_ + absl::Seconds(4));
  EXPECT_EQ(out_.events.size(), events);
  EXPECT_EQ(r_->NextTimeout(), now_ + absl::Seconds(5));
  // A check pushes the session's deadline out; the router may wake it
  // early (never late), and then nothing happens.
  const absl::Time first = now_ + absl::Seconds(5);
  now_ += absl::Seconds(4);
  Feed(a_, Chrome("sesA"));
  EXPECT_LE(r_->NextTimeout(), first);
  r_->HandleTimeout(r_->NextTimeout());
  EXPECT_EQ(out_.events.size(), events);
  EXPECT_EQ(r_->NextTimeout(), now_ + absl::Seconds(5));
  r_->HandleTimeout(now_ + absl::Seconds(5));
  EXPECT_EQ(out_.Count(Kind::kDisconnected), 1u);
}

TEST_F(IceRouterTest, ConsentFailureDropsMediaAfterwards) {
  const SessionId s = Add("sesA");
  Feed(a_, Chrome("sesA", true));
  Media(a_, 0x80);
  r_->HandleTimeout(now_ + absl::Seconds(30));
  EXPECT_EQ(r_->session(s)->state(), SessionState::kFailed);
  Media(a_, 0x80);
  EXPECT_EQ(out_.media.size(), 1u);
  EXPECT_EQ(r_->counters().media_unknown_tuple, 1u);
  EXPECT_EQ(out_.Count(Kind::kTupleRemoved, s), 1u);
}

}  // namespace
}  // namespace uturn::ice
