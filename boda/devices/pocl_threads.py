"""PoCL's worker threads, each kept on a CPU of its own (PoCL's POCL_AFFINITY=1).

PoCL's CPU driver runs kernels on one worker thread per core, which sleep whenever its queue
is empty. Left to Linux's scheduler, they come back from an idle spell slowly: after 0.1 s
without work, MobileNet's next 14 runs took 2.8-3.4 ms, and at times both workers sat on one
CPU (most likely while the scheduler's load tracking of the threads, decayed while they
slept, builds up again: it spans about 30 ms). Pinned, the first run after the pause took
2.5 ms and the next ones 2.1-2.2. At 30 runs a second that is MobileNet 3.45 -> 2.49 ms a
run and SqueezeNet 1.1 8.48 -> 5.30; back to back 2.75 -> 2.02 and 5.29 -> 5.05
(2 cores, Zen 4; benchmarks/results/idle-recovery-pocl-cpu.md).

PoCL pins worker i to CPU i and aborts the process where that fails, so the setting is made
only where the process may run on exactly CPUs 0..N-1 (N = os.cpu_count(), the CPUs PoCL
counts) and no variable changes PoCL's thread count; a POCL_AFFINITY the user set is kept.
PoCL reads it when it starts its workers (the process's first `cl.get_platforms()`, in
`discovery`), and it is taken out of the environment again after that, so a child process
started later on fewer CPUs does not inherit it.
"""
from __future__ import annotations

import contextlib
import os

ENV = "POCL_AFFINITY"
THREAD_COUNT_VARS = ("POCL_MAX_PTHREAD_COUNT", "POCL_PTHREAD_MIN_THREADS")


def should_pin(environ, allowed: set, cpu_count: int | None) -> bool:
    """Whether to pin PoCL's workers: the user has not said, PoCL's thread count is its own,
    and CPU i is allowed for every worker i PoCL will start."""
    if ENV in environ or any(v in environ for v in THREAD_COUNT_VARS):
        return False
    return bool(cpu_count) and set(allowed) == set(range(cpu_count))


@contextlib.contextmanager
def pinned_workers(environ=None):
    """Around PoCL's start: POCL_AFFINITY=1 in `environ` (os.environ) where `should_pin`
    says so, removed again on the way out."""
    environ = os.environ if environ is None else environ
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):  # not Linux: PoCL has no affinity option there
        allowed = set()
    pin = should_pin(environ, allowed, os.cpu_count())
    if pin:
        environ[ENV] = "1"
    try:
        yield
    finally:
        if pin:
            environ.pop(ENV, None)
