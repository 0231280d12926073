"""Models as users export them from PyTorch: torchvision's classification families at
224x224, its LR-ASPP and FCN segmentation heads, an SSDlite detection head and a U-Net-style
decoder (tests/torch_exports.py), each exported by the TorchScript exporter (dynamo=False,
opset 17) and by the default torch.export-based one (opset 20, Constant nodes, attributes as
inputs), then run by boda against onnxruntime on random input, every output within 1e-4 of
its range; a few also on Mesa's rusticl.

PyTorch's CUDA 13 build (the one torchvision installs with here) needs cuda-bindings 13,
while boda's NVRTC extra pins CUDA 12, so the export runs in its own interpreter:
$BODA_TORCH_PYTHON (.ci/run makes one), else this one when it has torch and torchvision.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

import boda
from conftest import assert_close, ort_run
from test_device_matrix import MATRIX, assert_models_match, results, rusticl_env, run
from torch_exports import EXPORTERS, MODELS

TESTS = os.path.dirname(__file__)


def torch_python() -> str:
    given = os.environ.get("BODA_TORCH_PYTHON")
    if given:
        return given
    if importlib.util.find_spec("torch") and importlib.util.find_spec("torchvision") \
            and importlib.util.find_spec("onnxscript"):
        return sys.executable
    pytest.skip("no PyTorch to export with: set BODA_TORCH_PYTHON to a Python with torch, "
                "torchvision and onnxscript (.ci/run makes one)")


def exported(name: str, out) -> dict:
    """exporter -> ModelProto of `name`, exported in torch's interpreter."""
    res = subprocess.run([torch_python(), "-W", "ignore", os.path.join(TESTS, "torch_exports.py"),
                          str(out), name], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    models = {}
    for exporter in EXPORTERS:
        error = out / f"{name}.{exporter}.error"
        assert not error.exists(), error.read_text()[-2000:]
        models[exporter] = out / f"{name}.{exporter}.onnx"
    return models


@pytest.mark.parametrize("name", MODELS)
def test_exported_model_matches_onnxruntime(name, tmp_path, device):
    for exporter, path in exported(name, tmp_path).items():
        model = onnx.load(path)
        data = model.graph.input[0]
        shape = [d.dim_value for d in data.type.tensor_type.shape.dim]
        x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
        outs = boda.compile(model, device).run(None, {data.name: x})
        refs = ort_run(model, {data.name: x})
        assert len(outs) == len(refs)
        for out, ref in zip(outs, refs):
            assert_close(out, ref)


@pytest.mark.slow
def test_exported_models_on_rusticl(tmp_path):
    """The decoders' ops (Resize, ConvTranspose) and MobileNetV3's as Mesa's clang builds
    them, from the default exporter."""
    env = rusticl_env()
    names = ["mobilenet_v3_small", "lraspp_mobilenet_v3_large", "unet_decoder"]
    paths = [str(exported(n, tmp_path)["dynamo"]) for n in names]
    rows = results(run(MATRIX, "--one", "llvmpipe", *paths, env=env))
    assert_models_match(rows, [os.path.basename(p) for p in paths])
