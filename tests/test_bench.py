"""`boda bench --device cpu --against onnxruntime` end to end on a tiny model: the report's
numbers hang together, the whole-network outputs agree, and the files are written."""
from __future__ import annotations

import importlib.util
import json

import pytest

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


def test_markdown_json_and_png_are_written(bench_run):
    res, out = bench_run
    stem = out / "tiny-b1-cpu"
    md = (stem.with_suffix(".md")).read_text()
    assert md == res.stdout
    assert md.count("| conv") == 2 and "## Whole network" in md and "| onnxruntime |" in md
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
