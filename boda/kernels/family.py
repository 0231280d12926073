"""What every kernel family provides, and the simplest kind: one work-item per output element.

A family answers these questions about a Problem:
- applies(problem): can it compute this problem at all;
- space(problem, device): its parameters as plain data, name -> candidate values, already cut
  to the device's limits; valid(problem, device, params) holds the constraints between them
  (Kernel Tuner's "restrictions"), and points() walks the valid product;
- default(problem, device): a choice good enough to use untuned;
- transforms(problem, params): operand index -> function re-laying-out that operand (filters
  re-blocked or Winograd-transformed); done once when constants are uploaded, so families
  with transforms need that operand to be a constant;
- render(problem, params, views, lang): the kernel source and its launch geometry;
- estimate(problem, params, device): a rough cost in seconds, used to pick among defaults.
"""
from __future__ import annotations

import itertools
import random

from ..devices.profiles import peak_flops
from ..ir.views import View, numel
from .templating import KernelSource

TOLERANCE = 1e-4  # fp32: max|out - ref| <= TOLERANCE * max|ref|
LOCAL_SIZES = (16, 32, 64, 128, 256)

# Rough sustained fp32 rate of a plain one-output-per-work-item loop, as a share of the
# device's peak; families with register tiling declare a higher share.
NAIVE_EFFICIENCY = 0.02
LAUNCH_SECONDS = 10e-6


class Family:
    name: str = ""
    template: str = ""
    efficiency: float = NAIVE_EFFICIENCY
    tolerance: float = TOLERANCE  # the max relative error a correct kernel stays within
    transformed: tuple = ()  # operand indices that transforms() re-lays-out
    joins: bool = True  # whether its kernels may run side by side with others (side_by_side)

    def applies(self, problem) -> bool:
        raise NotImplementedError

    def space(self, problem, device) -> dict:
        raise NotImplementedError

    def valid(self, problem, device, params: dict) -> bool:
        return True

    def usable(self, problem, device) -> bool:
        """Whether `device` can run this family on `problem` at all (e.g. it has the local
        memory the family needs); families_for leaves out those it cannot."""
        return True

    def default(self, problem, device) -> dict:
        raise NotImplementedError

    def transforms(self, problem, params: dict) -> dict:
        return {}

    def render(self, problem, params: dict, views: list[View], lang: str,
               dtype: str = "float32") -> KernelSource:
        raise NotImplementedError

    def contains(self, problem, device, params: dict) -> bool:
        """Whether `params` is a valid point of this family's space on `device` (checked
        before using parameters from a database: a point outside its constraints can write
        out of bounds)."""
        space = self.space(problem, device)
        return (set(params) == set(space) and all(params[k] in v for k, v in space.items())
                and self.valid(problem, device, params))

    def points(self, problem, device):
        """Every valid parameter point of the space, in a fixed order."""
        space = self.space(problem, device)
        keys = list(space)
        for values in itertools.product(*(space[k] for k in keys)):
            params = dict(zip(keys, values))
            if self.valid(problem, device, params):
                yield params

    def work_items(self, problem, params: dict) -> int:
        return numel(problem.out_shape)

    def with_default_local(self, problem, device, params: dict, sizes=(1, 2, 4)):
        """`params` plus the largest default work-group size (the profile's: `sizes` on a
        CPU, one to four subgroups on a GPU) that still leaves at least 4 work-groups per
        compute unit. Small groups on CPUs: PoCL runs a group's work-items in a loop, and
        register-tiled bodies run slower there (measured: conv_k1 on SqueezeNet's conv10
        takes 0.78 ms with groups of 4, 1.17 ms with groups of 16)."""
        choices = device.profile.default_group_sizes(device, sizes)
        searched = self.space(problem, device).get("local", choices)
        choices = [s for s in choices if s in searched] or searched  # inside its own space
        items = self.work_items(problem, dict(params, local=1))
        target = items // (4 * max(device.compute_units, 1))
        return dict(params, local=max(s for s in choices if s <= target or s == choices[0]))

    def group_fits(self, problem, device, params: dict) -> bool:
        """Whether the work-group is no larger than the work (or is the smallest size the
        device's profile searches)."""
        return params["local"] <= max(self.work_items(problem, params),
                                      device.profile.group_sizes(device)[0])

    def sample(self, problem, device, count: int, seed: int = 0, edges: bool = True) -> list:
        """The default, then (edges) the points at each end of every parameter's range, then
        `count` random points; no point twice."""
        points = list(self.points(problem, device))
        chosen = [self.default(problem, device)]
        rng = random.Random(seed)
        if edges and points:
            for key in points[0]:
                order = sorted(points, key=lambda p: (p[key], rng.random()))
                chosen += [order[0], order[-1]]
        chosen += rng.sample(points, min(count, len(points)))
        return list({tuple(sorted(p.items())): p for p in chosen}.values())

    def useful_flops(self, problem, params: dict) -> float:
        return problem.flops

    def estimate(self, problem, params: dict, device) -> float:
        """Flops at the family's share of peak, slowed when there are too few work-items to
        fill the device (a CPU core needs one, a GPU compute unit hundreds)."""
        per_unit = 1 if device.kind == "cpu" else 256
        units = per_unit * max(device.compute_units, 1)
        fill = min(1.0, self.work_items(problem, params) / units)
        rate = self.efficiency_for(problem, params, device) * fill * peak_flops(device)
        return self.useful_flops(problem, params) / rate + LAUNCH_SECONDS

    def efficiency_for(self, problem, params: dict, device) -> float:
        """The share of peak this family sustains on `problem` at `params` on `device`
        (rough)."""
        return self.efficiency


class OnePerOutput(Family):
    """A family whose kernel computes one output element per work-item; its only parameter is
    the work-group size. `context(problem)` adds template variables (C expressions the
    family computes in Python)."""

    def __init__(self, name: str, template: str, problem_types: tuple, adapt_views=None,
                 work_items=None, context=None):
        self.name = name
        self.template = template
        self.problem_types = problem_types
        self._adapt_views = adapt_views or (lambda problem, views: views)
        self._count = work_items or (lambda problem: numel(problem.out_shape))
        self._context = context or (lambda problem: {})

    def applies(self, problem) -> bool:
        return isinstance(problem, self.problem_types)

    def work_items(self, problem, params) -> int:
        return self._count(problem)

    def space(self, problem, device) -> dict:
        return {"local": device.profile.group_sizes(device, LOCAL_SIZES)}

    def default(self, problem, device) -> dict:
        sizes = self.space(problem, device)["local"]
        return {"local": max(s for s in sizes if s <= 64 or s == sizes[0])}

    def render(self, problem, params, views, lang,
               dtype: str = "float32") -> KernelSource:
        views = self._adapt_views(problem, list(views))
        return KernelSource.make(self.name, self.template, lang, problem, params, views,
                                 self.work_items(problem, params), params["local"],
                                 op=getattr(problem, "op", "copy"),
                                 act_=getattr(problem, "act", ()), dtype=dtype,
                                 **self._context(problem))
