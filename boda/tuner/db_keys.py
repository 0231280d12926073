"""How the tuning database keys what it stores: a device's identity and the keys of its three
lookup levels, a Problem's row, and a parameter point's canonical text."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from types import SimpleNamespace

from ..devices.profiles import profile_of


def _digest(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


# What the exact level keys on. Not global_mem: PoCL reports it from the memory free at the
# time, so hashing it (as schema 1 did) gave one machine a new key as its free memory changed.
KEY_COLUMNS = ("backend", "platform", "vendor", "name", "version", "driver_version",
               "opencl_c_version", "kind", "compute_units", "local_mem", "max_work_group_size",
               "vector_width", "compute_capability")


def device_key(row: dict) -> str:
    return _digest(*("" if row.get(k) is None else row[k] for k in KEY_COLUMNS))


def device_identity(device) -> dict:
    """The columns that identify a device, and the keys of its three lookup levels. The arch
    is the device model whatever its driver; the vendor level is the vendor's devices of the
    same kind (GPU or CPU) on the same backend."""
    ident = {k: getattr(device, k) for k in KEY_COLUMNS + ("global_mem",)}
    return dict(ident, key=device_key(ident), **lookup_keys(ident))


def lookup_keys(row: dict) -> dict:
    """The arch and vendor keys of a device row: its vendor profile's architecture (the
    Adreno model, gfx target or compute capability; a CPU's name), and vendor and kind. A
    CPU's two keys also hold its vector register file (registers x float width): tiles tuned
    with AVX-512's 32 registers of 16 floats spill with AVX2's 16 of 8 (1.5-3x slower on a
    Zen 3), and a VM names a Zen 3 and a Zen 4 alike ("AMD EPYC")."""
    fields = {k: ("" if row.get(k) is None else row[k]) for k in KEY_COLUMNS}
    profile = profile_of(SimpleNamespace(**fields))
    cpu = [f"{profile.registers}x{profile.vector_width}"] if profile.family == "cpu" else []
    return {"arch": _digest(fields["backend"], fields["vendor"], profile.arch, *cpu),
            "vendor_key": _digest(fields["backend"], fields["vendor"], fields["kind"], *cpu)}


def problem_row(problem) -> dict:
    fields = {f.name: getattr(problem, f.name) for f in dataclasses.fields(problem)}
    return {"signature": problem.signature, "kind": problem.kind,
            "fields": json.dumps(fields), "mflops": problem.flops / 1e6}


def params_key(params: dict) -> str:
    """The canonical text of a parameter point (sorted keys), as stored and compared."""
    return json.dumps(dict(sorted(params.items())), separators=(",", ":"))
