"""The Python API: `boda.compile(model, device=...)` returns a Session whose `run` works like
onnxruntime's InferenceSession.run. A Session specializes the model to the shapes it is fed
(compiling once per distinct set of input shapes) and checks every feed first.

`BodaBackend` is the same as an onnx.backend Backend, so ONNX's own conformance suite can
judge boda (`prepare(model)`).
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from .devices import require_dtype, select_device
from .errors import BodaWarning, InputError
from .frontend import graph_of
from .frontend.onnx_file import (TensorSpec, input_specs, load_model, output_specs,
                                 parameter_inputs)
from .kernels.selection import Lookup
from .plan import make_plan
from .runtime import Engine
from .tuner.database import open_databases


def compile(model, device=None, input_shapes: dict | None = None, db=None,
            dtype: str = "float32") -> "Session":
    """Compile an ONNX model (path, bytes or ModelProto) for `device` (a --device value).

    input_shapes overrides or fills in input dims (e.g. {"data": (4, 3, 224, 224)}); when
    given, the model is built for those shapes right away. Kernels come from the tuning
    database: `db` is its path (default $BODA_DB, else the per-user cache file) and the
    databases shipped in tuning_db/ back it up; db=False uses the untuned defaults.
    dtype "float16" stores tensors on the device as half (where the device has half
    precision; arithmetic stays float32); inputs and outputs are float32 either way."""
    return Session(model, device, input_shapes, db, dtype)


class Session:
    def __init__(self, model, device=None, input_shapes=None, db=None, dtype="float32"):
        self.model = load_model(model)
        self.device = select_device(device)
        require_dtype(self.device, dtype)
        self.dtype = dtype
        self.lookup = None if db is False else Lookup(open_databases(db))
        self.specs = input_specs(self.model)
        self.parameters = parameter_inputs(self.model)
        self.overrides = {k: tuple(v) for k, v in (input_shapes or {}).items()}
        unknown = set(self.overrides) - {n for n, _, _ in self.specs}
        if unknown:
            raise InputError(f"unknown input(s) {sorted(unknown)}; the model's inputs are "
                             f"{[n for n, _, _ in self.specs]}")
        self._engines = {}
        self._backend = None
        self._cast_noted = set()
        shapes = {n: self._static_shape(n, s) for n, s, _ in self.specs}
        if all(d == np.float32 for _, _, d in self.specs) and not self.parameters and \
                all(s is not None for s in shapes.values()):
            self._engine(shapes, {})  # fully static: build now, so errors show up early

    def _static_shape(self, name, shape):
        shape = self.overrides.get(name, shape)
        return None if any(d is None for d in shape) else tuple(shape)

    def get_inputs(self) -> list[TensorSpec]:
        """The runtime inputs (`.name`, `.shape`, `.type`, as onnxruntime's), with the
        shapes given in input_shapes."""
        return [TensorSpec(n, self.overrides.get(n, s), d) for n, s, d in self.specs]

    def get_outputs(self) -> list[TensorSpec]:
        return output_specs(self.model)

    def _engine(self, shapes: dict, values: dict) -> Engine:
        key = (tuple(sorted(shapes.items())),
               tuple(sorted((k, v.tobytes(), v.shape) for k, v in values.items())))
        if key not in self._engines:
            plan = make_plan(graph_of(self.model, shapes, values))
            eng = Engine(plan, self.device, self._backend, self.lookup, self.dtype)
            self._backend = eng.backend
            self._engines[key] = eng
        return self._engines[key]

    @property
    def engine(self) -> Engine:
        """The most recently built engine (for reports and profiling)."""
        if not self._engines:
            raise InputError("the model has symbolic input shapes; run it once or give "
                             "input_shapes")
        return list(self._engines.values())[-1]

    def check_feeds(self, feeds: dict) -> tuple[dict, dict, dict]:
        names = [n for n, _, _ in self.specs]
        missing = [n for n in names if n not in feeds]
        if missing:
            raise InputError(f"missing input(s) {missing}; the model's inputs are {names}")
        extra = [n for n in feeds if n not in names]
        if extra:
            raise InputError(f"unknown input(s) {extra}; the model's inputs are {names}")
        shapes, values, arrays = {}, {}, {}
        for name, shape, dtype in self.specs:
            arr = np.asarray(feeds[name])
            wants_float = dtype is None or dtype == np.float32
            if wants_float and arr.dtype in (np.float64, np.float16):
                if name not in self._cast_noted:  # said once per session and input
                    self._cast_noted.add(name)
                    warnings.warn(f"input {name!r} is {arr.dtype.name}; cast to float32 "
                                  "(boda computes in float32)", BodaWarning, stacklevel=3)
                arr = arr.astype(np.float32)
            if dtype == np.float32 and arr.dtype != np.float32:
                raise InputError(f"input {name!r} is {arr.dtype.name}; the model wants float32 "
                                 "(boda casts only float64 and float16 inputs)")
            if dtype is not None and arr.dtype != dtype:
                raise InputError(f"input {name!r} must have dtype {np.dtype(dtype).name}, "
                                 f"got {arr.dtype.name}")
            if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_ \
                    or name in self.parameters:
                values[name] = arr  # shape-like inputs: the model is specialized to them
                continue
            if arr.dtype != np.float32:
                raise InputError(f"input {name!r} has dtype {arr.dtype.name}; boda computes "
                                 "in float32")
            want = self.overrides.get(name, shape)
            if len(arr.shape) != len(want) or any(w is not None and w != a
                                                  for w, a in zip(want, arr.shape)):
                batch_only = (len(arr.shape) == len(want) and arr.shape
                              and all(w is None or w == a for w, a in
                                      zip(want[1:], arr.shape[1:])))
                hint = (f"; only the batch differs: give --batch {arr.shape[0]} (input_shapes "
                        "in the Python API)" if batch_only else "")
                raise InputError(f"input {name!r} must have shape "
                                 f"{tuple('?' if w is None else w for w in want)}, "
                                 f"got {arr.shape}{hint}")
            shapes[name] = arr.shape
            arrays[name] = np.ascontiguousarray(arr, np.float32)
        return shapes, values, arrays

    def run(self, output_names, feeds: dict) -> list[np.ndarray]:
        shapes, values, arrays = self.check_feeds(feeds)
        engine = self._engine(shapes, values)
        results = engine.run(arrays)
        by_onnx = {o: results[t] if t in results else None for o, t in engine.plan.outputs}
        names = output_names or [o for o, _ in engine.plan.outputs]
        unknown = [n for n in names if n not in by_onnx]
        if unknown:
            raise InputError(f"unknown output(s) {unknown}; the model's outputs are "
                             f"{list(by_onnx)}")
        return [by_onnx[n] for n in names]


class BodaRep(BackendRep):
    def __init__(self, session: Session):
        self.session = session
        self.names = [n for n, _, _ in session.specs]

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            feeds = inputs
        else:
            feeds = dict(zip(self.names, inputs))
        return self.session.run(None, feeds)


class BodaBackend(Backend):
    device = None  # the --device selection to use; None is the default device

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return True

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return BodaRep(Session(model, cls.device))

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


prepare = BodaBackend.prepare
