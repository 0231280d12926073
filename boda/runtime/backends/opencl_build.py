"""Build once, load anywhere (TVM's builder/runner split) for OpenCL programs.

A program build can abort inside a driver: LLVM's "Cannot select" kills the whole process,
in PoCL's code generation at a kernel's first launch. So the runtime builds in a child
process (`python -m boda.runtime.backends.opencl_build`), which compiles the missing kernels
as one program, launches each once on scratch memory (that is where PoCL generates machine
code), and sends back the program binary; the caller loads it (PoCL's binaries carry the
machine code, so loading takes milliseconds). A child that dies is a crash of those kernels:
they are built again one at a time, to name the one that crashes, and the caller is told
which.

Binaries are cached on disk per kernel (binary_cache): each kernel's key is its source
(prelude included), the build options, the device's identity and PoCL's code-generation
target; it points at the program binary that holds it. PoCL is the exception: asked for a
binary, it first generates every kernel's code once more, for any work-group size, which
doubled a cold build. Its own kernel cache (on unless POCL_KERNEL_CACHE=0) already holds
what the child's launches generated, so for PoCL the child sends back no binary and the
key points at the program's source, which the caller builds again: a hit in PoCL's cache,
milliseconds (should PoCL's cache have lost it since, the caller generates the code again
at the first launch, outside the child). So a run after `boda tune`, after
`--untuned` or at another batch builds only the kernels that changed, many at once. A
program that comes back without its kernels (a driver cache entry left broken by an
aborted build) is rebuilt with its source salted, which PoCL's cache has never seen.
"""
from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import cached_property

from ...errors import CompileError
from . import binary_cache

OPTIONS = ("-cl-std=CL1.2", "-w")  # -w: PoCL's clang prints "N warnings generated."
SALT = "/* boda: rebuilt; the driver's cache entry for this program was broken */\n"
BUILD_TIMEOUT = 600.0
MAX_CHILDREN = 4


@dataclass
class Build:
    """One kernel to build (a kernels.KernelSource) and how to launch it once on scratch
    memory: how many buffer arguments, and the largest of them in bytes."""
    kernel: object
    nargs: int
    scratch_bytes: int

    @property
    def name(self) -> str:
        return self.kernel.name

    @cached_property
    def key(self) -> str:
        """The digest of its program alone (prelude and kernel): its cache key."""
        return binary_cache.digest(_source([self]))


class KernelCrash(Exception):
    """Building these kernels killed the process that built them."""

    def __init__(self, names: dict):
        super().__init__("; ".join(f"{n}: {why}" for n, why in names.items()))
        self.names = names  # kernel name -> what the driver printed


def device_digest(device, target: str = "") -> str:
    return binary_cache.digest(device.platform, device.name, device.version,
                               device.driver_version, target, *OPTIONS)


def driver_caches(device) -> bool:
    """Whether the driver keeps built kernels in its own cache and a binary costs it a
    second code generation (PoCL), so the source is what boda keeps."""
    return "PoCL" in device.version and os.environ.get("POCL_KERNEL_CACHE", "1") != "0"


def build_program(context, source: str, names=(), options=()):
    """Build `source` here; a program lacking any of `names` is rebuilt salted."""
    return build_from(context, source, names, options)[0]


def build_from(context, source: str, names=(), options=()):
    """(program, the source it was built from: `source`, or salted)."""
    import pyopencl as cl
    for attempt in (source, SALT + source):
        try:  # not through pyopencl's own binary cache: this module is the cache
            program = cl._cl._Program(context, attempt)
            with warnings.catch_warnings():  # a driver's chatter is not the user's business
                warnings.simplefilter("ignore")
                program.build(" ".join([*OPTIONS, *options]).encode(), context.devices)
        except cl.RuntimeError as exc:
            first = next((ln for ln in str(exc).splitlines() if "error" in ln), str(exc))
            raise CompileError(f"OpenCL build failed: {first.strip()}") from exc
        if set(names) <= kernel_names(program):
            return program, attempt
    raise CompileError(f"the driver built a program without its kernels {sorted(names)}")


def kernel_names(program) -> set:
    """The kernels a (pyopencl _Program) program holds."""
    import pyopencl as cl
    return set(filter(None, program.get_info(cl.program_info.KERNEL_NAMES).split(";")))


