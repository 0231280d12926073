"""Running one Problem's kernel by itself and checking it against the numpy reference.

The output buffer is poisoned with NaN first, so an element the kernel never writes fails
the comparison. The tuner verifies every candidate this way before its time counts.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .errors import CompileError
from .reference import reference


def random_inputs(problem, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in problem.in_shapes]


def run_problem(problem, inputs, device, family=None, params=None, backend=None):
    """Render, compile and launch one kernel for `problem` with contiguous operands."""
    from .tuner.measure import ProblemBench
    if family is None:
        family, _ = kernels.choose(problem, device)
    params = params or family.default(problem, device)
    bench = ProblemBench(problem, device, backend, inputs=inputs)
    [(trial, handle, ks)] = bench.compile([(family, params)])
    if handle is None:
        raise CompileError(trial.cause)
    return bench.run(handle, ks)


def max_rel_error(out: np.ndarray, ref: np.ndarray) -> float:
    """max|out - ref| / max|ref|, with NaN (an unwritten element) counting as infinite."""
    if out.shape != ref.shape:
        return float("inf")
    if not np.all(np.isfinite(out) == np.isfinite(ref)):
        return float("inf")
    finite = np.isfinite(ref)
    scale = max(float(np.abs(ref[finite]).max(initial=0.0)), 1e-30)
    return float(np.abs(out[finite] - ref[finite]).max(initial=0.0)) / scale


def check_problem(problem, device, family=None, params=None, seed=0) -> float:
    inputs = random_inputs(problem, seed)
    out = run_problem(problem, inputs, device, family, params)
    return max_rel_error(out, reference(problem, *inputs))
