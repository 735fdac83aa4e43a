#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_stun_message into tests/fuzz/corpus/stun_message/.

The messages are encoded here from the RFCs directly (struct, hmac, zlib),
independently of the C++ codec, so the seeds also exercise the codec's
success paths (valid MESSAGE-INTEGRITY / FINGERPRINT). Integrity uses the same
fixed key as fuzz_stun_message.cc (kFuzzKey). Re-run after changing it:

    python3 tests/fuzz/gen_seeds.py
"""
import hashlib
import hmac
import os
import struct
import zlib

MAGIC = 0x2112A442          # RFC 8489 §5
FP_XOR = 0x5354554E         # RFC 8489 §14.7
KEY = b"uturn-fuzz-key"     # must match kFuzzKey in fuzz_stun_message.cc

# RFC 8489 §5 classes
REQ, IND, OK, ERR = 0, 1, 2, 3
BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 1, 3, 4, 6, 7, 8, 9


def msg_type(method, cls):
    """RFC 8489 §5: class bits C0/C1 at bits 4 and 8 of the 14-bit type."""
    return ((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((cls & 1) << 4) | ((cls & 2) << 7))


def attr(t, value):
    pad = (-len(value)) % 4
    return struct.pack("!HH", t, len(value)) + value + b"\0" * pad


def u32(t, v):
    return attr(t, struct.pack("!I", v))


def addr_value(ip, port, tid=None):
    """RFC 8489 §14.1/§14.2 (XOR-)MAPPED-ADDRESS value; XORed when tid given."""
    raw = bytes(int(x) for x in ip.split(".")) if "." in ip else ipv6(ip)
    family = 1 if len(raw) == 4 else 2
    if tid is not None:
        port ^= MAGIC >> 16
        mask = struct.pack("!I", MAGIC) + tid
        raw = bytes(a ^ b for a, b in zip(raw, mask))
    return struct.pack("!BBH", 0, family, port) + raw


def ipv6(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def message(method, cls, tid, attrs, mi=False, mi256=False, fp=True, cookie=MAGIC):
    body = b"".join(attrs)
    t = msg_type(method, cls)

    def header(length):
        return struct.pack("!HHI", t, length, cookie) + tid

    # RFC 8489 §14.5/§14.6: the HMAC covers the header with the length
    # already counting the integrity attribute itself.
    if mi:
        h = hmac.new(KEY, header(len(body) + 24) + body, hashlib.sha1).digest()
        body += attr(0x0008, h)
    if mi256:
        h = hmac.new(KEY, header(len(body) + 36) + body, hashlib.sha256).digest()
        body += attr(0x001C, h)
    if fp:  # RFC 8489 §14.7
        crc = zlib.crc32(header(len(body) + 8) + body) ^ FP_XOR
        body += u32(0x8028, crc)
    return header(len(body)) + body


def error_code(code, reason):
    return attr(0x0009, struct.pack("!HBB", 0, code // 100, code % 100) + reason.encode())


def tid(n):
    return bytes((n * 7 + i) & 0xFF for i in range(12))


def seeds():
    s = {}
    s["binding_request"] = message(BINDING, REQ, tid(1), [])
    s["binding_request_software"] = message(
        BINDING, REQ, tid(2), [attr(0x8022, "uturn seed".encode())])
    s["binding_request_rfc3489"] = message(BINDING, REQ, tid(3)[:12], [], fp=False,
                                           cookie=0x01020304)
    s["binding_success_v4"] = message(
        BINDING, OK, tid(4), [attr(0x0020, addr_value("192.0.2.1", 32853, tid(4))),
                              attr(0x0001, addr_value("192.0.2.1", 32853))])
    s["binding_success_v6"] = message(
        BINDING, OK, tid(5), [attr(0x0020, addr_value("2001:db8:1234:5678:11:2233:4455:6677",
                                                      32853, tid(5)))], mi=True)
    # ICE connectivity check (RFC 8445 §7.1.1) with short-term integrity.
    s["ice_check"] = message(
        BINDING, REQ, tid(6),
        [attr(0x0006, b"remote:local"), u32(0x0024, 0x6E7F1EFF),
         attr(0x802A, struct.pack("!Q", 0x0123456789ABCDEF)), attr(0x0025, b""),
         u32(0xC001, 1)], mi=True)
    s["ice_check_controlled"] = message(
        BINDING, REQ, tid(7),
        [attr(0x0006, b"a:b"), u32(0x0024, 1), attr(0x8029, struct.pack("!Q", 42))],
        mi=True, mi256=True)
    # Allocate with long-term credentials (RFC 8656 §7.1), both integrities.
    s["allocate_request_auth"] = message(
        ALLOCATE, REQ, tid(8),
        [attr(0x0006, "m\u00e1tt\u00e9".encode()), attr(0x0014, b"example.org"),
         attr(0x0015, b"obMatJos2AAAAnonce-value"), attr(0x0019, bytes([17, 0, 0, 0])),
         u32(0x000D, 600), attr(0x001A, b""), attr(0x0018, bytes([0x80])),
         attr(0x0017, bytes([1, 0, 0, 0])), attr(0x001D, struct.pack("!HH", 2, 0))],
        mi=True, mi256=True)
    s["allocate_request_userhash"] = message(
        ALLOCATE, REQ, tid(9),
        [attr(0x001E, hashlib.sha256(b"user:example.org").digest()),
         attr(0x0014, b"example.org"), attr(0x0015, b"nonce"),
         attr(0x0019, bytes([17, 0, 0, 0])), attr(0x8000, bytes([2, 0, 0, 0])),
         attr(0x0022, bytes(range(8)))], mi256=True)
    s["allocate_error_401"] = message(
        ALLOCATE, ERR, tid(10),
        [error_code(401, "Unauthorized"), attr(0x0014, b"example.org"),
         attr(0x0015, b"obMatJos2gAAAxyz"),
         attr(0x8002, struct.pack("!HHHH", 2, 0, 1, 0)), attr(0x8022, b"uturn")])
    s["allocate_success"] = message(
        ALLOCATE, OK, tid(11),
        [attr(0x0016, addr_value("198.51.100.7", 49152, tid(11))),
         attr(0x0016, addr_value("2001:db8::7", 49153, tid(11))),
         attr(0x0020, addr_value("203.0.113.9", 50000, tid(11))), u32(0x000D, 600),
         attr(0x0022, bytes(range(8, 16))),
         attr(0x8001, struct.pack("!BBBB", 2, 0, 4, 40) + b"Address Family not Supported")],
        mi=True)
    s["error_420"] = message(
        BINDING, ERR, tid(12),
        [error_code(420, "Unknown Attribute"), attr(0x000A, struct.pack("!HHH", 0x7F00, 0x7F01, 0x0033))])
    s["error_300_alternate"] = message(
        ALLOCATE, ERR, tid(13),
        [error_code(300, "Try Alternate"), attr(0x8023, addr_value("192.0.2.50", 3478)),
         attr(0x8003, b"turn.example.org")])
    s["create_permission"] = message(
        CREATE_PERMISSION, REQ, tid(14),
        [attr(0x0012, addr_value("192.0.2.10", 0, tid(14))),
         attr(0x0012, addr_value("2001:db8::10", 0, tid(14))),
         attr(0x0012, addr_value("192.0.2.11", 0, tid(14)))], mi=True)
    s["channel_bind"] = message(
        CHANNEL_BIND, REQ, tid(15),
        [attr(0x000C, struct.pack("!HH", 0x4001, 0)),
         attr(0x0012, addr_value("192.0.2.10", 4000, tid(15)))], mi=True)
    s["refresh_zero_lifetime"] = message(REFRESH, REQ, tid(16), [u32(0x000D, 0)], mi=True)
    s["send_indication"] = message(
        SEND, IND, tid(17),
        [attr(0x0012, addr_value("192.0.2.10", 4000, tid(17))), attr(0x0013, b"hello peer!"),
         attr(0x001A, b"")], fp=False)
    s["data_indication_icmp"] = message(
        DATA, IND, tid(18),
        [attr(0x0012, addr_value("192.0.2.10", 4000, tid(18))),
         attr(0x8004, struct.pack("!HBBI", 0, 3, 3, 0))], fp=False)
    # RFC 8656 §12.4 ChannelData: UDP (unpadded) and stream (padded) shapes.
    s["channeldata_udp"] = struct.pack("!HH", 0x4001, 5) + b"abcde"
    s["channeldata_stream"] = struct.pack("!HH", 0x4FFF, 6) + b"abcdef\0\0"
    # Two messages back to back, for the stream framer.
    s["stream_two_messages"] = s["binding_request"] + s["channeldata_stream"]
    return s


def write_seeds(corpus, generated):
    """Writes each seed as corpus/<corpus>/<name>.bin beside this script."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", corpus)
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(generated.items()):
        assert len(data) <= 2048, name  # run_fuzz.sh uses -max_len=2048
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"wrote {len(generated)} seeds to {out}")


def main():
    write_seeds("stun_message", seeds())


if __name__ == "__main__":
    main()
