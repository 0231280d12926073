"""`boda bench --device cpu --against onnxruntime` end to end on a tiny model: the report's
numbers hang together, the whole-network outputs agree, and the files are written."""
from __future__ import annotations

import importlib.util
import json
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import assert_one_line_error, boda


@pytest.fixture(scope="module")
def bench_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    res = boda("bench", "--model", tiny, "--device", "cpu", "--against", "onnxruntime",
               "--repeat", "5", "--untuned", "--out", out, "--json", out / "report.json")
    assert res.returncode == 0, res.stderr
    return res, out


def test_report_has_every_conv_layer_and_consistent_numbers(bench_run):
    res, out = bench_run
    report = json.loads((out / "report.json").read_text())
    layers = report["layers"]
    assert [x["signature"].split("(")[0] for x in layers] == ["conv", "conv"]
    assert report["tuned_layers"] == 0 and {x["level"] for x in layers} == {"default"}
    for x in layers:
        assert x["boda_ms"] > 0 and x["reference_ms"]["onnxruntime"] > 0
        assert x["ratio"]["onnxruntime"] == pytest.approx(
            x["boda_ms"] / x["reference_ms"]["onnxruntime"])
        assert x["gflops"] == pytest.approx(x["gflop"] / x["boda_ms"] * 1e3)
        assert x["peak_pct"] == pytest.approx(100 * x["gflops"] / report["peak_gflops"])
    engines = {n["engine"]: n for n in report["network"]}
    assert set(engines) == {"boda", "onnxruntime"}
    # onnxruntime on the same random input computes what boda computed
    assert engines["onnxruntime"]["max_rel_diff"] <= 1e-4
    assert engines["onnxruntime"]["vs_boda"] == pytest.approx(
        engines["onnxruntime"]["ms"] / engines["boda"]["ms"])
    # the machine's load around the whole-network rounds, and the pause between engines
    assert report["load"]["before"] >= 0 and report["load"]["after"] >= 0
    assert report["load"]["pause_s"] > 0 and report["load"]["warmup_runs"] == 10


def test_markdown_json_and_png_are_written(bench_run):
    res, out = bench_run
    stem = out / "tiny-b1-cpu"
    md = (stem.with_suffix(".md")).read_text()
    assert md == res.stdout
    assert md.count("| conv") == 2 and "## Whole network" in md and "| onnxruntime |" in md
    assert "Load average (1 min)" in md and "pause before each engine's turn" in md
    assert "first 10 runs are not counted" in md
    # the clock the nominal peak assumes is named, so a CPU boosting past it explains itself
    clock = json.loads(stem.with_suffix(".json").read_text())["device"]["clock_mhz"]
    assert clock > 0 and f"at the {clock} MHz the driver reports" in md
    assert json.loads(stem.with_suffix(".json").read_text())["layers"]
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_references_are_one_line(tiny):
    assert_one_line_error(boda("bench", "--model", tiny, "--against", "tensorrt"),
                          "unknown reference 'tensorrt'", "onnxruntime")
    if importlib.util.find_spec("torch") is None:
        assert_one_line_error(boda("bench", "--model", tiny, "--against", "cudnn"),
                              "--against cudnn needs PyTorch")


