#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_ice_lite into tests/fuzz/corpus/ice_lite/.

The first byte of a seed picks the harness mode (fuzz_ice_lite.cc):
0 an SDP offer, 1 one a=candidate line, 2 a router script: a configuration
byte, then operations in the encoding documented next to each op in
fuzz_ice_lite.cc (op byte, then its arguments). The harness builds the checks
itself (USERNAME, MESSAGE-INTEGRITY with the session's pwd, FINGERPRINT), so
the scripts reach success responses, nomination, restart and consent expiry.
Re-run after changing the encoding:

    python3 tests/fuzz/gen_ice_seeds.py
"""
import struct

from gen_seeds import write_seeds

SDP, CANDIDATE, ROUTER = 0, 1, 2

# Router config byte (Harness constructor).
ANSWER_UNKNOWN, SMALL_CAPS, REMOVE_ON_FAILED, REMOVE_ON_DISCONNECTED = 1, 2, 4, 8

# Tuples (kTuples): 0-2 UDP IPv4, 3 UDP IPv6, 4 TCP IPv4, 5 TCP IPv6.
# Credentials are selected by the order they were handed out: 0 is the first
# session (peer's ufrag known), 1 the second (not known), then each
# AddSession/RestartSession that succeeded; 255 is an unknown ufrag.

# Check flags.
NO_PRIORITY, USE_CANDIDATE, NOMINATION = 1, 2, 4
CONTROLLING, CONTROLLED, BOTH_ROLES = 1 << 3, 2 << 3, 3 << 3
FP_MISSING, FP_WRONG = 1 << 5, 2 << 5
WRONG_PWD, WRONG_REMOTE, NO_USERNAME, NO_MI = 1 << 7, 1 << 8, 1 << 9, 1 << 10
UNKNOWN_ATTR, GOOG_INFO, NO_COLON = 1 << 11, 1 << 12, 1 << 13
CHROME, FIREFOX, LIBNICE = 0, 1 << 14, 2 << 14

# Tie-breakers (op 1): 0 zero, 1 one, 2 2^63, 3 max, 4 0x1234.
# Priorities (op 1): byte p -> [host, prflx, srflx, relay][p % 4] - (p // 4) * 256.
HOST, PRFLX, SRFLX, RELAY = 0, 1, 2, 3


def check(t, sel, flags=CHROME, prio=HOST, nomination=None, tie=4):
    if nomination is not None:
        flags |= NOMINATION
    out = bytes([1, t, sel]) + struct.pack("!H", flags) + bytes([prio])
    if nomination is not None:
        out += bytes([nomination])
    if flags & BOTH_ROLES:
        out += bytes([tie])
    return out


def raw(t, data):
    return bytes([0, t]) + struct.pack("!H", len(data)) + data


def media(t, kind, payload):
    """kind: 0 DTLS, 1 RTP, 2 RTP (0x90), 3 ChannelData range, 4 ZRTP, 5 0xFF, 6 as given."""
    return bytes([2, t, kind, len(payload)]) + payload


def advance(kind, amount):
    """kind 0: milliseconds, 1: seconds (amount % 128), 2: minutes (amount % 64)."""
    return bytes([3, kind]) + struct.pack("!H", amount)


def remove(k):
    return bytes([4, k])


def restart(k, mode=0):
    """mode 0 fresh, 1 a ufrag in use, 2 invalid pwd, 3 unknown session."""
    return bytes([5, k, mode])


def add(config, mode=0):
    """config: 1 controlling, 2-4 tie-breaker, 8-16 timers (8: 3 s/1 s, 16: zero,
    24: 1 s/5 s), 32-64 max_tuples (32: 0, 64: 1, 96: 3), 128 remote ufrag known.
    mode 0 fresh, 1 a ufrag in use, 2 invalid ufrag."""
    return bytes([6, config, mode])


def retransmit(t):
    return bytes([7, t])


def set_remote(k):
    return bytes([8, k])


def router(config, *ops):
    return bytes([ROUTER, config]) + b"".join(ops)


CHROME_OFFER = """v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1 2
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:3 1 udp 2122260223 192.168.1.20 54400 typ host generation 0 network-id 1 network-cost 10
a=candidate:4 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active generation 0 network-id 1
a=candidate:1 1 udp 1686052607 203.0.113.9 54400 typ srflx raddr 192.168.1.20 rport 54400 generation 0
a=ice-ufrag:Kx3q
a=ice-pwd:9mVbDUm6xPd1GcWlhW3xOzQA
a=ice-options:trickle
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:0
a=sendrecv
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=rtpmap:0 PCMU/8000
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 0.0.0.0
a=ice-ufrag:Kx3q
a=ice-pwd:9mVbDUm6xPd1GcWlhW3xOzQA
a=ice-options:trickle
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:1
a=recvonly
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=ice-ufrag:Kx3q
a=ice-pwd:9mVbDUm6xPd1GcWlhW3xOzQA
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:2
a=sctp-port:5000
a=max-message-size:262144
"""

FIREFOX_OFFER = """v=0
o=mozilla...THIS_IS_SDPARTA-99.0 1735429716093215735 0 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 AB:12:CD:34:EF:56:AB:12:CD:34:EF:56:AB:12:CD:34:EF:56:AB:12:CD:34:EF:56:AB:12:CD:34:EF:56:AB:12
a=group:BUNDLE 0 1
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0
c=IN IP4 0.0.0.0
a=candidate:0 1 UDP 2122252543 0b7c2e4a-1b7e-4f3c-9d2a-5c6f7e8d9a0b.local 50312 typ host
a=candidate:2 1 TCP 2105524479 0b7c2e4a-1b7e-4f3c-9d2a-5c6f7e8d9a0b.local 9 typ host tcptype active
a=candidate:1 1 UDP 1686052863 198.51.100.77 50312 typ srflx raddr 0.0.0.0 rport 0
a=sendonly
a=end-of-candidates
a=ice-pwd:3e1f5b9c2d4a6e8f0b1c3d5e7f9a1b2c
a=ice-ufrag:5f2a9c1e
a=mid:0
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=setup:actpass
m=video 0 UDP/TLS/RTP/SAVPF 120
c=IN IP4 0.0.0.0
a=bundle-only
a=ice-pwd:3e1f5b9c2d4a6e8f0b1c3d5e7f9a1b2c
a=ice-ufrag:5f2a9c1e
a=mid:1
a=rtcp-mux
a=rtpmap:120 VP8/90000
a=setup:actpass
"""

# No BUNDLE, session-level credentials, an IPv6 candidate, a rejected
# section, a plain-RTP section and one that offers setup:passive.
ODD_OFFER = """v=0
o=- 1 1 IN IP6 ::1
s=-
t=0 0
a=ice-ufrag:libn
a=ice-pwd:AAAAAAAAAAAAAAAAAAAAAAAA
a=ice-options:ice2 trickle
a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33
a=end-of-candidates
m=audio 5000 UDP/TLS/RTP/SAVPF 0
a=candidate:1 1 UDP 2013266431 2001:db8::7 5000 typ host
a=candidate:2 1 TCP 1015022079 2001:db8::7 9 typ host tcptype passive
a=rtcp-mux
a=setup:active
m=audio 0 RTP/AVP 0
m=video 7000 UDP/TLS/RTP/SAVPF 96
a=setup:passive
a=rtcp-mux
"""

CANDIDATES = {
    "chrome_host": "candidate:842163049 1 udp 2122260223 192.168.1.20 54400 typ host "
                   "generation 0 ufrag Kx3q network-id 1 network-cost 10",
    "chrome_mdns": "a=candidate:3170231829 1 udp 2113937151 "
                   "6f3c1a2b-8d9e-4f01-a2b3-c4d5e6f70819.local 60123 typ host generation 0",
    "chrome_srflx": "candidate:1 1 udp 1686052607 203.0.113.9 54400 typ srflx "
                    "raddr 192.168.1.20 rport 54400 generation 0 network-id 1",
    "chrome_tcp": "candidate:4 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active "
                  "generation 0 network-id 1",
    "firefox_relay": "candidate:5 1 UDP 8331263 198.51.100.3 61220 typ relay "
                     "raddr 198.51.100.3 rport 61220",
    "firefox_ipv6": "candidate:0 2 UDP 2122187007 2001:db8::42 45678 typ host",
    "libnice_prflx": "candidate:7 1 UDP 1853824767 192.0.2.55 40001 typ prflx "
                     "raddr 10.0.0.5 rport 40001",
    "libnice_tcp_so": "candidate:8 1 TCP 1010827775 10.0.0.5 40002 typ host tcptype so",
}


def seeds():
    s = {}
    for name, text in (("chrome", CHROME_OFFER), ("firefox", FIREFOX_OFFER), ("odd", ODD_OFFER)):
        s["sdp_" + name] = bytes([SDP]) + text.replace("\n", "\r\n").encode()
    s["sdp_lf_only"] = bytes([SDP]) + CHROME_OFFER.encode()
    for name, line in CANDIDATES.items():
        s["cand_" + name] = bytes([CANDIDATE]) + line.encode()

    # Chrome: regular nomination, consent checks, media, then silence:
    # disconnected after 5 s, failed after 30 s (RFC 7675 §5.1).
    s["router_chrome_consent"] = router(
        0,
        check(0, 0, CHROME | GOOG_INFO | CONTROLLING),
        check(0, 0, CHROME | GOOG_INFO | CONTROLLING | USE_CANDIDATE),
        media(0, 0, b"\x16\xfe\xfd" + bytes(10)),
        media(1, 0, b"not ours"),
        advance(1, 2),
        check(0, 0, CHROME | CONTROLLING),
        media(0, 1, b"rtp"),
        advance(1, 6),
        check(0, 0, CHROME | CONTROLLING),
        advance(1, 6),
        advance(1, 31),
        media(0, 0, b"after failure"),
    )
    # Firefox and libnice: aggressive nomination over IPv4 and IPv6, the
    # higher-priority pair wins.
    s["router_aggressive"] = router(
        0,
        check(2, 1, FIREFOX | CONTROLLING | USE_CANDIDATE, prio=SRFLX),
        check(3, 1, FIREFOX | CONTROLLING | USE_CANDIDATE, prio=HOST),
        check(0, 1, LIBNICE | CONTROLLING | USE_CANDIDATE, prio=RELAY),
        media(3, 2, b"rtcp"),
        advance(0, 500),
        check(3, 1, LIBNICE | CONTROLLING | USE_CANDIDATE),
        retransmit(3),
        check(5, 1, LIBNICE | CONTROLLING | USE_CANDIDATE, prio=4),
    )
    # Chrome's renomination: NOMINATION values move the selection; stale ones do not.
    s["router_renomination"] = router(
        0,
        check(0, 0, CHROME | CONTROLLING, nomination=1),
        check(1, 0, CHROME | CONTROLLING, prio=PRFLX, nomination=2),
        check(0, 0, CHROME | CONTROLLING, nomination=1),
        check(0, 0, CHROME | CONTROLLING, nomination=3),
        check(4, 0, CHROME | CONTROLLING | USE_CANDIDATE),
    )
    # ICE restart: old credentials work until the first check with the new ones.
    s["router_restart"] = router(
        0,
        check(0, 0, CHROME | CONTROLLING | USE_CANDIDATE),
        restart(0),
        check(0, 0, CHROME | CONTROLLING),
        check(0, 2, CHROME | CONTROLLING),
        check(0, 0, CHROME | CONTROLLING),
        check(1, 2, CHROME | CONTROLLING | USE_CANDIDATE),
        restart(0, 1),
        restart(0, 2),
        restart(0, 3),
        set_remote(0),
        check(1, 2, CHROME | CONTROLLING),
        check(1, 2, CHROME | CONTROLLING | WRONG_REMOTE),
    )
    # Every error answer: 400 (no USERNAME / MI / PRIORITY, malformed), 401,
    # 420, 487, and silent drops for a wrong or missing FINGERPRINT; stateless
    # 400/401 for unknown ufrags.
    s["router_errors"] = router(
        ANSWER_UNKNOWN,
        check(0, 0, CHROME | WRONG_PWD),
        check(0, 0, CHROME | NO_USERNAME),
        check(0, 0, CHROME | NO_MI),
        check(0, 0, CHROME | NO_PRIORITY),
        check(0, 0, CHROME | UNKNOWN_ATTR),
        check(0, 0, CHROME | CONTROLLED, tie=3),
        check(0, 0, CHROME | BOTH_ROLES),
        check(0, 0, CHROME | WRONG_REMOTE),
        check(0, 0, CHROME | NO_COLON),
        check(0, 0, CHROME | FP_WRONG),
        check(0, 0, CHROME | FP_MISSING),
        check(0, 255, CHROME),
        check(1, 255, CHROME | NO_USERNAME),
        raw(2, bytes.fromhex("000100002112a442") + bytes(12)),
        raw(2, bytes.fromhex("0101000c2112a442") + bytes(12) + bytes.fromhex("0020000800011234c0000201")),
    )
    # Lite–lite: we offered and are controlling; tie-breakers decide 487 or yield.
    s["router_lite_lite"] = router(
        0,
        add(1 | 4 | 128),      # controlling, tie-breaker 2^63
        check(0, 2, CHROME | CONTROLLING, tie=1),
        check(0, 2, CHROME | CONTROLLING, tie=3),
        check(1, 2, CHROME | CONTROLLED, prio=PRFLX),
        check(2, 2, CHROME, prio=HOST),
    )
    # Caps: small router caps, max_tuples 1 (raised to 2), sessions beyond the
    # cap, a ufrag in use, an invalid one.
    s["router_caps"] = router(
        SMALL_CAPS,
        add(64),
        add(0),
        add(0, 1),
        remove(1),
        add(0, 1),
        add(0, 2),
        check(0, 2, FIREFOX | CONTROLLING | USE_CANDIDATE),
        check(1, 2, FIREFOX | CONTROLLING | USE_CANDIDATE),
        check(2, 2, FIREFOX | CONTROLLING | USE_CANDIDATE, prio=HOST),
        check(3, 2, FIREFOX | CONTROLLING | USE_CANDIDATE),
        check(4, 0, FIREFOX | CONTROLLING | USE_CANDIDATE),
        check(5, 0, FIREFOX | CONTROLLING | USE_CANDIDATE),
        remove(9),
    )
    # Short timers, sessions removed from inside their own events, ICE-TCP.
    s["router_callbacks_tcp"] = router(
        REMOVE_ON_FAILED | REMOVE_ON_DISCONNECTED,
        add(8 | 128),
        add(16),
        check(4, 2, LIBNICE | CONTROLLING | USE_CANDIDATE),
        check(5, 3, LIBNICE | CONTROLLING | USE_CANDIDATE),
        media(4, 3, b"\x00\x04data"),
        media(5, 6, b""),
        advance(0, 1500),
        advance(1, 4),
        check(4, 2, LIBNICE | CONTROLLING),
    )
    # The same 5-tuple authenticating with two sessions, one then removed.
    s["router_shared_tuple"] = router(
        0,
        check(3, 0, CHROME | CONTROLLING | USE_CANDIDATE),
        check(3, 1, CHROME | CONTROLLING | USE_CANDIDATE),
        media(3, 0, b"to the latest owner"),
        remove(1),
        media(3, 0, b"after removal"),
        check(3, 0, CHROME | CONTROLLING),
        media(3, 0, b"again"),
    )
    return s


def main():
    write_seeds("ice_lite", seeds())


if __name__ == "__main__":
    main()
