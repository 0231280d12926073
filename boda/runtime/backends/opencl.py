"""The OpenCL backend, through pyopencl: compile, allocate, copy, launch, time (OpenCL 1.2
has nothing to capture a sequence of launches in, so `record` is the base one)."""
from __future__ import annotations

import time

import numpy as np
import pyopencl as cl

from ...devices import pocl_spin
from . import pocl_target
from .base import ITEM, Backend, storage_array
from .opencl_build import ProgramCache, build_program


class OpenCLBackend(Backend):
    lang = "opencl"
    faults_are_fatal = False  # a failed launch leaves the context usable

    def __init__(self, device):
        self.device = device
        self.target = pocl_target.apply(device.handle)  # before anything is built
        self.context = cl.Context([device.handle])
        self.queue = cl.CommandQueue(self.context)
        self._timing_queue = None
        self.host_timing = False  # set when the driver's event timestamps are fake
        self._spins = self.target is not None and pocl_spin.install()

    def compile(self, source: str, options: tuple = ()):
        """Build one program here (agent and tests); the runtime and the tuner go through
        `programs`, which caches binaries and can build in a child process."""
        return build_program(self.context, source, options=options)

    def programs(self, builds, isolated: bool = False, progress=None) -> tuple[dict, dict]:
        """(kernel name -> program, kernel name -> crash) for opencl_build.Build items,
        from the binary cache, else built (`isolated`: in a child process)."""
        return ProgramCache(self, isolated, progress).programs(builds)

    def alloc(self, nelems: int, itemsize: int = ITEM):
        return cl.Buffer(self.context, cl.mem_flags.READ_WRITE, max(int(nelems), 1) * itemsize)

    def upload(self, buf, array: np.ndarray, offset: int = 0):
        host = storage_array(array)
        cl.enqueue_copy(self.queue, buf, host, dst_offset=offset * host.itemsize,
                        is_blocking=False)

    def download(self, buf, array: np.ndarray, offset: int = 0):
        cl.enqueue_copy(self.queue, array, buf, src_offset=offset * array.itemsize,
                        is_blocking=False)

    def fill(self, buf, value: float, nelems: int, itemsize: int = ITEM):
        pattern = np.float16(value) if itemsize == 2 else np.float32(value)
        cl.enqueue_fill_buffer(self.queue, buf, pattern, 0, int(nelems) * itemsize)

    def kernel(self, program, name: str, args):
        """A launchable kernel object with its arguments bound once."""
        k = cl.Kernel(program, name)
        k.set_args(*args)
        return k

    def launch(self, kernel, global_size: int, local_size: int):
        cl.enqueue_nd_range_kernel(self.queue, kernel, (global_size,), (local_size,))

    def finish(self):
        self.queue.finish()

    def busy(self):
        return pocl_spin.spinning() if self._spins else super().busy()

    def _timing(self):
        if self._timing_queue is None:
            self._timing_queue = cl.CommandQueue(
                self.context, properties=cl.command_queue_properties.PROFILING_ENABLE)
        return self._timing_queue

    def time_sequence(self, launches, count: int, repeat: int = 1) -> list:
        """Backend.time_sequence, on a profiling queue. Where the driver's event timestamps
        are not real (Mesa 22's rusticl reports 0, 1, 2, 3 ns), each launch is timed on the
        host instead, waited for on its own."""
        q = self._timing()
        with self.busy():
            out = []
            for _ in range(count):
                if self.host_timing:
                    out.append([_host_seconds(q, k, g, lsz) for k, g, lsz in launches
                                for _ in range(repeat)])
                    continue
                events = [cl.enqueue_nd_range_kernel(q, k, (g,), (lsz,))
                          for k, g, lsz in launches for _ in range(repeat)]
                q.finish()
                times = [_seconds(e) for e in events]
                if max(times) <= 1e-8:  # no real kernel is that fast: the timestamps are fake
                    self.host_timing = True
                    return self.time_sequence(launches, count, repeat)
                out.append(times)
            return out


def _seconds(event) -> float:
    return 1e-9 * (event.profile.end - event.profile.start)


def _host_seconds(queue, kernel, global_size, local_size) -> float:
    t0 = time.perf_counter()
    cl.enqueue_nd_range_kernel(queue, kernel, (global_size,), (local_size,))
    queue.finish()
    return time.perf_counter() - t0
