"""The Engine: runs a planned network on one device.

Built once: every layer's kernel is chosen (kernels.selection) and rendered; OpenCL kernels
come from the binary cache or are built, the missing ones together, in a child process
(backends/opencl_build.py), where a compiler crash costs a fallback to another family rather
than the process; CUDA kernels are compiled as one program (NVRTC, cached);
temporary storages are packed into shared device buffers (plan.memory); independent
layers that read one tensor (a fire module's expands) run side by side in one launch where
the lookup says so (kernels.side_by_side); constants are uploaded once; every launch's
arguments are bound once, and the launches are recorded once (`backend.record`: a CUDA
graph on CUDA). A run uploads the inputs, replays the launches back
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
from ..kernels import side_by_side
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
class Unit:
    """One launch: a layer's kernel, or the kernel of layers side by side."""
    layers: list          # indices into Engine.layers, in order
    kernel: object        # kernels.KernelSource
    level: str = ""       # for layers side by side: what chose that (kernels.selection)
    program: object = None
    handle: object = None


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
        self.transformed = {}  # (layer index, operand index) -> re-laid-out constant
        # (family, params, level, source) per layer (a Choice, or a tuple from a lookup of
        # its own)
        choices = [tuple(lookup.choose(step.problem, device, plan.const_operands(step), dtype))
                   for step in plan.steps]
        self.chosen = [(family, params) for family, params, _, _ in choices]  # alone
        self._allocate()
        # a lookup of its own (tests, tools) that says nothing of groups: the defaults
        decide = getattr(lookup, "side_by_side", Lookup().side_by_side)
        self.layers, self.units = [], []
        for group in self.groups():
            local, level = decide(self.members(group), device, self.dtype.name)
            together = len(group) > 1 and local != side_by_side.APART
            for k in group:  # rendered once, at the group's size where it has one
                family, params, chosen_by, _ = choices[k]
                params = dict(params, local=local) if together else params
                self.layers.append(self._render(k, plan.steps[k], family, params, chosen_by))
            self.units += self.units_for(group, (local, level))
        if self.units:
            self._programs()
        # kept on self: a bound kernel argument does not keep its buffer alive
        self.replaced = replaced = {}
        for key, value in self.transformed.items():
            replaced[key] = self.backend.alloc(value.size, self.dtype.itemsize)
            self.backend.upload(replaced[key], np.asarray(value, self.dtype))
        self.backend.finish()  # the host copies may go once uploaded
        self.bind(self.units)
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

    def groups(self) -> list[list[int]]:
        """The layers in launch order, in groups that may run side by side: consecutive
        layers whose only input that is not a constant is one and the same tensor, none
        writing a buffer another reads (a fire module's expands); every other layer alone."""
        out = []
        for li in range(len(self.plan.steps)):
            if out and self._joins(out[-1], li):
                out[-1].append(li)
            else:
                out.append([li])
        return out

    def _joins(self, group: list[int], li: int) -> bool:
        plan = self.plan

        def shared(k):
            step = plan.steps[k]
            consts = plan.const_operands(step)
            return {t for j, t in enumerate(step.inputs) if j not in consts}

        if shared(li) != shared(group[0]) or len(shared(li)) != 1:
            return False
        members = group + [li]
        read = {id(self.buffers[plan.placement[t][0]]) for t in shared(li)}
        written = {}
        for k in members:
            sid = plan.placement[plan.steps[k].output][0]
            if written.setdefault(id(self.buffers[sid]), sid) != sid:
                return False  # two storages in one buffer: not both alive, not side by side
        return not read & set(written)

    def members(self, group: list[int]) -> list[tuple]:
        """(problem, Family, params) of each layer of a group, as chosen for it alone."""
        return [(self.plan.steps[k].problem, *self.chosen[k]) for k in group]

    def units_for(self, group: list[int], choice: tuple[int, str]) -> list[Unit]:
        """What runs a group of layers, given `choice` (work-group size or
        side_by_side.APART, the level that chose it): side by side, each member rendered at
        the shared size and their kernels joined into one launch; apart, one per layer."""
        local, level = choice
        if len(group) == 1 or local == side_by_side.APART:
            return [Unit([k], self.layers[k].kernel) for k in group]
        for k in group:
            x = self.layers[k]
            if x.params["local"] != local:
                self.layers[k] = self._render(k, x.step, kernels.BY_NAME[x.family],
                                              dict(x.params, local=local), x.level)
        kernel = side_by_side.side_by_side([self.layers[k].kernel for k in group])
        return [Unit(list(group), kernel, level)]

    def _programs(self):
        """Builds every unit's kernel (backend.programs; unit.program). OpenCL builds in
        child processes through the binary cache: a layer whose kernel crashes the compiler
        there gets the next family that applies (said in one line on stderr), a group side
        by side runs apart; none left is a one-line error."""
        crashed_families = {}  # layer index -> family names that crashed
        while True:
            programs, crashed = self.build(self.units)
            if not crashed:
                return
            units = []
            for unit in self.units:
                if unit.kernel.name not in crashed:
                    units.append(unit)
                    continue
                why = crashed[unit.kernel.name]
                if len(unit.layers) > 1:
                    names = ", ".join(self.layers[k].step.name for k in unit.layers)
                    print(f"boda: warning: the OpenCL compiler crashed building layers "
                          f"{names} side by side ({why}); running them apart",
                          file=sys.stderr, flush=True)
                    units += [Unit([k], self.layers[k].kernel) for k in unit.layers]
                    continue
                li = unit.layers[0]
                layer = self.layers[li]
                tried = crashed_families.setdefault(li, set())
                tried.add(layer.family)
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
                self.chosen[li] = (family, params)
                self.layers[li] = self._render(li, layer.step, family, params, "fallback")
                units.append(Unit([li], self.layers[li].kernel))
            self.units = units

    def build(self, units) -> tuple[dict, dict]:
        """Compile the units' kernels (those not built yet; the rest from the binary
        cache): (kernel name -> program, kernel name -> crash); sets unit.program."""
        builds = {}
        for unit in units:
            builds.setdefault(unit.kernel.name, Build(
                unit.kernel, sum(1 + len(self.layers[k].step.inputs) for k in unit.layers),
                max(self._largest_operand(k) for k in unit.layers)))
        programs, crashed = self.backend.programs(list(builds.values()), isolated=True,
                                                  progress=_progress)
        for unit in units:
            unit.program = programs.get(unit.kernel.name)
        return programs, crashed

    def bind(self, units):
        """Bind each unit's kernel to its layers' buffers (unit.handle)."""
        plan = self.plan
        for unit in units:
            args = []
            for li in unit.layers:
                step = self.layers[li].step
                args.append(self.buffers[plan.placement[step.output][0]])
                args += [self.replaced[li, k] if (li, k) in self.replaced
                         else self.buffers[plan.placement[i][0]]
                         for k, i in enumerate(step.inputs)]
            unit.handle = self.backend.kernel(unit.program, unit.kernel.name, args)
            if len(unit.layers) == 1:
                self.layers[unit.layers[0]].handle = unit.handle

    def _largest_operand(self, li: int) -> int:
        """Bytes of layer li's largest argument buffer (what a trial launch needs)."""
        step, plan = self.layers[li].step, self.plan
        sizes = [plan.storages[plan.placement[step.output][0]].size]
        sizes += [self.transformed[li, k].size if (li, k) in self.transformed
                  else plan.storages[plan.placement[i][0]].size
                  for k, i in enumerate(step.inputs)]
        return self.dtype.itemsize * max(sizes)

    def launches(self) -> list:
        """(kernel, global size, local size) of every unit, in order: what a run enqueues."""
        return [(u.handle, u.kernel.global_size, u.kernel.local_size) for u in self.units]

    def layer_launches(self) -> list:
        """(kernel, global size, local size) of every layer by itself, in order (the
        kernels of layers that run side by side are built here, the first time)."""
        alone = [Unit([li], x.kernel) for li, x in enumerate(self.layers) if x.handle is None]
        if alone:
            _, crashed = self.build(alone)
            if crashed:
                raise BodaError(f"the OpenCL compiler crashed building {sorted(crashed)}")
            self.bind(alone)
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
        with self.backend.busy():
            self.upload(feeds)
            self.replay()
            return self.download()

    def phases(self, feeds: dict) -> dict:
        """One run, each part waited for: host seconds of the uploads, of enqueueing the
        launches, of the device finishing them, and of the downloads (the profile of
        benchmarks/profile.py; a plain run overlaps them)."""
        clock, be = time.perf_counter, self.backend
        with be.busy():
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
        is its median inside `repeat` runs of the whole network, as an inference sees it
        (layers side by side share their launch's time in proportion to their times
        alone)."""
        self.run(feeds)
        runs = self.backend.time_sequence(self.launches(), repeat)
        alone = [float(np.median(self.backend.time_launches(*launch, repeat)))
                 for launch in self.layer_launches()]
        out = []
        for u, unit in enumerate(self.units):
            together = float(np.median([r[u] for r in runs]))
            total = sum(alone[k] for k in unit.layers) or 1.0
            out += [(self.layers[k], alone[k], together * alone[k] / total)
                    for k in unit.layers]
        return out


def _as_output(value: np.ndarray, dtype) -> np.ndarray:
    """An output as the model declares it: float32, or an integer or bool tensor computed as
    floats."""
    if dtype == np.bool_:
        return value != 0
    if dtype is None or not np.issubdtype(dtype, np.integer):
        return value.astype(np.float32, copy=False)
    return np.rint(value).astype(dtype) if value.dtype.kind == "f" else value.astype(dtype)
