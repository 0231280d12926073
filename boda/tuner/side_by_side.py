"""The tuner's race for groups of independent layers: apart, or side by side in one launch
at each work-group size the members share (kernels.side_by_side).

Run after the layers' own kernels are tuned, since a group's key names them. One engine is
built per option (every group at its first option, its second, ...; a group with fewer
options runs apart there), twice, in mirrored order (where engines hold much memory one made
later can run faster), and their whole-network launch sequences are timed in interleaved
rounds by device events, as inferences run; a group's time in an engine is the sum of its
launches' times (groups alike, such as two fire modules of one shape, share one key in the
database and one race: their mean). Each engine's outputs must match the all-apart
engine's on a random input, else its options count as wrong results. Every option becomes
a trial and the fastest the group's winner, so the lookup serves it from then on.
"""
from __future__ import annotations

import json
import statistics

import numpy as np

from ..ir.numpy_reference import max_rel_error
from ..kernels import side_by_side as sbs
from ..kernels.selection import Lookup
from ..runtime import Engine
from .db_keys import params_key


class ForcedGroups(Lookup):
    """A lookup that answers every group with its `index`-th way to run
    (kernels.side_by_side.choices: APART first), and kernels as Lookup does."""

    def __init__(self, databases, index: int):
        super().__init__(databases)
        self.index = index

    def side_by_side(self, members, device, dtype="float32"):
        ways = sbs.choices(members, device)
        return (ways[self.index] if self.index < len(ways) else sbs.APART), "tune"


def random_feeds(plan, seed: int = 0) -> dict:
    """Random inputs for a plan's engines. Their runs leave real values in every buffer
    before timing: a fresh buffer holds whatever memory held, and denormal floats there
    made a kernel 30x slower."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(plan.placement[name][1].shape).astype(np.float32)
            for name in plan.inputs}


def mirrored_engines(plan, device, lookups, dtype: str = "float32", first=None) -> list:
    """Two engines per lookup, as (index in `lookups`, engine), made on one backend in
    mirrored order (0 .. n-1, n-1 .. 0); `first`: lookups[0]'s first engine, where made
    already. In one process an engine made later can run faster (on an Intel Xeon, of four
    identical ResNet-18 engines the fourth 4% faster than the first, their 7x7 layers up to
    10%), so every option gets one early engine and one late."""
    n = len(lookups)
    first = first or Engine(plan, device, lookup=lookups[0], dtype=dtype)
    return [(0, first)] + [(i, Engine(plan, device, first.backend, lookups[i], dtype))
                           for i in list(range(1, n)) + list(range(n))[::-1]]


def in_turns(engines: list, round_index: int) -> list:
    """The engines' order in a round of interleaved timing: reversed every other round."""
    return engines if round_index % 2 == 0 else engines[::-1]


def race(plan, device, db, device_key: str, databases, dtype: str = "float32",
         rounds: int = 5, progress=None) -> list[dict]:
    """Race every group of `plan` (databases: what the lookup reads, `db` first); returns a
    row per distinct group (groups of equal problems and kernels share one: fire modules of
    one shape): its groups' layer names, each option's median seconds per group (None:
    failed) and the winner."""
    progress = progress or (lambda text: None)
    base = Engine(plan, device, lookup=ForcedGroups(databases, 0), dtype=dtype)
    groups = [g for g in base.groups() if len(g) > 1]
    if not groups:
        return []
    options = {tuple(g): sbs.choices(base.members(g), device) for g in groups}
    count = max(map(len, options.values()))
    engines = mirrored_engines(plan, device, [ForcedGroups(databases, i) for i in range(count)],
                               dtype, first=base)
    progress(f"racing {len(groups)} groups of layers side by side against apart "
             f"({len(engines)} engines, {rounds} rounds)")
    feeds = random_feeds(plan)
    expected = base.run(feeds)
    wrong = [False] * count
    for i, e in engines:
        got = e.run(feeds)
        wrong[i] = wrong[i] or any(max_rel_error(got[k], expected[k]) > 1e-3 for k in expected)
    keys = {}  # groups that compute the same thing with the same kernels share one race
    for g in groups:
        keys.setdefault(sbs.SideBySide.of(base.members(g), dtype), []).append(g)
    times = [{key: [] for key in keys} for _ in range(count)]
    for r in range(rounds):
        for i, e in in_turns(engines, r):
            [sequence] = e.backend.time_sequence(e.launches(), 1)
            for key, same in keys.items():
                layers = {k for g in same for k in g}
                times[i][key].append(sum(t for unit, t in zip(e.units, sequence)
                                         if layers & set(unit.layers)) / len(same))
    out = []
    for key, same in keys.items():
        db.add_problem(key)
        seconds = {}
        for i, local in enumerate(options[tuple(same[0])]):
            ok = not wrong[i]
            seconds[local] = statistics.median(times[i][key]) if ok else None
            db.add_trial({"device": device_key, "problem": key.signature, "dtype": dtype,
                          "family": sbs.FAMILY, "template_hash": sbs.VERSION,
                          "params": params_key({"local": local}),
                          "status": "ok" if ok else "wrong_result", "cause": "",
                          "seconds": seconds[local], "gflops": None, "error": None,
                          "times": json.dumps([round(t, 9) for t in times[i][key]])})
        timed = {k: v for k, v in seconds.items() if v is not None}
        win = min(timed, key=timed.get)
        db.set_winner({"device": device_key, "problem": key.signature, "dtype": dtype,
                       "family": sbs.FAMILY, "template_hash": sbs.VERSION,
                       "params": params_key({"local": win}), "seconds": timed[win],
                       "gflops": key.flops / timed[win] / 1e9,
                       "default_seconds": timed[sbs.APART]})
        out.append({"groups": [[base.layers[k].step.name for k in g] for g in same],
                    "seconds": seconds, "winner": win})
    return out
