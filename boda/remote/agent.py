"""`boda agent`: serves this machine's OpenCL devices to a boda on another machine.

It runs on the target (a phone, a board) and needs only numpy and pyopencl there. A client
connects, proves it holds the token, picks a device, and then sends requests, each answered
before the next: compile an OpenCL program, allocate / upload / fill / read back buffers, bind
a kernel's arguments, launch kernels, time them with device events. That is all it does: the
requests are JSON (protocol.py), no request names a file or a command, and nothing received
is ever run except as OpenCL C given to the driver's compiler and kernels launched from it.

Safety: it listens on 127.0.0.1 unless told another address; the token is compared in
constant time and a connection without it is refused; message sizes are bounded; a kernel
that fails to compile or launch gets an error reply and the session goes on; an idle or
stalled connection is closed after a timeout; each connection has its own OpenCL context,
released when it closes, so one client cannot reach another's buffers.
"""
from __future__ import annotations

import hmac
import socketserver
import sys
import threading

import numpy as np

from .protocol import (DEFAULT_MAX_PAYLOAD, VERSION, ProtocolError, RemoteError, no_delay,
                       receive, send)

DEVICE_FIELDS = ("name", "vendor", "platform", "version", "driver_version",
                 "opencl_c_version", "kind", "compute_units", "global_mem", "local_mem",
                 "max_work_group_size", "vector_width", "clock_mhz", "extensions",
                 "local_mem_type", "image_support")


class RequestError(Exception):
    """A request naming an unknown object or carrying a wrongly typed field."""


def describe(device) -> dict:
    return {k: getattr(device, k) for k in DEVICE_FIELDS}


class Session:
    """One client's OpenCL context on one device, and the objects it has made, by number."""

    def __init__(self, device):
        from ..runtime.backends.opencl import OpenCLBackend
        self.backend = OpenCLBackend(device)
        self.objects: dict[int, tuple[str, object]] = {}
        self._next = 1

    def _add(self, kind: str, obj) -> int:
        handle, self._next = self._next, self._next + 1
        self.objects[handle] = (kind, obj)
        return handle

    def _get(self, req: dict, key: str, kind: str):
        handle = req.get(key)
        entry = self.objects.get(handle) if isinstance(handle, int) else None
        if entry is None or entry[0] != kind:
            raise RequestError(f"{key}: no {kind} {handle!r} in this session")
        return entry[1]

    def handle(self, req: dict, payload: bytes) -> tuple[dict, bytes]:
        """Run one request; returns the reply's fields and payload."""
        release = req.get("release", [])
        if not isinstance(release, list):
            raise RequestError("release: a list of object numbers")
        for handle in release:
            if isinstance(handle, int):
                self.objects.pop(handle, None)
        op = req.get("op")
        fn = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if fn is None:
            raise RequestError(f"unknown request {op!r}")
        out = fn(req, payload)
        return out if isinstance(out, tuple) else (out or {}, b"")

    # -- requests ------------------------------------------------------------------------

    def op_compile(self, req, _):
        source, options = _field(req, "source", str), _field(req, "options", list, [])
        if not all(isinstance(o, str) and o.startswith(("-D", "-cl-")) for o in options):
            raise RequestError("options: only -D and -cl- build options are accepted")
        return {"program": self._add("program", self.backend.compile(source, tuple(options)))}

    def op_alloc(self, req, _):
        buf = self.backend.alloc(_count(req, "nelems"), _itemsize(req))
        return {"buffer": self._add("buffer", buf)}

    def op_upload(self, req, payload):
        buf, dtype = self._get(req, "buffer", "buffer"), _dtype(req)
        if len(payload) % dtype.itemsize:
            raise RequestError(f"upload: the payload is not whole {dtype.name} values")
        self.backend.upload(buf, np.frombuffer(payload, dtype), _count(req, "offset", 0))
        self.backend.finish()  # the payload's memory is this request's

    def op_download(self, req, _):
        buf = self._get(req, "buffer", "buffer")
        out = np.empty(_count(req, "nelems"), _dtype(req))
        self.backend.download(buf, out, _count(req, "offset", 0))
        self.backend.finish()
        return {}, out.tobytes()

    def op_fill(self, req, _):
        self.backend.fill(self._get(req, "buffer", "buffer"), float(_field(req, "value", float)),
                          _count(req, "nelems"), _itemsize(req))

    def op_kernel(self, req, _):
        program = self._get(req, "program", "program")
        args = [self._get({"a": a}, "a", "buffer") for a in _field(req, "args", list)]
        kern = self.backend.kernel(program, _field(req, "name", str), args)
        return {"kernel": self._add("kernel", (kern, args))}  # args: kept alive with it

    def _launches(self, req) -> list:
        out = []
        for item in _field(req, "launches", list):
            if not (isinstance(item, list) and len(item) == 3):
                raise RequestError("launches: a list of [kernel, global, local]")
            kern = self._get({"k": item[0]}, "k", "kernel")[0]
            out.append((kern, _count({"g": item[1]}, "g"), _count({"l": item[2]}, "l")))
        return out

    def op_run(self, req, _):
        """Launch in order, and wait with `finish` (what a recorded replay does)."""
        for kern, g, lsz in self._launches(req):
            self.backend.launch(kern, g, lsz)
        if req.get("finish"):
            self.backend.finish()

    def op_finish(self, req, _):
        self.backend.finish()

    def op_time_launches(self, req, _):
        [(kern, g, lsz)] = self._launches({"launches": [req.get("launch")]})
        return {"times": self.backend.time_launches(kern, g, lsz, _count(req, "count"))}

    def op_time_sequence(self, req, _):
        return {"times": self.backend.time_sequence(self._launches(req),
                                                    _count(req, "count"))}


