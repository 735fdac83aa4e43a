// Allocate (RFC 8656 §7.2), Refresh (§8), authentication (§5), the response
// cache and draining, driven through a fake host with an injected clock.
#include "tests/unit/turn/turn_test_util.h"

namespace uturn::turn::testing {
namespace {

class AllocateTest : public TurnHarness {};

TEST_F(AllocateTest, SuccessCarriesRelayedMappedLifetimeAndIsSigned) {
  auto r = Request(Method::kAllocate, Udp(), std::nullopt, {}, /*fingerprint=*/true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->parse_error, stun::ParseError::kNone);  // FINGERPRINT verified too
  ASSERT_TRUE(r->success());
  ASSERT_EQ(host.open.size(), 1u);
  EXPECT_EQ(stun::GetXorRelayedAddress(r->view).value, host.open.begin()->second);
  EXPECT_EQ(stun::GetXorMappedAddress(r->view).value, client.client);
  EXPECT_EQ(stun::GetLifetime(r->view).value, 600u);  // RFC 8656 §7.2 default
  EXPECT_EQ(stun::GetSoftware(r->view).value, "uturn-test");
  EXPECT_TRUE(r->view.fingerprint_offset().has_value());
  EXPECT_TRUE(SignedByAlice(*r));
  EXPECT_EQ(server->allocation_count(), 1u);
  EXPECT_EQ(server->counters().allocations_created, 1u);
  EXPECT_EQ(server->counters().allocations_active, 1u);
  EXPECT_EQ(server->counters().responses_success, 1u);
}

TEST_F(AllocateTest, WithoutCredentialsGets401ChallengeUnsigned) {
  auto r = Feed(client, Build(Method::kAllocate, Udp(), std::nullopt, "", NewTid(), false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), 401);
  EXPECT_TRUE(stun::GetNonce(r->view).ok());
  EXPECT_EQ(stun::GetRealm(r->view).value, "example.org");
  EXPECT_FALSE(r->view.message_integrity_offset().has_value());
  EXPECT_EQ(host.open_requests.size(), 0u);
  EXPECT_EQ(ErrorCount(401), 1u);
}

TEST_F(AllocateTest, WrongPasswordGets401AndCountsFailure) {
  auto r = Request(Method::kAllocate, Udp(), std::nullopt, Credentials{"alice", "nope"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), 401);
  EXPECT_EQ(server->counters().auth_failures, 1u);
  EXPECT_EQ(server->allocation_count(), 0u);
}

TEST_F(AllocateTest, ExpiredNonceGets438WithFreshNonce) {
  const std::string old = NonceFor(client);
  now += config_.auth.nonce_lifetime + absl::Seconds(1);
  auto r = Feed(client, Build(Method::kAllocate, Udp(), Credentials{}, old, NewTid(), false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), 438);
  auto fresh = stun::GetNonce(r->view);
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(std::string(fresh.value), old);
  auto ok = Feed(client, Build(Method::kAllocate, Udp(), Credentials{}, std::string(fresh.value),
                               NewTid(), false));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->success());
}

TEST_F(AllocateTest, SecondAllocateOnSameTupleGets437Signed) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  auto r = Request(Method::kAllocate, Udp());
  EXPECT_EQ(r->code(), 437);
  EXPECT_TRUE(SignedByAlice(*r));
  EXPECT_EQ(host.open.size(), 1u);
}

TEST_F(AllocateTest, RetransmissionIsAnsweredFromCacheNotReprocessed) {
  const stun::TransactionId tid = NewTid();
  const Bytes req = Build(Method::kAllocate, Udp(), Credentials{}, NonceFor(client), tid, false);
  auto first = Feed(client, req);
  ASSERT_TRUE(first->success());
  auto again = Feed(client, req);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->bytes, first->bytes);  // not a 437
  EXPECT_EQ(host.open_requests.size(), 1u);
  EXPECT_EQ(server->counters().retransmits_answered_from_cache, 1u);
  // After the cache time the same transaction is processed afresh → 437.
  now += config_.response_cache_time + absl::Seconds(1);
  server->HandleTimeout(now);
  auto late = Feed(client, req);
  EXPECT_EQ(late->code(), 437);
}

