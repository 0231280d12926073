"""Independent layers side by side in one launch (kernels.side_by_side): the joined kernel
computes every part as the parts do alone, in OpenCL and in CUDA; the engine joins a fire
module's expands and still gives onnxruntime's answers; the lookup and the tuner's race
decide, and a recorded choice is served."""
from __future__ import annotations

import numpy as np
import pytest

from boda import kernels
from boda.ir.numpy_reference import max_rel_error, random_inputs, reference
from boda.ir.problems import Conv, Pool
from boda.kernels import side_by_side as sbs
from boda.kernels.sources import program_source, render_standalone
from boda.runtime.backends import backend_for, nvrtc

from conftest import assert_close, ort_run


def conv(c, m, size, k, pad=0):
    return Conv(1, c, m, (size, size), (k, k), (1, 1), (pad, pad), (pad, pad), (1, 1), 1,
                True, ("relu",))


# a conv with local memory (staged filters: hoisted to the kernel's scope), a 1x1 conv and
# a pool, each of a different number of work-groups
PARTS = [("conv_direct_tiled", conv(8, 16, 9, 3, 1), {"lmem": 1}),
         ("conv_k1", conv(16, 8, 7, 1), {}),
         ("pool_rows", Pool("max", 1, 6, (11, 11), (3, 3), (2, 2), (0, 0), (0, 0),
                               (1, 1), (1, 1)), {})]


def parts_at(local, device, lang="opencl", seed=0):
    """(problem, KernelSource, inputs as uploaded) of each part at work-group size local."""
    out = []
    for k, (name, problem, fixed) in enumerate(PARTS):
        family = kernels.BY_NAME[name]
        params = next(p for p in family.points(problem, device)
                      if p["local"] == local and all(p[a] == v for a, v in fixed.items()))
        inputs = random_inputs(problem, seed + k)
        ks, uploaded = render_standalone(family, problem, params, lang, inputs)
        out.append((problem, ks, inputs, uploaded))
    return out


@pytest.mark.parametrize("interleave", [True, False])
def test_parts_side_by_side_compute_what_they_compute_alone(interleave, device, monkeypatch):
    """Three kernels joined, their groups interleaved (or, where the group count is large,
    in contiguous ranges), against the numpy reference, outputs poisoned with NaN first."""
    if not interleave:
        monkeypatch.setattr(sbs, "_INTERLEAVE_LIMIT", 1)
    be = backend_for(device)
    parts = parts_at(4, device)
    joined = sbs.side_by_side([ks for _, ks, _, _ in parts])
    assert "LOCAL_MEM" in joined.source.split("int boda_t")[0]  # hoisted to kernel scope
    assert joined.global_size == sum(ks.global_size for _, ks, _, _ in parts)
    program = be.compile(program_source([joined], be.lang))
    args, outs = [], []
    for problem, ks, _, uploaded in parts:
        out = be.alloc(int(np.prod(problem.out_shape)))
        be.fill(out, np.nan, int(np.prod(problem.out_shape)))
        outs.append(out)
        args.append(out)
        for x in uploaded:
            buf = be.alloc(x.size)
            be.upload(buf, np.ascontiguousarray(x, np.float32))
            args.append(buf)
    be.launch(be.kernel(program, joined.name, args), joined.global_size, joined.local_size)
    for (problem, ks, inputs, _), out in zip(parts, outs):
        got = np.empty(problem.out_shape, np.float32)
        be.download(out, got)
        be.finish()
        assert np.isfinite(got).all(), ks.family
        assert max_rel_error(got, reference(problem, *inputs)) < 1e-4, ks.family


