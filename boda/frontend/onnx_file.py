"""Reading an ONNX file: loading and checking it, its opset, and its runtime inputs."""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import onnx

from ..errors import BodaError


def load_model(model) -> onnx.ModelProto:
    """A ModelProto from a path, bytes or a ModelProto; BodaError if it is not valid ONNX."""
    if isinstance(model, onnx.ModelProto):
        proto = model
        label = "model"
    else:
        label = str(model)
        try:
            if isinstance(model, (bytes, bytearray)):
                proto = onnx.load_from_string(bytes(model))
            else:
                if not os.path.isfile(model):
                    raise BodaError(f"model file not found: {model}")
                proto = onnx.load(model, load_external_data=True)
        except BodaError:
            raise
        except Exception as exc:
            raise BodaError(f"{label} is not a valid ONNX file ({type(exc).__name__}: "
                            f"{first_line(exc)})") from None
    if not proto.graph.node and not proto.graph.output:
        raise BodaError(f"{label} is not an ONNX model (no graph)")
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise BodaError(f"{label} failed the ONNX checker: {first_line(exc)}") from None
    return proto


def first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def opset_of(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    return 1


class TensorSpec(NamedTuple):
    """A model input or output as onnxruntime's get_inputs()/get_outputs() describe it:
    `.name`, `.shape` (None for a symbolic or unknown dim), `.type` ("tensor(float)"); and
    the numpy `.dtype` (None where the model does not say)."""
    name: str
    shape: tuple
    dtype: np.dtype | None

    @property
    def type(self) -> str:
        names = {"float32": "float", "float64": "double"}
        kind = "unknown" if self.dtype is None else names.get(self.dtype.name, self.dtype.name)
        return f"tensor({kind})"


def _spec(vi) -> TensorSpec:
    tt = vi.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else None
    return TensorSpec(vi.name, shape, np.dtype(dtype) if dtype is not None else None)


def input_specs(model: onnx.ModelProto) -> list[TensorSpec]:
    """(name, shape with None for symbolic dims, dtype) of each runtime input."""
    inits = {i.name for i in model.graph.initializer}
    return [_spec(vi) for vi in model.graph.input if vi.name not in inits]


# Inputs that are parameters of the op, not data: the model is specialized to their values
# (onnx's own Resize test cases feed the scales as graph inputs).
PARAMETER_SLOTS = {"Resize": (1, 2, 3), "Upsample": (1,)}


def parameter_inputs(model: onnx.ModelProto) -> set:
    """The runtime inputs read only as op parameters (PARAMETER_SLOTS)."""
    uses: dict[str, set] = {}
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            uses.setdefault(name, set()).add(k in PARAMETER_SLOTS.get(node.op_type, ()))
    return {n for n, _, _ in input_specs(model) if uses.get(n) == {True}}


def output_specs(model: onnx.ModelProto) -> list[TensorSpec]:
    return [_spec(vi) for vi in model.graph.output]


def batch_shapes(model, batch: int | None) -> dict:
    """Input shapes with dim 0 set to `batch` (symbolic dims stay None)."""
    shapes = {}
    for name, shape, _ in input_specs(model):
        shape = list(shape)
        if batch is not None and shape:
            shape[0] = batch
        shapes[name] = tuple(shape)
    return shapes
