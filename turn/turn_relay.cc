// The relaying paths: Send indications and ChannelData from the client
// (RFC 8656 §10.2, §12.5), and peer datagrams framed in place as ChannelData
// or Data indications (§10.3, §12.6). Per packet: hash lookups, a permission
// check, a header write. No allocation, no copy of the payload.
#include <cassert>
#include <cstring>

#include "stun/attributes.h"
#include "stun/channel_data.h"
#include "stun/constants.h"
#include "turn/server_impl.h"

namespace uturn::turn {

bool TurnServer::Impl::ChargeBandwidth(Allocation& a, size_t bytes, absl::Time now) {
  if (a.bandwidth.TryConsume(bytes, now)) return true;
  ++counters.dropped_bandwidth;
  return false;
}

void TurnServer::Impl::NextTransactionId(std::span<uint8_t, stun::kTransactionIdSize> tid) {
  auto next = [this] {
    uint64_t s1 = rng[0];
    const uint64_t s0 = rng[1];
    rng[0] = s0;
    s1 ^= s1 << 23;
    rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return rng[1] + s0;
  };
  const uint64_t a = next(), b = next();
  std::memcpy(tid.data(), &a, 8);
  std::memcpy(tid.data() + 8, &b, 4);
}

void TurnServer::Impl::HandleSendIndication(const FiveTuple& tuple, const stun::MessageView& m,
                                            absl::Time now) {
  ++counters.send_indications;
  // RFC 8656 §10.2: every failure below means "silently discarded".
  Allocation* a = table.Find(tuple);
  if (a == nullptr) {
    ++counters.dropped_no_allocation;
    return;
  }
  const stun::AttrResult<SocketAddress> peer = stun::GetXorPeerAddress(m);
  const stun::AttrResult<std::span<const uint8_t>> data = stun::GetData(m);
  std::array<uint16_t, 1> unknown{};
  // RFC 8489 §6.3.2: unknown comprehension-required attributes → discard.
  if (!peer.ok() || !data.ok() ||
      stun::CollectUnknownComprehensionRequired(m, stun::IsKnownAttribute, unknown) > 0 ||
      !a->HasRelay(peer.value.family)) {
    ++counters.dropped_malformed;
    return;
  }
  if (!IsAllowed(policy.Check(peer.value))) {
    ++counters.dropped_peer_policy;
    return;
  }
  if (!a->HasPermission(peer.value, now)) {
    ++counters.dropped_no_permission;
    return;
  }
  if (!ChargeBandwidth(*a, data.value.size(), now)) return;
  ++counters.packets_to_peer;
  counters.bytes_to_peer += data.value.size();
  // RFC 8656 §10.2: DONT-FRAGMENT asks for DF on the datagram to the peer.
  host->SendToPeer(a->RelayFor(peer.value.family).id, peer.value, data.value,
                   stun::HasDontFragment(m));
}

void TurnServer::Impl::HandleChannelData(const FiveTuple& tuple, std::span<uint8_t> packet,
                                         absl::Time now) {
  ++counters.channel_data;
  stun::ChannelDataView cd;
  // RFC 8656 §12.5: over TCP/TLS the frame is padded to 4 bytes.
  if (stun::ParseChannelData(packet, tuple.transport != Transport::kUdp, &cd,
                             config.allow_rfc5766_channel_numbers) !=
      stun::ChannelDataError::kNone) {
    ++counters.dropped_malformed;
    return;
  }
  Allocation* a = table.Find(tuple);
  if (a == nullptr) {
    ++counters.dropped_no_allocation;
    return;
  }
  // RFC 8656 §12.5: data on a channel that is not bound is discarded; so is
  // data for a peer whose permission lapsed (§9: relaying needs one).
  auto ch = a->channels.find(cd.channel);
  if (ch == a->channels.end() || now >= ch->second.expires ||
      !a->HasPermission(ch->second.peer, now)) {
    ++counters.dropped_no_permission;
    return;
  }
  if (!ChargeBandwidth(*a, cd.payload.size(), now)) return;
  const SocketAddress& peer = ch->second.peer;
  ++counters.packets_to_peer;
  counters.bytes_to_peer += cd.payload.size();
  host->SendToPeer(a->RelayFor(peer.family).id, peer, cd.payload, false);
}

void TurnServer::Impl::OnPeerPacket(RelayId relay, const SocketAddress& peer,
                                    std::span<uint8_t> packet, absl::Time now) {
  Allocation* a = table.FindByRelay(relay);
  if (a == nullptr) {
    ++counters.dropped_no_allocation;
    return;
  }
  // RFC 8656 §10.3 / §12.6: without a permission for the peer's IP the
  // datagram is discarded and never reaches the client.
  if (!a->HasPermission(peer, now)) {
    ++counters.dropped_no_permission;
    return;
  }
  const bool stream = a->tuple.transport != Transport::kUdp;
  uint16_t number = 0;
  if (a->ActiveChannelFor(peer, now, &number) != nullptr) {
    // RFC 8656 §12.6/§12.4: ChannelData; the length is 16 bits.
    if (packet.size() > 0xFFFF) {
      ++counters.dropped_malformed;
      return;
    }
    if (!ChargeBandwidth(*a, packet.size(), now)) return;
    uint8_t* frame = packet.data() - stun::kChannelDataHeaderSize;
    stun::WriteChannelDataHeader(frame, number, static_cast<uint16_t>(packet.size()));
    const size_t size = stun::ChannelDataFrameSize(packet.size(), stream);
    static_assert(kPacketTailroom >= 3, "room for stream padding");
    // RFC 8656 §12.5: over TCP the frame is padded to 4; over UDP it is not.
    std::memset(packet.data() + packet.size(), 0,
                size - stun::kChannelDataHeaderSize - packet.size());
    ++counters.packets_to_client;
    counters.bytes_to_client += packet.size();
    host->SendDataToClient(a->tuple, std::span<const uint8_t>(frame, size));
    return;
  }

  // RFC 8656 §10.3: a Data indication with XOR-PEER-ADDRESS and DATA, built
  // around the payload: header and attributes in the headroom, DATA's
  // padding in the tailroom.
  const size_t addr_size = peer.is_v4() ? stun::kAddressValueSizeV4 : stun::kAddressValueSizeV6;
  const size_t prefix = stun::kHeaderSize + stun::kAttributeHeaderSize + addr_size +
                        stun::kAttributeHeaderSize;
  static_assert(stun::kHeaderSize + 2 * stun::kAttributeHeaderSize +
                        stun::kAddressValueSizeV6 <= kPacketHeadroom,
                "headroom holds a Data indication header for an IPv6 peer");
  const size_t padded = (packet.size() + 3) & ~size_t{3};
  if (prefix - stun::kHeaderSize + padded > 0xFFFF) {  // STUN length is 16 bits
    ++counters.dropped_malformed;
    return;
  }
  if (!ChargeBandwidth(*a, packet.size(), now)) return;
  uint8_t* start = packet.data() - prefix;
  std::array<uint8_t, stun::kTransactionIdSize> tid;
  NextTransactionId(tid);
  stun::MessageBuilder b(
      std::span<uint8_t>(start, prefix + packet.size() + kPacketTailroom),
      stun::EncodeMessageType(stun::Method::kData, stun::MessageClass::kIndication), tid);
  b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
  const std::span<uint8_t> value = b.AddUninitialized(stun::attr::kData, packet.size());
  // The builder reserved exactly where the payload already is: no copy.
  assert(b.ok() && value.data() == packet.data());
  (void)value;
  ++counters.packets_to_client;
  counters.bytes_to_client += packet.size();
  host->SendDataToClient(a->tuple, b.bytes());
}

}  // namespace uturn::turn