TEST_F(AllocateTest, MissingRequestedTransportGets400) {
  auto r = Request(Method::kAllocate, {});
  EXPECT_EQ(r->code(), 400);
  EXPECT_TRUE(SignedByAlice(*r));
}

TEST_F(AllocateTest, TcpTransportGets442) {
  auto r = Request(Method::kAllocate,
                   [](MessageBuilder& b) { b.AddRequestedTransport(stun::kTransportTcp); });
  EXPECT_EQ(r->code(), 442);
  EXPECT_EQ(ErrorCount(442), 1u);
}

TEST_F(AllocateTest, DontFragmentIsAccepted) {
  auto r = Request(Method::kAllocate,
                   Udp([](MessageBuilder& b) { b.AddFlag(stun::attr::kDontFragment); }));
  EXPECT_TRUE(r->success());
}

TEST_F(AllocateTest, UnknownComprehensionRequiredAttributeGets420) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     const uint8_t v[4] = {1, 2, 3, 4};
                     b.Add(0x7F01, v);
                   }));
  ASSERT_EQ(r->code(), 420);
  std::vector<uint16_t> listed;
  stun::ForEachUnknownAttribute(r->view, [&](uint16_t t) { listed.push_back(t); });
  EXPECT_EQ(listed, std::vector<uint16_t>{0x7F01});
  EXPECT_EQ(host.open_requests.size(), 0u);
}

TEST_F(AllocateTest, UnknownComprehensionOptionalAttributeIsIgnored) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     const uint8_t v[4] = {1, 2, 3, 4};
                     b.Add(0xFF01, v);
                   }));
  EXPECT_TRUE(r->success());
}

TEST_F(AllocateTest, MalformedAttributeGets400) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     const uint8_t bad_lifetime[2] = {0, 1};  // LIFETIME is 4 bytes
                     b.Add(stun::attr::kLifetime, bad_lifetime);
                   }));
  EXPECT_EQ(r->code(), 400);
  EXPECT_FALSE(r->view.message_integrity_offset().has_value());
}

TEST_F(AllocateTest, AttributeOverrunGets400FromHeaderAlone) {
  Bytes req = Build(Method::kAllocate, Udp(), std::nullopt, "", NewTid(), false);
  req[stun::kHeaderSize + 3] = 200;  // REQUESTED-TRANSPORT claims 200 bytes
  auto r = Feed(client, req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), 400);
}

TEST_F(AllocateTest, GarbageAndResponsesAreDropped) {
  EXPECT_EQ(Feed(client, Bytes{0xFF, 1, 2, 3}), nullptr);
  Bytes not_stun = Build(Method::kAllocate, Udp(), std::nullopt, "", NewTid(), false);
  not_stun[4] ^= 0xFF;  // no magic cookie
  EXPECT_EQ(Feed(client, not_stun), nullptr);
  EXPECT_EQ(Feed(client, Build(Method::kAllocate, Udp(), std::nullopt, "", NewTid(), false,
                               MessageClass::kSuccessResponse)),
            nullptr);
  EXPECT_EQ(Feed(client, Build(static_cast<Method>(0x00F), {}, std::nullopt, "", NewTid(),
                               false)),
            nullptr);
  EXPECT_EQ(server->counters().dropped_malformed, 4u);
}

TEST_F(AllocateTest, LifetimeIsClampedBetweenDefaultAndMaximum) {
  auto big = Request(Method::kAllocate,
                     Udp([](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 100000); }));
  EXPECT_EQ(stun::GetLifetime(big->view).value, 3600u);
  auto small = Request(Method::kAllocate,
                       Udp([](MessageBuilder& b) { b.AddU32(stun::attr::kLifetime, 30); }),
                       Tuple(V4(203, 0, 113, 6, 1)));
  EXPECT_EQ(stun::GetLifetime(small->view).value, 600u);
}

TEST_F(AllocateTest, UserQuotaGets486) {
  TurnConfig c = DefaultConfig();
  c.user_quota = 1;
  MakeServer(c);
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  auto r = Request(Method::kAllocate, Udp(), Tuple(V4(203, 0, 113, 6, 1)));
  EXPECT_EQ(r->code(), 486);
  EXPECT_EQ(server->counters().quota_rejections_user, 1u);
  EXPECT_EQ(server->counters().quota_rejections_total, 0u);
  // Another user still fits.
  auto bob = Request(Method::kAllocate, Udp(), Tuple(V4(203, 0, 113, 7, 1)),
                     Credentials{"bob", "builder"});
  EXPECT_TRUE(bob->success());
}

