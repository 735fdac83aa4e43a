// AnswerParams::lite = false: the answer of a full agent (uturn-ice --http).
#include <string>

#include <gtest/gtest.h>

#include "ice-lite/sdp.h"
#include "tests/unit/ice_sdp/sdp_offers.h"

namespace uturn::ice {
namespace {

using sdp_testing::ChromeOffer;
using sdp_testing::CountLines;
using sdp_testing::Join;

// Built here rather than with sdp_testing::Params(): inlined into this file,
// GCC 12 warns (-Wrestrict, a known false positive) on its string assignments.
AnswerParams FullParams() {
  AnswerParams p;
  p.ice = Credentials{std::string("Full1234"), std::string("abcdefghijklmnopqrstuvwx")};
  Candidate host;
  host.foundation = std::string("1");
  host.transport = std::string("udp");
  host.priority = 2130706431;
  host.address = std::string("192.0.2.10");
  host.ip = stun::SocketAddress::V4({192, 0, 2, 10}, 40000);
  host.port = 40000;
  p.candidates.push_back(host);
  Candidate srflx = host;
  srflx.foundation = std::string("2");
  srflx.type = CandidateType::kServerReflexive;
  srflx.priority = 1694498815;
  srflx.address = std::string("203.0.113.7");
  srflx.ip = stun::SocketAddress::V4({203, 0, 113, 7}, 50000);
  srflx.port = 50000;
  srflx.related_address = std::string("192.0.2.10");
  srflx.related_port = 40000;
  p.candidates.push_back(srflx);
  p.fingerprint = std::string(sdp_testing::kFp);
  p.session_id = 42;
  return p;
}

TEST(AnswerForFullAgentTest, NoIceLiteLineButEverythingElse) {
  auto offer = ParseSdp(Join(ChromeOffer()));
  ASSERT_TRUE(offer.ok()) << offer.status();
  AnswerParams params = FullParams();
  params.lite = false;
  auto text = AnswerFor(*offer, params);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(CountLines(*text, "a=ice-lite"), 0u) << *text;
  auto ans = ParseSdp(*text);
  ASSERT_TRUE(ans.ok()) << ans.status();
  EXPECT_FALSE(ans->ice_lite);
  ASSERT_FALSE(ans->media.empty());
  EXPECT_EQ(ans->media[0].ice, params.ice);
  EXPECT_TRUE(ans->media[0].end_of_candidates);
  // A full agent's answer carries its server-reflexive candidates too.
  ASSERT_EQ(ans->media[0].candidates.size(), params.candidates.size());
  EXPECT_EQ(ans->media[0].candidates[1].type, CandidateType::kServerReflexive);
}

TEST(AnswerForFullAgentTest, LiteIsTheDefault) {
  auto offer = ParseSdp(Join(ChromeOffer()));
  ASSERT_TRUE(offer.ok());
  auto text = AnswerFor(*offer, FullParams());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(CountLines(*text, "a=ice-lite"), 1u);
}

}  // namespace
}  // namespace uturn::ice
