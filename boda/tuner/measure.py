"""The measurement protocol for kernel candidates of one Problem.

Candidates are compiled together as one program (PoCL builds one program of many kernels far
faster than many programs), outside any timed region. Each is run once on an output buffer
poisoned with NaN and checked against the numpy reference; only then is it timed: one warm-up
launch (PoCL finishes code generation at the first launch), then launches until `min_seconds`
of device time have passed (at least `min_runs`), and the median device-event time counts.
A candidate far slower than the best so far stops after its first timed launches.

`run_problem` and `check_problem` run one Problem's kernel by itself the same way (the
output poisoned with NaN, so an element the kernel never writes fails the comparison).
"""
from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field

import numpy as np

from .. import kernels
from ..errors import CompileError
from ..ir.numpy_reference import max_rel_error, random_inputs, reference
from ..ir.views import numel
from ..remote.protocol import RemoteError
from ..runtime.backends import backend_for
from ..runtime.backends.opencl_build import Build


# float16 storage: every operand and the output are rounded to half (2^-11 relative), and
# re-laid-out filters (Winograd's transform) are rounded after transforming
FLOAT16_TOLERANCE = 1e-2


def tolerance(family, dtype: str) -> float:
    """The max relative error a correct kernel of `family` stays within, by storage dtype."""
    return family.tolerance if dtype == "float32" else max(family.tolerance, FLOAT16_TOLERANCE)


@dataclass
class Trial:
    family: str
    params: dict
    status: str = "ok"        # ok | compile_error | run_error | wrong
    seconds: float = float("inf")
    error: float = float("nan")
    cause: str = ""
    times: list = field(default_factory=list)


