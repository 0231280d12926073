"""The remote backend: the backend interface over a connection to a `boda agent`.

Each call is one request and its reply (remote/client.py), so the tuner, the runtime and the
bench run unchanged on a device attached to another machine; device-event times are taken on
the agent, so the network's latency never enters a measurement. A recorded replay (`record`)
is one request for every launch of an inference.
"""
from __future__ import annotations

import numpy as np

from ...remote.client import DEFAULT_TIMEOUT, Connection, Handle, token_for
from .base import Backend, storage_array


class RemoteBackend(Backend):
    lang = "opencl"
    faults_are_fatal = False  # the agent's context survives a failed launch

    def __init__(self, device, timeout: float = DEFAULT_TIMEOUT):
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

    def time_sequence(self, launches, count: int, repeat: int = 1) -> list:
        launches = [launch for launch in launches for _ in range(repeat)]
        return self.conn.request({"op": "time_sequence", "count": int(count),
                                  "launches": [[k.id, int(g), int(lsz)]
                                               for k, g, lsz in launches]})["times"]
