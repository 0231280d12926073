"""Local response normalization across channels, one output element per work-item."""
from ..ir.problems import Lrn
from .family import OnePerOutput

FAMILY = OnePerOutput("lrn", "lrn.j2", (Lrn,))
