"""The tuner's last word on each layer: its new winner against the kernel that ran before
the tune, and against the best of other families close to it alone, inside whole runs.

The search times every kernel alone, launched again and again on warm caches. Inside a
network a kernel's input was just written by the layer before and its filters come from
wherever the other layers left them, and a winner alone can lose there: on a Zen 4, a
Winograd kernel that won a 7x7 512-channel layer by 1.07x alone read 16 MB of transformed
filters and ran 2x slower inside whole runs; on a Zen 5, ResNet-18's 14x14 layers took
conv_winograd 1.70 ms alone and 3.83 in runs, conv_gemm 1.80 and 2.26. So after the layers
are tuned, engines run the whole network in interleaved rounds, timed by device events,
every group of layers apart: those of one side serve the new winners, those of another what
ran before the tune (a shipped or earlier winner, else the untuned default), and one more
side for each of the layers' alternatives (tune.alternatives: the best of each other family
within 1.25x of the winner alone, two at most). There are two engines a side, made in
mirrored order, since where engines hold much memory one made later can run faster. The
fastest inside runs becomes the winner: an alternative where it beats the new winner by
more than MARGIN over the medians, and what ran before where it beats the one kept by more
than MARGIN. So a tune leaves no layer slower than before it inside runs, not only alone.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..kernels import BY_NAME
from ..kernels.templating import template_hash
from .db_keys import params_key
from .side_by_side import ForcedGroups, in_turns, mirrored_engines, random_feeds

MARGIN = 0.02  # slower by less than this inside runs: the faster-alone kernel stays


@dataclass
class Verdict:
    """One tuned Problem's kernels inside whole runs (seconds per run, its layers summed)."""
    outcome: object       # the tune.Outcome; its winner is what was kept
    before: float         # the kernel that ran before the tune
    after: float          # the tune's winner
    kept: str             # "tuned", "before" or "alternative"
    other: float = math.nan  # the fastest of the outcome's alternatives (nan: none)


class Served(ForcedGroups):
    """Every group apart (the race's first way); kernels as the databases say, except the
    Problems in `forced` ((signature, const operands) -> (Family, params, level))."""

    def __init__(self, databases, forced: dict, source: str = "before the tune"):
        super().__init__(databases, 0)
        self.forced = forced
        self.source = source

    def choose(self, problem, device, const_operands=None, dtype="float32"):
        forced = self.forced.get((problem.signature, frozenset(const_operands or ())))
        if forced is None:
            return super().choose(problem, device, const_operands, dtype)
        family, params, level = forced
        return family, params, level, self.source


def changed(outcomes) -> list:
    """The outcomes to check: this tune chose their winner, what ran before it ran in the
    tune's last race (not a kernel that fails here), and the winner differs from it or has
    alternatives (another family's best, close to it alone)."""
    return [o for o in outcomes if o.reached and not o.skipped and o.family and o.ran
            and math.isfinite(o.before)
            and ((o.family, params_key(o.params)) != (o.ran.family,
                                                      params_key(o.ran.param_dict))
                 or o.alternatives)]


def check(plan, device, db, device_key: str, outcomes, databases, dtype: str = "float32",
          rounds: int = 10, progress=None) -> list[Verdict]:
    """Race each changed layer's new winner, and its alternatives, against what ran before
    it inside whole runs of `plan` (databases: what the lookup reads, `db` first, the new
    winners in it); make the fastest there the winner, the new one unless another is faster
    by more than MARGIN. Returns a Verdict per changed Problem, in the outcomes' order."""
    progress = progress or (lambda text: None)
    todo = changed(outcomes)
    if not todo:
        return []
    key = {id(o): (o.task.problem.signature, o.task.consts) for o in todo}
    forced = {key[id(o)]: (BY_NAME[o.ran.family], o.ran.param_dict, o.served) for o in todo}
    # side 0 what ran before, side 1 the new winners, side 2 + j each layer's j-th
    # alternative (the new winner where it has none); one engine a side favoured the side
    # made second (mirrored_engines)
    sides = [Served(databases, forced), Served(databases, {})] + [
        Served(databases, {key[id(o)]: (BY_NAME[o.alternatives[j][0].family],
                                        o.alternatives[j][0].param_dict, "exact")
                           for o in todo if len(o.alternatives) > j}, "an alternative")
        for j in range(max(len(o.alternatives) for o in todo))]
    engines = mirrored_engines(plan, device, sides, dtype)
    feeds = random_feeds(plan)
    for _, engine in engines:
        engine.run(feeds)
    progress(f"timing {len(todo)} newly tuned layers inside whole runs against the kernels "
             f"that ran before and the best of other families ({len(sides)} ways, "
             f"{rounds} rounds)")
    by_name = {layer: o for o in todo for layer in o.task.layers}
    times = {id(o): [[] for _ in sides] for o in todo}
    for _, engine in engines:  # warm up: caches, PoCL's workers
        engine.backend.time_sequence(engine.launches(), 2)
    for r in range(rounds):
        for side, engine in in_turns(engines, r):
            for sequence in engine.backend.time_sequence(engine.launches(), 2):
                per = {}  # every unit is one layer: the groups run apart
                for unit, seconds in zip(engine.units, sequence):
                    o = by_name.get(engine.layers[unit.layers[0]].step.name)
                    if o is not None:
                        per[id(o)] = per.get(id(o), 0.0) + seconds
                for k, seconds in per.items():
                    times[k][side].append(seconds)
    return [_verdict(db, device_key, o, [statistics.median(t) if t else math.inf
                                         for t in times[id(o)]], dtype) for o in todo]


def _verdict(db, device_key, o, medians, dtype) -> Verdict:
    """Keep the fastest inside runs: an alternative faster than the new winner by more than
    MARGIN, else the new winner, and what ran before where that is faster than the one
    kept by more than MARGIN."""
    t_before, t_after = medians[:2]
    others = medians[2:2 + len(o.alternatives)]
    best = min(range(len(others)), key=others.__getitem__, default=None)
    keep, t_kept = "tuned", t_after
    if best is not None and others[best] * (1 + MARGIN) < t_after:
        keep, t_kept = "alternative", others[best]
    if t_kept > t_before * (1 + MARGIN):
        keep = "before"
        _set_winner(db, device_key, o, o.ran, o.before, dtype)
    elif keep == "alternative":
        _set_winner(db, device_key, o, *o.alternatives[best], dtype)
    return Verdict(o, t_before, t_after, keep, min(others, default=math.nan))


def _set_winner(db, device_key, o, cand, seconds, dtype):
    """Make `cand` (what ran before the tune, or an alternative; `seconds` its time alone
    as the tune measured it) the Problem's winner, and say so in its Outcome."""
    problem, family = o.task.problem, BY_NAME[cand.family]
    db.set_winner({"device": device_key, "problem": problem.signature, "dtype": dtype,
                   "family": family.name, "template_hash": template_hash(family.template, dtype),
                   "params": params_key(cand.param_dict), "seconds": seconds,
                   "gflops": problem.flops / seconds / 1e9, "default_seconds": o.before})
    o.family, o.params, o.after = family.name, cand.param_dict, seconds
