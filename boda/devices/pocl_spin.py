"""PoCL's worker threads spin, instead of sleeping, while one of boda's runs is in flight.

PoCL 3.0's CPU driver has no spin-wait: a worker that finds no work group left sleeps on a
condition variable at once (pthread_scheduler.c), so at every kernel boundary the worker
that finished its share first sleeps, and the next kernel runs on the other thread until a
wake-up reaches it, which on these virtual machines is a large share of a short kernel.
onnxruntime's and OpenVINO's threads spin between operators. An experiment that made PoCL's
workers spin first (benchmarks/pocl_wakeups.py, a shim loaded with LD_PRELOAD) took
MobileNet from 1.48 to 1.18x onnxruntime's time on a Zen 4.

An installed boda cannot preload anything into its user's process, so the same is done
from inside it: libpocl's own entry for pthread_cond_wait in its global offset table (the
slot its calls jump through) is pointed at a few bytes of machine code that, while a run
is in flight (`spinning()`) and on any thread but the one that waits for the run, unlock
the mutex, pause about a microsecond, lock it again and return 0 (a spurious wake-up, which
POSIX allows and PoCL's worker loop checks for), and otherwise jump to the real function.
After a run they go on spinning for SPIN_AFTER (300 us, read on the time-stamp counter), so
that back-to-back runs start on awake workers, as the shim's did and as onnxruntime's
threads do; then they sleep as before. The thread waiting for a run always sleeps, and
other libraries' calls are untouched.

Made only for PoCL on Linux x86-64 with glibc, where every step checks out (the slot found
in libpocl's relocations, the code page mapped and made executable, the thread pointer
read as glibc's pthread_self); anywhere else, or with BODA_POCL_SPIN=0, nothing changes.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import struct
import threading
import time

ENV = "BODA_POCL_SPIN"  # 0: leave PoCL's workers as they are
PAUSES = 100  # x86 pause instructions between a worker's looks at its queue
SPIN_AFTER = 300e-6  # seconds the workers go on spinning after a run, for a next one

_PROT_READ, _PROT_WRITE, _PROT_EXEC = 1, 2, 4
_MAP_PRIVATE, _MAP_ANONYMOUS = 0x02, 0x20
_PAGE = 4096


class _State:
    """The installed patch: the two words the code reads (the pthread_t of the thread waiting
    for a run, 0 when none is in flight; the deadline of the spinning after runs) and the
    runs in flight by thread."""

    def __init__(self, page: "CodePage"):
        self.owner = ctypes.c_uint64.from_address(page.words)
        self.deadline = ctypes.c_uint64.from_address(page.words + 8)
        self.page = page
        self.pthread_self = page.libc.pthread_self
        self.ticks_after = int(page.tsc_rate() * SPIN_AFTER)  # 0: no steady counter
        self.lock = threading.Lock()
        self.active: dict[int, list] = {}  # thread ident -> [pthread_t, depth]

    def _publish(self):
        # with two threads' runs in flight, each waits for its own: nobody spins
        self.owner.value = next(iter(self.active.values()))[0] if len(self.active) == 1 else 0

    def enter(self):
        with self.lock:
            entry = self.active.setdefault(threading.get_ident(), [self.pthread_self(), 0])
            entry[1] += 1
            self.deadline.value = 0
            self._publish()

    def leave(self):
        with self.lock:
            ident = threading.get_ident()
            entry = self.active.get(ident)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self.active[ident]
            if not self.active and self.ticks_after:
                self.deadline.value = self.page.tsc() + self.ticks_after
            self._publish()


_state: _State | None = None
_tried = False
_install_lock = threading.Lock()


@contextlib.contextmanager
def spinning():
    """Around a run: PoCL's workers spin at kernel boundaries until it is over (a no-op
    where the patch is not installed)."""
    state = _state
    if state is None:
        yield
        return
    state.enter()
    try:
        yield
    finally:
        state.leave()


def installed() -> bool:
    return _state is not None


def install() -> bool:
    """Patch every loaded libpocl once (after PoCL has started: its library is loaded);
    True where the patch is in place."""
    global _state, _tried
    with _install_lock:
        if _tried:
            return _state is not None
        _tried = True
        if os.environ.get(ENV, "1") == "0" or not _supported():
            return False
        try:
            _state = _patch()
        except (OSError, ValueError, AttributeError, struct.error):
            _state = None
        return _state is not None


def _supported() -> bool:
    return (platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")
            and platform.libc_ver()[0] == "glibc")


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.pthread_self.restype = ctypes.c_uint64
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.dlvsym.restype = ctypes.c_void_p
    libc.dlvsym.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    return libc


def _mappings() -> list[tuple[int, int, str, int, str]]:
    """(start, end, permissions, file offset, path) of each mapping of this process."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) < 5:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            path = fields[5].strip() if len(fields) > 5 else ""  # "": anonymous memory
            out.append((start, end, fields[1], int(fields[2], 16), path))
    return out


