"""Search strategies on synthetic spaces (no device): each proposes every candidate once at
most, starts from the defaults, and the guided one finds a bowl's minimum far sooner than
exhaustive search."""
from __future__ import annotations

import statistics

import pytest

from boda.tuner.strategies import STRATEGIES, Candidate, make

SPACE = {"f": {"a": list(range(12)), "b": [1, 2, 4, 8, 16, 32], "c": [1, 2, 3]},
         "g": {"a": list(range(12))}}
CANDS = ([Candidate.of("f", {"a": a, "b": b, "c": c}) for a in range(12)
          for b in SPACE["f"]["b"] for c in (1, 2, 3) if (a + b) % 5]   # some points invalid
         + [Candidate.of("g", {"a": a}) for a in range(12)])
DEFAULTS = [Candidate.of("f", {"a": 1, "b": 1, "c": 1}), Candidate.of("g", {"a": 0})]


def cost(c):
    p = c.param_dict
    if c.family == "g":
        return 50.0 + p["a"]
    if p["c"] == 3 and p["a"] == 0:
        return float("inf")  # a failing region
    return 1.0 + (p["a"] - 8) ** 2 + (SPACE["f"]["b"].index(p["b"]) - 3) ** 2 + p["c"]


BEST = min(cost(c) for c in CANDS)


def run(name, seed, batch=4, stop_at_best=True):
    s = make(name, CANDS, SPACE, DEFAULTS, seed)
    order = []
    while True:
        proposed = s.propose(batch)
        if not proposed:
            break
        for c in proposed:
            order.append(c)
            s.observe(c, cost(c))
        if stop_at_best and s.best()[0] == BEST:
            break
    return s, order


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_candidate_at_most_once_defaults_first(name):
    s, order = run(name, seed=3, stop_at_best=False)
    assert len(order) == len(set(order)) == len(CANDS)
    assert set(order) == set(CANDS)
    assert order[:2] == DEFAULTS
    assert s.best()[0] == BEST


def test_recorded_results_are_never_proposed_again():
    s = make("guided", CANDS, SPACE, DEFAULTS, 0)
    recorded = CANDS[::3]
    for c in recorded:
        s.observe(c, cost(c))
    proposed = []
    while batch := s.propose(5):
        proposed += batch
        for c in batch:
            s.observe(c, cost(c))
    assert not set(proposed) & set(recorded)
    assert len(proposed) + len(recorded) == len(CANDS)


def test_guided_finds_the_minimum_with_far_fewer_evaluations():
    evals = {name: statistics.mean(len(run(name, seed)[1]) for seed in range(8))
             for name in ("guided", "random", "exhaustive")}
    assert evals["guided"] < 0.25 * len(CANDS), evals
    assert evals["guided"] < evals["random"] / 2, evals


def test_auto_is_exhaustive_only_when_the_space_fits():
    assert make("auto", CANDS, SPACE, DEFAULTS, budget_evals=10_000).name == "exhaustive"
    assert make("auto", CANDS, SPACE, DEFAULTS, budget_evals=10).name == "guided"
