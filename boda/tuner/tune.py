"""A tuning session: search every distinct Problem of a model, record trials, pick winners.

For each Problem (layers that compute the same thing share one), every applicable family's
space is searched by a strategy (strategies.py). Candidates go in chunks to worker processes
that compile and verify them (workers.py); the verified ones are then built again here (a
PoCL cache hit) and timed by device events (measure.ProblemBench.time) in interleaved rounds,
so a slow spell of a shared machine hits a whole batch alike; a candidate far slower than the
best so far is cut early. Every trial is written to the database as it finishes, so an
interrupted session loses nothing and a new one skips what is recorded.

The time budget is shared out as the session goes, largest Problems first: each gets the
remaining budget times its share of the model's estimated time (the default's estimate times
how many layers share it), and stops early after `patience` candidates without a 2%
improvement. At the end
of a Problem its best few candidates and the kernel the runtime served it before this tune
(a shipped or earlier winner, else the untuned default: `kernels.selection.Lookup`) are timed
again in interleaved rounds, and the one with the lowest median over the rounds is the
winner. So a tune never leaves a layer slower than what ran before it, and "before" in the
report is that kernel's time; a second pass (time left over) races its finalists against
that same kernel again, so "before" and "after" always come from one race. `boda tune` then
checks each new winner against that kernel, and against the best of other families close to
it alone (`alternatives`), inside whole runs (in_run.py).
"""
from __future__ import annotations

import json
import math
import statistics
import time
import zlib
from dataclasses import dataclass, field

from .. import kernels
from ..devices.profiles import require_dtype
from ..kernels.selection import Lookup
from ..kernels.templating import template_hash
from .database import shipped_databases
from .db_keys import params_key
from . import strategies
from .measure import ProblemBench, Trial
from .strategies import Candidate
from .workers import WorkerPool

TIMING = {"min_seconds": 0.02, "min_runs": 3, "max_runs": 100}
ALTERNATIVES = 2         # other families' best candidates that in_run races inside runs too,
ALTERNATIVE_WITHIN = 1.25  # those within this factor of the winner's time alone


@dataclass
class Task:
    """One distinct Problem of a model, with the layers that share it."""
    problem: object
    consts: frozenset  # operand indices that are constants (filters can be re-laid-out)
    layers: list = field(default_factory=list)

    @property
    def label(self) -> str:
        """The first layer's name, and how many more share the Problem."""
        n = len(self.layers)
        return self.layers[0] + (f" (+{n - 1})" if n > 1 else "")


@dataclass
class Outcome:
    task: Task
    family: str = ""
    params: dict = field(default_factory=dict)
    before: float = math.nan   # the time of the kernel served before the tune (s)
    served: str = "default"    # what served it (kernels.selection.MEANING's levels)
    ran: object = None         # that kernel, a strategies.Candidate
    after: float = math.nan    # the winner's time (s)
    measured: int = 0          # candidates measured in this session
    recorded: int = 0          # candidates found in the database already
    failed: int = 0
    duplicates: int = 0        # measured, but another tuner had recorded it meanwhile
    skipped: bool = False      # a winner was already in the database
    stopped_early: bool = False  # the search stopped on patience, not on budget or space
    reached: bool = True       # False: the budget was spent before this Problem's turn
    alternatives: list = field(default_factory=list)  # [(Candidate, s alone)]: alternatives()


def alternatives(results: dict, times: dict, win) -> list:
    """The best candidate of each family but the winner's, by time alone (the final race's
    where it ran there, else the search's), within ALTERNATIVE_WITHIN of the winner's, the
    ALTERNATIVES fastest: in_run races them inside whole runs too, where a family's way with
    memory can turn the order around (on a Zen 5, ResNet-18's 14x14 256-channel layers:
    conv_winograd 1.70 ms alone and 3.83 inside runs, conv_gemm 1.80 and 2.26)."""
    seconds = {c: s for c, s in results.items() if math.isfinite(s)}
    seconds.update(times)
    limit = seconds[win] * ALTERNATIVE_WITHIN
    best = {}
    for cand, s in seconds.items():
        if cand.family != win.family and s <= limit and s < best.get(cand.family, (0, math.inf))[1]:
            best[cand.family] = (cand, s)
    return sorted(best.values(), key=lambda pair: pair[1])[:ALTERNATIVES]


