"""Max and average pooling (global pooling included), one output element per work-item."""
from ..ir.problems import Pool
from .family import OnePerOutput

FAMILY = OnePerOutput("pool", "pool.j2", (Pool,))
