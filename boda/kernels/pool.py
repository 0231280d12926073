"""Max and average pooling (global pooling included), one output element per work-item."""
from ..problems import Pool
from .base import OnePerOutput

FAMILY = OnePerOutput("pool", "pool.j2", (Pool,))
