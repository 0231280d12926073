"""The remote backend: the backend interface over a connection to a `boda agent`.

Each call is one request and its reply (boda/remote/protocol.py), so the tuner, the runtime
and the bench run unchanged on a device attached to another machine; device-event times are
taken on the agent, so the network's latency never enters a measurement. A recorded replay
(`record`) is one request for every launch of an inference.

The kernel's faults (a compile error, a failed launch) come back as CompileError and
RemoteRunError, which the tuner records against the candidate; a lost connection, a
timeout or a refused request is a RemoteError, which stops the command with one line (the
tuning database already holds every finished trial).
"""
from __future__ import annotations

import socket

import numpy as np

from ..errors import CompileError
from . import storage_array
from ..remote.protocol import (DEFAULT_MAX_PAYLOAD, VERSION, ProtocolError, RemoteError,
                               no_delay, parse_address, receive, send)

DEFAULT_TIMEOUT = 300.0  # seconds for one reply: a phone compiling a big program is slow


class RemoteRunError(Exception):
    """A kernel failed to launch or run on the agent's device (the candidate's fault)."""


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
    from ..devices import Device
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


class RemoteBackend:
    lang = "opencl"
    faults_are_fatal = False  # the agent's context survives a failed launch

    def __init__(self, device, timeout: float = DEFAULT_TIMEOUT):
        from ..remote import token_for
        self.device = device
        self.conn = Connection(device.remote, token_for(device.remote), device.index, timeout)

    def compile(self, source: str, options: tuple = ()):
        reply = self.conn.request({"op": "compile", "source": source, "options": list(options)})
        return Handle(self.conn, reply["program"])

    def alloc(self, nelems: int, itemsize: int = 4):
        return Handle(self.conn, self.conn.request({"op": "alloc", "itemsize": itemsize,
                                                    "nelems": max(int(nelems), 1)})["buffer"])

    def upload(self, buf, array: np.ndarray, offset: int = 0):
        host = storage_array(array)
        self.conn.request({"op": "upload", "buffer": buf.id, "offset": int(offset),
                           "dtype": host.dtype.name}, host.tobytes())

    def download(self, buf, array: np.ndarray, offset: int = 0):
        _, data = self.conn.exchange({"op": "download", "buffer": buf.id,
                                      "offset": int(offset), "nelems": int(array.size),
                                      "dtype": array.dtype.name})
        array.reshape(-1)[...] = np.frombuffer(data, array.dtype)

    def fill(self, buf, value: float, nelems: int, itemsize: int = 4):
        self.conn.request({"op": "fill", "buffer": buf.id, "value": float(value),
                           "nelems": int(nelems), "itemsize": itemsize})

    def kernel(self, program, name: str, args):
        reply = self.conn.request({"op": "kernel", "program": program.id, "name": name,
                                   "args": [a.id for a in args]})
        return Handle(self.conn, reply["kernel"])

    def launch(self, kernel, global_size: int, local_size: int):
        self.conn.request({"op": "run", "launches": [[kernel.id, global_size, local_size]]})

    def finish(self):
        self.conn.request({"op": "finish"})

    def record(self, launches):
        """A replay is one request carrying every launch."""
        items = [[k.id, int(g), int(lsz)] for k, g, lsz in launches]

        def replay():
            self.conn.request({"op": "run", "launches": items})
        replay.kernels = [k for k, _, _ in launches]  # agent-side kernels live as long
        return replay

    def time_launches(self, kernel, global_size: int, local_size: int, count: int) -> list:
        return self.conn.request({"op": "time_launches", "count": int(count),
                                  "launch": [kernel.id, global_size, local_size]})["times"]

    def time_sequence(self, launches, count: int) -> list:
        return self.conn.request({"op": "time_sequence", "count": int(count),
                                  "launches": [[k.id, int(g), int(lsz)]
                                               for k, g, lsz in launches]})["times"]
