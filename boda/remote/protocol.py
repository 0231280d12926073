"""The wire format between boda and a `boda agent`: framed messages over one TCP connection.

A message is a 12-byte head (magic b"BDA1", then the lengths of its two parts as
little-endian uint32), a JSON object (the request or the reply: never code, never pickles),
and an optional binary payload (float32 array bytes). Both lengths are checked against limits
before anything is read, so a garbage or oversized message costs the reader 12 bytes.

Requests carry "op"; replies carry "ok" and, when not ok, "error" (one line) and "kind":
"compile" or "run" (the kernel's fault: the session goes on) or "request" (the message was
refused; the agent closes the connection).
"""
from __future__ import annotations

import json
import socket
import struct

from ..errors import BodaError

MAGIC = b"BDA1"
HEAD = struct.Struct("<4sII")
VERSION = 1
MAX_HEADER = 1 << 20            # bytes of JSON in one message
DEFAULT_MAX_PAYLOAD = 1 << 28   # bytes of array data in one message (256 MiB)


class RemoteError(BodaError):
    """The connection to an agent failed or the agent refused a request (one line)."""


class ProtocolError(Exception):
    """A malformed, oversized or truncated message."""


def send(sock: socket.socket, header: dict, payload: bytes | memoryview = b""):
    data = json.dumps(header, separators=(",", ":")).encode()
    head = HEAD.pack(MAGIC, len(data), len(payload)) + data
    if len(payload) < 1 << 16:  # one write: small messages are one request's latency
        sock.sendall(head + bytes(payload))
    else:
        sock.sendall(head)
        sock.sendall(payload)


def no_delay(sock: socket.socket):
    """Send each message at once: Nagle's algorithm would hold a reply back for the peer's
    delayed acknowledgement (40 ms a round trip on Linux)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def receive(sock: socket.socket, max_payload: int = DEFAULT_MAX_PAYLOAD) -> tuple[dict, bytes]:
    """One message; raises EOFError on a clean close before a message begins, ProtocolError
    on anything else that is not a well-formed message within the limits, and
    socket.timeout / OSError as the socket does."""
    head = _exactly(sock, HEAD.size, at_start=True)
    magic, hlen, plen = HEAD.unpack(head)
    if magic != MAGIC:
        raise ProtocolError("not a boda message (bad magic bytes)")
    if hlen > MAX_HEADER:
        raise ProtocolError(f"a message header of {hlen} bytes is over the limit of "
                            f"{MAX_HEADER}")
    if plen > max_payload:
        raise ProtocolError(f"a message of {plen} bytes is over the limit of {max_payload} "
                            "bytes")
    try:
        header = json.loads(_exactly(sock, hlen))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("a message header that is not JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message header that is not a JSON object")
    return header, _exactly(sock, plen) if plen else b""


def _exactly(sock, n: int, at_start: bool = False) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            if at_start and not buf:
                raise EOFError
            raise ProtocolError("the connection closed in the middle of a message")
        buf += chunk
    return bytes(buf)


def parse_address(text: str) -> tuple[str, int]:
    """"HOST:PORT" (or "[v6]:PORT") -> (host, port); a one-line error otherwise."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RemoteError(f"--remote wants HOST:PORT (e.g. 192.168.1.20:7070), not {text!r}")
    return host, int(port)
