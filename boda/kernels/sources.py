"""A family's kernel rendered for a Problem's operand views, and kernels put together into
one program's source."""
from __future__ import annotations

import numpy as np

from ..ir.views import View
from .templating import prelude


def render(family, problem, params: dict, views, lang: str, dtype: str = "float32"):
    """family.render; the dtype is passed only when it is not float32, so families written
    before float16 (plugins) keep working for float32."""
    if dtype == "float32":
        return family.render(problem, params, views, lang)
    return family.render(problem, params, views, lang, dtype=dtype)


def render_standalone(family, problem, params: dict, lang: str, inputs=None,
                      dtype: str = "float32"):
    """Render a kernel for contiguous operands, as verification, timing and compile checks
    run it. `inputs` (arrays in operand order, zeros if None) go through the family's
    upload-time transforms; returns (KernelSource, the operand arrays as uploaded)."""
    if inputs is None:
        inputs = [np.zeros(s, np.float32) for s in problem.in_shapes]
    inputs = list(inputs)
    for k, fn in family.transforms(problem, params).items():
        inputs[k] = fn(inputs[k])
    views = [View.contiguous(problem.out_shape)] + [View.contiguous(x.shape) for x in inputs]
    return render(family, problem, params, views, lang, dtype), inputs


def program_source(sources, lang: str) -> str:
    """One program: the language prelude (for the kernels' storage dtype, which they share)
    and each distinct kernel once."""
    sources = list(sources)
    dtypes = {ks.dtype for ks in sources} or {"float32"}
    if len(dtypes) > 1:
        raise ValueError(f"one program cannot mix storage dtypes {sorted(dtypes)}")
    seen, parts = set(), [prelude(lang, dtypes.pop())]
    for ks in sources:
        if ks.name not in seen:
            seen.add(ks.name)
            parts.append(ks.source)
    return "\n".join(parts)