TEST_F(AllocateTest, TotalQuotaGets486) {
  TurnConfig c = DefaultConfig();
  c.total_quota = 1;
  MakeServer(c);
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  auto r = Request(Method::kAllocate, Udp(), Tuple(V4(203, 0, 113, 7, 1)),
                   Credentials{"bob", "builder"});
  EXPECT_EQ(r->code(), 486);
  EXPECT_EQ(ErrorCount(486), 1u);
  EXPECT_EQ(server->counters().quota_rejections_total, 1u);
  EXPECT_EQ(server->counters().quota_rejections_user, 0u);
}

TEST_F(AllocateTest, HostOutOfPortsGives508) {
  host.fail_v4 = TurnHost::RelayError::kInsufficientCapacity;
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 508);
  EXPECT_EQ(server->allocation_count(), 0u);
}

TEST_F(AllocateTest, HostFamilyUnsupportedGives440) {
  host.fail_v4 = TurnHost::RelayError::kFamilyUnsupported;
  EXPECT_EQ(Request(Method::kAllocate, Udp())->code(), 440);
}

TEST_F(AllocateTest, RequestedIpv6WithoutIpv6RelayGets440) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddRequestedAddressFamily(stun::kFamilyIPv6);
                   }));
  EXPECT_EQ(r->code(), 440);
  EXPECT_EQ(host.open_requests.size(), 0u);
}

TEST_F(AllocateTest, RequestedIpv6IsServedWhenConfigured) {
  TurnConfig c = DefaultConfig();
  c.relay_ipv6 = true;
  MakeServer(c);
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddRequestedAddressFamily(stun::kFamilyIPv6);
                   }));
  ASSERT_TRUE(r->success());
  EXPECT_EQ(stun::GetXorRelayedAddress(r->view).value.family, Family::kIPv6);
}

TEST_F(AllocateTest, RequestedAndAdditionalFamilyTogetherGet400) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddRequestedAddressFamily(stun::kFamilyIPv4);
                     b.AddAdditionalAddressFamily(stun::kFamilyIPv6);
                   }));
  EXPECT_EQ(r->code(), 400);
}

TEST_F(AllocateTest, AdditionalFamilyIpv4Gets400) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddAdditionalAddressFamily(stun::kFamilyIPv4);
                   }));
  EXPECT_EQ(r->code(), 400);
}

std::vector<SocketAddress> RelayedAddresses(const Response& r) {
  std::vector<SocketAddress> out;
  stun::ForEachXorAddress(r.view, stun::attr::kXorRelayedAddress,
                          [&](const SocketAddress& a) { out.push_back(a); });
  return out;
}

TEST_F(AllocateTest, DualAllocationReturnsBothRelayedAddresses) {
  TurnConfig c = DefaultConfig();
  c.relay_ipv6 = true;
  MakeServer(c);
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddAdditionalAddressFamily(stun::kFamilyIPv6);
                   }));
  ASSERT_TRUE(r->success());
  auto relayed = RelayedAddresses(*r);
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_EQ(relayed[0].family, Family::kIPv4);
  EXPECT_EQ(relayed[1].family, Family::kIPv6);
  EXPECT_FALSE(stun::GetAddressErrorCode(r->view).ok());
  EXPECT_EQ(host.open.size(), 2u);
}

TEST_F(AllocateTest, DualAllocationWithoutIpv6RelayReportsAddressErrorCode) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddAdditionalAddressFamily(stun::kFamilyIPv6);
                   }));
  ASSERT_TRUE(r->success());
  auto relayed = RelayedAddresses(*r);
  ASSERT_EQ(relayed.size(), 1u);
  EXPECT_EQ(relayed[0].family, Family::kIPv4);
  auto aec = stun::GetAddressErrorCode(r->view);
  ASSERT_TRUE(aec.ok());
  EXPECT_EQ(aec.value.family, stun::kFamilyIPv6);
  EXPECT_EQ(aec.value.code, 440);
}

