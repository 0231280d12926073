"""Search strategies: which candidates of one Problem to measure next.

A strategy sees the search space as a list of Candidates (family name + parameter point) and
the spaces they come from, proposes a few unmeasured candidates at a time, and is told each
one's time (inf for a failure). It never proposes a candidate twice, and candidates already in
the database are reported to it before it starts, so resumed tuning never measures them again.

- exhaustive: every candidate, family defaults first (for small spaces);
- random:     family defaults, then uniformly random candidates;
- guided:     an evolutionary local search. Family defaults and a few random points seed it;
              then the neighbours of the best candidates so far (one parameter moved, nearest
              values first, then two parameters moved one step) are measured, best first, with
              a share of random candidates so one family's basin does not trap it.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    family: str
    params: tuple  # sorted (name, value) pairs

    @staticmethod
    def of(family: str, params: dict) -> "Candidate":
        return Candidate(family, tuple(sorted(params.items())))

    @property
    def param_dict(self) -> dict:
        return dict(self.params)


class Strategy:
    name = ""

    def __init__(self, candidates: list, spaces: dict, defaults: list, seed: int = 0):
        """candidates: every valid Candidate; spaces: family -> {param: [values]};
        defaults: Candidates to measure first."""
        self.candidates = list(candidates)
        self.valid = set(self.candidates)
        self.spaces = spaces
        self.defaults = [c for c in defaults if c in self.valid]
        self.rng = random.Random(seed)
        self.results: dict = {}  # Candidate -> seconds (inf: failed)
        self.pending: set = set()

    def observe(self, cand: Candidate, seconds: float):
        self.pending.discard(cand)
        self.results[cand] = seconds

    def done(self) -> bool:
        return len(self.results) + len(self.pending) >= len(self.valid)

    def best(self):
        ok = [(s, c) for c, s in self.results.items() if math.isfinite(s)]
        return min(ok, key=lambda t: t[0]) if ok else (math.inf, None)

    def propose(self, n: int) -> list:
        """Up to n candidates never proposed before (fewer once the space is used up)."""
        out = []
        for c in self._order():
            if len(out) >= n:
                break
            if c in self.valid and c not in self.results and c not in self.pending:
                self.pending.add(c)
                out.append(c)
        return out

    def _order(self):
        raise NotImplementedError

    def _unseen(self, cands):
        return (c for c in cands if c not in self.results and c not in self.pending)


class Exhaustive(Strategy):
    name = "exhaustive"

    def _order(self):
        yield from self.defaults
        yield from self.candidates


class RandomSearch(Strategy):
    name = "random"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shuffled = list(self.candidates)
        self.rng.shuffle(self.shuffled)

    def _order(self):
        yield from self.defaults
        yield from self.shuffled


class Guided(Strategy):
    name = "guided"
    elites = 3           # neighbourhoods of this many best candidates are searched
    seeds_per_family = 2  # random points per family at the start
    explore = 0.2        # share of random proposals once the local search runs

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shuffled = list(self.candidates)
        self.rng.shuffle(self.shuffled)
        self.by_family: dict = {}
        for c in self.shuffled:
            self.by_family.setdefault(c.family, []).append(c)

    def _order(self):
        yield from self.defaults
        for family, cands in self.by_family.items():
            yield from list(self._unseen(cands))[:self.seeds_per_family]
        randoms = self._unseen(self.shuffled)
        while True:
            local = self._local()
            if local is None:
                yield from randoms
                return
            if self.rng.random() < self.explore:
                yield next(randoms, local)
            yield local

    def _local(self):
        """The first unmeasured neighbour of the best candidates so far."""
        ranked = sorted(((s, c) for c, s in self.results.items() if math.isfinite(s)),
                        key=lambda t: t[0])
        for _, elite in ranked[:self.elites]:
            for n in self.neighbours(elite):
                if n in self.valid and n not in self.results and n not in self.pending:
                    return n
        return None

    def neighbours(self, cand: Candidate):
        """Points of the same family with one parameter moved (nearest values first), then
        with two parameters moved one step each."""
        space = self.spaces[cand.family]
        p = cand.param_dict
        index = {k: space[k].index(v) for k, v in p.items() if v in space.get(k, [])}
        singles = []
        for k, i in index.items():
            for j, v in enumerate(space[k]):
                if j != i:
                    singles.append((abs(j - i), k, v))
        for _, k, v in sorted(singles, key=lambda t: t[0]):
            yield Candidate.of(cand.family, dict(p, **{k: v}))
        keys = list(index)
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                for da in (-1, 1):
                    for db in (-1, 1):
                        ka, kb = keys[a], keys[b]
                        ia, ib = index[ka] + da, index[kb] + db
                        if 0 <= ia < len(space[ka]) and 0 <= ib < len(space[kb]):
                            yield Candidate.of(cand.family, dict(
                                p, **{ka: space[ka][ia], kb: space[kb][ib]}))


STRATEGIES = {s.name: s for s in (Exhaustive, RandomSearch, Guided)}


def make(name: str, candidates, spaces, defaults, seed=0, budget_evals=None) -> Strategy:
    """The named strategy; "auto" is exhaustive when the whole space fits `budget_evals`,
    else guided."""
    if name == "auto":
        name = "exhaustive" if budget_evals is not None and \
            len(candidates) <= budget_evals else "guided"
    return STRATEGIES[name](candidates, spaces, defaults, seed)
