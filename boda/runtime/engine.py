"""The Engine: runs a planned network on one device.

Built once: every layer's kernel is chosen (kernels.selection) and rendered; OpenCL kernels
come from the binary cache or are built, the missing ones together, in a child process
(backends/opencl_build.py), where a compiler crash costs a fallback to another family rather
than the process; CUDA kernels are compiled as one program (NVRTC, cached);
temporary storages are packed into shared device buffers (plan.memory); constants are
uploaded once; every kernel's arguments are bound once, and the launches are recorded once
(`backend.record`: a CUDA graph on CUDA). A run uploads the inputs, replays the launches back
to back on one queue with no waits between them, and reads back only the outputs.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from .. import kernels
from ..errors import BodaError
from ..ir.views import View, numel
from ..kernels.selection import Lookup, default_choice
from ..plan.memory import temp_slots
from ..plan.placement import Plan
from .backends import backend_for
from .backends.opencl_build import Build


def const_value(storage, view: View) -> np.ndarray:
    """The constant array a view of a constant storage shows."""
    flat = storage.value.reshape(-1)
    return np.lib.stride_tricks.as_strided(
        flat[view.offset:], view.shape, tuple(4 * s for s in view.strides)).copy()


@dataclass
class LayerKernel:
    """One layer (a plan Step) with the kernel chosen for it."""
    step: object          # plan.Step
    family: str
    params: dict
    kernel: object        # kernels.KernelSource
    level: str = "default"  # what chose it (kernels.selection.MEANING)
    handle: object = None  # the backend's bound kernel


def _progress(text: str):
    """Long compiles say what they are doing, on a terminal (or with BODA_PROGRESS=1)."""
    if os.environ.get("BODA_PROGRESS") == "1" or sys.stderr.isatty():
        print(f"boda: {text}", file=sys.stderr, flush=True)


class Engine:
    def __init__(self, plan: Plan, device, backend=None, lookup=None, dtype: str = "float32"):
        """`lookup` (a kernels.Lookup over tuning databases) supplies tuned kernels; None uses
        the defaults.
        dtype float16 stores every tensor on the device as half (arithmetic stays float32):
        inputs are rounded when uploaded, outputs widened when read back."""
        lookup = lookup or Lookup()
        self.plan = plan
        self.device = device
        self.dtype = np.dtype(dtype)
        self.backend = backend or backend_for(device)
        self.layers = []
        self.transformed = {}  # (layer index, operand index) -> re-laid-out constant
        for step in plan.steps:
            family, params, level, _ = lookup.choose(step.problem, device,
                                                     plan.const_operands(step), dtype)
            self.layers.append(self._render(len(self.layers), step, family, params, level))
        programs = self._programs() if self.layers else {}
        self._allocate()
        # kept on self: a bound kernel argument does not keep its buffer alive
        self.replaced = replaced = {}
        for key, value in self.transformed.items():
            replaced[key] = self.backend.alloc(value.size, self.dtype.itemsize)
            self.backend.upload(replaced[key], np.asarray(value, self.dtype))
        self.backend.finish()  # the host copies may go once uploaded
        for li, layer in enumerate(self.layers):
            args = [self.buffers[plan.placement[layer.step.output][0]]]
            args += [replaced[li, k] if (li, k) in replaced
                     else self.buffers[plan.placement[i][0]]
                     for k, i in enumerate(layer.step.inputs)]
            layer.handle = self.backend.kernel(programs[layer.kernel.name], layer.kernel.name,
                                               args)
        self.replay = self.backend.record(self.launches())

    def _render(self, li: int, step, family, params: dict, level: str) -> LayerKernel:
        """Layer `li`: its kernel rendered, its re-laid-out constants in self.transformed."""
        plan = self.plan
        storages = plan.operand_storages(step)
        views = [plan.placement[step.output][1]] + [plan.placement[i][1] for i in step.inputs]
        for k in range(len(step.inputs)):
            self.transformed.pop((li, k), None)
        for k, fn in family.transforms(step.problem, params).items():
            value = fn(const_value(storages[k], views[k + 1]))
            self.transformed[li, k] = value
            views[k + 1] = View.contiguous(value.shape)
        ks = kernels.render(family, step.problem, params, views, self.backend.lang,
                            self.dtype.name)
        return LayerKernel(step, family.name, params, ks, level)

    def _programs(self) -> dict:
        """Kernel name -> program (backend.programs). OpenCL builds in child processes
        through the binary cache: a layer whose kernel crashes the compiler there gets the
        next family that applies (said in one line on stderr); none left is a one-line
        error."""
        crashed_families = {}  # layer index -> family names that crashed
        while True:
            builds = {}
            for li, layer in enumerate(self.layers):
                builds.setdefault(layer.kernel.name, Build(
                    layer.kernel, 1 + len(layer.step.inputs), self._largest_operand(li)))
            programs, crashed = self.backend.programs(list(builds.values()), isolated=True,
                                                      progress=_progress)
            if not crashed:
                return programs
            for li, layer in enumerate(self.layers):
                if layer.kernel.name not in crashed:
                    continue
                tried = crashed_families.setdefault(li, set())
                tried.add(layer.family)
                why = crashed[layer.kernel.name]
                try:
                    family, params = default_choice(layer.step.problem, self.device,
                                                    self.plan.const_operands(layer.step),
                                                    exclude=tried)
                except LookupError:
                    raise BodaError(
                        f"the OpenCL compiler crashed building layer {layer.step.name} "
                        f"(kernel family {layer.family}: {why}) and no other family "
                        "applies") from None
                print(f"boda: warning: the OpenCL compiler crashed building layer "
                      f"{layer.step.name} (kernel family {layer.family}: {why}); using "
                      f"{family.name} for it", file=sys.stderr, flush=True)
                self.layers[li] = self._render(li, layer.step, family, params, "fallback")

    def _largest_operand(self, li: int) -> int:
        """Bytes of layer li's largest argument buffer (what a trial launch needs)."""
        step, plan = self.layers[li].step, self.plan
        sizes = [plan.storages[plan.placement[step.output][0]].size]
        sizes += [self.transformed[li, k].size if (li, k) in self.transformed
                  else plan.storages[plan.placement[i][0]].size
                  for k, i in enumerate(step.inputs)]
        return self.dtype.itemsize * max(sizes)

    def launches(self) -> list:
        """(kernel, global size, local size) of every layer, in order."""
        return [(x.handle, x.kernel.global_size, x.kernel.local_size) for x in self.layers]

    def _allocate(self):
        """Device buffers: the temporaries' shared slots (plan.memory), one buffer per input,
        and one per constant, uploaded."""
        plan, be, item = self.plan, self.backend, self.dtype.itemsize
        slot_of, slot_size = temp_slots(plan)
        slots = [be.alloc(n, item) for n in slot_size]
        self.buffers = {sid: slots[k] for sid, k in slot_of.items()}
        for s in plan.storages:
            if s.role in ("input", "const"):
                self.buffers[s.id] = be.alloc(s.size, item)
            if s.role == "const":
                be.upload(self.buffers[s.id], np.asarray(s.value, self.dtype))
        be.finish()

    def run(self, feeds: dict) -> dict:
        """feeds: tensor name -> float32 array of the planned shape. Returns name -> array
        for every graph output."""
        self.upload(feeds)
        self.replay()
        return self.download()

    def phases(self, feeds: dict) -> dict:
        """One run, each part waited for: host seconds of the uploads, of enqueueing the
        launches, of the device finishing them, and of the downloads (the profile of
        benchmarks/profile.py; a plain run overlaps them)."""
        clock, be = time.perf_counter, self.backend
        t0 = clock()
        self.upload(feeds)
        be.finish()
        t1 = clock()
        self.replay()
        t2 = clock()
        be.finish()
        t3 = clock()
        self.download()
        t4 = clock()
        return {"upload": t1 - t0, "enqueue": t2 - t1, "wait": t3 - t2, "download": t4 - t3}

    def upload(self, feeds: dict):
        be, plan = self.backend, self.plan
        for name in plan.inputs:
            sid, view = plan.placement[name]
            be.upload(self.buffers[sid], np.asarray(feeds[name], self.dtype), view.offset)

    def download(self) -> dict:
        """The graph outputs of the last run, waited for."""
        be, plan = self.backend, self.plan
        results = {}
        for onnx_name, name in plan.outputs:
            if name in results:
                continue
            sid, view = plan.placement[name]
            storage = plan.storages[sid]
            if storage.role == "const":
                results[name] = storage.value.reshape(view.shape).copy()
                continue
            arr = np.empty(view.shape, self.dtype)
            if numel(view.shape):
                be.download(self.buffers[sid], arr, view.offset)
            results[name] = arr
        be.finish()
        return {k: _as_output(v, plan.output_dtypes.get(k)) for k, v in results.items()}

    def profile(self, feeds: dict, repeat: int = 5) -> list[tuple[LayerKernel, float, float]]:
        """Device seconds per layer, two ways: (layer, alone, in sequence). Alone is the median
        of `repeat` launches of that kernel by itself (warm caches, busy device); in sequence
        is its median inside `repeat` runs of the whole network, as an inference sees it."""
        self.run(feeds)
        launches = self.launches()
        runs = self.backend.time_sequence(launches, repeat)
        out = []
        for k, layer in enumerate(self.layers):
            alone = self.backend.time_launches(*launches[k], repeat)
            out.append((layer, float(np.median(alone)), float(np.median([r[k] for r in runs]))))
        return out


def _as_output(value: np.ndarray, dtype) -> np.ndarray:
    """An output as the model declares it: float32, or an integer or bool tensor computed as
    floats."""
    if dtype == np.bool_:
        return value != 0
    if dtype is None or not np.issubdtype(dtype, np.integer):
        return value.astype(np.float32, copy=False)
    return np.rint(value).astype(dtype) if value.dtype.kind == "f" else value.astype(dtype)