def binary_of(program) -> bytes:
    import pyopencl as cl
    return bytes(program.get_info(cl.program_info.BINARIES)[0])


def load_binary(context, binary: bytes, names=()):
    """A program from a binary, or None if the driver refuses it or it lacks `names`."""
    import pyopencl as cl
    try:
        program = cl._cl._Program(context, context.devices[:1], [binary])
        program.build(" ".join(OPTIONS).encode(), context.devices[:1])
        if set(names) <= kernel_names(program):
            return program
    except cl.Error:
        pass
    return None


class ProgramCache:
    """Kernel name -> loaded program, through the disk cache; what is missing is built in
    a child process (`isolated`) or here."""

    def __init__(self, backend, isolated: bool, progress=None):
        self.backend = backend
        self.isolated = isolated
        self.progress = progress
        target = backend.target[0] if backend.target else ""
        self.root = binary_cache.cache_dir("opencl") / device_digest(backend.device, target)

    def _ref(self, build: Build):
        return self.root / f"{build.key}.ref"

    def programs(self, builds: list[Build]) -> tuple[dict, dict]:
        """(kernel name -> program, kernel name -> crash message) for `builds`."""
        ctx = self.backend.context
        out, missing, loaded = {}, [], {}
        for b in builds:
            ref = binary_cache.read(self._ref(b))
            path = self.root / ref.decode() if ref else None
            if path is not None and path not in loaded:
                data = binary_cache.read(path)
                loaded[path] = self._load(path, data) if data else None
            program = loaded.get(path)
            if program is not None and b.name in kernel_names(program):
                out[b.name] = program
            else:
                missing.append(b)
        crashed = {}
        if missing:
            t0 = time.perf_counter()
            self._say(f"compiling {len(missing)} kernel{'s' * (len(missing) > 1)} for "
                      f"{self.backend.device.name} ...")
            if self.isolated:
                binaries, crashed = self._build(missing)
            else:  # built here: nothing to load back
                binaries, (program, source) = [], build_from(ctx, _source(missing),
                                                             [b.name for b in missing])
                if driver_caches(self.backend.device):
                    self._store(missing, source.encode(), ".src")
                else:
                    self._store(missing, binary_of(program))
                out.update((b.name, program) for b in missing)
            for group, binary in binaries:
                names = [b.name for b in group]
                if isinstance(binary, str):  # the source the child built: in PoCL's cache
                    program = build_program(ctx, binary, names)
                    self._store(group, binary.encode(), ".src")
                elif (program := load_binary(ctx, binary, names)) is not None:
                    self._store(group, binary)
                else:  # the driver cannot load its own binaries: build here
                    program = build_program(ctx, _source(group), names)
                for b in group:
                    out[b.name] = program
            self._say(f"compiled {len(missing) - len(crashed)} kernels in "
                      f"{time.perf_counter() - t0:.1f} s")
        return out, crashed

    def _say(self, text: str):
        if self.progress:
            self.progress(text)

    def _load(self, path, data: bytes):
        """A cached program: a binary, or (.src) a source PoCL's own cache builds fast."""
        if path.suffix != ".src":
            return load_binary(self.backend.context, data)
        if not driver_caches(self.backend.device):  # PoCL's cache is off now: build anew
            return None
        try:
            return build_program(self.backend.context, data.decode())
        except CompileError:
            return None

    def _store(self, group: list[Build], binary: bytes, suffix: str = ".bin"):
        name = f"{binary_cache.digest(*(b.key for b in group))}{suffix}"
        if binary_cache.write(self.root / name, binary):
            for b in group:
                binary_cache.write(self._ref(b), name.encode())

    def _build(self, builds: list[Build]) -> tuple[list, dict]:
        """([(builds, binary)], kernel name -> crash): in children, one program per core
        (a program of many kernels builds far faster than many programs of one); a group
        whose child dies is built again one kernel at a time, to name the culprit."""
        cores = min(len(builds), os.cpu_count() or 1, MAX_CHILDREN)
        groups = _balanced(builds, cores)
        done, crashed = [], {}
        for group, outcome in zip(groups, _in_children(self.backend.device, groups)):
            if not isinstance(outcome, KernelCrash):
                done.append((group, outcome))
            elif len(group) == 1:
                crashed.update(outcome.names)
            else:
                for b in group:  # one child at a time: a crash names its kernel
                    [one] = _in_children(self.backend.device, [[b]])
                    if isinstance(one, KernelCrash):
                        crashed.update(one.names)
                    else:
                        done.append(([b], one))
        return done, crashed