def _field(req: dict, key: str, kind, default=None):
    value = req.get(key, default)
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind):
        raise RequestError(f"{key}: expected {kind.__name__}")
    return value


def _dtype(req: dict) -> np.dtype:
    name = req.get("dtype", "float32")
    if name not in ("float32", "float16"):
        raise RequestError("dtype: float32 or float16")
    return np.dtype(name)


def _itemsize(req: dict) -> int:
    size = req.get("itemsize", 4)
    if size not in (2, 4):
        raise RequestError("itemsize: 2 or 4")
    return size


def _count(req: dict, key: str, default=None) -> int:
    value = req.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 40:
        raise RequestError(f"{key}: expected a non-negative integer")
    return value


class Agent(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, token: str, devices=None,
                 max_payload: int = DEFAULT_MAX_PAYLOAD, idle_timeout: float = 600.0,
                 max_clients: int = 16, log=None):
        from ..devices import list_devices
        self.token = token.encode()
        self.devices = [d for d in (devices if devices is not None else list_devices())
                        if d.backend == "opencl"]
        self.max_payload, self.idle_timeout = max_payload, idle_timeout
        self.clients = threading.BoundedSemaphore(max_clients)
        self.log = log or (lambda msg: print(f"boda agent: {msg}", file=sys.stderr, flush=True))
        super().__init__((host, port), _Handler)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        agent: Agent = self.server
        sock, peer = self.request, f"{self.client_address[0]}:{self.client_address[1]}"
        if not agent.clients.acquire(blocking=False):
            _reply_error(sock, "request", "the agent is serving its maximum of clients")
            return
        try:
            sock.settimeout(agent.idle_timeout)
            no_delay(sock)
            session = self._hello(agent, sock, peer)
            if session is not None:
                self._serve(agent, sock, peer, session)
        except (OSError, EOFError):
            pass  # the client went away or stalled: its context goes with this thread
        finally:
            agent.clients.release()

    def _hello(self, agent, sock, peer):
        try:
            req, _ = receive(sock, 0)
        except ProtocolError as exc:
            agent.log(f"refused {peer}: {exc}")
            _reply_error(sock, "request", str(exc))
            return None
        token = req.get("token") if req.get("op") == "hello" else None
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), agent.token):
            agent.log(f"refused {peer}: wrong or missing token")
            _reply_error(sock, "request", "wrong or missing token")
            return None
        reply = {"ok": True, "version": VERSION, "max_payload": agent.max_payload,
                 "devices": [describe(d) for d in agent.devices]}
        index = req.get("device")
        if index is None:
            send(sock, reply)  # a listing only
            return None
        if not isinstance(index, int) or not 0 <= index < len(agent.devices):
            _reply_error(sock, "request", f"no device {index!r} on the agent")
            return None
        session = Session(agent.devices[index])
        send(sock, reply)
        agent.log(f"{peer} connected to {agent.devices[index].name}")
        return session

    def _serve(self, agent, sock, peer, session):
        while True:
            try:
                req, payload = receive(sock, agent.max_payload)
            except EOFError:
                agent.log(f"{peer} disconnected")
                return
            except ProtocolError as exc:
                agent.log(f"closed {peer}: {exc}")
                _reply_error(sock, "request", str(exc))
                return
            try:
                fields, data = session.handle(req, payload)
            except RequestError as exc:
                _reply_error(sock, "request", str(exc))
                continue
            except Exception as exc:  # the driver's complaint about this kernel
                from ..errors import CompileError
                kind = "compile" if isinstance(exc, CompileError) else "run"
                _reply_error(sock, kind, (str(exc).splitlines() or [type(exc).__name__])[0])
                continue
            send(sock, {"ok": True, **fields}, data)


def _reply_error(sock, kind: str, message: str):
    try:
        send(sock, {"ok": False, "kind": kind, "error": message})
    except OSError:
        pass


def serve(host: str, port: int, token: str, device_spec=None, **options):
    """Run an agent until interrupted; prints where it listens."""
    from ..devices import list_devices, select_device
    devices = [d for d in list_devices() if d.backend == "opencl"]
    if device_spec is not None:
        devices = [select_device(device_spec, devices)]
    if not devices:
        raise RemoteError("no OpenCL device on this machine to serve")
    try:
        agent = Agent(host, port, token, devices, **options)
    except OSError as exc:
        raise RemoteError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with agent:
        agent.log(f"listening on {agent.address}, serving "
                  + "; ".join(f"{i}: {d.name}" for i, d in enumerate(devices)))
        if host not in ("127.0.0.1", "localhost", "::1"):
            agent.log("listening beyond this machine: anyone who can reach the port and has "
                      "the token can run kernels here")
        agent.serve_forever()

