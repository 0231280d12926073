"""The PyTorch rendering of an ONNX graph that `boda bench --against cudnn` times: on the CPU
it must compute what onnxruntime computes, for every zoo model. Runs where PyTorch is
installed (the GPU machines; not CI)."""
from __future__ import annotations

import numpy as np
import pytest

from boda.errors import UnsupportedModelError
from boda.frontend import zoo
from conftest import assert_close, ort_run

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_torch_model_matches_onnxruntime(name):
    from boda.compare.torch_model import TorchModel
    model = zoo.build(name, batch=2)
    x = np.random.default_rng(3).standard_normal(
        [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]).astype(np.float32)
    feeds = {model.graph.input[0].name: x}
    with torch.no_grad():
        got = TorchModel(model, torch.device("cpu"))({k: torch.from_numpy(v)
                                                      for k, v in feeds.items()})
    for out, ref in zip(got, ort_run(model, feeds)):
        assert_close(out.numpy(), ref)


def test_an_unsupported_op_is_named():
    from onnx import TensorProto, helper

    from boda.compare.torch_model import TorchModel
    g = helper.make_graph([helper.make_node("Erf", ["x"], ["y"], name="erf1")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    with pytest.raises(UnsupportedModelError, match="op Erf \\(node erf1\\)"):
        TorchModel(helper.make_model(g), torch.device("cpu"))