def model_tasks(plan) -> list[Task]:
    """The distinct (Problem, constant operands) pairs of a plan, in order of first use."""
    tasks = {}
    for step in plan.steps:
        consts = plan.const_operands(step)
        task = tasks.setdefault((step.problem, consts), Task(step.problem, consts))
        task.layers.append(step.name)
    return list(tasks.values())


class Tuner:
    """Tunes Problems on one device into one database."""

    def __init__(self, device, db, strategy: str = "auto", seed: int = 0, workers: int = 2,
                 chunk: int = 6, patience: int = 40, confirm: int = 3, progress=None,
                 timing=None, timeout: float = 30.0, restrict=None, rounds: int = 3,
                 final_rounds: int = 5, cutoff: float = 4.0, dtype: str = "float32",
                 lookup=None):
        """restrict: an optional predicate on Candidates limiting the search space; rounds
        and final_rounds: interleaved timing rounds per batch and for the finalists; dtype:
        the storage type tuned for (float16 is recorded apart from float32); lookup: what
        the runtime would serve before the tune (default: `db`, then the shipped
        databases), always a finalist."""
        require_dtype(device, dtype)
        self.dtype = dtype
        self.device, self.db = device, db
        self.strategy, self.seed = strategy, seed
        self.chunk, self.patience, self.confirm = chunk, patience, confirm
        self.timing = dict(TIMING, **(timing or {}))
        self.restrict = restrict or (lambda cand: True)
        self.rounds, self.final_rounds, self.cutoff = rounds, final_rounds, cutoff
        self.progress = progress or (lambda **kw: None)
        self.device_key = db.add_device(device)
        self.pool = WorkerPool(device, workers, timeout)
        self.backend = None
        self.lookup = lookup if lookup is not None else Lookup([db, *shipped_databases()])

    def close(self):
        self.pool.close()

    # -- one Problem ---------------------------------------------------------------------

    def tune(self, task: Task, budget: float, retune: bool = False, ran=None) -> Outcome:
        """ran: (Candidate, level) of the kernel that ran before, where not what the lookup
        serves now (a second pass: the first pass's winner is in the database by then)."""
        problem, device = task.problem, self.device
        out = Outcome(task)
        families = kernels.families_for(problem, task.consts, device)
        hashes = {f.name: template_hash(f.template, self.dtype) for f in families}
        if ran is None:
            served = self.lookup.choose(problem, device, task.consts, self.dtype)
            ran = Candidate.of(served.family.name, served.params), served.level
        before, out.served = ran  # what ran before
        out.ran = before
        self.db.add_problem(problem)
        winner = self.db.winner(self.device_key, problem.signature, self.dtype)
        if winner and winner["template_hash"] == hashes.get(winner["family"]) and not retune:
            out.skipped = True
            out.family, out.params = winner["family"], json.loads(winner["params"])
            out.before, out.after = winner["default_seconds"], winner["seconds"]
            return out

        strategy = self._strategy(task, families, hashes, before, budget, out)
        bench = ProblemBench(problem, device, self.backend, seed=self._seed(problem),
                             dtype=self.dtype)
        self.backend = bench.be
        kept = self._search(task, bench, strategy, hashes, before, budget, out)
        ranked = sorted(((s, c) for c, s in strategy.results.items() if math.isfinite(s)),
                        key=lambda t: t[0])
        finalists = [c for _, c in ranked[:self.confirm]]
        if strategy.results.get(before) != math.inf and before not in finalists:
            finalists.append(before)  # unless it failed here: even if never reached
        times = self._rounds(bench, finalists, kept)
        if not times:  # nothing computed it correctly: no winner; the runtime keeps defaults
            return out
        win = min(times, key=times.get)
        out.family, out.params = win.family, win.param_dict
        out.alternatives = alternatives(strategy.results, times, win)
        out.after = times[win]
        out.before = times.get(before, math.nan)
        self.db.set_winner({
            "device": self.device_key, "problem": problem.signature, "dtype": self.dtype,
            "family": win.family, "template_hash": hashes[win.family],
            "params": params_key(win.param_dict), "seconds": out.after,
            "gflops": problem.flops / out.after / 1e9, "default_seconds": out.before})
        return out

    def _strategy(self, task, families, hashes, before, budget, out):
        """The search strategy over the task's space, told what the database has already."""
        problem, device = task.problem, self.device
        spaces = {f.name: f.space(problem, device) for f in families}
        candidates = [c for f in families for c in (Candidate.of(f.name, p)
                                                    for p in f.points(problem, device))
                      if self.restrict(c)]
        starts = [before] + [Candidate.of(f.name, f.default(problem, device)) for f in families]
        evals = max(4, int(budget / 0.6))  # roughly what the budget buys
        strategy = strategies.make(self.strategy, candidates, spaces, starts,
                                   self.seed, budget_evals=evals)
        for row in self.db.trials(self.device_key, problem.signature, self.dtype):
            if hashes.get(row["family"]) == row["template_hash"]:
                cand = Candidate.of(row["family"], json.loads(row["params"]))
                strategy.observe(cand, row["seconds"] if row["status"] == "ok" else math.inf)
                out.recorded += 1
        return strategy

    def _search(self, task, bench, strategy, hashes, before, budget, out) -> dict:
        """Measure what the strategy proposes until the budget, the space or the patience
        runs out, recording every trial. Returns the best few candidates' kernels."""
        kept = {}  # Candidate -> (handle, KernelSource)
        best, since_best = strategy.best()[0], 0
        started = time.perf_counter()
        self.progress(task=task, best=best, measured=0, default=before.family)
        last = 0.0  # how long the last batch took: a batch that would overrun is not begun
        while time.perf_counter() - started + last < budget and since_best < self.patience:
            batch = strategy.propose(self.chunk * self.pool.size)
            if not batch:
                break
            batch_start = time.perf_counter()
            for cand, trial, handle, ks in self._measure(bench, batch, best):
                out.duplicates += not self._record(task.problem, hashes, cand, trial)
                seconds = trial.seconds if trial.status == "ok" else math.inf
                strategy.observe(cand, seconds)
                out.measured += 1
                out.failed += trial.status != "ok"
                since_best = 0 if seconds < best * 0.98 else since_best + 1
                best = min(best, seconds)
                if handle is not None:
                    kept[cand] = (handle, ks)
            kept = self._keep_best(strategy, kept, before)
            last = time.perf_counter() - batch_start
            self.progress(task=task, best=best, measured=out.measured, default=before.family)
        out.stopped_early = since_best >= self.patience and not strategy.done()
        return kept

    def _seed(self, problem) -> int:
        return self.seed * 1_000_003 + zlib.crc32(problem.signature.encode())

    def _measure(self, bench, batch, best):
        """Verify `batch` in the workers, then time the verified candidates here. Yields
        (Candidate, Trial, handle or None, KernelSource or None)."""
        n = self.pool.size
        chunks = [batch[k::n] for k in range(n) if batch[k::n]]
        replies = self.pool.check(bench.problem, bench.seed, bench.dtype.name,
                                  [[(c.family, c.param_dict) for c in ch] for ch in chunks])
        all_trials, all_handles = {}, {}
        for chunk, (results, whole) in zip(chunks, replies):
            # a compile error made the worker build its chunk one candidate at a time
            whole = whole and all(status != "compile_error" for status, _, _ in results)
            trials = {c: Trial(c.family, c.param_dict, status, error=error, cause=cause)
                      for c, (status, error, cause) in zip(chunk, results)}
            ok = [c for c in chunk if trials[c].status == "ok"]
            # build exactly what the worker built, so PoCL's cache has its machine code
            groups = [chunk] if whole and ok else [[c] for c in ok]
            handles = {}
            for group in groups:
                compiled = bench.compile([(kernels.BY_NAME[c.family], c.param_dict)
                                          for c in group])
                for c, (trial, handle, ks) in zip(group, compiled):
                    if c in trials and trials[c].status == "ok":
                        if handle is None:
                            trials[c].status, trials[c].cause = trial.status, trial.cause
                        else:
                            handles[c] = (handle, ks)
            all_trials.update(trials)
            all_handles.update(handles)
        times = self._interleaved(bench, all_handles, self.rounds, best)
        for c in batch:
            handle, ks = all_handles.get(c, (None, None))
            if c in times:
                all_trials[c].seconds, all_trials[c].times = times[c]
            yield c, all_trials[c], handle, ks

    def _interleaved(self, bench, handles: dict, rounds: int, best=math.inf) -> dict:
        """Time each kernel in `handles` (Candidate -> (handle, KernelSource)) in `rounds`
        interleaved rounds, so a slow spell of the machine hits them alike: Candidate ->
        (median over rounds, every launch time). One far slower than the best after the
        first round is not timed again."""
        timing = dict(self.timing, min_seconds=self.timing["min_seconds"] / rounds)
        medians = {c: [] for c in handles}
        launches = {c: [] for c in handles}
        for r in range(rounds):
            for c, (handle, ks) in handles.items():
                if r and medians[c][0] > self.cutoff * best:
                    continue
                trial = Trial(c.family, c.param_dict)
                bench.time(trial, handle, ks, best if r == 0 else math.inf, **timing)
                medians[c].append(trial.seconds)
                launches[c] += trial.times
                if r == 0:
                    best = min(best, trial.seconds)
        return {c: (statistics.median(medians[c]), launches[c]) for c in handles}

    def _record(self, problem, hashes, cand, trial):
        ok = trial.status == "ok"
        return self.db.add_trial({
            "device": self.device_key, "problem": problem.signature, "dtype": self.dtype,
            "family": cand.family, "template_hash": hashes[cand.family],
            "params": params_key(cand.param_dict), "status": trial.status,
            "cause": trial.cause[:500], "seconds": trial.seconds if ok else None,
            "gflops": problem.flops / trial.seconds / 1e9 if ok else None,
            "error": trial.error if math.isfinite(trial.error) else None,
            "times": json.dumps([round(t, 9) for t in trial.times[:100]])})

    def _keep_best(self, strategy, kept, before):
        ranked = sorted(((strategy.results[c], c) for c in kept if c in strategy.results),
                        key=lambda t: t[0])
        keep = {c for _, c in ranked[:self.confirm]} | {before}
        return {c: v for c, v in kept.items() if c in keep}

    def _rounds(self, bench, finalists, kept) -> dict:
        """Median over interleaved rounds of each finalist's time; compiles those not kept
        (found in the database, or evicted)."""
        missing = [c for c in finalists if c not in kept]
        if missing:
            compiled = bench.compile([(kernels.BY_NAME[c.family], c.param_dict)
                                      for c in missing])
            for c, (trial, handle, ks) in zip(missing, compiled):
                if handle is not None and bench.verify(trial, handle, ks):
                    kept[c] = (handle, ks)
        finalists = {c: kept[c] for c in finalists if c in kept}
        times = self._interleaved(bench, finalists, self.final_rounds)
        return {c: median for c, (median, _) in times.items()}


