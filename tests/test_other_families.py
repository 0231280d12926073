"""The tiled Gemm/MatMul and 2-D pooling families (pool_rows, pool_strided) on random
problems and at several points of their spaces, against the numpy reference (output poisoned
first)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from boda import kernels
from boda.ir.problems import MatMul, Pool, conv_out_size
from boda.tuner.measure import ProblemBench

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_family(family, problem, device, seed):
    assert family.applies(problem)
    assert family.default(problem, device) in list(family.points(problem, device))
    points = family.sample(problem, device, 3, seed)
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
    size = tuple(draw(st.integers(max(1, k - a - b), 14)) for k, a, b in zip(kernel, pb, pe))
    ceil = draw(st.booleans())
    out = conv_out_size(size, kernel, stride, pb, pe, (1, 1), ceil)
    return Pool(mode, draw(st.integers(1, 2)), draw(st.integers(1, 5)), size, kernel, stride,
                pb, pe, (1, 1), out, draw(st.booleans()), draw(st.sampled_from([(), ("relu",)])))


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
        check_family(family, problem, device, 0)


@pytest.mark.parametrize("name", ["matmul_tiled", "pool_strided", "pool_rows"])
def test_runtime_prefers_tiled(name, device):
    """Untuned, the tiled families win; a stride pool_strided has no vectors for (3) goes to
    pool_rows."""
    stride = 3 if name == "pool_rows" else 2
    problem = (MatMul((1, 512), (1000, 512), (1000,), False, True) if name == "matmul_tiled"
               else Pool("max", 1, 64, (111, 111), (3, 3), (stride, stride), (0, 0), (0, 0),
                         (1, 1), ((111 - 3) // stride + 1,) * 2))
    assert kernels.default_choice(problem, device)[0].name == name
