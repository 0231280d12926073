"""Direct convolution, one output element per work-item (any rank, groups, dilation)."""
from ..problems import Conv
from .base import OnePerOutput

FAMILY = OnePerOutput("direct_conv", "conv_direct.j2", (Conv,))