def shares(tasks, device) -> list[float]:
    """Each task's share of the model's estimated time (default estimate x layers)."""
    weights = []
    for t in tasks:
        family, params = kernels.default_choice(t.problem, device, t.consts)
        weights.append(family.estimate(t.problem, params, device) * len(t.layers))
    total = sum(weights) or 1.0
    return [w / total for w in weights]


def tune_tasks(tuner: Tuner, tasks, budget: float, retune: bool = False,
               min_seconds: float = 2.0) -> list[Outcome]:
    """Tune the tasks, largest share of the model's time first; returns their outcomes in
    the tasks' order. The budget left is re-shared after each one, so time a Problem does not
    use (its search stopped improving, or its space ran out) goes to the rest; a Problem not
    begun when the budget is spent is left for the next session (`reached` False). Time still
    left at the end goes to a second pass over the Problems whose search stopped on
    patience, continuing from what was recorded."""
    weights = shares(tasks, tuner.device)
    order = sorted(range(len(tasks)), key=lambda k: -weights[k])
    deadline = time.perf_counter() + budget
    outcomes = dict(zip(order, _pass(tuner, [tasks[k] for k in order],
                                     [weights[k] for k in order], deadline, retune,
                                     min_seconds)))
    again = [k for k in order if outcomes[k].stopped_early]
    if again and deadline - time.perf_counter() > 0.1 * budget:
        second = _pass(tuner, [tasks[k] for k in again], [weights[k] for k in again],
                       deadline, True, min_seconds,
                       [(outcomes[k].ran, outcomes[k].served) for k in again])
        for k, o in zip(again, second):
            if o.reached:  # raced again against what ran before the first pass
                o.measured += outcomes[k].measured
                o.recorded -= outcomes[k].measured
                outcomes[k] = o
    return [outcomes[k] for k in range(len(tasks))]


def _pass(tuner, tasks, weights, deadline, retune, min_seconds, ran=None) -> list[Outcome]:
    out = []
    for k, task in enumerate(tasks):
        left = deadline - time.perf_counter()
        if left <= 0:
            out.append(Outcome(task, reached=False))
            continue
        share = weights[k] / (sum(weights[k:]) or 1.0)
        out.append(tuner.tune(task, max(left * share, min_seconds), retune,
                              ran[k] if ran else None))
    return out
