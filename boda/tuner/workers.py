"""Child processes that compile and verify candidates, so the tuner survives bad ones.

A worker is a spawned process holding its own OpenCL context on the same device. It builds a
chunk of candidates as one program, runs each once on a NaN-poisoned output against the numpy
reference (ProblemBench.check), and replies with each one's status. That first launch is also
where PoCL generates machine code, and PoCL caches it on disk, so when the tuner's own process
then builds the same program to time it, the expensive part is already done; workers on
several cores thus compile in parallel. A candidate that hangs or kills its process costs
only the worker: the tuner kills or loses it, starts another, and records a timeout or a
run error.
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys

from ..errors import BodaError


STARTUP_SECONDS = 120.0


class WorkerFailed(Exception):
    def __init__(self, status: str, cause: str):
        super().__init__(cause)
        self.status, self.cause = status, cause


def _write(f, obj):
    data = pickle.dumps(obj)
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def _read(f):
    head = f.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", head)
    data = f.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def serve(device_index: int, remote: str = ""):
    """The worker's loop: requests on stdin, replies on the original stdout (anything a
    driver prints goes to stderr instead, so it cannot corrupt a reply). With `remote`, the
    device is the agent's (its token comes in $BODA_AGENT_TOKEN); a lost agent is replied as
    ("lost", why), so the tuner stops instead of blaming the candidate."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    from .. import kernels
    from ..devices import list_devices
    from ..remote.client import RemoteError, remote_devices
    from ..runtime.backends import backend_for
    from .measure import ProblemBench
    try:
        device = (remote_devices(remote) if remote else list_devices())[device_index]
        backend = backend_for(device)
    except RemoteError as exc:
        _write(replies, ("lost", str(exc)))
        return
    _write(replies, "ready")  # start-up (imports, context) does not count against timeouts
    bench = None
    while True:
        try:
            msg = _read(requests)
        except EOFError:
            return
        problem, seed, dtype, chunk = msg
        if bench is None or (bench.problem, bench.seed, bench.dtype.name) != (problem, seed,
                                                                             dtype):
            bench = ProblemBench(problem, device, backend, seed=seed, dtype=dtype)
        try:
            trials = bench.check([(kernels.BY_NAME[f], p) for f, p in chunk])
        except RemoteError as exc:
            _write(replies, ("lost", str(exc)))
            return
        _write(replies, [(t.status, t.error, t.cause) for t in trials])
        if backend.faults_are_fatal and any(t.status == "run_error" for t in trials):
            return  # the pool starts a fresh worker


class Worker:
    """One verification process (`python -m boda.tuner.workers INDEX [HOST:PORT]`)."""

    def __init__(self, device):
        env = None
        if device.remote:
            from ..remote.client import TOKEN_ENV, token_for
            env = dict(os.environ, **{TOKEN_ENV: token_for(device.remote)})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "boda.tuner.workers", str(device.index), device.remote],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.started = False

    def send(self, problem, seed: int, dtype: str, chunk: list):
        """chunk: [(family name, params dict)]."""
        if not self.started:
            self.started = True
            try:
                self.receive(STARTUP_SECONDS)
            except WorkerFailed as exc:
                raise BodaError(f"a tuning worker process failed to start: {exc.cause}") \
                    from None
        try:
            _write(self.proc.stdin, (problem, seed, dtype, chunk))
        except (BrokenPipeError, OSError):
            pass  # it died; receive() says so

    def receive(self, timeout: float) -> list:
        """[(status, error, cause)] per candidate ("ready" at start-up); raises WorkerFailed on
        timeout or death, RemoteError when the agent serving the device is lost."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise WorkerFailed("timeout", f"no result within {timeout:.0f} s")
        try:
            reply = _read(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            code = self.proc.wait(5)
            self.kill()
            raise WorkerFailed("run_error",
                               f"the process running it died (exit code {code})") from None
        if isinstance(reply, tuple) and reply[:1] == ("lost",):
            from ..remote.client import RemoteError
            self.kill()
            raise RemoteError(reply[1])
        return reply

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def close(self):
        try:
            self.proc.stdin.close()  # end of requests: the loop returns
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class WorkerPool:
    """`size` workers; `check` verifies chunks in parallel, one chunk per worker, replacing
    any worker that dies or hangs and retrying its chunk one candidate at a time, so the
    failure is recorded against the candidate that caused it."""

    def __init__(self, device, size: int, timeout: float = 30.0):
        """timeout: seconds allowed per candidate (compile, code generation and one run)."""
        self.device = device
        self.timeout = timeout
        self.workers = [Worker(device) for _ in range(size)]

    @property
    def size(self) -> int:
        return len(self.workers)

    def check(self, problem, seed: int, dtype: str, chunks: list) -> list:
        """chunks: at most `size` lists of (family, params). Returns, per chunk, a list of
        (status, error, cause) and whether the chunk was built as one program."""
        for w, chunk in zip(self.workers, chunks):
            w.send(problem, seed, dtype, chunk)
        out = []
        for k, chunk in enumerate(chunks):
            try:
                out.append((self.workers[k].receive(self._limit(chunk)), True))
            except WorkerFailed:
                self.workers[k] = Worker(self.device)
                out.append((self._one_by_one(k, problem, seed, dtype, chunk), False))
        return out

    def _limit(self, chunk) -> float:
        return 5.0 + self.timeout * len(chunk)

    def _one_by_one(self, k, problem, seed, dtype, chunk) -> list:
        results = []
        for cand in chunk:
            self.workers[k].send(problem, seed, dtype, [cand])
            try:
                results += self.workers[k].receive(self._limit([cand]))
            except WorkerFailed as exc:
                self.workers[k] = Worker(self.device)
                results.append((exc.status, float("nan"), exc.cause))
        return results

    def close(self):
        for w in self.workers:
            w.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
