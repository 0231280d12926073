"""The tiled Gemm/MatMul and the pooling families (pool_rows, pool_strided, pool_global) on
random problems and at several points of their spaces, against the numpy reference (output
poisoned first)."""
from __future__ import annotations

import itertools

import numpy as np

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from boda import kernels
from boda.ir.problems import MatMul, Pool, conv_out_size
from boda.ir.numpy_reference import reference
from boda.tuner.measure import ProblemBench, run_problem

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_family(family, problem, device, seed, also=()):
    """A sample of the family's points (and `also`: parameter changes to its default) give
    the reference's outputs."""
    assert family.applies(problem)
    default = family.default(problem, device)
    assert default in list(family.points(problem, device))
    points = family.sample(problem, device, 3, seed) + [dict(default, **a) for a in also]
    trials = ProblemBench(problem, device, seed=seed).check([(family, p) for p in points])
    bad = [(t.params, t.status, t.cause) for t in trials if t.status != "ok"]
    assert not bad, (problem.signature, bad)


@st.composite
def matmuls(draw):
    m, k, n = (draw(st.integers(1, 37)) for _ in range(3))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    a = batch + ((k, m) if ta else (m, k))
    b = (batch if draw(st.booleans()) else ()) + ((n, k) if tb else (k, n))
    c = draw(st.sampled_from([None, (), (n,), (m, 1), (m, n)]))
    act = draw(st.sampled_from([(), ("relu",)]))
    alpha, beta = draw(st.sampled_from([(1.0, 1.0), (0.5, 2.0)]))
    return MatMul(a, b, c, ta, tb, alpha, beta, act)


@given(problem=matmuls(), seed=st.integers(0, 2**16))
@SETTINGS
def test_matmul_tiled(problem, seed, device):
    check_family(kernels.BY_NAME["matmul_tiled"], problem, device, seed)


@st.composite
def pools(draw):
    mode = draw(st.sampled_from(["max", "avg"]))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pb = tuple(draw(st.integers(0, k - 1)) for k in kernel)
    pe = tuple(draw(st.integers(0, k - 1)) for k in kernel)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = tuple(draw(st.integers(max(1, (k - 1) * d + 1 - a - b), 14))
                 for k, d, a, b in zip(kernel, dilation, pb, pe))
    ceil = draw(st.booleans())
    out = conv_out_size(size, kernel, stride, pb, pe, dilation, ceil)
    return Pool(mode, draw(st.integers(1, 2)), draw(st.integers(1, 5)), size, kernel, stride,
                pb, pe, dilation, out, draw(st.booleans()), draw(st.sampled_from([(), ("relu",)])))


@given(problem=pools(), seed=st.integers(0, 2**16))
@SETTINGS
def test_pool_rows(problem, seed, device):
    check_family(kernels.BY_NAME["pool_rows"], problem, device, seed)


@given(problem=pools(), seed=st.integers(0, 2**16))
@SETTINGS
def test_pool_strided(problem, seed, device):
    family = kernels.BY_NAME["pool_strided"]
    assume(family.applies(problem))
    check_family(family, problem, device, seed)


def test_pool_strided_vectors_reach_the_row_end(device):
    """Rows exactly as wide as the vector path reads (stride 2 reads one input past the last
    window's: it must stay in the row), max and average, and a fused ReLU."""
    family = kernels.BY_NAME["pool_strided"]
    for mode, stride, width, act in (("max", 2, 10, ()), ("avg", 1, 10, ("relu",)),
                                     ("max", 2, 34, ())):
        ow = (width - 3) // stride + 1
        problem = Pool(mode, 1, 3, (5, width), (3, 3), (1, stride), (0, 0), (0, 0), (1, 1),
                       (3, ow), False, act)
        check_family(family, problem, device, 0, also=({"whole": 0}, {"whole": 1}))