class ProblemBench:
    """One Problem's operands on a device, ready to compile, verify and time candidates.
    With dtype float16 the operands are stored as half (the inputs are drawn, rounded to
    half, and the reference computes on the rounded values) and outputs are judged with the
    float16 tolerance."""

    def __init__(self, problem, device, backend=None, seed: int = 0, inputs=None,
                 dtype: str = "float32"):
        self.problem = problem
        self.device = device
        self.be = backend or backend_for(device)
        self.seed = seed
        self.dtype = np.dtype(dtype)
        inputs = list(inputs) if inputs is not None else random_inputs(problem, seed)
        self.inputs = [np.asarray(x, self.dtype).astype(np.float32) for x in inputs]
        self._expected = None
        self.out = self.be.alloc(numel(problem.out_shape), self.dtype.itemsize)
        self._operands = {}  # (operand index[, digest of a re-laid-out value]) -> buffer

    def prepare(self, family, params):
        """Render one candidate; returns (KernelSource, argument buffers). Operands a family
        re-lays-out are uploaded once per layout."""
        ks, values = kernels.render_standalone(family, self.problem, params, self.be.lang,
                                               self.inputs, self.dtype.name)
        args = [self.out]
        for k, value in enumerate(values):
            key = (k,) if value is self.inputs[k] else (
                k, value.shape, hashlib.blake2b(value.tobytes(), digest_size=16).digest())
            if key not in self._operands:
                self._operands[key] = self.be.alloc(value.size, self.dtype.itemsize)
                self.be.upload(self._operands[key], np.asarray(value, self.dtype))
            args.append(self._operands[key])
        return ks, args

    def compile(self, candidates):
        """Compile (family, params) candidates as one program; a failing batch is retried one
        by one so each failure is attributed to its candidate (status compile_error).
        Returns [(trial, kernel handle or None, KernelSource)]."""
        prepared = [(Trial(f.name, p), *self.prepare(f, p)) for f, p in candidates]
        if len(prepared) > 1:
            try:
                programs = self._programs([ks for _, ks, _ in prepared])
                return [(t, self.be.kernel(programs[ks.name], ks.name, args), ks)
                        for t, ks, args in prepared]
            except CompileError:
                pass
        out = []
        for t, ks, args in prepared:
            try:
                program = self._programs([ks])[ks.name]
                out.append((t, self.be.kernel(program, ks.name, args), ks))
            except CompileError as exc:
                t.status, t.cause = "compile_error", str(exc)
                out.append((t, None, ks))
        return out

    def _programs(self, sources) -> dict:
        """Kernel name -> program. OpenCL goes through the binary cache, so what a worker
        process built and verified, the tuner's own process loads instead of building."""
        return self.be.programs([Build(ks, 0, 0) for ks in sources])[0]

    @property
    def expected(self) -> np.ndarray:
        if self._expected is None:
            self._expected = reference(self.problem, *self.inputs)
        return self._expected

    def run(self, handle, ks) -> np.ndarray:
        """One launch on an output buffer poisoned with NaN; returns the output."""
        be = self.be
        result = np.empty(self.problem.out_shape, self.dtype)
        be.fill(self.out, np.nan, result.size, self.dtype.itemsize)
        be.launch(handle, ks.global_size, ks.local_size)
        be.download(self.out, result)
        be.finish()
        return result.astype(np.float32)

    def verify(self, trial, handle, ks) -> bool:
        try:
            result = self.run(handle, ks)
        except RemoteError:
            raise  # the agent is gone: not this candidate's fault
        except Exception as exc:  # a launch failure is the candidate's, not ours
            trial.status, trial.cause = "run_error", str(exc).splitlines()[0]
            return False
        trial.error = max_rel_error(result, self.expected)
        if not trial.error <= tolerance(kernels.BY_NAME[trial.family], self.dtype.name):
            trial.status, trial.cause = "wrong", f"max relative error {trial.error:.3g}"
            return False
        return True

    def time(self, trial, handle, ks, best=float("inf"), min_seconds=0.05, min_runs=3,
             max_runs=200, cutoff=4.0):
        be = self.be
        be.time_launches(handle, ks.global_size, ks.local_size, 1)  # warm-up
        times = []
        while len(times) < max_runs:
            batch = 1 if not times else min(max_runs - len(times), max(min_runs, len(times)))
            times += be.time_launches(handle, ks.global_size, ks.local_size, batch)
            median = statistics.median(times)
            if len(times) >= min_runs and (sum(times) >= min_seconds or median > cutoff * best):
                break
        trial.times = times
        trial.seconds = statistics.median(times)
        return trial

    def check(self, candidates) -> list[Trial]:
        """Compile and verify every (family, params) candidate, without timing."""
        trials = []
        for trial, handle, ks in self.compile(candidates):
            if handle is not None:
                self.verify(trial, handle, ks)
            trials.append(trial)
        return trials

    def measure(self, candidates, **timing) -> list[Trial]:
        """Compile, verify and time every (family, params) candidate; best first."""
        trials, best = [], float("inf")
        for trial, handle, ks in self.compile(candidates):
            trials.append(trial)
            if handle is None or not self.verify(trial, handle, ks):
                continue
            self.time(trial, handle, ks, best, **timing)
            best = min(best, trial.seconds)
        return sorted(trials, key=lambda t: t.seconds)


def run_problem(problem, inputs, device, family=None, params=None, backend=None):
    """Render, compile and launch one kernel for `problem` with contiguous operands."""
    if family is None:
        family, _ = kernels.default_choice(problem, device)
    params = params or family.default(problem, device)
    bench = ProblemBench(problem, device, backend, inputs=inputs)
    [(trial, handle, ks)] = bench.compile([(family, params)])
    if handle is None:
        raise CompileError(trial.cause)
    return bench.run(handle, ks)


def check_problem(problem, device, family=None, params=None, seed=0) -> float:
    """The max relative error of one kernel for `problem` against the numpy reference."""
    inputs = random_inputs(problem, seed)
    out = run_problem(problem, inputs, device, family, params)
    return max_rel_error(out, reference(problem, *inputs))