def jump_slot(path: str, symbol: str) -> int | None:
    """The offset (from the load address) of `path`'s global offset table slot that its
    calls to `symbol` jump through (its R_X86_64_JUMP_SLOT relocation), or None."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:  # 64-bit little-endian
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    for _, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != 4 or not entsize:  # SHT_RELA
            continue
        symtab = sections[link]
        if symtab[1] != 11:  # SHT_DYNSYM
            continue
        strtab = sections[symtab[6]]
        for k in range(size // entsize):
            r_offset, r_info, _ = struct.unpack_from("<QQq", data, offset + k * entsize)
            if r_info & 0xFFFFFFFF != 7:  # R_X86_64_JUMP_SLOT
                continue
            st_name, = struct.unpack_from("<I", data, symtab[4] + (r_info >> 32) * symtab[9])
            start = strtab[4] + st_name
            if data[start:data.index(b"\0", start)] == symbol.encode():
                return r_offset
    return None


def _code(words: int, unlock: int, lock: int, real: int) -> bytes:
    """pthread_cond_wait(cond, mutex) for libpocl, reading two words at `words`: the owner
    (the pthread_t of the thread waiting for a run, 0 when none is in flight) and a deadline
    in time-stamp-counter ticks. During a run on any thread but the owner, or with no run in
    flight until the deadline: unlock, pause, lock, return 0. Else jump to `real`."""
    q = lambda v: struct.pack("<Q", v)  # noqa: E731
    spin = (b"\x53"                                   # push rbx
            b"\x48\x89\xf3"                           # mov rbx, rsi (the mutex)
            b"\x48\x89\xf7"                           # mov rdi, rsi
            + b"\x48\xb8" + q(unlock) + b"\xff\xd0"   # call pthread_mutex_unlock
            + b"\xb9" + struct.pack("<I", PAUSES)     # mov ecx, PAUSES
            + b"\xf3\x90\xff\xc9\x75\xfa"             # 1: pause; dec ecx; jnz 1b
            b"\x48\x89\xdf"                           # mov rdi, rbx
            + b"\x48\xb8" + q(lock) + b"\xff\xd0"     # call pthread_mutex_lock
            + b"\x31\xc0\x5b\xc3")                    # xor eax, eax; pop rbx; ret
    real_jump = b"\x48\xb8" + q(real) + b"\xff\xe0"   # mov rax, real; jmp rax
    deadline = (b"\x0f\x31"                           # rdtsc
                b"\x48\xc1\xe2\x20\x48\x09\xd0"           # shl rdx, 32; or rax, rdx
                b"\x49\x3b\x40\x08"                   # cmp rax, [r8 + 8]
                b"\x73" + bytes([len(spin)]))         # jae real: past the deadline
    owner = (b"\x64\x48\x8b\x14\x25\x10\x00\x00\x00"   # mov rdx, fs:[0x10] (pthread_self)
             b"\x48\x39\xd0"                         # cmp rax, rdx
             b"\x74" + bytes([2 + len(deadline) + len(spin)])  # je real: the owner waits
             + b"\xeb" + bytes([len(deadline)]))      # jmp spin
    check = (b"\x49\xb8" + q(words)                   # mov r8, words
             + b"\x49\x8b\x00\x48\x85\xc0"            # mov rax, [r8]; test rax, rax
             + b"\x74" + bytes([len(owner)]))         # jz deadline: no run in flight
    return check + owner + deadline + spin + real_jump


_THREAD_POINTER = b"\x64\x48\x8b\x04\x25\x10\x00\x00\x00\xc3"  # mov rax, fs:[0x10]; ret
_TSC = b"\x0f\x31\x48\xc1\xe2\x20\x48\x09\xd0\xc3"  # rdtsc; shl rdx, 32; or rax, rdx; ret
_SLOT = 128  # bytes of the code page per patched function


class CodePage:
    """A page of `_code` functions and the two words they read, mapped once and never
    unmapped (PoCL's threads call in until the process exits)."""

    def __init__(self, libc=None):
        self.libc = libc or _libc()
        pages = self.libc.mmap(None, 2 * _PAGE, _PROT_READ | _PROT_WRITE,
                               _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)
        if pages in (None, ctypes.c_void_p(-1).value):
            raise OSError("mmap failed")
        self.code, self.words = pages, pages + _PAGE
        self.unlock = ctypes.cast(self.libc.pthread_mutex_unlock, ctypes.c_void_p).value
        self.lock = ctypes.cast(self.libc.pthread_mutex_lock, ctypes.c_void_p).value
        self.tsc = None

    def load(self, targets: list[int]) -> list[int] | None:
        """Write one function per real target and make the page executable; their
        addresses, or None where this is not glibc's x86-64 thread layout (the code reads
        pthread_self at fs:0x10, checked here by running it)."""
        blob = b"".join(_code(self.words, self.unlock, self.lock, t).ljust(_SLOT, b"\xcc")
                        for t in targets)
        probes = _PAGE - 2 * _SLOT
        if len(blob) > probes:
            raise ValueError("too many functions for one page")
        ctypes.memmove(self.code, blob, len(blob))
        ctypes.memmove(self.code + probes, _THREAD_POINTER, len(_THREAD_POINTER))
        ctypes.memmove(self.code + probes + _SLOT, _TSC, len(_TSC))
        if self.libc.mprotect(self.code, _PAGE, _PROT_READ | _PROT_EXEC) != 0:
            raise OSError("mprotect failed")
        self.tsc = ctypes.CFUNCTYPE(ctypes.c_uint64)(self.code + probes + _SLOT)
        if ctypes.CFUNCTYPE(ctypes.c_uint64)(self.code + probes)() != self.libc.pthread_self():
            return None
        return [self.code + _SLOT * k for k in range(len(targets))]

    def tsc_rate(self) -> float:
        """Time-stamp-counter ticks a second, measured; 0 where the counter does not tick
        steadily (no constant_tsc and nonstop_tsc in /proc/cpuinfo)."""
        try:
            with open("/proc/cpuinfo") as f:
                flags = next((line.split(":", 1)[1].split() for line in f
                              if line.startswith("flags")), [])
        except OSError:
            flags = []
        if not {"constant_tsc", "nonstop_tsc"} <= set(flags):
            return 0.0
        t0, c0 = time.perf_counter(), self.tsc()
        time.sleep(0.005)
        t1, c1 = time.perf_counter(), self.tsc()
        return max(c1 - c0, 0) / (t1 - t0)


def _patch() -> _State | None:
    maps = _mappings()
    libs = {path for _, _, _, _, path in maps
            if os.path.basename(path).startswith("libpocl") and ".so" in path
            and os.path.isfile(path)}
    if not libs:
        return None
    libc = _libc()
    real = libc.dlvsym(None, b"pthread_cond_wait", b"GLIBC_2.3.2")
    if not real:
        return None
    slots = []
    for path in sorted(libs):
        offset = jump_slot(path, "pthread_cond_wait")
        base = min((s for s, _, _, off, p in maps if p == path and off == 0), default=None)
        if offset is None or base is None:
            continue
        slot = base + offset
        writable = any(s <= slot < e and "w" in perm for s, e, perm, _, _ in maps)
        if not writable and libc.mprotect(slot & ~(_PAGE - 1), _PAGE,
                                          _PROT_READ | _PROT_WRITE) != 0:
            continue
        current = ctypes.c_uint64.from_address(slot).value
        inside = any(s <= current < e for s, e, _, _, p in maps if p == path)
        # an unresolved lazy slot points into libpocl's own PLT; a resolved one at the real
        # function, or at whatever was put in front of it (then that is what we call)
        slots.append((slot, real if inside else current))
    if not slots:
        return None
    page = CodePage(libc)
    functions = page.load([target for _, target in slots])
    if functions is None:
        return None
    for (slot, _), function in zip(slots, functions):
        ctypes.c_uint64.from_address(slot).value = function
    return _State(page)