def _balanced(builds: list[Build], count: int) -> list[list[Build]]:
    """`count` groups of about equal compile time, taken as source length (the largest
    first, each to the lightest group), so no core waits on another's long tail."""
    groups, load = [[] for _ in range(count)], [0] * count
    for b in sorted(builds, key=lambda b: -len(b.kernel.source)):
        k = load.index(min(load))
        groups[k].append(b)
        load[k] += len(b.kernel.source)
    return groups


def _in_children(device, groups: list) -> list:
    """Per group of builds, each in its own child, all at once: its program binary (where
    the driver caches its builds itself, the source it built instead), or the KernelCrash
    that ended its child. A compile error is raised: a template's bug, not a driver
    crash."""
    running = []
    for group in groups:
        err = tempfile.TemporaryFile()  # a file: a chatty driver cannot fill a pipe
        proc = subprocess.Popen([sys.executable, "-m", "boda.runtime.backends.opencl_build"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        proc.stdin.write(pickle.dumps((device.index, driver_caches(device), _source(group), [
            (b.name, b.nargs, b.kernel.global_size, b.kernel.local_size) for b in group],
            max(b.scratch_bytes for b in group))))
        proc.stdin.close()
        running.append((group, proc, err))
    return [_outcome(*r) for r in running]


def _outcome(group, proc, err):
    deadline = time.monotonic() + BUILD_TIMEOUT
    try:
        out = _read_all(proc.stdout, deadline)
        proc.wait(max(deadline - time.monotonic(), 1))
    except (subprocess.TimeoutExpired, TimeoutError):
        proc.kill()
        proc.wait()
        return KernelCrash({b.name: f"no result within {BUILD_TIMEOUT:.0f} s" for b in group})
    finally:
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        err.close()
    try:
        kind, value = pickle.loads(out)
    except Exception:
        return KernelCrash({b.name: _first_error(stderr, proc.returncode) for b in group})
    if kind == "error":
        raise CompileError(value)
    if kind == "internal":
        raise RuntimeError(f"the build process failed: {value.strip().splitlines()[-1]}\n"
                           f"{value}")
    return value


def _read_all(stream, deadline: float) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(stream.fileno(), 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _source(builds: list[Build]) -> str:
    from ...kernels.sources import program_source
    return program_source([b.kernel for b in builds], "opencl")


def _first_error(stderr: str, code: int) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    line = next((ln for ln in lines if "ERROR" in ln or "error" in ln), lines[0] if lines
                else "")
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return f"{line} ({how})" if line else how


def _serve():
    """The child: build, launch each kernel once on scratch memory, reply with the binary."""
    import pyopencl as cl

    from ...devices import list_devices
    from . import pocl_target
    index, send_source, source, kernels, scratch_bytes = pickle.loads(sys.stdin.buffer.read())
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a driver prints cannot corrupt the reply
    try:
        device = list_devices()[index].handle
        pocl_target.apply(device)  # before anything is built, as OpenCLBackend does
        context = cl.Context([device])
        program, source = build_from(context, source, [k[0] for k in kernels])
    except CompileError as exc:
        out.write(pickle.dumps(("error", str(exc))))
        return
    except Exception:  # boda's own fault, not the driver's: the caller raises it
        import traceback
        out.write(pickle.dumps(("internal", traceback.format_exc())))
        return
    # The launch only has to generate code (for the real launch geometry, which PoCL
    # specializes on), so every argument is one scratch buffer as large as the largest.
    queue = cl.CommandQueue(context)
    scratch = cl.Buffer(context, cl.mem_flags.READ_WRITE, max(scratch_bytes, 4))
    for name, nargs, global_size, local_size in kernels:
        kernel = cl.Kernel(program, name)
        kernel.set_args(*([scratch] * nargs))
        cl.enqueue_nd_range_kernel(queue, kernel, (global_size,), (local_size,))
    queue.finish()
    out.write(pickle.dumps(("ok", source if send_source else binary_of(program))))


if __name__ == "__main__":
    _serve()
