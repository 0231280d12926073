"""TopK along one axis: one work-item per row, k selection passes over it (classifier heads:
k small, rows of a thousand)."""
from ..ir.problems_norm import TopK
from .family import OnePerOutput

FAMILY = OnePerOutput("topk", "topk.j2", (TopK,), work_items=lambda p: p.rows)
