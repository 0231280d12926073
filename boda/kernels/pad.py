"""Constant, reflect and edge padding, one output element per work-item."""
from ..problems import Pad
from .base import OnePerOutput

FAMILY = OnePerOutput("pad", "pad.j2", (Pad,))
