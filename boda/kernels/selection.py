"""Which kernel runs a Problem on a device, and why: the one place that decides.

The tuning databases are asked first, level by level: the exact device, then the same
architecture, then the same vendor (`LEVELS`), in the user's database before the shipped ones.
A winner counts only if its family applies here, its template is unchanged since it was
measured (the template hash), and its parameters are a valid point of the family's space on
this device. Failing all of that, the family default with the lowest cost estimate runs
(`default_choice`). The databases are anything with `winners_for` (tuner.database.TuningDB);
`Lookup([])` uses the defaults only. Groups of independent layers (a fire module's two
expands) are asked about too: apart, or side by side in one launch (kernels.side_by_side).
"""
from __future__ import annotations

import json
from typing import NamedTuple

from . import side_by_side
from .family import Family
from .registry import families_for
from .templating import template_hash

LEVELS = ("exact", "arch", "vendor")
MEANING = {"exact": "tuned on this device", "arch": "tuned on the same model of device",
           "vendor": "tuned on another device of its vendor",
           "default": "the family default with the lowest cost estimate",
           "fallback": "the next family, after the compiler crashed on the chosen one"}


class Choice(NamedTuple):
    family: Family
    params: dict
    level: str   # exact, arch, vendor, default (or fallback, set by the runtime)
    source: str  # the database that served it, or "heuristic" (MEANING says what a level means)


def default_choice(problem, device, const_operands=None, exclude=()) -> tuple[Family, dict]:
    """The family and parameters used untuned for `problem` on `device`: the applicable
    default with the lowest estimated cost (among families not named in `exclude`)."""
    best = None
    for family in families_for(problem, const_operands, device):
        if family.name in exclude:
            continue
        params = family.default(problem, device)
        cost = family.estimate(problem, params, device)
        if best is None or cost < best[0]:
            best = (cost, family, params)
    if best is None:
        raise LookupError(f"no kernel family for {problem.signature}")
    return best[1], best[2]


class Lookup:
    """What the runtime asks: the kernel to use for a Problem on a device, and from where."""

    def __init__(self, databases=()):
        self.databases = list(databases)

    def choose(self, problem, device, const_operands=None, dtype: str = "float32") -> Choice:
        families = {f.name: f for f in families_for(problem, const_operands, device)}
        for level in LEVELS:
            for db in self.databases:
                for row in db.winners_for(level, device, problem.signature, dtype):
                    family = families.get(row["family"])
                    if family is None or \
                            row["template_hash"] != template_hash(family.template, dtype):
                        continue
                    params = json.loads(row["params"])
                    if family.contains(problem, device, params):
                        return Choice(family, params, level, str(db.path or "memory"))
        family, params = default_choice(problem, device, const_operands)
        return Choice(family, params, "default", "heuristic")

    def side_by_side(self, members, device, dtype: str = "float32") -> tuple[int, str]:
        """Whether a group of independent layers (members: (problem, Family, params)) runs
        as one kernel: (the shared work-group size, or side_by_side.APART; the level that
        chose it). A recorded choice counts only for exactly these members' kernels."""
        key = side_by_side.SideBySide.of(members, dtype)
        sizes = side_by_side.options(members, device)
        for level in LEVELS:
            for db in self.databases:
                for row in db.winners_for(level, device, key.signature, dtype):
                    local = json.loads(row["params"]).get("local")
                    if row["template_hash"] == side_by_side.VERSION and \
                            (local == side_by_side.APART or local in sizes):
                        return local, level
        return side_by_side.default(members, device, sizes), "default"
