"""Every convolution family on random shapes and at several points of its space, including
the edges of each parameter's range, against the numpy reference (output poisoned first)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boda import kernels
from boda.ir.problems import Conv
from boda.tuner.measure import ProblemBench

CONV_FAMILIES = ["conv_gemm", "conv_k1", "conv_winograd", "conv_winograd_f4", "conv_splitk",
                 "conv_direct_tiled", "conv_depthwise", "conv_gemm_panel"]
RESIDUAL_FAMILIES = ["conv_gemm", "conv_k1", "conv_winograd", "conv_winograd_f4", "conv_splitk",
                     "conv_direct_tiled", "direct_conv", "conv_gemm_panel"]  # add a residual


@st.composite
def conv_problems(draw, family):
    """Random 2-D convolutions the family applies to."""
    group = draw(st.sampled_from([1, 1, 2, 3])) if family != "conv_k1" else 1
    cg = draw(st.integers(1, 7)) if family != "conv_splitk" else draw(st.integers(16, 40))
    mg = draw(st.integers(1, 19))
    if family == "conv_depthwise":
        group, cg, mg = draw(st.integers(2, 9)), 1, 1
    if family == "conv_k1":
        kernel, stride, dilation = (1, 1), (1, 1), (1, 1)
        pads = ((0, 0), (0, 0))
    elif family in ("conv_winograd", "conv_winograd_f4"):
        kernel, stride, dilation = (3, 3), (1, 1), (1, 1)
        pads = tuple(tuple(draw(st.integers(0, 2)) for _ in range(2)) for _ in range(2))
    else:
        kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        pads = tuple(tuple(draw(st.integers(0, k - 1)) for k in kernel) for _ in range(2))
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    least = 6 if family in ("conv_winograd", "conv_winograd_f4") else 1  # a patch's size
    size = tuple(draw(st.integers(max(least, s - pb - pe), 15)) for s, pb, pe in
                 zip(span, *pads))
    act = draw(st.sampled_from([(), ("relu",), ("leakyrelu", 0.1), ("clip", -0.5, 0.5),
                                ("sigmoid",)]))
    residual = family in RESIDUAL_FAMILIES and draw(st.booleans())
    return Conv(draw(st.sampled_from([1, 1, 2, 3])), cg * group, mg * group, size, kernel,
                stride, pads[0], pads[1], dilation, group, draw(st.booleans()), act,
                residual)


@pytest.mark.parametrize("name", CONV_FAMILIES + ["direct_conv"])
def test_family_matches_reference(name, device):
    family = kernels.BY_NAME[name]

    @settings(max_examples=6, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(problem=conv_problems(name), seed=st.integers(0, 2**16))
    def check(problem, seed):
        assert family.applies(problem)
        assert family.default(problem, device) in list(family.points(problem, device))
        points = family.sample(problem, device, 3, seed)
        assert points[1:], f"{name} has an empty space for {problem.signature}"
        trials = ProblemBench(problem, device, seed=seed).check(
            [(family, p) for p in points])
        bad = [(t.params, t.status, t.cause) for t in trials if t.status != "ok"]
        assert not bad, (problem.signature, bad)

    check()


@pytest.mark.parametrize("name", CONV_FAMILIES)
def test_family_on_squeezenet_shapes(name, device):
    """A layer of real size (channel counts not multiples of the tiles), batch 1 and 2."""
    family = kernels.BY_NAME[name]
    k = 1 if name == "conv_k1" else 3
    c, m, group = (48, 48, 48) if name == "conv_depthwise" else (48, 37, 1)
    for n in (1, 2):
        problem = Conv(n, c, m, (13, 13), (k, k), (1, 1), (k // 2,) * 2, (k // 2,) * 2,
                       (1, 1), group, True, ("relu",))
        points = family.sample(problem, device, 2, n)
        trials = ProblemBench(problem, device, seed=n).check([(family, p) for p in points])
        assert all(t.status == "ok" for t in trials), [(t.params, t.cause) for t in trials]


def test_wrong_kernel_is_caught(device):
    """The check fails a kernel that computes something else: the kernel for the same
    layer without its ReLU, swapped in under the candidate."""
    family = kernels.BY_NAME["conv_gemm"]
    right = Conv(1, 8, 8, (5, 5), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True, ("relu",))
    wrong = Conv(1, 8, 8, (5, 5), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True, ())
    bench = ProblemBench(right, device)
    original = bench.prepare

    def prepare(f, params):
        _, args = original(f, params)
        return kernels.render_standalone(f, wrong, params, bench.be.lang)[0], args
    bench.prepare = prepare
    [trial] = bench.check([(family, family.default(right, device))])
    assert trial.status == "wrong"


def test_default_choice_uses_tiled_families(device):
    conv1x1 = Conv(1, 64, 16, (55, 55), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ())
    conv3x3 = Conv(1, 16, 64, (55, 55), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True, ())
    assert kernels.default_choice(conv1x1, device)[0].name in ("conv_k1", "conv_gemm")
    assert kernels.default_choice(conv3x3, device)[0].name != "direct_conv"
    # a family that re-lays-out the filters needs them constant
    assert kernels.default_choice(conv3x3, device, const_operands={0, 2})[0].name == "direct_conv"


def test_default_choice_of_a_3x3_depthwise_layer_is_the_depthwise_family(device):
    """Measured on PoCL, MobileNet's and MobileNetV2's 3x3 depthwise layers: 3.1 ms in all
    with conv_depthwise's defaults, 14.9 ms with conv_gemm's (the choice before it)."""
    dw = Conv(1, 64, 64, (56, 56), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 64, True, ())
    assert kernels.default_choice(dw, device)[0].name == "conv_depthwise"


def test_whole_row_tile_with_a_residual_matches_reference(device):
    """conv_direct_tiled's whole-row tile on a deep 7x7 layer (the default on CPU threads
    with 16 vector registers) with the block's residual Add fused, against the numpy
    reference."""
    family = kernels.BY_NAME["conv_direct_tiled"]
    problem = Conv(1, 128, 24, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True,
                   ("relu",), True)
    params = dict(family.default(problem, device), tw=7)
    assert family.contains(problem, device, params)
    [trial] = ProblemBench(problem, device, seed=3).check([(family, params)])
    assert trial.status == "ok", (params, trial.cause)


def test_winograd_avx2_tile_matches_reference(device):
    """conv_winograd's untuned tile with AVX2's 16 registers (2 vectors of 8 channels x 4
    tiles; its outputs are not counted against the registers on CPU threads), on any device
    here, against the numpy reference: channels that do not fill the last tile, an odd map
    whose last tiles hang over its edge, and a second image."""
    family = kernels.BY_NAME["conv_winograd"]
    problem = Conv(2, 32, 37, (27, 27), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True,
                   ("relu",))
    params = dict(family.default(problem, device), tm=16, vw=8, tp=4)
    params["local"] = 1
    assert family.contains(problem, device, params), params
    [trial] = ProblemBench(problem, device, seed=5).check([(family, params)])
    assert trial.status == "ok", (params, trial.cause)


@pytest.mark.parametrize("tp", [1, 2, 4, 7, 8])
def test_winograd_vector_stores_match_reference(tp, device):
    """conv_winograd stores a channel's outputs of an output row as vectors: all 2 tp of a
    work-item's tiles where tp divides a row's tiles, else each tile's pair. Odd and even
    maps (a last column and a last row outside the output), channels that do not fill the
    last tile (without bias: the vector epilogue takes a bias only for whole tiles), bias,
    a residual (loaded as vectors of the same row pieces) and activation, against the numpy
    reference on NaN-poisoned outputs."""
    family = kernels.BY_NAME["conv_winograd"]
    for size, m, bias, residual in (((13, 13), 16, True, True), ((9, 16), 11, False, False),
                                    ((6, 11), 11, False, True), ((7, 9), 8, True, False)):
        problem = Conv(2, 5, m, size, (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, bias,
                       ("relu",), residual)
        params = dict(family.default(problem, device), tm=8, vw=4, tp=tp, local=1)
        if not family.contains(problem, device, params):
            continue
        [trial] = ProblemBench(problem, device, seed=tp).check([(family, params)])
        assert trial.status == "ok", (size, params, trial.cause)


@pytest.mark.parametrize("tp", [1, 2, 4, 7])
def test_winograd_f4_edges_match_reference(tp, device):
    """conv_winograd_f4 stores a tile's rows as vectors of 4 where the tile lies inside the
    output and output by output where it hangs over the edge: maps 1, 2 and 3 past a
    multiple of 4, channels that do not fill the last channel block, two channel chunks,
    groups, bias, a residual and activation, against the numpy reference on NaN-poisoned
    outputs."""
    family = kernels.BY_NAME["conv_winograd_f4"]
    checked = 0
    for size, c, m, group, bias, residual in (((13, 13), 16, 16, 1, True, True),
                                              ((9, 14), 5, 11, 1, False, False),
                                              ((6, 11), 8, 22, 2, True, True),
                                              ((8, 12), 6, 8, 1, True, False)):
        problem = Conv(2, c, m, size, (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), group, bias,
                       ("relu",), residual)
        # 7 tiles of 8 channels would hold more accumulators than a CPU's register file
        params = dict(family.default(problem, device), tm=4 if tp == 7 else 8, vw=4, tp=tp,
                      local=1)
        params["cb"] = min(family.space(problem, device)["cb"])
        if not family.contains(problem, device, params):
            continue
        [trial] = ProblemBench(problem, device, seed=tp).check([(family, params)])
        assert trial.status == "ok", (size, params, trial.cause)
        checked += 1
    assert checked >= 2, checked  # 7 tiles fit only the larger maps


@pytest.mark.parametrize("panel,kc,tp", [(4, 16, 4), (16, 16, 4), (2, 32, 8), (8, 16, 1)])
def test_gemm_panel_chunks_and_last_panel_match_reference(panel, kc, tp, device):
    """conv_gemm_panel's accumulators wait in a private array between chunks of kc input
    channels: channels that do not fill the last chunk (40 = 16 + 16 + 8 a group), pixel
    tiles that do not fill the last panel (7x7: 13 tiles of 4, 7 of 8), the last tile
    shifted back to store whole vectors, padding (the bounds-checked and interior taps),
    two groups, a residual and bias, two images, against the numpy reference on
    NaN-poisoned outputs."""
    family = kernels.BY_NAME["conv_gemm_panel"]
    problem = Conv(2, 80, 24, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 2, True,
                   ("relu",), True)
    params = dict(family.default(problem, device), tm=8, vw=4, tp=tp, panel=panel, kc=kc,
                  local=1)
    assert family.contains(problem, device, params), params
    [trial] = ProblemBench(problem, device, seed=panel).check([(family, params)])
    assert trial.status == "ok", (params, trial.cause)
