"""Gather by a tensor of indices along one axis, one output element per work-item (a Gather
whose indices step evenly is a slice instead: a view, or a strided copy)."""
from ..ir.problems import Gather
from .family import OnePerOutput

FAMILY = OnePerOutput("gather", "gather.j2", (Gather,))