TEST_F(AllocateTest, DualAllocationWithIpv6PortsExhaustedReports508ForIpv6) {
  TurnConfig c = DefaultConfig();
  c.relay_ipv6 = true;
  MakeServer(c);
  host.fail_v6 = TurnHost::RelayError::kInsufficientCapacity;
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                     b.AddAdditionalAddressFamily(stun::kFamilyIPv6);
                   }));
  ASSERT_TRUE(r->success());
  EXPECT_EQ(RelayedAddresses(*r).size(), 1u);
  EXPECT_EQ(stun::GetAddressErrorCode(r->view).value.code, 508);
}

// A RESERVATION-TOKEN attribute carrying `token`.
AttrFn WithToken(uint64_t token) {
  return [token](MessageBuilder& b) {
    b.AddRequestedTransport(stun::kTransportUdp);
    b.AddU64(stun::attr::kReservationToken, token);
  };
}

TEST_F(AllocateTest, EvenPortWithReserveReturnsTheHostsTokenRedeemableOnce) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) { b.AddEvenPort(true); }));
  ASSERT_TRUE(r->success());
  ASSERT_EQ(host.open_requests.size(), 1u);
  EXPECT_TRUE(host.open_requests[0].even_port);
  EXPECT_TRUE(host.open_requests[0].reserve_next);
  auto token = stun::GetReservationToken(r->view);
  ASSERT_TRUE(token.ok());
  const uint64_t issued = host.next_token - 1;
  uint64_t carried = 0;
  for (uint8_t byte : token.value) carried = carried << 8 | byte;
  EXPECT_EQ(carried, issued);  // RFC 8656 §18.10: the 8 bytes, big-endian
  // The core keeps no reservation state and no timer for it.
  EXPECT_EQ(server->counters().reservations_active, 0u);

  auto second = Request(Method::kAllocate, WithToken(issued), Tuple(V4(203, 0, 113, 9, 1)));
  ASSERT_TRUE(second->success());
  ASSERT_EQ(host.open_requests.size(), 2u);
  EXPECT_EQ(host.open_requests[1].reservation_token, issued);
  EXPECT_FALSE(host.open_requests[1].even_port);
  EXPECT_FALSE(host.open_requests[1].reserve_next);
  // Single use, enforced by the host: a third Allocate with it gets 508.
  auto third = Request(Method::kAllocate, WithToken(issued), Tuple(V4(203, 0, 113, 10, 1)));
  EXPECT_EQ(third->code(), 508);
  EXPECT_EQ(host.open_requests.size(), 3u);
  EXPECT_EQ(server->allocation_count(), 2u);
}

TEST_F(AllocateTest, EvenPortWithoutReserveGivesNoToken) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) { b.AddEvenPort(false); }));
  ASSERT_TRUE(r->success());
  EXPECT_TRUE(host.open_requests[0].even_port);
  EXPECT_FALSE(host.open_requests[0].reserve_next);
  EXPECT_FALSE(stun::GetReservationToken(r->view).ok());
}

TEST_F(AllocateTest, TokenIssuedElsewhereIsRedeemedHere) {
  // Another shard's host granted the token; this core never saw it.
  host.granted_tokens[0xABCDEF] = Family::kIPv4;
  auto r = Request(Method::kAllocate, WithToken(0xABCDEF));
  ASSERT_TRUE(r->success());
  ASSERT_EQ(host.open_requests.size(), 1u);
  EXPECT_EQ(host.open_requests[0].reservation_token, uint64_t{0xABCDEF});
  EXPECT_EQ(stun::GetXorRelayedAddress(r->view).value, host.open.begin()->second);
  // No reservation timer: nothing to wake up for but the allocation.
  EXPECT_EQ(server->NextTimeout(), now + absl::Seconds(40));  // the response cache
  server->HandleTimeout(now + absl::Seconds(40));
  EXPECT_EQ(WakeUntil(now + absl::Seconds(600)), now + absl::Seconds(600));
}

TEST_F(AllocateTest, TokenForAnIpv6PortGivesAnIpv6Relay) {
  TurnConfig c = DefaultConfig();
  c.relay_ipv6 = true;
  MakeServer(c);
  host.granted_tokens[77] = Family::kIPv6;
  auto r = Request(Method::kAllocate, WithToken(77));
  ASSERT_TRUE(r->success());
  const auto relayed = stun::GetXorRelayedAddress(r->view);
  ASSERT_TRUE(relayed.ok());
  EXPECT_EQ(relayed.value.family, Family::kIPv6);
  // The allocation relays for IPv6 peers (its relay is filed as IPv6).
  auto p = Request(Method::kCreatePermission, Peers({V6("2001:db8::99", 1)}));
  EXPECT_TRUE(p->success());
  auto p4 = Request(Method::kCreatePermission, Peers({V4(198, 51, 100, 1, 1)}));
  EXPECT_EQ(p4->code(), 443);
}