def test_pool_strided_padded_rows(device):
    """Padded rows (ResNet's max pool): the first and last vector tiles move in to the
    outputs whose windows lie inside the row and the outputs beside the padding are computed
    one by one; every output is written (the output is poisoned first)."""
    family = kernels.BY_NAME["pool_strided"]
    for mode, width, pad, stride, k in (("max", 20, 1, 2, 3), ("max", 23, 2, 2, 3),
                                        ("avg", 19, 1, 1, 3), ("max", 40, 1, 2, 3),
                                        ("max", 30, 7, 1, 8)):  # borders wider than vw
        ph = min(pad, 2)
        ow = (width + 2 * pad - k) // stride + 1
        problem = Pool(mode, 1, 2, (6, width), (3, k), (2, stride), (ph, pad), (ph, pad),
                       (1, 1), ((6 + 2 * ph - 3) // 2 + 1, ow))
        check_family(family, problem, device, 0, also=({"whole": 0}, {"whole": 1}))


@pytest.mark.parametrize("vw", [4, 8, 16])
@pytest.mark.parametrize("stride", [1, 2])
def test_pool_strided_taps_come_from_loads_inside_the_span(stride, vw):
    """Each window tap of a vector tile, picked from the row's loads (or an earlier tap
    moved down a lane with a scalar read in its last), is the tap's inputs (offset kw * dw,
    then every stride-th), and no read goes past the last input the tile's windows cover."""
    from boda.kernels.pool_strided import row_loads
    row = np.arange(1000.0)
    for kw, dw in itertools.product(range(1, 6), range(1, 4)):
        loads, taps, extras = row_loads(kw, dw, stride, vw)
        span = (kw - 1) * dw + (vw - 1) * stride + 1
        assert min(loads) >= 0 and max(loads) + vw <= span, (kw, dw, loads)
        assert all(0 <= e < span for e in extras), (kw, dw, extras)
        assert len(taps) == kw
        got = []
        for k, (a, b, lanes) in enumerate(taps):
            if a == "shift":
                assert b < k and lanes in extras
                got.append(np.concatenate([got[b][1:], row[lanes:lanes + 1]]))
            else:
                got.append(row[a:a + vw] if b is None else np.concatenate(
                    [row[a:a + vw], row[b:b + vw]])[lanes])
            np.testing.assert_array_equal(got[k], row[k * dw + stride * np.arange(vw)])
        if stride == 2 and dw == 1 and kw == 3:  # SqueezeNet's pools: 2 loads, 1 scalar
            assert len(loads) == 2 and len(extras) == 1


@pytest.mark.parametrize("name", ["matmul_tiled", "pool_strided", "pool_rows"])
def test_runtime_prefers_tiled(name, device):
    """Untuned, the tiled families win; a stride pool_strided has no vectors for (3) goes to
    pool_rows."""
    stride = 3 if name == "pool_rows" else 2
    problem = (MatMul((1, 512), (1000, 512), (1000,), False, True) if name == "matmul_tiled"
               else Pool("max", 1, 64, (111, 111), (3, 3), (stride, stride), (0, 0), (0, 0),
                         (1, 1), ((111 - 3) // stride + 1,) * 2))
    assert kernels.default_choice(problem, device)[0].name == name


@st.composite
def global_pools(draw):
    """Pools whose window is the whole input, one to three spatial dims: window counts with
    and without a remainder after the vector accumulators."""
    nsp = draw(st.integers(1, 3))
    size = tuple(draw(st.integers(1, 13 if nsp < 3 else 5)) for _ in range(nsp))
    ones, zeros = (1,) * nsp, (0,) * nsp
    return Pool(draw(st.sampled_from(["max", "avg"])), draw(st.integers(1, 2)),
                draw(st.integers(1, 5)), size, size, ones, zeros, zeros, ones, ones, False,
                draw(st.sampled_from([(), ("relu",)])))


@given(problem=global_pools(), seed=st.integers(0, 2**16))
@SETTINGS
def test_pool_global(problem, seed, device):
    check_family(kernels.BY_NAME["pool_global"], problem, device, seed)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_pool_global_every_point(mode, device):
    """SqueezeNet's 13x13 and MobileNet's 7x7 global pools at every point of the space
    (vector widths whose two accumulators leave a remainder of a vector and of a few
    values, or leave no whole pair)."""
    family = kernels.BY_NAME["pool_global"]
    for size in ((13, 13), (7, 7), (3, 5)):
        problem = Pool(mode, 2, 3, size, size, (1, 1), (0, 0), (0, 0), (1, 1), (1, 1))
        points = list(family.points(problem, device))
        assert {p["vw"] for p in points} == {v for v in (1, 4, 8, 16) if v <= size[0] * size[1]}
        trials = ProblemBench(problem, device).check([(family, p) for p in points])
        assert all(t.status == "ok" for t in trials), [(t.params, t.cause) for t in trials]


def test_runtime_prefers_pool_global(device):
    """Untuned, a global pool goes to pool_global; a pool with a smaller window does not."""
    gap = Pool("avg", 1, 1000, (13, 13), (13, 13), (1, 1), (0, 0), (0, 0), (1, 1), (1, 1))
    assert kernels.default_choice(gap, device)[0].name == "pool_global"
    local = Pool("avg", 1, 8, (13, 13), (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), (11, 11))
    assert not kernels.BY_NAME["pool_global"].applies(local)


@pytest.mark.parametrize("name", ["pool", "pool_rows", "pool_strided", "pool_global"])
def test_max_pools_pass_over_nan(name, device):
    """A NaN in a max pool's window is passed over, fmax's rule: the compare and select the
    families use instead keeps it only with the running maximum as its second operand."""
    family = kernels.BY_NAME[name]
    size = (9, 40)
    if name == "pool_global":
        problem = Pool("max", 1, 3, size, size, (1, 1), (0, 0), (0, 0), (1, 1), (1, 1))
    else:
        problem = Pool("max", 1, 3, size, (3, 3), (2, 2), (0, 0), (0, 0), (1, 1), (4, 19))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3) + size).astype(np.float32)
    nan = rng.random(x.shape) < 0.08
    x[nan] = np.nan
    for params in family.sample(problem, device, 2):
        out = run_problem(problem, [x], device, family, params)
        want = reference(problem, np.where(nan, -np.inf, x))
        assert np.isfinite(out).all(), (name, params)
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_pool_global_reads_views_inside_larger_tensors(mode, device):
    """Windows inside a larger tensor: a channel slice of it (each window contiguous, at an
    offset: the vector path) and a crop of its rows and columns (strided: one value at a
    time), written into a channel slice of a larger output, at every point."""
    from boda.ir.views import View
    from boda.runtime.backends import backend_for
    family = kernels.BY_NAME["pool_global"]
    be = backend_for(device)
    rng = np.random.default_rng(1)
    big = rng.standard_normal((2, 7, 9, 11)).astype(np.float32)
    whole = View.contiguous(big.shape)
    crops = {"channel slice": (whole.slice(1, 2, (2, 3, 9, 11)), big[:, 2:5]),
             "crop": (whole.window((0, 1, 2, 3), (1, 1, 1, 1), (2, 3, 5, 6)),
                      big[:, 1:4, 2:7, 3:9])}
    for what, (view, x) in crops.items():
        size = x.shape[2:]
        problem = Pool(mode, 2, 3, size, size, (1, 1), (0, 0), (0, 0), (1, 1), (1, 1))
        out_view = View.contiguous((2, 8, 1, 1)).slice(1, 4, (2, 3, 1, 1))
        inp = be.alloc(big.size)
        be.upload(inp, big)
        for params in family.points(problem, device):
            ks = family.render(problem, params, [out_view, view], be.lang)
            program = be.compile(kernels.program_source([ks], be.lang))
            out = be.alloc(2 * 8)
            be.fill(out, np.nan, 2 * 8)
            be.launch(be.kernel(program, ks.name, [out, inp]), ks.global_size, ks.local_size)
            got = np.empty((2, 8, 1, 1), np.float32)
            be.download(out, got)
            be.finish()
            want = reference(problem, np.ascontiguousarray(x))
            np.testing.assert_allclose(got[:, 4:7], want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{what} {params}")
            assert np.isnan(got[:, :4]).all() and np.isnan(got[:, 7:]).all(), (what, params)
