"""Direct convolution, one output element per work-item (any rank, groups, dilation)."""
from ..ir.problems import Conv
from .family import OnePerOutput

FAMILY = OnePerOutput("direct_conv", "conv_direct.j2", (Conv,))
