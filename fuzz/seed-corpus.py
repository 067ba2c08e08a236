#!/usr/bin/env python3
"""Writes the starting corpora of the keylog, tls_decrypt and http2 fuzz targets into
fuzz/corpus/<target>/ from the fixtures (run from anywhere; Python 3 standard library
only). The input formats are those the targets' doc comments describe.

keylog       every fixtures/*.keylog, and one of them as a pcapng Decryption Secrets
             Block body in each byte order.
tls_decrypt  per suite, a short session in the target's operations: the handshake
             flight ending in Finished, padded application data, a KeyUpdate, 0-RTT
             with EndOfEarlyData, a ChangeCipherSpec for TLS 1.2, a flipped bit.
http2        the client and server streams of fixtures/h2c-nghttpd.pcap (one seed per
             connection) and h2c-ping.pcap, in capture order, DATA payloads cut to 64
             bytes so the seeds stay small; the decrypted Go h2 records of
             tls13-h2.plaintext; RFC 7541 appendix C header block sequences, and the
             HEADERS blocks of the pcaps, in HPACK mode.
"""

import os
import struct
import sys

FUZZ = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(FUZZ, "..", "fixtures")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def write(target, name, data):
    out = os.path.join(FUZZ, "corpus", target)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


# --- keylog -------------------------------------------------------------------------


def keylog_seeds():
    logs = sorted(n for n in os.listdir(FIXTURES) if n.endswith(".keylog"))
    for name in logs:
        with open(os.path.join(FIXTURES, name), "rb") as f:
            write("keylog", name, f.read())
    with open(os.path.join(FIXTURES, "tls13-reuse.keylog"), "rb") as f:
        text = f.read()
    tlsk = 0x544C534B
    write("keylog", "dsb-le", struct.pack("<II", tlsk, len(text)) + text)
    write("keylog", "dsb-be", struct.pack(">II", tlsk, len(text)) + text)


# --- tls_decrypt --------------------------------------------------------------------

# Indexes into the target's SUITES.
TLS13 = [0, 1, 2]
TLS12_AEAD = [3, 4, 5]
TLS12_CBC = [6, 7, 8, 9, 10]


def sealed(content_type, content, padding=0, flip=None, reject_early=False, version=0, stretch=None):
    op = 1 | (0x08 if reject_early else 0) | (version << 4) | (0x40 if stretch else 0)
    out = bytes([op | (0x04 if flip is not None else 0), content_type])
    out += struct.pack(">H", stretch or len(content)) + bytes([padding])
    if flip is not None:
        out += struct.pack(">H", flip)
    if stretch:
        out += bytes([len(content)])
    return out + content


def raw(content_type, version, body):
    return bytes([0, content_type]) + struct.pack(">HH", version, len(body)) + body


def handshake(kind, body):
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


FINISHED = handshake(20, bytes(range(32)))
KEY_UPDATE = handshake(24, b"\x00")
END_OF_EARLY_DATA = handshake(5, b"")
REQUEST = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def tls_decrypt_seeds():
    for suite in TLS13:
        for server in (0, 0x10):
            setup = bytes([suite | server])
            flight = handshake(8, b"\x00\x00") + FINISHED
            session = (
                setup
                + raw(22, 0x0303, b"\x02\x00\x00\x04\x03\x03\x00\x00")
                + raw(20, 0x0303, b"\x01")
                + sealed(22, flight)
                + sealed(23, REQUEST, padding=12)
                + sealed(22, KEY_UPDATE)
                + sealed(23, REQUEST)
                + sealed(21, b"\x01\x00")
                + bytes([2 | (2 << 2)])  # key_update by hand
                + sealed(23, b"", padding=3)
                + sealed(23, b"0123456789abcdef", stretch=1 << 14)
                + sealed(23, b"0123456789abcdef", stretch=(1 << 14) + 1)
                + sealed(23, REQUEST, flip=77)
            )
            write("tls_decrypt", f"tls13-{suite}-{server}", session)
        early = bytes([suite | 0x40])
        write(
            "tls_decrypt",
            f"tls13-{suite}-early",
            early
            + sealed(23, REQUEST)
            + sealed(22, END_OF_EARLY_DATA)
            + sealed(22, FINISHED)
            + sealed(23, REQUEST),
        )
        write(
            "tls_decrypt",
            f"tls13-{suite}-early-rejected",
            early + sealed(23, REQUEST) + sealed(22, FINISHED, reject_early=True) + sealed(23, b"x"),
        )
    for suite in TLS12_AEAD + TLS12_CBC:
        for etm in (0, 0x20) if suite in TLS12_CBC else (0,):
            setup = bytes([suite | etm])
            session = (
                setup
                + raw(22, 0x0303, b"\x01\x00\x00\x00")
                + b"\x03"  # ChangeCipherSpec
                + sealed(22, handshake(20, bytes(12)))
                + sealed(23, REQUEST, padding=2)
                + sealed(23, REQUEST, version=1)
                + sealed(23, b"0123456789abcdef", stretch=1 << 14)
                + sealed(23, b"0123456789abcdef", stretch=(1 << 14) + 2048)
                + sealed(21, b"\x01\x00")
                + sealed(23, REQUEST, flip=3)
            )
            write("tls_decrypt", f"tls12-{suite}-{etm}", session)


# --- http2 --------------------------------------------------------------------------


