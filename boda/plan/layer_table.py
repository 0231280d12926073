"""What a model lowers to, without a device: the per-layer table behind `boda ops`."""
from __future__ import annotations

from collections import Counter

from . import plan_model


def layer_rows(model, batch: int | None = None) -> list[dict]:
    plan = plan_model(model, batch)
    shared = Counter(step.problem for step in plan.steps)
    rows = []
    for step in plan.steps:
        p = step.problem
        rows.append({
            "layer": step.name, "ops": step.source, "kind": p.kind, "signature": p.signature,
            "output_shape": list(p.out_shape), "mflops": p.flops / 1e6,
            "mbytes": p.bytes / 1e6, "shared_by": shared[p],
        })
    return rows


def totals(rows) -> dict:
    return {"layers": len(rows), "distinct_problems": len({r["signature"] for r in rows}),
            "mflops": sum(r["mflops"] for r in rows)}
