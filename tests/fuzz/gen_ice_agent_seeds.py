#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_ice_agent into tests/fuzz/corpus/ice_agent/.

A seed is a configuration byte, then operations in the encoding documented
next to each op in fuzz_ice_agent.cc (op byte, then its arguments). The
harness answers the agent's own requests itself (Answer, op 1: it builds the
response with the right transaction ID, XOR-MAPPED-ADDRESS and integrity), so
these scripts reach gathering, TURN allocation, successful checks,
nomination, consent and restart. Re-run after changing the encoding:

    python3 tests/fuzz/gen_ice_agent_seeds.py
"""
import struct

from gen_seeds import write_seeds

# Configuration byte.
CONTROLLING, AGGRESSIVE, RELAY_ONLY, IPV6, LITE, TIE_ONE, SMALL_CAPS = 1, 2, 4, 8, 16, 32, 64

# Addresses (kAddrs): 0 198.51.100.1:6000, 1 :6001, 2 198.51.100.2:7000,
# 3 203.0.113.9:50000 (relayed), 4 our own base, 5 2001:db8::2, 6 STUN, 7 TURN.
# Answer flags.
ERROR, WRONG_MI, NO_FP, WRONG_FROM, NO_MI, OTHER_MAPPED, MUTATE, WRONG_BASE = (
    1, 2, 4, 8, 16, 32, 64, 128)
# Answer codes (index into kCodes).
CODES = [400, 401, 403, 420, 437, 438, 440, 441, 442, 486, 487, 508]
# Remote check flags.
NO_USERNAME, WRONG_UFRAG, NO_PRIORITY, USE_CANDIDATE = 1, 2, 4, 8
CHECK_CONTROLLING, CHECK_CONTROLLED, NO_CHECK_MI, NO_CHECK_FP = 16, 32, 64, 128
TIE_ZERO, TIE_MAX, WRONG_PWD, CHECK_MUTATE, SECOND_REMOTE = 256, 512, 1024, 2048, 4096


def raw(base, frm, data):
    return bytes([0, base, frm, len(data)]) + data


def answer(which=0, flags=0, code=0, addr=0, mutation=None):
    out = bytes([1, which, flags, CODES.index(code) if code else 0, addr])
    if flags & MUTATE:
        out += bytes(mutation or (0, 1))
    return out


def check(base=0, frm=0, flags=0, priority=0x6E7FFFFF, mutation=None):
    out = bytes([2, base, frm]) + struct.pack("!HI", flags, priority)
    if flags & CHECK_MUTATE:
        out += bytes(mutation or (0, 1))
    return out


def candidate(typ=0, addr=0, prio=0, foundation=1):
    """typ 0 host, 1 srflx, 2 prflx, 3 relay."""
    return bytes([3, typ, addr, prio, foundation])


def raw_candidate(text):
    data = text.encode()
    return bytes([4, len(data)]) + data


def mutated_candidate(typ, addr, pos, char):
    return bytes([5, typ, addr, 0, 1, pos, char])


def credentials(which, ufrag=b"", pwd=b""):
    out = bytes([6, which])
    if which == 3:
        out += bytes([len(ufrag)]) + ufrag + bytes([len(pwd)]) + pwd
    return out


END_OF_CANDIDATES = bytes([7])


def ms(n):
    return bytes([8, 0, n])


def to_timeout():
    return bytes([8, 1, 0])


def seconds(n):
    return bytes([8, 2, n])


def timers(n):
    return bytes([8, 3, n])


def send(data):
    return bytes([9, len(data)]) + data


RESTART, LITE_ON, LITE_OFF, CLOSE, GATHER_AGAIN = (bytes([10, 0]), bytes([10, 3]),
                                                   bytes([10, 4]), bytes([10, 5]),
                                                   bytes([10, 6]))


def turn_data(kind, addr, channel, payload):
    """kind bit 0 ChannelData (else a Data indication), bit 1 FINGERPRINT,
    bits 2.. the base, bit 3 from the STUN server instead of TURN."""
    return bytes([11, kind, addr]) + struct.pack("!H", channel) + bytes([len(payload)]) + payload


def script(config, *ops):
    return bytes([config]) + b"".join(ops)


RTP = b"\x80" + b"\x11" * 99


def seeds():
    s = {}
    # Gathering: the STUN Binding and TURN Allocate (401, then success), then
    # a remote host candidate whose check is answered: a valid pair.
    connect = [
        credentials(0), candidate(0, 0),
        to_timeout(), to_timeout(), to_timeout(),
        answer(0), answer(1), answer(2), answer(3),
        to_timeout(), to_timeout(),
        answer(0), answer(1), answer(2),
        check(0, 0, CHECK_CONTROLLED),
        to_timeout(), answer(0), to_timeout(), answer(0), timers(10), answer(0),
    ]
    s["connect_controlling"] = script(CONTROLLING, *connect, send(RTP), raw(0, 0, RTP))
    s["connect_controlled"] = script(0, *connect[:-1], check(0, 0, CHECK_CONTROLLING | USE_CANDIDATE),
                                     send(RTP), raw(0, 0, RTP), seconds(40))
    s["aggressive"] = script(CONTROLLING | AGGRESSIVE, *connect, send(RTP))
    s["lite_remote"] = script(LITE, *connect, send(RTP))
    s["ipv6"] = script(CONTROLLING | IPV6, credentials(0), candidate(0, 5), candidate(0, 0),
                       to_timeout(), answer(0), answer(1), timers(20), answer(0), answer(1))
    s["relay_only"] = script(CONTROLLING | RELAY_ONLY, credentials(0), candidate(1, 2),
                             timers(5), answer(0, ERROR, 401), to_timeout(), answer(0, 0, 0, 2),
                             timers(5), answer(0), answer(1), answer(2),
                             turn_data(1, 2, 0x4000, RTP[:20]),
                             turn_data(2, 2, 0, RTP[:20]), send(RTP))
    # Role conflicts both ways (RFC 8445 §7.3.1.1) and 487 answers.
    s["role_conflict"] = script(CONTROLLING, credentials(0), candidate(0, 0),
                                check(0, 0, CHECK_CONTROLLING | TIE_MAX),
                                check(0, 1, CHECK_CONTROLLING | TIE_ZERO),
                                to_timeout(), answer(0, ERROR, 487), to_timeout(),
                                answer(0, ERROR, 487), timers(30))
    # Bad checks: every error path of §7.3.
    s["bad_checks"] = script(0, credentials(0),
                             check(0, 0, NO_USERNAME), check(0, 0, WRONG_UFRAG),
                             check(0, 0, NO_PRIORITY), check(0, 0, NO_CHECK_MI),
                             check(0, 0, NO_CHECK_FP), check(0, 0, WRONG_PWD),
                             check(0, 0, CHECK_MUTATE, mutation=(30, 0x40)),
                             check(0, 0, SECOND_REMOTE), check(0, 4, 0))
    # Bad answers: wrong integrity, no fingerprint, non-symmetric, mutated.
    s["bad_answers"] = script(CONTROLLING, credentials(0), candidate(0, 0), to_timeout(),
                              to_timeout(), answer(0, WRONG_MI), answer(0, NO_FP),
                              answer(0, WRONG_FROM), answer(0, NO_MI),
                              answer(0, MUTATE, mutation=(25, 0xFF)),
                              answer(0, WRONG_BASE), answer(0, OTHER_MAPPED, addr=1),
                              timers(31))
    # TURN failures: 486, 508, 438 storms, and timeouts.
    s["turn_errors"] = script(CONTROLLING, timers(3), answer(0, ERROR, 401), to_timeout(),
                              answer(0, ERROR, 486), answer(1, ERROR, 508),
                              answer(0, ERROR, 438), answer(0, ERROR, 438),
                              answer(0, ERROR, 438), answer(0, ERROR, 438), seconds(60))
    s["turn_timeout"] = script(CONTROLLING, credentials(0), candidate(0, 0), seconds(50),
                               timers(31))
    # Signalling: mutated and raw candidate lines, bad credentials, a remote
    # restart, end-of-candidates, over the cap.
    s["signalling"] = script(SMALL_CAPS, credentials(2), credentials(3, b"ab", b"x" * 30),
                             credentials(0),
                             raw_candidate("candidate:1 1 udp 2130706431 198.51.100.1 6000 typ host"),
                             raw_candidate("candidate:1 1 tcp 2130706431 198.51.100.1 6000 typ host tcptype passive"),
                             raw_candidate("candidate:1 2 udp 2130706431 198.51.100.1 6000 typ host"),
                             raw_candidate("candidate:1 1 udp 2130706431 abc.local 6000 typ host"),
                             raw_candidate("candidate:2 1 UDP 1694498815 198.51.100.2 7000 typ srflx raddr 0.0.0.0 rport 0"),
                             mutated_candidate(0, 1, 12, ord("x")),
                             *[candidate(i % 4, i % 8, i, i) for i in range(12)],
                             END_OF_CANDIDATES, credentials(1), candidate(0, 2),
                             END_OF_CANDIDATES, timers(20))
    # Restart while connected; close; everything after close.
    s["restart_close"] = script(CONTROLLING, *connect, RESTART, credentials(1),
                                candidate(0, 0), timers(10), answer(0), answer(1), timers(10),
                                send(RTP), CLOSE, answer(0), check(0, 0, 0), send(RTP),
                                RESTART, GATHER_AGAIN, timers(10))
    # Consent: connected, then silence for 40 s.
    s["consent_lost"] = script(CONTROLLING, *connect, seconds(10), answer(0), seconds(40),
                               timers(31), send(RTP))
    s["raw"] = script(0, raw(0, 0, b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12),
                      raw(0, 7, b"\x40\x00\x00\x04abcd"), raw(0, 0, b""), raw(0, 6, RTP))
    s["lite_toggle"] = script(CONTROLLING, LITE_ON, credentials(0), candidate(0, 0), to_timeout(),
                              answer(0), LITE_OFF, timers(10), answer(0))
    return s


def main():
    write_seeds("ice_agent", seeds())


if __name__ == "__main__":
    main()
