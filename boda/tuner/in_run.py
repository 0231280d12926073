"""The tuner's last word on each layer: its new winner against the kernel that ran before
the tune, inside whole runs.

The search times every kernel alone, launched again and again on warm caches. Inside a
network a kernel's input was just written by the layer before and its filters come from
wherever the other layers left them, and a winner alone can lose there: on a Zen 4, a
Winograd kernel that won a 7x7 512-channel layer by 1.07x alone read 16 MB of transformed
filters and ran 2x slower inside whole runs. So after the layers are tuned, engines run
the whole network in interleaved rounds, timed by device events, every group of layers
apart: those of one side serve the new winners, those of the other what ran before the
tune (a shipped or earlier winner, else the untuned default). There are two engines a side,
made in mirrored order, since where engines hold much memory one made later can run
faster. A layer whose new kernel is slower inside runs than the old one, by more than
MARGIN over the medians, gets the old kernel back as its
winner. So a tune leaves no layer slower than before it inside runs, not only alone.
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
    outcome: object       # the tune.Outcome; set back to what ran before where `kept` is
    before: float         # the kernel that ran before the tune
    after: float          # the tune's winner
    kept: str             # "tuned" or "before"


class Served(ForcedGroups):
    """Every group apart (the race's first way); kernels as the databases say, except the
    Problems in `forced` ((signature, const operands) -> (Family, params, level))."""

    def __init__(self, databases, forced: dict):
        super().__init__(databases, 0)
        self.forced = forced

    def choose(self, problem, device, const_operands=None, dtype="float32"):
        forced = self.forced.get((problem.signature, frozenset(const_operands or ())))
        if forced is None:
            return super().choose(problem, device, const_operands, dtype)
        family, params, level = forced
        return family, params, level, "before the tune"


def changed(outcomes) -> list:
    """The outcomes whose winner this tune chose, and differs from what ran before (which
    ran in the tune's last race: not a kernel that fails here)."""
    return [o for o in outcomes if o.reached and not o.skipped and o.family and o.ran
            and math.isfinite(o.before)
            and (o.family, params_key(o.params)) != (o.ran.family,
                                                     params_key(o.ran.param_dict))]


def check(plan, device, db, device_key: str, outcomes, databases, dtype: str = "float32",
          rounds: int = 10, progress=None) -> list[Verdict]:
    """Race each changed layer's new winner against what ran before it inside whole runs
    of `plan` (databases: what the lookup reads, `db` first, the new winners in it), and
    set the winner back where the new one is slower there. Returns a Verdict per changed
    Problem, in the outcomes' order."""
    progress = progress or (lambda text: None)
    todo = changed(outcomes)
    if not todo:
        return []
    forced = {(o.task.problem.signature, o.task.consts):
              (BY_NAME[o.ran.family], o.ran.param_dict, o.served) for o in todo}
    # side 0 what ran before, side 1 the new winners; one engine a side favoured the side
    # made second (mirrored_engines)
    engines = mirrored_engines(plan, device, [Served(databases, forced), Served(databases, {})],
                               dtype)
    feeds = random_feeds(plan)
    for _, engine in engines:
        engine.run(feeds)
    progress(f"timing {len(todo)} newly tuned layers inside whole runs against the kernels "
             f"that ran before ({rounds} rounds)")
    by_name = {layer: o for o in todo for layer in o.task.layers}
    times = {id(o): ([], []) for o in todo}
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
                for key, seconds in per.items():
                    times[key][side].append(seconds)
    verdicts = []
    for o in todo:
        t_before, t_after = (statistics.median(t) for t in times[id(o)])
        keep = "tuned"
        if t_after > t_before * (1 + MARGIN):
            keep = "before"
            _set_back(db, device_key, o, dtype)
        verdicts.append(Verdict(o, t_before, t_after, keep))
    return verdicts


def _set_back(db, device_key, o, dtype):
    """Make what ran before the tune the Problem's winner (its time alone as measured in
    the tune's last race), and say so in its Outcome."""
    problem, family = o.task.problem, BY_NAME[o.ran.family]
    db.set_winner({"device": device_key, "problem": problem.signature, "dtype": dtype,
                   "family": family.name, "template_hash": template_hash(family.template, dtype),
                   "params": params_key(o.ran.param_dict), "seconds": o.before,
                   "gflops": problem.flops / o.before / 1e9, "default_seconds": o.before})
    o.family, o.params, o.after = family.name, o.ran.param_dict, o.before
