"""The tuner's check inside whole runs (boda/tuner/in_run.py): a new winner slower there than
the kernel that ran before the tune is set back to it, a faster one stays, and the lookup
serves what was kept."""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper

from boda import kernels
from boda.kernels.selection import Lookup
from boda.kernels.templating import template_hash
from boda.plan import plan_model
from boda.tuner import in_run
from boda.tuner.database import TuningDB
from boda.tuner.db_keys import params_key
from boda.tuner.strategies import Candidate
from boda.tuner.tune import Outcome, model_tasks


def two_convs():
    """Two 3x3 convs, each with a Problem of its own, where the one-output-per-work-item
    kernel takes milliseconds more than the default (on PoCL 40-80x its time)."""
    rng = np.random.default_rng(0)
    w1 = onnx.numpy_helper.from_array(rng.standard_normal((64, 32, 3, 3), np.float32), "w1")
    w2 = onnx.numpy_helper.from_array(rng.standard_normal((64, 64, 3, 3), np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["y"], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "two", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 32, 28, 28])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 64, 28, 28])], [w1, w2])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_a_winner_slower_inside_runs_is_set_back(device, tmp_path):
    """Layer 1's tune "won" with the one-output-per-work-item kernel (far slower) over the
    default that ran before: it is set back to the default. Layer 2's tune replaced that
    slow kernel by the default: the default stays."""
    plan = plan_model(two_convs())
    tasks = model_tasks(plan)
    assert len(tasks) == 2
    db = TuningDB(tmp_path / "t.sqlite")
    key = db.add_device(device)
    slow = kernels.BY_NAME["direct_conv"]
    outcomes = []
    for k, task in enumerate(tasks):
        db.add_problem(task.problem)
        default = kernels.default_choice(task.problem, device, task.consts)
        assert default[0].name != slow.name
        good = Candidate.of(default[0].name, default[1])
        bad = Candidate.of(slow.name, slow.default(task.problem, device))
        ran, new = (good, bad) if k == 0 else (bad, good)
        db.set_winner({"device": key, "problem": task.problem.signature, "dtype": "float32",
                       "family": new.family,
                       "template_hash": template_hash(kernels.BY_NAME[new.family].template),
                       "params": params_key(new.param_dict), "seconds": 1e-4,
                       "gflops": 1.0, "default_seconds": 2e-4})
        outcomes.append(Outcome(task, new.family, new.param_dict, before=2e-4,
                                served="default", ran=ran, after=1e-4))
    verdicts = in_run.check(plan, device, db, key, outcomes, [db], rounds=4)
    assert [v.outcome for v in verdicts] == outcomes
    first, second = verdicts
    assert first.kept == "before" and first.after > first.before > 0, first
    assert second.kept == "tuned" and second.before > second.after > 0, second
    lookup = Lookup([db])
    for task, want in zip(tasks, ("before", "tuned")):
        choice = lookup.choose(task.problem, device, task.consts)
        default = kernels.default_choice(task.problem, device, task.consts)
        assert (choice.family.name, choice.params, choice.level) == (
            default[0].name, default[1], "exact"), want
    assert outcomes[0].family == outcomes[0].ran.family
    assert outcomes[0].after == outcomes[0].before == 2e-4


def test_only_changed_winners_are_checked(device, tmp_path):
    """A Problem whose winner is what ran before, one skipped (a winner recorded earlier),
    one not reached and one whose kernel before failed here (no time) are left out, and
    with nothing left no engine is built."""
    plan = plan_model(two_convs())
    task = model_tasks(plan)[0]
    family, params = kernels.default_choice(task.problem, device, task.consts)
    same = Candidate.of(family.name, params)
    outcomes = [Outcome(task, family.name, dict(params), 1e-4, "default", same, 1e-4),
                Outcome(task, "direct_conv", {}, 1e-4, "default", same, 1e-4, skipped=True),
                Outcome(task, reached=False, before=math.nan),
                Outcome(task, "direct_conv", {}, math.nan, "default", same, 1e-4)]
    assert in_run.changed(outcomes) == []
    assert in_run.check(plan, device, None, "", outcomes, []) == []


def test_alternatives_are_each_other_familys_best_close_to_the_winner():
    """The best of each family but the winner's, within ALTERNATIVE_WITHIN of the winner's
    time alone (the final race's time where a candidate ran there), fastest first, at most
    ALTERNATIVES; failures (inf) never."""
    from boda.tuner.tune import ALTERNATIVE_WITHIN, ALTERNATIVES, alternatives
    win = Candidate.of("conv_winograd", {"tm": 16})
    gemm_a, gemm_b = Candidate.of("conv_gemm", {"tm": 64}), Candidate.of("conv_gemm", {"tm": 32})
    k1 = Candidate.of("conv_k1", {"tm": 8})
    far = Candidate.of("conv_direct_tiled", {"tm": 32})
    broken = Candidate.of("conv_splitk", {"ks": 32})
    other_win = Candidate.of("conv_winograd", {"tm": 32})
    results = {win: 1.0, gemm_a: 1.10, gemm_b: 1.05, k1: 1.2, far: ALTERNATIVE_WITHIN + 0.1,
               broken: math.inf, other_win: 1.01}
    times = {win: 1.0, gemm_a: 1.02}  # the final race re-timed gemm_a: its time counts
    got = alternatives(results, times, win)
    assert ALTERNATIVES == 2
    assert got == [(gemm_a, 1.02), (k1, 1.2)]
    assert alternatives({win: 1.0}, {win: 1.0}, win) == []


def test_an_alternative_faster_inside_runs_becomes_the_winner(device, tmp_path):
    """Both layers ran the one-output-per-work-item kernel before and the tune kept it (so
    nothing changed), but each has the family default as an alternative: inside runs that
    is far faster, so it becomes the winner, and the lookup serves it."""
    plan = plan_model(two_convs())
    tasks = model_tasks(plan)
    db = TuningDB(tmp_path / "t.sqlite")
    key = db.add_device(device)
    slow = kernels.BY_NAME["direct_conv"]
    outcomes = []
    for task in tasks:
        db.add_problem(task.problem)
        bad = Candidate.of(slow.name, slow.default(task.problem, device))
        default = kernels.default_choice(task.problem, device, task.consts)
        good = Candidate.of(default[0].name, default[1])
        db.set_winner({"device": key, "problem": task.problem.signature, "dtype": "float32",
                       "family": slow.name, "template_hash": template_hash(slow.template),
                       "params": params_key(bad.param_dict), "seconds": 2e-4,
                       "gflops": 1.0, "default_seconds": 2e-4})
        outcomes.append(Outcome(task, slow.name, bad.param_dict, before=2e-4,
                                served="exact", ran=bad, after=2e-4,
                                alternatives=[(good, 2.2e-4)]))
    verdicts = in_run.check(plan, device, db, key, outcomes, [db], rounds=4)
    assert [v.kept for v in verdicts] == ["alternative", "alternative"], verdicts
    lookup = Lookup([db])
    for v, task in zip(verdicts, tasks):
        assert v.after > v.other > 0 and v.before > v.other
        default = kernels.default_choice(task.problem, device, task.consts)
        choice = lookup.choose(task.problem, device, task.consts)
        assert (choice.family.name, choice.params, choice.level) == (
            default[0].name, default[1], "exact")
        assert (v.outcome.family, v.outcome.params, v.outcome.after) == (
            default[0].name, default[1], 2.2e-4)
