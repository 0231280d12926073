"""Kernel families: for each Problem, which families apply and which one the runtime uses.

Each family lives in its own module and exposes FAMILY (see base.Family). Untuned, the runtime
uses the applicable family whose default has the lowest cost estimate (`choose`); tuned, the
tuning database's winner (tuning_db.Lookup). More families can be plugged in without editing
boda: modules named in $BODA_FAMILIES (comma-separated) are imported at startup and their
FAMILIES registered, in this process and in the tuner's worker processes alike.
"""
from __future__ import annotations

import importlib
import os

import numpy as np

from ..layout import View
from . import (conv_direct_tiled, conv_gemm, conv_k1, conv_winograd, direct_conv, eltwise,
               lrn, matmul, matmul_tiled, pad, pool, pool_rows, softmax)
from .base import Family
from .templating import KernelSource, prelude

FAMILIES = [conv_gemm.FAMILY, conv_k1.FAMILY, conv_winograd.FAMILY, conv_direct_tiled.FAMILY,
            conv_gemm.SPLITK, direct_conv.FAMILY, pool_rows.FAMILY, pool.FAMILY,
            matmul_tiled.FAMILY, matmul.FAMILY, eltwise.FAMILY, softmax.FAMILY, lrn.FAMILY,
            pad.FAMILY]
BY_NAME = {f.name: f for f in FAMILIES}


def register(family: Family):
    """Add a family (replacing one of the same name)."""
    if family.name in BY_NAME:
        FAMILIES.remove(BY_NAME[family.name])
    FAMILIES.append(family)
    BY_NAME[family.name] = family


def unregister(name: str):
    FAMILIES.remove(BY_NAME.pop(name))


def _load_plugins():
    from ..errors import BodaError
    for name in filter(None, (n.strip() for n in os.environ.get("BODA_FAMILIES", "").split(","))):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise BodaError(f"cannot import kernel-family module {name!r} named in "
                            f"BODA_FAMILIES: {exc}") from None
        for family in getattr(module, "FAMILIES", [getattr(module, "FAMILY", None)]):
            if not isinstance(family, Family):
                raise BodaError(f"module {name!r} (BODA_FAMILIES) has no FAMILIES list of "
                                "kernel families")
            register(family)


_load_plugins()


def families_for(problem, const_operands=None, device=None) -> list:
    """Families that can compute `problem` (on `device`: those its vendor profile does not
    rule out). A family that re-lays-out an operand at upload needs it constant;
    `const_operands` (operand indices) says which are, None meaning all."""
    out = []
    for f in FAMILIES:
        if not f.applies(problem) or (device is not None and not (
                device.profile.suits(f.name) and f.usable(problem, device))):
            continue
        if const_operands is not None and not set(f.transformed) <= set(const_operands):
            continue
        out.append(f)
    return out


def choose(problem, device, const_operands=None, exclude=()) -> tuple[Family, dict]:
    """The family and parameters the runtime uses for `problem` on `device`: the applicable
    default with the lowest estimated cost (among families not named in `exclude`)."""
    best = None
    for family in families_for(problem, const_operands, device):
        if family.name in exclude:
            continue
        params = family.default(problem, device)
        cost = family.estimate(problem, params, device)
        if best is None or cost < best[0]:
            best = (cost, family, params)
    if best is None:
        raise LookupError(f"no kernel family for {problem.signature}")
    return best[1], best[2]


def render(family, problem, params: dict, views, lang: str, dtype: str = "float32"):
    """family.render; the dtype is passed only when it is not float32, so families written
    before float16 (plugins) keep working for float32."""
    if dtype == "float32":
        return family.render(problem, params, views, lang)
    return family.render(problem, params, views, lang, dtype=dtype)


def render_standalone(family, problem, params: dict, lang: str, inputs=None,
                      dtype: str = "float32"):
    """Render a kernel for contiguous operands, as verification, timing and compile checks
    run it. `inputs` (arrays in operand order, zeros if None) go through the family's
    upload-time transforms; returns (KernelSource, the operand arrays as uploaded)."""
    if inputs is None:
        inputs = [np.zeros(s, np.float32) for s in problem.in_shapes]
    inputs = list(inputs)
    for k, fn in family.transforms(problem, params).items():
        inputs[k] = fn(inputs[k])
    views = [View.contiguous(problem.out_shape)] + [View.contiguous(x.shape) for x in inputs]
    return render(family, problem, params, views, lang, dtype), inputs


def program_source(sources, lang: str) -> str:
    """One program: the language prelude (for the kernels' storage dtype, which they share)
    and each distinct kernel once."""
    sources = list(sources)
    dtypes = {ks.dtype for ks in sources} or {"float32"}
    if len(dtypes) > 1:
        raise ValueError(f"one program cannot mix storage dtypes {sorted(dtypes)}")
    seen, parts = set(), [prelude(lang, dtypes.pop())]
    for ks in sources:
        if ks.name not in seen:
            seen.add(ks.name)
            parts.append(ks.source)
    return "\n".join(parts)


__all__ = ["BY_NAME", "FAMILIES", "Family", "KernelSource", "choose", "families_for",
           "prelude", "program_source", "register", "render", "render_standalone",
           "unregister"]