def test_interleaving_deals_every_part_evenly():
    """The dispatch of the joined kernel, evaluated in Python: every group goes to exactly
    one part, each part's groups are numbered 0..n-1 in order, and any half of the range
    holds each part in proportion (PoCL gives each of two threads one half)."""
    counts = [25, 7, 3]
    total = sum(counts)
    seen = [[] for _ in counts]
    for g in range(total):
        t, rest = g, total
        for k, n in enumerate(counts):
            if k == len(counts) - 1:
                seen[k].append(t)
                break
            q = t * n // rest
            if (t + 1) * n // rest > q:
                seen[k].append(q)
                break
            t -= q
            rest -= n
    assert seen == [list(range(n)) for n in counts]
    firsts = [0] * len(counts)
    for g in range(total // 2):
        t, rest = g, total
        for k, n in enumerate(counts):
            q = t * n // rest
            if k == len(counts) - 1 or (t + 1) * n // rest > q:
                firsts[k] += 1
                break
            t -= q
            rest -= n
    for n, f in zip(counts, firsts):
        assert abs(f - n / 2) <= 1, (counts, firsts)


@pytest.mark.skipif(not nvrtc.available(), reason="NVRTC is not installed")
def test_joined_kernels_compile_as_cuda(device):
    parts = parts_at(4, device, lang="cuda")
    joined = sbs.side_by_side([ks for _, ks, _, _ in parts])
    source = program_source([joined], "cuda")
    assert nvrtc.compile_cached(source, nvrtc.ARCHS[0])[:4] == b"\x7fELF"


def test_kernels_of_two_sizes_or_with_code_outside_are_refused(device):
    a, b, _ = [ks for _, ks, _, _ in parts_at(4, device)]
    c = parts_at(1, device)[1][1]
    with pytest.raises(ValueError):
        sbs.side_by_side([a, c])
    import dataclasses
    helper = dataclasses.replace(b, source="static float f(void) { return 1; }\n" + b.source)
    with pytest.raises(ValueError):
        sbs.side_by_side([a, helper])


def test_fire_modules_run_side_by_side_and_agree_with_onnxruntime(device, tmp_path):
    import boda
    from boda.frontend import zoo
    model = zoo.build("squeezenet1_1")
    x = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    sess = boda.compile(model, device=device.spec, db=False)
    engine = sess.engine
    together = [[engine.layers[k].step.name for k in u.layers] for u in engine.units
                if len(u.layers) > 1]
    if device.kind == "cpu":  # the default joins them on CPUs only, those that can join
        groups = [g for g in engine.groups() if len(g) > 1]
        joinable = [[engine.layers[k].step.name for k in g] for g in groups
                    if all(f.joins for _, f, _ in engine.members(g))]
        assert len(groups) == 8 and together == joinable and together, together
    (out,) = sess.run(None, {"data": x})
    assert_close(out, ort_run(model, {"data": x})[0])
    # each layer's own kernel, timed alone, is there too
    profile = engine.profile({"data": x}, repeat=2)
    assert [layer.step.name for layer, _, _ in profile] == [s.name for s in engine.plan.steps]
    assert all(alone > 0 and seq > 0 for _, alone, seq in profile)


def test_two_convs_of_one_input_join_and_their_consumer_does_not(device):
    """A small model of a fire module: two convs of one input, written into the halves of a
    concat in place, are one group; the conv reading the concat is not in it; the answers
    are onnxruntime's, side by side and apart."""
    from onnx import TensorProto, helper, numpy_helper
    import boda
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 3, 1, 1)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((5, 3, 3, 3)).astype(np.float32), "w2")
    w3 = numpy_helper.from_array(rng.standard_normal((2, 9, 1, 1)).astype(np.float32), "w3")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "w2"], ["b"], pads=[1, 1, 1, 1], name="b"),
             helper.make_node("Concat", ["a", "b"], ["ab"], axis=1, name="ab"),
             helper.make_node("Conv", ["ab", "w3"], ["y"], name="y")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])], [w1, w2, w3])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    want = ort_run(model, {"x": x})[0]
    sess = boda.compile(model, device=device.spec, db=False)
    engine = sess.engine
    assert [[engine.layers[k].step.name for k in g] for g in engine.groups()] == \
        [["a", "b"], ["y"]]
    assert_close(sess.run(None, {"x": x})[0], want)
    for choice in [(sbs.APART, "test")] + [(s, "test") for s in
                                           sbs.options(engine.members([0, 1]), device)]:
        units = engine.units_for([0, 1], choice)
        assert len(units) == (2 if choice[0] == sbs.APART else 1)
        engine.units = units + engine.units_for([2], choice)
        engine.build(engine.units)
        engine.bind(engine.units)
        engine.replay = engine.backend.record(engine.launches())
        assert_close(sess.run(None, {"x": x})[0], want)


def test_the_race_records_a_choice_that_the_lookup_serves(device, tmp_path):
    """boda tune's race on one fire module: every option is a trial, the winner is
    recorded, and an engine built on that database runs the group as the winner says."""
    import boda
    from boda.frontend import zoo
    from boda.kernels.selection import Lookup
    from boda.plan import plan_model
    from boda.tuner import side_by_side as race
    from boda.tuner.database import TuningDB, shipped_databases
    model = zoo.build("squeezenet1_1")
    plan = plan_model(model)
    db = TuningDB(tmp_path / "t.sqlite")
    databases = [db, *shipped_databases()]  # as boda.compile reads them below
    key = db.add_device(device)
    rows = race.race(plan, device, db, key, databases, rounds=2)
    assert rows[0]["groups"] == [["conv12", "conv16"], ["conv25", "conv29"]]  # one shape
    assert sum(len(row["groups"]) for row in rows) == 8
    for row in rows:
        assert sbs.APART in row["seconds"] and all(
            s is None or s > 0 for s in row["seconds"].values())
        assert row["seconds"][row["winner"]] == min(
            s for s in row["seconds"].values() if s is not None)
    sess = boda.compile(model, device=device.spec, db=str(tmp_path / "t.sqlite"))
    engine = sess.engine
    for row in rows:
        units = [u for u in engine.units if engine.layers[u.layers[0]].step.name
                 in row["groups"][0]]
        if row["winner"] == sbs.APART:
            assert len(units) == 2
        else:
            assert len(units) == 1 and units[0].level == "exact"
            assert units[0].kernel.local_size == row["winner"]
    first = rows[0]
    members = engine.members([k for k, x in enumerate(engine.layers)
                              if x.step.name in first["groups"][0]])
    local, level = Lookup(databases).side_by_side(members, device)
    assert (local, level) == (first["winner"], "exact")
    assert Lookup([]).side_by_side(members, device)[1] == "default"


def test_winograd_runs_apart(device):
    """conv_winograd does not join (joined beside a conv_k1 on PoCL, at work-groups of two
    tile blocks, its outputs were wrong and the heap corrupted): a group with a winograd
    member has no shared size, so the lookup's default and the race keep it apart; the same
    group with a conv_gemm member still joins."""
    expand1, expand3 = conv(16, 64, 13, 1), conv(16, 64, 13, 3, pad=1)
    k1 = kernels.BY_NAME["conv_k1"]
    for name, joins in (("conv_winograd", False), ("conv_gemm", True)):
        family = kernels.BY_NAME[name]
        members = [(expand1, k1, dict(k1.default(expand1, device), local=4)),
                   (expand3, family, dict(family.default(expand3, device), local=4))]
        assert all(f.contains(p, device, params) for p, f, params in members)
        assert (sbs.options(members, device) == [4]) is joins, name
        assert sbs.choices(members, device)[1:] == ([4] if joins else [])
        if not joins:
            assert sbs.default(members, device) == sbs.APART
