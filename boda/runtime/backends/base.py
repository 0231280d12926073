"""The backend interface, declared once: what the runtime, the tuner and the agent need from
a compute API, and the pieces every backend shares.

    backend = backend_for(device)
    program = backend.compile(source)
    programs, crashed = backend.programs(builds)   (kernel name -> program, for
                                               opencl_build.Build items; OpenCL: cached
                                               binaries, optionally built in child processes)
    kern = backend.kernel(program, name, args) (arguments bound once)
    buf = backend.alloc(nelems, itemsize=4)    (itemsize 2: float16 storage)
    backend.upload(buf, array, offset=0)       (asynchronous; array must stay alive)
    backend.download(buf, array, offset=0)     (asynchronous until finish())
    backend.fill(buf, value, nelems, itemsize=4)
    backend.launch(kern, global_size, local_size)
    replay = backend.record([(kern, global_size, local_size), ...])   (replay() enqueues all;
                                               a CUDA graph on CUDA)
    backend.finish()
    with backend.busy(): ...                   (around a run: the driver's workers kept awake)
    backend.time_sequence(launches, count) / time_launches(kern, g, l, count)
                                               (device-event seconds)
    backend.faults_are_fatal                   (True: after a failed launch, start afresh)

Offsets are in elements of the array's dtype (float32, or float16 for float16 storage).
"""
from __future__ import annotations

import contextlib

import numpy as np

ITEM = 4  # bytes per float32 element


def storage_array(array) -> np.ndarray:
    """`array` as contiguous float32, or float16 if it is float16: what a buffer holds."""
    array = np.asarray(array)
    return np.ascontiguousarray(array, np.float16 if array.dtype == np.float16 else np.float32)


class Backend:
    """One device's compute API. Subclasses implement the operations that raise
    NotImplementedError; `programs`, `record` and `time_launches` have shared defaults."""
    lang = ""                 # the language kernels are rendered in: "opencl" or "cuda"
    faults_are_fatal = False  # True: a kernel that faults leaves the context unusable

    def compile(self, source: str, options: tuple = ()):
        raise NotImplementedError

    def programs(self, builds, isolated: bool = False, progress=None) -> tuple[dict, dict]:
        """(kernel name -> program, kernel name -> crash) for opencl_build.Build items. By
        default one program compiled here (CUDA's NVRTC caches its own cubins; an agent
        builds on its device); OpenCL goes through its binary cache (`isolated`: built in
        child processes, where a compiler crash is survivable)."""
        from ...kernels.sources import program_source  # not at the top: build children never render
        program = self.compile(program_source([b.kernel for b in builds], self.lang))
        return {b.name: program for b in builds}, {}

    def alloc(self, nelems: int, itemsize: int = ITEM):
        raise NotImplementedError

    def upload(self, buf, array: np.ndarray, offset: int = 0):
        raise NotImplementedError

    def download(self, buf, array: np.ndarray, offset: int = 0):
        raise NotImplementedError

    def fill(self, buf, value: float, nelems: int, itemsize: int = ITEM):
        raise NotImplementedError

    def kernel(self, program, name: str, args):
        """A launchable kernel with its arguments bound once."""
        raise NotImplementedError

    def launch(self, kernel, global_size: int, local_size: int):
        raise NotImplementedError

    def finish(self):
        raise NotImplementedError

    def busy(self):
        """A context around work the caller enqueues and waits for (a run, a timing): where
        the driver's worker threads can be kept from sleeping at each kernel boundary until
        it is over, they are (PoCL's CPU device: devices.pocl_spin)."""
        return contextlib.nullcontext()

    def record(self, launches):
        """A callable that enqueues `launches` ((kernel, global, local), in order), back to
        back with no waits (CUDA captures them as a graph instead)."""
        launches = list(launches)

        def replay():
            for kern, g, lsz in launches:
                self.launch(kern, g, lsz)
        return replay

    def time_sequence(self, launches, count: int, repeat: int = 1) -> list:
        """Device-event seconds of each (kernel, global, local) in `launches`, run in order
        and waited for, `count` times, as inferences run: one list per sequence. Each
        launch is enqueued `repeat` times in a row (its times listed in order)."""
        raise NotImplementedError

    def time_launches(self, kernel, global_size: int, local_size: int, count: int) -> list:
        """Device-event seconds of `count` back-to-back launches of one kernel."""
        return self.time_sequence([(kernel, global_size, local_size)], 1, count)[0]
