"""Gemm / MatMul: one output element per work-item; transposes and broadcasts become views."""
from ..ir.problems import MatMul
from .family import OnePerOutput


def adapt_views(p: MatMul, views):
    """Operand views in the kernel's terms: op(A) [.., m, k], op(B) [.., k, n], C [.., m, n]."""
    out, a, b, *c = views
    batch = p.batch
    if p.trans_a:
        a = a.permute(tuple(range(len(a.shape) - 2)) + (len(a.shape) - 1, len(a.shape) - 2))
    if p.trans_b:
        b = b.permute(tuple(range(len(b.shape) - 2)) + (len(b.shape) - 1, len(b.shape) - 2))
    a = a.broadcast_to(batch + (p.m, p.k))
    b = b.broadcast_to(batch + (p.k, p.n))
    c = [v.broadcast_to(batch + (p.m, p.n)) for v in c]
    return [out, a, b] + c


FAMILY = OnePerOutput("matmul", "matmul.j2", (MatMul,), adapt_views=adapt_views)
