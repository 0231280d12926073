"""PoCL's workers spin during runs (devices/pocl_spin.py): the machine code's ways (jump
to the real wait, or unlock-pause-lock and return 0) by its owner and deadline words,
driven through ctypes with recording stand-ins; the patch found in libpocl's offset table;
and runs from two threads at once, spinning, that give onnxruntime's answers and leave
nobody spinning after (but the workers, until the deadline)."""
from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import threading

import numpy as np
import pytest

from boda.devices import pocl_spin
from conftest import assert_close, ort_run

x86_glibc = pytest.mark.skipif(
    not pocl_spin._supported(), reason="the code is x86-64 machine code for glibc's threads")

WAIT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
MUTEX_OP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


@x86_glibc
def test_code_jumps_to_the_real_wait_or_spins_by_the_owner_and_deadline_words():
    calls = []
    real = WAIT(lambda cond, mutex: calls.append(("wait", cond, mutex)) or 7)
    unlock = MUTEX_OP(lambda m: calls.append(("unlock", m)) or 0)
    lock = MUTEX_OP(lambda m: calls.append(("lock", m)) or 0)
    page = pocl_spin.CodePage()
    page.unlock = ctypes.cast(unlock, ctypes.c_void_p).value
    page.lock = ctypes.cast(lock, ctypes.c_void_p).value
    function, = page.load([ctypes.cast(real, ctypes.c_void_p).value])
    fake = WAIT(function)
    owner = ctypes.c_uint64.from_address(page.words)
    deadline = ctypes.c_uint64.from_address(page.words + 8)
    cond, mutex = 0x1000, 0x2000
    spun = [("unlock", mutex), ("lock", mutex)]

    def call(expected):
        calls.clear()
        assert fake(cond, mutex) == (7 if expected == "wait" else 0)
        assert calls == ([("wait", cond, mutex)] if expected == "wait" else spun)

    owner.value, deadline.value = 0, 0
    call("wait")  # no run in flight, no deadline: the real wait, arguments as they came
    owner.value = page.libc.pthread_self()
    call("wait")  # the thread waiting for the run waits for real
    deadline.value = page.tsc() + 10 ** 12
    call("wait")  # a deadline does not make it spin either
    owner.value, deadline.value = page.libc.pthread_self() ^ 0x40, 0
    call("spin")  # any other thread during a run: a spurious wake-up, mutex held again
    owner.value, deadline.value = 0, page.tsc() + 10 ** 12
    call("spin")  # no run in flight, before the deadline: spinning on for the next run
    deadline.value = page.tsc() - 1
    call("wait")  # past it: the real wait


def test_jump_slot_reads_the_relocations_of_an_elf_file(tmp_path):
    libc_path = next((p for _, _, _, _, p in pocl_spin._mappings()
                      if os.path.basename(p).startswith("libpython")), None)
    not_elf = tmp_path / "x.so"
    not_elf.write_bytes(b"not an ELF file at all")
    assert pocl_spin.jump_slot(str(not_elf), "pthread_cond_wait") is None
    if libc_path is None:
        pytest.skip("python is not linked against a shared libpython here")
    assert pocl_spin.jump_slot(libc_path, "no_such_function_anywhere") is None


def _pocl_backend(device):
    if device.backend != "opencl" or "Portable Computing Language" not in device.platform:
        pytest.skip("PoCL's CPU device is not the default device here")
    from boda.runtime.backends import backend_for
    return backend_for(device)


@x86_glibc
def test_libpocl_calls_the_code_and_runs_from_two_threads_are_right(device, tiny):
    import onnx
    from boda.session import compile as boda_compile
    backend = _pocl_backend(device)
    if not backend._spins:
        pytest.skip("the patch is not in place here: " + platform.platform())
    maps = pocl_spin._mappings()
    libs = {p for _, _, _, _, p in maps if os.path.basename(p).startswith("libpocl")}
    patched = 0
    for path in libs:
        base = min(s for s, _, _, off, p in maps if p == path and off == 0)
        slot = base + pocl_spin.jump_slot(path, "pthread_cond_wait")
        target = ctypes.c_uint64.from_address(slot).value
        patched += any(s <= target < e and not p for s, e, _, _, p in maps)
    assert patched == len(libs)  # every libpocl jumps into the anonymous code page

    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    ref = ort_run(onnx.load(tiny), {"x": x})[0]
    sessions = [boda_compile(str(tiny), device) for _ in range(2)]
    errors = []

    def runs(session):
        try:
            for _ in range(40):
                assert_close(session.run(None, {"x": x})[0], ref)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
    threads = [threading.Thread(target=runs, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a run hung"
    assert not errors, errors
    state = pocl_spin._state
    assert state.owner.value == 0 and not state.active  # nobody's run: nobody spins
    if state.ticks_after:  # but the workers go on for SPIN_AFTER after the last run
        assert 0 < state.deadline.value <= state.page.tsc() + state.ticks_after


def test_switched_off_by_the_environment():
    code = ("from boda.devices import select_device, pocl_spin; "
            "from boda.runtime.backends import backend_for; backend_for(select_device('cpu')); "
            "print(pocl_spin.installed())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, BODA_POCL_SPIN="0"), timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
