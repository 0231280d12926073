"""Reductions over any axes (Reduce*, ArgMax/ArgMin), one output element per work-item."""
from ..ir.problems_norm import Reduce
from .family import OnePerOutput

FAMILY = OnePerOutput("reduce", "reduce.j2", (Reduce,))
