#include "stun/stream_framing.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace uturn::stun {
namespace {

using Bytes = std::vector<uint8_t>;

// A STUN message of the given body length (contents are not validated here).
Bytes Stun(size_t body, uint8_t fill) {
  Bytes m(20 + body, fill);
  m[0] = 0x00;
  m[1] = 0x01;
  m[2] = static_cast<uint8_t>(body >> 8);
  m[3] = static_cast<uint8_t>(body);
  return m;
}

// A ChannelData frame, padded to 4 as streams require.
Bytes Channel(size_t payload, uint8_t fill) {
  Bytes m((4 + payload + 3) & ~size_t{3}, 0);
  m[0] = 0x40;
  m[1] = 0x01;
  m[2] = static_cast<uint8_t>(payload >> 8);
  m[3] = static_cast<uint8_t>(payload);
  std::fill(m.begin() + 4, m.begin() + 4 + static_cast<std::ptrdiff_t>(payload), fill);
  return m;
}

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Drains every complete frame from the framer.
std::vector<Bytes> Drain(StreamFramer& f) {
  std::vector<Bytes> out;
  for (FrameInfo i = f.Peek(); i.status == FrameInfo::Status::kComplete; i = f.Peek()) {
    out.emplace_back(f.buffered().begin(), f.buffered().begin() + i.size);
    f.Consume(i.size);
  }
  return out;
}

TEST(NextFrameTest, StunAndChannelData) {
  FrameInfo s = NextFrame(Stun(8, 0xAB));
  EXPECT_EQ(s.status, FrameInfo::Status::kComplete);
  EXPECT_EQ(s.kind, FrameKind::kStun);
  EXPECT_EQ(s.size, 28u);
  FrameInfo c = NextFrame(Channel(5, 1));
  EXPECT_EQ(c.status, FrameInfo::Status::kComplete);
  EXPECT_EQ(c.kind, FrameKind::kChannelData);
  EXPECT_EQ(c.size, 12u);  // 4 + 5 padded to 4 (RFC 8656 §12.5)
}

TEST(NextFrameTest, NeedMoreAtEveryShortLength) {
  for (const Bytes& frame : {Stun(12, 7), Channel(9, 7)}) {
    for (size_t n = 0; n < frame.size(); ++n) {
      EXPECT_EQ(NextFrame(std::span(frame.data(), n)).status, FrameInfo::Status::kNeedMore) << n;
    }
  }
  // Once the length is readable the size is reported.
  const Bytes m = Stun(12, 7);
  EXPECT_EQ(NextFrame(std::span(m.data(), 4)).size, 32u);
  EXPECT_EQ(NextFrame(std::span(m.data(), 3)).size, 0u);
}

TEST(NextFrameTest, InvalidFirstByte) {
  for (uint8_t b : {0x80, 0xC0, 0xFF, 0x16 | 0x80}) {
    const Bytes d = {b};
    EXPECT_EQ(NextFrame(d).status, FrameInfo::Status::kInvalid) << int{b};
  }
  // STUN with a length that is not a multiple of 4 cannot be framed.
  Bytes m = Stun(8, 0);
  m[3] = 7;
  EXPECT_EQ(NextFrame(m).status, FrameInfo::Status::kInvalid);
}

TEST(NextFrameTest, LargestFramesFitCapacity) {
  const Bytes stun_hdr = {0x00, 0x01, 0xFF, 0xFC};
  EXPECT_EQ(NextFrame(stun_hdr).size, 20u + 65532);
  const Bytes cd_hdr = {0x40, 0x00, 0xFF, 0xFF};
  EXPECT_EQ(NextFrame(cd_hdr).size, 65540u);
  EXPECT_LE(20u + 65532, StreamFramer::kCapacity);
}

TEST(StreamFramerTest, EmptyFramer) {
  StreamFramer f;
  EXPECT_TRUE(f.buffered().empty());
  EXPECT_EQ(f.Peek().status, FrameInfo::Status::kNeedMore);
  EXPECT_TRUE(f.Append({}));
}

TEST(StreamFramerTest, ManyFramesInOneAppend) {
  const Bytes a = Stun(0, 1), b = Channel(3, 2), c = Stun(16, 3), d = Channel(0, 4);
  StreamFramer f;
  ASSERT_TRUE(f.Append(Concat({a, b, c, d})));
  EXPECT_EQ(Drain(f), (std::vector<Bytes>{a, b, c, d}));
  EXPECT_TRUE(f.buffered().empty());
}

TEST(StreamFramerTest, OneByteAtATime) {
  const Bytes a = Stun(8, 1), b = Channel(5, 2), c = Stun(4, 3);
  const Bytes stream = Concat({a, b, c});
  StreamFramer f;
  std::vector<Bytes> got;
  for (uint8_t byte : stream) {
    ASSERT_TRUE(f.Append(Bytes{byte}));
    for (Bytes& frame : Drain(f)) got.push_back(std::move(frame));
  }
  EXPECT_EQ(got, (std::vector<Bytes>{a, b, c}));
  EXPECT_TRUE(f.buffered().empty());
}

TEST(StreamFramerTest, FrameSplitAcrossAppendsAndCompaction) {
  const Bytes a = Stun(40, 1), b = Stun(40, 2);
  const Bytes stream = Concat({a, b});
  StreamFramer f;
  // First append: all of a and half of b.
  ASSERT_TRUE(f.Append(std::span(stream.data(), a.size() + 30)));
  std::vector<Bytes> got = Drain(f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(f.buffered().size(), 30u);
  // Writable space starts right after the kept partial frame, at the front.
  std::span<uint8_t> space = f.WritableSpace();
  EXPECT_EQ(space.size(), StreamFramer::kCapacity - 30);
  EXPECT_EQ(f.buffered().data() + 30, space.data());
  const size_t rest = stream.size() - a.size() - 30;
  std::copy(stream.end() - rest, stream.end(), space.begin());
  f.Commit(rest);
  for (Bytes& frame : Drain(f)) got.push_back(std::move(frame));
  EXPECT_EQ(got, (std::vector<Bytes>{a, b}));
}

TEST(StreamFramerTest, CapacityBound) {
  StreamFramer f;
  EXPECT_FALSE(f.Append(Bytes(StreamFramer::kCapacity + 1, 0)));
  EXPECT_TRUE(f.buffered().empty());
  // A maximal STUN frame fits, and then nothing more does.
  Bytes big = Stun(65532, 9);
  ASSERT_TRUE(f.Append(big));
  EXPECT_FALSE(f.Append(Bytes(StreamFramer::kCapacity - big.size() + 1, 0)));
  EXPECT_TRUE(f.Append(Bytes(StreamFramer::kCapacity - big.size(), 0)));
  EXPECT_TRUE(f.WritableSpace().empty());
  FrameInfo i = f.Peek();
  ASSERT_EQ(i.status, FrameInfo::Status::kComplete);
  EXPECT_EQ(i.size, big.size());
  f.Consume(i.size);
  // Consuming made room again (compaction on the next write).
  EXPECT_TRUE(f.Append(Bytes(big.size(), 0)));
}

TEST(StreamFramerTest, OversizedLeftoverIsRejectedNotTruncated) {
  StreamFramer f;
  ASSERT_TRUE(f.Append(Bytes(100, 0x00)));  // STUN header claiming 0 body at each 20 bytes
  EXPECT_FALSE(f.Append(Bytes(StreamFramer::kCapacity - 99, 0)));
  EXPECT_EQ(f.buffered().size(), 100u);
}

TEST(StreamFramerTest, InvalidFirstByteStopsTheStream) {
  StreamFramer f;
  const Bytes a = Stun(4, 1);
  ASSERT_TRUE(f.Append(Concat({a, Bytes{0x80, 1, 2, 3}})));
  FrameInfo i = f.Peek();
  ASSERT_EQ(i.status, FrameInfo::Status::kComplete);
  f.Consume(i.size);
  EXPECT_EQ(f.Peek().status, FrameInfo::Status::kInvalid);
}

TEST(StreamFramerTest, WritableSpaceCommitCycle) {
  StreamFramer f;
  const Bytes a = Channel(7, 5);
  std::span<uint8_t> space = f.WritableSpace();
  ASSERT_EQ(space.size(), StreamFramer::kCapacity);
  std::copy(a.begin(), a.end(), space.begin());
  f.Commit(a.size());
  EXPECT_EQ(Drain(f), (std::vector<Bytes>{a}));
}

}  // namespace
}  // namespace uturn::stun