TEST_F(AllocateTest, UnknownReservationTokenGets508FromTheHost) {
  auto r = Request(Method::kAllocate, WithToken(42));
  EXPECT_EQ(r->code(), 508);  // RFC 8656 §7.2
  ASSERT_EQ(host.open_requests.size(), 1u);
  EXPECT_EQ(host.open_requests[0].reservation_token, uint64_t{42});
  EXPECT_EQ(server->allocation_count(), 0u);
  // The quota taken for the attempt was given back.
  TurnConfig c = DefaultConfig();
  c.user_quota = 1;
  MakeServer(c);
  EXPECT_EQ(Request(Method::kAllocate, WithToken(42))->code(), 508);
  EXPECT_TRUE(Request(Method::kAllocate, Udp())->success());
}

TEST_F(AllocateTest, ReservationTokenWithEvenPortOrFamilyGets400) {
  auto even = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                        b.AddU64(stun::attr::kReservationToken, 42);
                        b.AddEvenPort(false);
                      }));
  EXPECT_EQ(even->code(), 400);
  auto family = Request(Method::kAllocate, Udp([](MessageBuilder& b) {
                          b.AddU64(stun::attr::kReservationToken, 42);
                          b.AddRequestedAddressFamily(stun::kFamilyIPv4);
                        }));
  EXPECT_EQ(family->code(), 400);
  EXPECT_EQ(host.open_requests.size(), 0u);
}

TEST_F(AllocateTest, HostRejectingTokenGives508) {
  auto r = Request(Method::kAllocate, Udp([](MessageBuilder& b) { b.AddEvenPort(true); }));
  auto token = stun::GetReservationToken(r->view);
  ASSERT_TRUE(token.ok());
  host.granted_tokens.clear();  // the host lost the port meanwhile (or it expired)
  const Bytes token_bytes(token.value.begin(), token.value.end());
  auto second = Request(Method::kAllocate, Udp([token_bytes](MessageBuilder& b) {
                          b.Add(stun::attr::kReservationToken, token_bytes);
                        }),
                        Tuple(V4(203, 0, 113, 9, 1)));
  EXPECT_EQ(second->code(), 508);
}

TEST_F(AllocateTest, DrainingRefusesNewAllocationsButServesExisting) {
  ASSERT_TRUE(Request(Method::kAllocate, Udp())->success());
  server->SetDraining(true);
  auto r = Request(Method::kAllocate, Udp(), Tuple(V4(203, 0, 113, 9, 1)));
  EXPECT_EQ(r->code(), 508);
  auto refresh = Request(Method::kRefresh, {});
  EXPECT_TRUE(refresh->success());
}

TEST_F(AllocateTest, NoAuthModeAllocatesWithoutCredentialsAndUnsigned) {
  TurnConfig c = DefaultConfig();
  c.no_auth = true;
  MakeServer(c);
  auto r = Feed(client, Build(Method::kAllocate, Udp(), std::nullopt, "", NewTid(), false));
  ASSERT_TRUE(r->success());
  EXPECT_FALSE(r->view.message_integrity_offset().has_value());
}

TEST_F(AllocateTest, CreateRejectsBadConfig) {
  const std::vector<uint8_t> seed(32, 1);
  EXPECT_FALSE(TurnServer::Create(DefaultConfig(), nullptr, seed).ok());
  EXPECT_FALSE(TurnServer::Create(DefaultConfig(), &host, std::span<const uint8_t>()).ok());
  TurnConfig c = DefaultConfig();
  c.max_lifetime = absl::Seconds(10);
  EXPECT_FALSE(TurnServer::Create(c, &host, seed).ok());
  c = DefaultConfig();
  c.software = std::string(200, 'x');
  EXPECT_FALSE(TurnServer::Create(c, &host, seed).ok());
}

}  // namespace
}  // namespace uturn::turn::testing
