#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_turn_server into tests/fuzz/corpus/turn_server/.

A seed is not a packet but a script for the harness: one configuration byte,
then operations, in the encoding documented in fuzz_turn_server.cc (op byte,
then its arguments). The harness builds the STUN messages itself, learning
nonces from the server's 401/438 answers, so these scripts reach the
authenticated success paths. Re-run after changing the encoding:

    python3 tests/fuzz/gen_turn_seeds.py
"""
import struct

from gen_seeds import write_seeds

# Config byte bits (Harness constructor).
NO_AUTH, STATIC, REST = 0, 1, 2
IPV6, SMALL_QUOTA, MAX_BPS, SMALL_BOUNDS, LOOPBACK, RANGES = 4, 8, 16, 32, 64, 128

# Auth kinds (AuthKind).
A_NONE, A_MD5, A_SHA256, A_WRONG, A_BAD_NONCE, A_USERHASH, A_USER2, A_NO_USER, A_EXPIRED = range(9)

# Peers (PeerFrom): 0 8.8.8.8, 1 8.8.4.4, 2 2001:4860::8888, 3 10.0.0.1, 4 127.0.0.1,
# 5 ::ffff:10.0.0.2, 6 9.9.9.9, 7 2002:a00:1::1, 8 198.51.100.20 port 0.
def peer(i):
    return bytes([i])


def random_peer(v6, ip, port):
    return bytes([9, 1 if v6 else 0]) + bytes(ip) + struct.pack("!H", port)


# Channels (ChannelFrom): 0 0x4000, 1 0x4001, 2 0x4FFF, 3 0x5000, 4 0x3FFF, 5 0xFFFF, 6 0x4002.
def chan(i):
    return bytes([i])


# Allocate flags: 1 REQUESTED-TRANSPORT, 2 ...as TCP, 4 LIFETIME (u16 follows),
# 8 REQUESTED-ADDRESS-FAMILY (byte follows: 0 IPv4, 1 IPv6, other raw),
# 16 ADDITIONAL-ADDRESS-FAMILY, 32 EVEN-PORT, 64 its R bit, 128 RESERVATION-TOKEN.
# flags2 (every request): 1 DONT-FRAGMENT (Allocate), 2 unknown comprehension-
# required attribute, 4 FINGERPRINT, 8 SOFTWARE, 16 unknown optional attribute.
def allocate(tuple_, auth, flags=1, flags2=0, lifetime=None, family=None):
    out = bytes([1, tuple_, auth, flags, flags2])
    if flags & 4:
        out += struct.pack("!H", lifetime or 0)
    if flags & 8:
        out += bytes([family or 0])
    return out


def refresh(tuple_, auth, life, flags2=0):
    """life % 4: 0 absent, 1 zero, 2 life*30 s, 3 0xFFFFFFFF; bit 7 adds a family."""
    return bytes([2, tuple_, auth, flags2, life])


def create_permission(tuple_, auth, peers, flags2=0):
    return bytes([3, tuple_, auth, flags2, len(peers)]) + b"".join(peers)


def channel_bind(tuple_, auth, channel, peer_, presence=0, flags2=0):
    return bytes([4, tuple_, auth, flags2]) + channel + peer_ + bytes([presence])


def send(tuple_, peer_, payload, flags=0):
    return bytes([5, tuple_]) + peer_ + bytes([flags, len(payload)]) + payload


def channel_data(tuple_, channel, payload, shape=0):
    return bytes([6, tuple_]) + channel + bytes([len(payload)]) + payload + bytes([shape])


def peer_packet(relay, peer_, payload):
    return bytes([7, relay]) + peer_ + struct.pack("!H", len(payload)) + payload


def advance(kind, amount):
    """kind 0: milliseconds, 1: seconds (amount % 1024), 2: minutes (amount % 256)."""
    return bytes([8, kind]) + struct.pack("!H", amount)


def retransmit(tuple_):
    return bytes([9, tuple_])


def control(bits):
    """1 toggle drain, 2 reload auth (8: without the second user), 4 fail next OpenRelay."""
    return bytes([10, bits])


def binding(tuple_, auth=A_NONE, flags2=0):
    return bytes([11, tuple_, auth, flags2])


def raw(tuple_, data):
    return bytes([0, tuple_]) + struct.pack("!H", len(data)) + data


def seeds():
    s = {}
    s["no_auth_relay_flow"] = bytes([NO_AUTH]) + b"".join([
        allocate(0, A_NONE, flags=1 | 4, lifetime=900),
        create_permission(0, A_NONE, [peer(0), peer(2)]),
        channel_bind(0, A_NONE, chan(0), peer(0)),
        send(0, peer(0), b"hello peer"),
        channel_data(0, chan(0), b"data", shape=0),
        channel_data(0, chan(0), b"pad", shape=2),
        peer_packet(1, peer(0), b"answer"),
        peer_packet(1, peer(1), b"no permission"),
        advance(1, 350),
        peer_packet(1, peer(0), b"permission expired"),
        refresh(0, A_NONE, 1),
        allocate(0, A_NONE),
    ])
    s["static_user_md5_sha256"] = bytes([STATIC]) + b"".join([
        allocate(0, A_NONE),
        allocate(0, A_MD5, flags2=8 | 4),
        retransmit(0),
        create_permission(0, A_MD5, [peer(1)]),
        channel_bind(0, A_SHA256, chan(1), peer(1)),
        refresh(0, A_USERHASH, 42),  # 1260 s
        refresh(0, A_WRONG, 2),
        refresh(0, A_NO_USER, 2),
        refresh(0, A_BAD_NONCE, 2),
        advance(1, 700),
        refresh(0, A_MD5, 0),
        refresh(0, A_MD5, 0),
        allocate(1, A_NONE),
        allocate(1, A_USER2),
        binding(1),
    ])
    s["rest_secret"] = bytes([REST]) + b"".join([
        allocate(0, A_NONE),
        allocate(0, A_MD5),
        allocate(1, A_NONE),
        allocate(1, A_EXPIRED),
        allocate(1, A_SHA256),
        control(2),
    ])
    s["errors_and_quotas"] = bytes([STATIC | SMALL_QUOTA | SMALL_BOUNDS]) + b"".join([
        allocate(0, A_NONE, flags=0),
        allocate(0, A_MD5, flags=0),
        allocate(0, A_MD5, flags=1 | 2),
        allocate(0, A_MD5, flags2=2),
        allocate(0, A_MD5),
        allocate(0, A_MD5),
        allocate(1, A_MD5),
        allocate(3, A_NONE),
        allocate(3, A_USER2),
        create_permission(0, A_MD5, [peer(3)]),
        create_permission(0, A_MD5, [peer(0), peer(1), peer(2)]),
        create_permission(0, A_MD5, []),
        channel_bind(0, A_MD5, chan(3), peer(0)),
        channel_bind(0, A_MD5, chan(0), peer(0), presence=1),
        channel_bind(0, A_MD5, chan(0), peer(0)),
        channel_bind(0, A_MD5, chan(0), peer(1)),
        channel_bind(0, A_MD5, chan(2), peer(2)),
        refresh(1, A_MD5, 2),
    ])
    s["ipv6_even_port"] = bytes([NO_AUTH | IPV6]) + b"".join([
        allocate(2, A_NONE, flags=1 | 8, family=1),
        allocate(0, A_NONE, flags=1 | 16),
        allocate(1, A_NONE, flags=1 | 32 | 64),
        allocate(3, A_NONE, flags=1 | 128),
        allocate(3, A_NONE, flags=1 | 8 | 16, family=1),
        create_permission(2, A_NONE, [peer(2), peer(0)]),
        create_permission(2, A_NONE, [peer(2)]),
        channel_bind(0, A_NONE, chan(6), peer(2)),
        peer_packet(1, peer(2), b"v6 data"),
        advance(2, 70),
    ])
    s["tcp_and_raw"] = bytes([NO_AUTH | LOOPBACK | MAX_BPS]) + b"".join([
        allocate(4, A_NONE),
        create_permission(4, A_NONE, [peer(4)]),
        channel_bind(4, A_NONE, chan(2), peer(4)),
        channel_data(4, chan(2), b"tcp!", shape=2),
        peer_packet(1, peer(4), b"x" * 600),
        peer_packet(1, peer(4), b"x" * 600),
        raw(0, bytes.fromhex("000100002112a442") + bytes(12)),
        raw(0, bytes.fromhex("4000000561")),
        raw(1, b"\x00\x03\x00\x08\x21\x12\xa4\x42" + bytes(12) + b"\x00\x19\x00\x04\x11\x00\x00\x00"),
    ])
    s["drain_reload"] = bytes([STATIC]) + b"".join([
        allocate(0, A_NONE),
        allocate(0, A_MD5),
        control(1),
        allocate(1, A_NONE),
        allocate(1, A_MD5),
        refresh(0, A_MD5, 2),
        control(1 | 2 | 8),
        allocate(1, A_USER2),
        control(4),
        allocate(1, A_MD5),
        allocate(1, A_MD5),
    ])
    s["peer_policy_ranges"] = bytes([NO_AUTH | RANGES | IPV6]) + b"".join([
        allocate(0, A_NONE, flags=1 | 16),
        create_permission(0, A_NONE, [peer(3)]),
        create_permission(0, A_NONE, [peer(6)]),
        create_permission(0, A_NONE, [peer(5)]),
        create_permission(0, A_NONE, [peer(7)]),
        create_permission(0, A_NONE, [random_peer(True, [0x20, 0x01, 0, 0, 127, 0, 0, 1] + [0] * 8, 9)]),
        send(0, peer(4), b"to loopback"),
        send(0, peer(3), b"to allowed private"),
        channel_bind(0, A_NONE, chan(0), peer(5)),
        peer_packet(1, peer(3), b"from allowed private"),
    ])
    return s


def main():
    write_seeds("turn_server", seeds())


if __name__ == "__main__":
    main()
