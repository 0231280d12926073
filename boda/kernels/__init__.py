"""Kernel families: the family interface, the templates rendered into kernels, the families
themselves (one module each), and the choice of which one runs a Problem.

    family.py      what a family provides (Family), and the one-output-per-work-item kind
    templating.py  Jinja2 templates -> OpenCL C or CUDA C (KernelSource)
    sources.py     a family's kernel for a Problem's views; kernels into one program source
    registry.py    the known families ($BODA_FAMILIES plug-ins too) and which apply
    selection.py   which kernel runs a Problem: tuning-database levels, then defaults
    conv_*.py, pool*.py, matmul*.py, eltwise.py, softmax.py, lrn.py, pad.py, resize.py,
    convtranspose.py, reduce.py, norm.py, gather.py, topk.py: the families

A plug-in family subclasses `boda.kernels.Family` (or a family's class, e.g.
`boda.kernels.conv_k1.ConvK1`) and returns `boda.kernels.KernelSource`.
"""
from __future__ import annotations

from .family import Family, OnePerOutput
from .registry import BY_NAME, FAMILIES, families_for, register, unregister
from .selection import Choice, Lookup, default_choice
from .sources import program_source, render, render_standalone
from .templating import KernelSource, prelude

__all__ = ["BY_NAME", "Choice", "FAMILIES", "Family", "KernelSource", "Lookup", "OnePerOutput",
           "default_choice", "families_for", "prelude", "program_source", "register",
           "render", "render_standalone", "unregister"]
