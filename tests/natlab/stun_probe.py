#!/usr/bin/env python3
"""STUN Binding requests (RFC 8489) from ONE local UDP socket to several servers.

The NAT lab's own check (lab_check.sh) needs what uturn-stunclient cannot show:
the local port, and the mappings one socket gets towards different
destinations. Port preservation (mapped port == local port) and
endpoint-dependent mapping (a new port per destination, --random-fully) are
read off these lines:

  local=IP:PORT
  server=IP:PORT mapped=IP:PORT      (one per server, in order)

Exit 0 when every server answered, 1 otherwise (after the bounded retries).
"""
import argparse
import os
import socket
import struct
import sys

MAGIC_COOKIE = 0x2112A442  # RFC 8489 §5
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
XOR_MAPPED_ADDRESS = 0x0020  # RFC 8489 §14.2
HEADER = struct.Struct("!HHI12s")


def parse_endpoint(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not IPv4:PORT")
    return host, int(port)


def xor_mapped(body):
    """The XOR-MAPPED-ADDRESS of an IPv4 response body, or None."""
    pos = 0
    while pos + 4 <= len(body):
        kind, length = struct.unpack_from("!HH", body, pos)
        value = body[pos + 4:pos + 4 + length]
        if len(value) < length:
            return None  # truncated attribute
        if kind == XOR_MAPPED_ADDRESS and length == 8 and value[1] == 0x01:
            port = struct.unpack_from("!H", value, 2)[0] ^ (MAGIC_COOKIE >> 16)
            addr = struct.unpack_from("!I", value, 4)[0] ^ MAGIC_COOKIE
            return f"{socket.inet_ntoa(struct.pack('!I', addr))}:{port}"
        pos += 4 + ((length + 3) & ~3)  # attributes are padded to 4 bytes (§14)
    return None


def binding(sock, server, tries, rto):
    """One Binding transaction; retransmits with a doubling RTO (§6.2.1)."""
    txid = os.urandom(12)
    request = HEADER.pack(BINDING_REQUEST, 0, MAGIC_COOKIE, txid)
    timeout = rto
    for _ in range(tries):
        sock.sendto(request, server)
        sock.settimeout(timeout)
        try:
            while True:
                data, source = sock.recvfrom(2048)
                if len(data) < HEADER.size or source != server:
                    continue
                kind, length, cookie, rx = HEADER.unpack_from(data)
                if kind == BINDING_SUCCESS and cookie == MAGIC_COOKIE and rx == txid:
                    return xor_mapped(data[HEADER.size:HEADER.size + length])
        except socket.timeout:
            timeout *= 2
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="0.0.0.0", help="local address")
    parser.add_argument("--port", type=int, default=0, help="local port (0: any)")
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("servers", nargs="+", type=parse_endpoint)
    args = parser.parse_args()

    ok = True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as route, \
         socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((args.bind, args.port))
        # The source address the kernel picks towards the first server (a
        # connected UDP socket sends nothing).
        route.connect(args.servers[0])
        local_ip = args.bind if args.bind != "0.0.0.0" else route.getsockname()[0]
        print(f"local={local_ip}:{sock.getsockname()[1]}", flush=True)
        for server in args.servers:
            mapped = binding(sock, server, args.tries, 0.25)
            ok = ok and mapped is not None
            print(f"server={server[0]}:{server[1]} mapped={mapped or 'none'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
