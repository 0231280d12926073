"""The client side of `boda agent`: one authenticated connection (requests and replies in the
wire format of protocol.py), the agent's devices as `Device`s, and the tokens given for
each agent address (--token, else $BODA_AGENT_TOKEN).

The kernel's faults (a compile error, a failed launch) come back as CompileError and
RemoteRunError, which the tuner records against the candidate; a lost connection, a
timeout or a refused request is a RemoteError, which stops the command with one line (the
tuning database already holds every finished trial).
"""
from __future__ import annotations

import os
import socket

from ..devices.discovery import Device
from ..errors import CompileError
from .protocol import (DEFAULT_MAX_PAYLOAD, VERSION, ProtocolError, RemoteError, no_delay,
                       parse_address, receive, send)

DEFAULT_TIMEOUT = 300.0  # seconds for one reply: a phone compiling a big program is slow


class RemoteRunError(Exception):
    """A kernel failed to launch or run on the agent's device (the candidate's fault)."""


TOKEN_ENV = "BODA_AGENT_TOKEN"
_TOKENS: dict[str, str] = {}


def use_token(address: str, token: str | None):
    """Remember the token for an agent (the CLI's --token); None leaves $BODA_AGENT_TOKEN."""
    if token:
        _TOKENS[address] = token


def token_for(address: str) -> str:
    token = _TOKENS.get(address) or os.environ.get(TOKEN_ENV)
    if not token:
        raise RemoteError(f"no token for the agent at {address}: give --token or set "
                          f"{TOKEN_ENV}")
    return token


def remote_devices(address: str, token: str | None = None) -> list:
    """The devices the agent at `address` serves, as Devices whose backend is remote."""
    use_token(address, token)
    return list_remote_devices(address, token_for(address))


class Connection:
    """One authenticated connection to an agent."""

    def __init__(self, address: str, token: str, device: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.address = address
        host, port = parse_address(address)
        try:
            self.sock = socket.create_connection((host, port), timeout=min(timeout, 30.0))
        except OSError as exc:
            raise RemoteError(f"cannot reach a boda agent at {address}: "
                              f"{exc.strerror or exc}") from None
        self.sock.settimeout(timeout)
        no_delay(self.sock)
        self.max_payload = DEFAULT_MAX_PAYLOAD
        self._release: list[int] = []
        hello = self.request({"op": "hello", "token": token, "version": VERSION,
                              "device": device})
        if hello.get("version") != VERSION:
            self.close()
            raise RemoteError(f"the agent at {address} speaks protocol {hello.get('version')}"
                              f", this boda {VERSION}: install the same boda on both")
        self.devices = hello["devices"]
        self.max_payload = int(hello.get("max_payload", DEFAULT_MAX_PAYLOAD))

    def request(self, header: dict, payload: bytes = b"") -> dict:
        return self.exchange(header, payload)[0]

    def exchange(self, header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
        if len(payload) > self.max_payload:
            raise RemoteError(f"{len(payload)} bytes for one transfer is over the agent's "
                              f"limit of {self.max_payload} (boda agent --max-message-mb)")
        if self._release:
            header, self._release = dict(header, release=self._release), []
        try:
            send(self.sock, header, payload)
            reply, data = receive(self.sock, 1 << 40)
        except socket.timeout:
            raise RemoteError(f"the agent at {self.address} did not answer a {header['op']} "
                              "request in time") from None
        except (OSError, EOFError, ProtocolError) as exc:
            why = "closed the connection" if isinstance(exc, EOFError) else str(exc) or \
                type(exc).__name__
            raise RemoteError(f"lost the connection to the agent at {self.address} "
                              f"({why})") from None
        if not reply.get("ok"):
            error, kind = reply.get("error", "no reason given"), reply.get("kind")
            if kind == "compile":
                raise CompileError(error)
            if kind == "run":
                raise RemoteRunError(error)
            raise RemoteError(f"the agent at {self.address} refused: {error}")
        return reply, data

    def release(self, handle: int):
        """Free an agent-side object with the next request (called from finalizers, which
        must not talk on the socket in the middle of another request)."""
        self._release.append(handle)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def list_remote_devices(address: str, token: str) -> list:
    """The agent's devices as `Device`s (index = the agent's device number)."""
    conn = Connection(address, token)
    conn.close()
    return [Device(index=i, backend="opencl", ordinal=i, remote=address, **fields)
            for i, fields in enumerate(conn.devices)]


class Handle:
    """An agent-side object (program, buffer, kernel), released when collected."""
    __slots__ = ("conn", "id", "__weakref__")

    def __init__(self, conn: Connection, handle: int):
        self.conn, self.id = conn, handle

    def __del__(self):
        self.conn.release(self.id)
