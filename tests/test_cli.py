"""The `boda` command end to end, and bad input: one line on stderr, nonzero exit, no
traceback."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from boda.frontend import zoo
from conftest import assert_close, assert_one_line_error, boda, ort_run


def test_run_prints_top5_and_matches_onnxruntime(tiny, tmp_path):
    import onnxruntime as ort
    x = np.random.default_rng(5).standard_normal((1, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    res = boda("run", "--model", tiny, "--input", tmp_path / "x.npy",
               "--output", tmp_path / "y.npy")
    assert res.returncode == 0, res.stderr
    assert "top-5 [0]:" in res.stdout
    ref = ort.InferenceSession(str(tiny)).run(None, {"x": x})[0]
    out = np.load(tmp_path / "y.npy")
    assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()
    top = int(res.stdout.split("top-5 [0]: ")[1].split(" ")[0])
    assert top == int(np.argmax(ref[0]))


def test_run_with_an_image(tmp_path):
    from PIL import Image
    onnx.save(zoo.squeezenet1_1(), tmp_path / "sq.onnx")
    img = (np.random.default_rng(1).random((300, 400, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "cat.png")
    res = boda("run", "--model", tmp_path / "sq.onnx", "--input", tmp_path / "cat.png")
    assert res.returncode == 0, res.stderr
    assert "top-5 [0]:" in res.stdout


def test_zoo_ops_devices(tmp_path):
    res = boda("zoo", "--list")
    assert "squeezenet1_0" in res.stdout and "squeezenet1_1" in res.stdout
    res = boda("zoo", "squeezenet1_0", "-o", tmp_path / "s.onnx", "--batch", "2")
    assert res.returncode == 0, res.stderr
    m = onnx.load(tmp_path / "s.onnx")
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    res = boda("ops", "--model", tmp_path / "s.onnx", "--json")
    data = json.loads(res.stdout)
    convs = [r for r in data["layers"] if r["kind"] == "conv"]
    assert len(convs) == 26 and data["totals"]["mflops"] > 2 * 1500
    res = boda("devices")
    assert res.returncode == 0 and "cpu" in res.stdout
    [dev] = json.loads(boda("devices", "--json").stdout)[:1]
    assert dev["family"] == dev["profile"]["family"] == "cpu" and dev["profile"]["subgroup"] == 1


def test_not_onnx(tmp_path):
    (tmp_path / "a.onnx").write_text("hello, I am a text file\n")
    assert_one_line_error(boda("run", "--model", tmp_path / "a.onnx"), "not a valid ONNX")


def test_truncated(tmp_path, tiny):
    data = open(tiny, "rb").read()
    (tmp_path / "t.onnx").write_bytes(data[: len(data) // 2])
    assert_one_line_error(boda("run", "--model", tmp_path / "t.onnx"), "t.onnx")


def test_missing_file(tmp_path):
    assert_one_line_error(boda("run", "--model", tmp_path / "nope.onnx"), "not found")


def test_unsupported_op(tmp_path):
    g = helper.make_graph([helper.make_node("Sign", ["x"], ["y"], name="sign1")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              tmp_path / "e.onnx")
    assert_one_line_error(boda("run", "--model", tmp_path / "e.onnx"), "'Sign'", "sign1",
                          "opset 13", "supported ops:")


def test_wrong_input_shape(tmp_path, tiny):
    np.save(tmp_path / "x.npy", np.ones((1, 3, 15, 16), np.float32))
    assert_one_line_error(boda("run", "--model", tiny, "--input", tmp_path / "x.npy"),
                          "shape", "(1, 3, 16, 16)")


def test_float64_and_float16_inputs_are_cast_with_a_note_and_integers_refused(tmp_path, tiny):
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16))
    ref = ort_run(onnx.load(tiny), {"x": x.astype(np.float32)})[0]
    for dtype in (np.float64, np.float16):
        np.save(tmp_path / "x.npy", x.astype(dtype))
        res = boda("run", "--model", tiny, "--input", tmp_path / "x.npy", "--repeat", "3",
                   "--output", tmp_path / "y.npy")
        assert res.returncode == 0, res.stderr
        notes = [ln for ln in res.stderr.splitlines() if ln.startswith("boda: note:")]
        assert len(notes) == 1 and np.dtype(dtype).name in notes[0], res.stderr  # said once
        tol = 1e-4 if dtype == np.float64 else 3e-3  # float16 rounds the input itself
        assert_close(np.load(tmp_path / "y.npy"), ref, tol)
    np.save(tmp_path / "x.npy", np.ones((1, 3, 16, 16), np.int64))
    assert_one_line_error(boda("run", "--model", tiny, "--input", tmp_path / "x.npy"),
                          "'x' is int64", "float32")


def test_an_input_differing_only_in_batch_points_at_batch(tmp_path, tiny):
    np.save(tmp_path / "x.npy", np.ones((4, 3, 16, 16), np.float32))
    assert_one_line_error(boda("run", "--model", tiny, "--input", tmp_path / "x.npy"),
                          "(1, 3, 16, 16)", "only the batch differs", "--batch 4")


def test_inputs_and_outputs_described_as_onnxruntime_does(tiny):
    import onnxruntime as ort

    import boda as api
    ours, theirs = api.compile(str(tiny)), ort.InferenceSession(str(tiny))
    for mine, ref in ((ours.get_inputs(), theirs.get_inputs()),
                      (ours.get_outputs(), theirs.get_outputs())):
        assert [(a.name, tuple(a.shape), a.type) for a in mine] == \
            [(b.name, tuple(b.shape), b.type) for b in ref]


def test_every_missing_op_is_named_at_once(tmp_path):
    nodes = [helper.make_node("Sign", ["x"], ["a"], name="sign1"),
             helper.make_node("Relu", ["a"], ["b"], name="r"),
             helper.make_node("Sign", ["b"], ["c"], name="sign2"),
             helper.make_node("Round", ["c"], ["y"], name="round1"),
             helper.make_node("Celu", ["x"], ["z"], name="celu1")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [1, 2, 4, 4])],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 4, 4])
                           for n in ("y", "z")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]),
              tmp_path / "m.onnx")
    for command in ("run", "ops"):
        assert_one_line_error(boda(command, "--model", tmp_path / "m.onnx"),
                              "'Sign' x2 (first in node 'sign1')",
                              "'Round' x1 (first in node 'round1')",
                              "'Celu' x1 (first in node 'celu1')", "opset 18")


def test_an_opset_newer_than_boda_knows_is_refused(tmp_path):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 99)]),
              tmp_path / "m.onnx")
    assert_one_line_error(boda("run", "--model", tmp_path / "m.onnx"), "opset 99",
                          "newer than any this boda knows")


def test_arguments_are_checked_before_work_starts(tmp_path, tiny):
    for args in (("run", "--batch", "0"), ("ops", "--batch", "-3"), ("tune", "--batch", "0"),
                 ("bench", "--batch", "0"), ("db", "show", "--batch", "0")):
        assert_one_line_error(boda(*args, "--model", tiny), "--batch must be at least 1")
    for command in ("run", "bench"):
        assert_one_line_error(boda(command, "--model", tiny, "--repeat", "0"),
                              "--repeat must be at least 1")
    assert_one_line_error(boda("tune", "--model", tiny, "--workers", "0"), "--workers")
    for output, words in ((tmp_path / "nope" / "y.npy", ("does not exist",)),
                          (tmp_path / "y.txt", (".npy or .npz",))):
        res = boda("run", "--model", tiny, "--output", output)
        assert_one_line_error(res, *words)
        assert "time:" not in res.stdout  # refused before the run
    assert_one_line_error(boda("db", "export", tmp_path / "nope" / "e.json", "--db",
                               tmp_path / "t.sqlite"), "does not exist")


def test_db_takes_its_database_before_or_after_the_action(tmp_path, tiny):
    path = tmp_path / "t.sqlite"
    assert boda("tune", "--model", tiny, "--budget", "3", "--db", path, "--quiet",
                "--workers", "1").returncode == 0
    before, after = boda("db", "--db", path, "list"), boda("db", "list", "--db", path)
    assert before.returncode == 0 and after.returncode == 0, before.stderr
    assert str(path) in before.stdout and before.stdout == after.stdout


def test_unknown_device(tiny):
    for command in ("run", "tune"):  # no Adreno here: say so, list what is, point at --remote
        assert_one_line_error(boda(command, "--model", tiny, "--device", "adreno"),
                              "no Adreno OpenCL device found", "present: 0: ", "--remote")
    assert_one_line_error(boda("run", "--model", tiny, "--device", "7"), "index 7")


def test_missing_and_unknown_input_names_in_the_api(tiny):
    import boda as api
    from boda.errors import InputError
    sess = api.compile(str(tiny))
    with pytest.raises(InputError, match="missing input"):
        sess.run(None, {})
    x = np.ones((1, 3, 16, 16), np.float32)
    with pytest.raises(InputError, match="unknown input"):
        sess.run(None, {"x": x, "extra": x})
    with pytest.raises(InputError, match="unknown output"):
        sess.run(["nope"], {"x": x})
