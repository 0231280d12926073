"""Whole networks on the default OpenCL device against onnxruntime:
every output within max|out-ref| <= 1e-4 * max|ref|."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import boda
from boda.frontend import zoo
from conftest import assert_close, ort_run

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def light(name: str) -> onnx.ModelProto:
    return onnx.load(os.path.join(LIGHT, f"light_{name}.onnx"))


def with_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    for vi in list(m.graph.input) + list(m.graph.output):
        if vi.name not in inits and vi.type.tensor_type.shape.dim:
            vi.type.tensor_type.shape.dim[0].dim_value = batch
    return m


def with_random_weights(model: onnx.ModelProto, seed=0) -> onnx.ModelProto:
    """The light models carry their weights as ConstantOfShape (every weight 0.02); replace
    each by a seeded random initializer of the same shape so the topology is really tested."""
    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = tuple(int(d) for d in inits[node.input[0]])
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            if len(shape) > 1:
                w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
            else:  # biases and BatchNorm scale/shift/mean/variance: positive, near 1
                w = 1.0 + 0.1 * rng.random(shape)
            m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32),
                                                               node.output[0]))
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m.ir_version = max(m.ir_version, 4)  # initializers need not be listed as inputs from IR 4
    return m


def compare(model, device, seed=0):
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]
                                         ).astype(np.float32)
             for i in model.graph.input if i.name not in inits}
    outs = boda.compile(model, device).run(None, feeds)
    refs = ort_run(model, feeds)
    assert len(outs) == len(refs)
    for out, ref in zip(outs, refs):
        assert_close(out, ref)


@pytest.mark.parametrize("batch", [1, 4])
def test_light_squeezenet_as_shipped(batch, device):
    compare(with_batch(light("squeezenet"), batch), device)


@pytest.mark.parametrize("batch", [1, 4])
def test_light_squeezenet_random_weights(batch, device):
    model = with_batch(with_random_weights(light("squeezenet")), batch)
    # the pre-opset-13 Softmax over 1000 classes: check the scores before it too
    compare(model, device, seed=batch)


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
@pytest.mark.parametrize("batch", [1, 4])
def test_zoo_squeezenet(name, batch, device):
    compare(zoo.build(name, batch=batch, seed=batch), device, seed=batch)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet", "alexnet"])
def test_zoo_other(name, device):
    compare(zoo.build(name, batch=2, seed=3), device, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bvlc_alexnet", "inception_v1", "inception_v2", "resnet50",
                                  "shufflenet", "zfnet512", "densenet121"])
def test_other_light_models_random_weights(name, device):
    compare(with_random_weights(light(name)), device)


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
                                  "shufflenet_v2", "squeezenext"])
def test_zoo_mobile_families(name, device):
    """The families deployed on phones and boards, with the op patterns PyTorch's exporter
    writes (ReduceMean pools, HardSwish, HardSigmoid- and Sigmoid-gated SE, SiLU, Split and
    the channel shuffle)."""
    compare(zoo.build(name, batch=1, seed=4), device, seed=4)


@pytest.mark.parametrize("name", ["unet_small", "lraspp_small"])
def test_zoo_dense_prediction(name, device):
    """Decoders: ConvTranspose and bilinear Resize (by scales and by sizes), skip Concats,
    InstanceNorm, a sigmoid-gated global branch."""
    compare(zoo.build(name, batch=1, seed=5), device, seed=5)