def test_batch_changes_every_engine_alike(tiny, tmp_path):
    res = boda("bench", "--model", tiny, "--device", "cpu", "--against", "onnxruntime",
               "--repeat", "2", "--untuned", "--batch", "3", "--json", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["batch"] == 3 and report["layers"][0]["signature"].startswith("conv(n=3,")
    assert {n["engine"]: n["max_rel_diff"] for n in report["network"]}["onnxruntime"] <= 1e-4


def test_an_unwritable_output_is_refused_before_measuring(tiny, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = boda("bench", "--model", tiny, "--against", "onnxruntime", "--out", blocker / "sub")
    assert_one_line_error(res, "cannot create")
    assert "boda bench: compiling" not in res.stderr


ACTS = [(), ("relu",), ("leakyrelu", 0.1), ("sigmoid",), ("clip", 0.0, 6.0),
        ("clip", float("-inf"), 0.5)]


@pytest.mark.parametrize("act", ACTS, ids=lambda a: "-".join(map(str, a)) or "none")
def test_the_onnxruntime_layer_reference_computes_every_fused_activation(act):
    """Each activation the runtime fuses into a conv is expressed in onnxruntime's one-layer
    model: its output equals the numpy reference of the same Problem."""
    from boda.compare.onnxruntime import conv_model
    from boda.compare.onnxruntime import session as ort_session
    from boda.ir.numpy_reference import random_inputs, reference
    from boda.ir.problems import Conv
    from conftest import assert_close
    p = Conv(n=1, c=4, m=6, in_size=(7, 7), kernel=(3, 3), stride=(1, 1), pad_begin=(1, 1),
             pad_end=(1, 1), dilation=(1, 1), group=1, bias=True, act=act)
    inputs = random_inputs(p, seed=3)
    [out] = ort_session(conv_model(p, inputs)).run(None, {"x": inputs[0]})
    assert_close(out, reference(p, *inputs))


def test_bench_runs_on_a_model_whose_convs_fuse_clip_and_sigmoid(tmp_path):
    """MobileNet's Conv+Clip(0, 6) (ReLU6) once stopped `boda bench` with an assertion."""
    rng = np.random.default_rng(0)
    w = [onnx.numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), f"w{k}")
         for k, s in enumerate([(8, 3, 3, 3), (8, 8, 1, 1)])]
    lo, hi = (onnx.numpy_helper.from_array(np.array(v, np.float32), n)
              for n, v in (("lo", 0.0), ("hi", 6.0)))
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c0", "lo", "hi"], ["r0"]),
             helper.make_node("Conv", ["r0", "w1"], ["c1"]),
             helper.make_node("Sigmoid", ["c1"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [1, 3, 12, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                         [1, 8, 12, 12])], w + [lo, hi])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              tmp_path / "m.onnx")
    res = boda("bench", "--model", tmp_path / "m.onnx", "--device", "cpu", "--against",
               "onnxruntime", "--repeat", "2", "--untuned", "--json", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [x["signature"].split("act=")[1] for x in report["layers"]] == ["clip-0.0-6.0)",
                                                                            "sigmoid)"]
    assert all(x["reference_ms"]["onnxruntime"] > 0 for x in report["layers"])
    assert {n["engine"]: n["max_rel_diff"] for n in report["network"]}["onnxruntime"] <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2",
                                  "squeezenext", "unet_small", "lraspp_small"])
def test_bench_runs_on_the_zoo(name, tmp_path):
    """Every fused activation and Problem kind of the zoo's newer models has a layer
    reference, and the whole network agrees with onnxruntime."""
    res = boda("zoo", name, "-o", tmp_path / "m.onnx")
    assert res.returncode == 0, res.stderr
    res = boda("bench", "--model", tmp_path / "m.onnx", "--device", "cpu", "--against",
               "onnxruntime", "--repeat", "1", "--untuned", "--json", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["layers"] and all(x["reference_ms"]["onnxruntime"] > 0
                                    for x in report["layers"])
    assert {n["engine"]: n["max_rel_diff"] for n in report["network"]}["onnxruntime"] <= 1e-4


def test_openvino_reference_with_fp32_forced(tiny, tmp_path):
    """OpenVINO as users pick it: f32 forced (and its default precision beside it where that
    differs), per layer and for the network, its fp32 outputs within 1e-4 of boda's."""
    if importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino is not installed (pip install 'boda[bench]')")
    res = boda("bench", "--model", tiny, "--device", "cpu", "--against", "onnxruntime,openvino",
               "--repeat", "3", "--untuned", "--json", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert "INFERENCE_PRECISION_HINT=f32" in report["references"]["openvino"]["note"]
    assert all(x["reference_ms"]["openvino-f32"] > 0 for x in report["layers"])
    network = {n["engine"]: n["max_rel_diff"] for n in report["network"]}
    assert network["openvino-f32"] <= 1e-4 and network["onnxruntime"] <= 1e-4


def test_interleaved_turns_leave_their_warm_up_runs_uncounted():
    """Each turn of each engine starts with `warmup` runs that are not timed: with 2 turns
    of 5 counted runs and 3 warm-ups, each engine runs 2 * (3 + 5) times, and a warm-up that
    is slow never reaches the median."""
    from boda.compare.timing import interleaved_medians
    calls = {"a": 0, "b": 0}

    def engine(name, slow_first):
        def run():
            calls[name] += 1
            if (calls[name] - 1) % 8 < slow_first:
                time.sleep(0.02)
        return run
    a, b = interleaved_medians([engine("a", 3), engine("b", 0)], 10, block=5, warmup=3)
    assert calls == {"a": 16, "b": 16}
    assert a < 0.01 and b < 0.01
