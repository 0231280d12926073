"""The kernel families boda knows, and which of them can compute a Problem on a device.

Each family lives in its own module and exposes FAMILY (see family.Family). More families can
be plugged in without editing boda: modules named in $BODA_FAMILIES (comma-separated) are
imported at startup and their FAMILIES (or FAMILY) registered, in this process and in the
tuner's worker processes alike. A plug-in builds on `boda.kernels` (Family, OnePerOutput,
KernelSource) or on a family's module (`boda.kernels.conv_k1`, ...).
"""
from __future__ import annotations

import importlib
import os

from ..errors import BodaError
from . import (conv_depthwise, conv_direct_tiled, conv_gemm, conv_gemm_panel, conv_k1,
               conv_winograd, conv_winograd_f4,
               convtranspose, direct_conv, eltwise, gather, lrn, matmul, matmul_tiled, norm,
               pad, pool, pool_global, pool_rows, pool_strided, reduce, resize, softmax, topk)
from .family import Family

FAMILIES = [conv_gemm.FAMILY, conv_k1.FAMILY, conv_winograd.FAMILY, conv_winograd_f4.FAMILY,
            conv_direct_tiled.FAMILY,
            conv_depthwise.FAMILY, conv_gemm.SPLITK, conv_gemm_panel.FAMILY, direct_conv.FAMILY,
            pool_global.FAMILY, pool_rows.FAMILY, pool_strided.FAMILY, pool.FAMILY,
            matmul_tiled.FAMILY, matmul.FAMILY,
            eltwise.FAMILY, softmax.FAMILY, lrn.FAMILY, pad.FAMILY, resize.FAMILY,
            convtranspose.FAMILY, reduce.FAMILY, norm.FAMILY, gather.FAMILY, topk.FAMILY]
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
