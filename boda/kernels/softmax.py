"""Softmax and log-softmax: one work-item per row along the softmax axis."""
from ..ir.problems import Softmax
from .family import OnePerOutput


def _rows(p: Softmax) -> int:
    outer, _, inner = p.outer_len_inner
    return outer * inner


FAMILY = OnePerOutput("softmax", "softmax.j2", (Softmax,), work_items=_rows)
