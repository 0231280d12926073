"""Local response normalization across channels, one output element per work-item."""
from ..problems import Lrn
from .base import OnePerOutput

FAMILY = OnePerOutput("lrn", "lrn.j2", (Lrn,))
