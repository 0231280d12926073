"""Constant, reflect and edge padding, one output element per work-item."""
from ..ir.problems import Pad
from .family import OnePerOutput

FAMILY = OnePerOutput("pad", "pad.j2", (Pad,))