def pcap_packets(path):
    """(src port, dst port, seq, flags, payload) of each TCP/IPv4 Ethernet packet."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    pos = 24
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[pos : pos + 16])
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6:
            continue
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        off = (tcp[12] >> 4) * 4
        yield sport, dport, seq, tcp[13], tcp[off:]


def frames(stream, client):
    """Splits a direction's bytes into (end offset, bytes) pieces: the preface, then
    frames, DATA payloads longer than 64 bytes cut to 64 (header length adjusted)."""
    pos = 0
    if client:
        yield len(PREFACE), stream[: len(PREFACE)]
        pos = len(PREFACE)
    while pos + 9 <= len(stream):
        length = int.from_bytes(stream[pos : pos + 3], "big")
        kind, flags = stream[pos + 3], stream[pos + 4]
        payload = stream[pos + 9 : pos + 9 + length]
        end = pos + 9 + length
        head = bytearray(stream[pos : pos + 9])
        if kind == 0 and not flags & 0x8 and length > 64:
            payload = payload[:64]
            head[:3] = (64).to_bytes(3, "big")
        yield end, bytes(head) + payload
        pos = end


def header_block(flags, payload):
    """A HEADERS frame's block fragment: without its padding and priority fields."""
    pad = 0
    if flags & 0x8:
        pad, payload = payload[0], payload[1:]
    if flags & 0x20:
        payload = payload[5:]
    return payload[: len(payload) - pad]


def steps(direction, data):
    """The replay encoding: control byte (bit 0 direction, length << 3), then data."""
    out = b""
    for i in range(0, len(data), 31):
        piece = data[i : i + 31]
        out += bytes([(len(piece) << 3) | direction]) + piece
    return out


def connections(path, server_port):
    """Per connection: the replay steps in capture order, and each direction's HEADERS
    fragments (END_HEADERS set, the whole block) in order."""
    conns = {}
    for sport, dport, seq, flags, payload in pcap_packets(path):
        client_port = dport if sport == server_port else sport
        direction = 1 if sport == server_port else 0
        conn = conns.setdefault(client_port, {"packets": [], "isn": {}})
        if flags & 0x02:
            conn["isn"][direction] = seq + 1
            continue
        if payload:
            offset = (seq - conn["isn"][direction]) & 0xFFFFFFFF
            conn["packets"].append((direction, offset, payload))
    out = {}
    for port, conn in sorted(conns.items()):
        streams = {0: b"", 1: b""}
        for direction, offset, payload in conn["packets"]:
            assert offset == len(streams[direction]), "in order on loopback"
            streams[direction] += payload
        # Each frame goes with the packet holding its last byte.
        ends = {0: [], 1: []}
        for direction, offset, payload in conn["packets"]:
            ends[direction].append(offset + len(payload))
        chunks = []
        blocks = {0: [], 1: []}
        for direction in (0, 1):
            bounds = ends[direction]
            for end, piece in frames(streams[direction], direction == 0):
                packet = next(i for i, b in enumerate(bounds) if b >= end)
                chunks.append((packet, direction, piece))
                if piece[3] == 1 and piece[4] & 0x4:
                    blocks[direction].append(header_block(piece[4], piece[9:]))
        # Order: by packet in capture order across both directions.
        order = []
        for index, (direction, offset, payload) in enumerate(conn["packets"]):
            order.append((direction, sum(1 for d, _, _ in conn["packets"][:index] if d == direction)))
        replay = b""
        for direction, nth in order:
            data = b"".join(p for k, d, p in chunks if d == direction and k == nth)
            replay += steps(direction, data)
        out[port] = (replay, blocks)
    return out


def hpack_seed(blocks, knob=0, split=0x5a):
    out = bytes([2, knob, split])
    for block in blocks:
        out += struct.pack(">H", len(block)) + block
    return out


RFC7541 = {
    "c2": ["400a637573746f6d2d6b65790d637573746f6d2d686561646572",
           "040c2f73616d706c652f70617468",
           "100870617373776f726406736563726574",
           "82"],
    "c3": ["828684410f7777772e6578616d706c652e636f6d",
           "828684be58086e6f2d6361636865",
           "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"],
    "c4": ["828684418cf1e3c2e5f23a6ba0ab90f4ff",
           "828684be5886a8eb10649cbf",
           "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"],
    "c5": ["3fe101" "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
           "4803333037c1c0bf",
           "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31"],
    "c6": ["3fe101" "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
           "4883640effc1c0bf",
           "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"],
}


def http2_seeds():
    for name, port in (("h2c-nghttpd.pcap", 8443), ("h2c-ping.pcap", 8443)):
        for client_port, (replay, blocks) in connections(os.path.join(FIXTURES, name), port).items():
            stem = f"{name[:-5]}-{client_port}"
            write("http2", stem, bytes([0, 0x5a]) + replay)
            for direction, side in ((0, "client"), (1, "server")):
                if blocks[direction]:
                    write("http2", f"{stem}-hpack-{side}", hpack_seed(blocks[direction]))
    # Decrypted Go h2 records, one step run per record; the preface is in the first.
    replay = b""
    with open(os.path.join(FIXTURES, "tls13-h2.plaintext")) as f:
        for line in f:
            side, hex_text = line.split()
            replay += steps(0 if side == "C" else 1, bytes.fromhex(hex_text))
    write("http2", "tls13-h2-go", bytes([0, 0x33]) + replay)
    for name, blocks in RFC7541.items():
        knob = 1 if name in ("c5", "c6") else 0  # SETTINGS_HEADER_TABLE_SIZE 256
        write("http2", f"rfc7541-{name}", hpack_seed([bytes.fromhex(b) for b in blocks], knob))


if __name__ == "__main__":
    keylog_seeds()
    tls_decrypt_seeds()
    http2_seeds()
    for target in ("keylog", "tls_decrypt", "http2"):
        d = os.path.join(FUZZ, "corpus", target)
        size = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
        print(f"{target}: {len(os.listdir(d))} seeds, {size} bytes", file=sys.stderr)
