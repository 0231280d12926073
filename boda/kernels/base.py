"""What every kernel family provides, and the simplest kind: one work-item per output element.

A family answers four questions about a Problem: does it apply, what is its parameter space
(plain data: name -> candidate values, already cut to the device's limits), what is a good
untuned choice, and what is the rendered source for one parameter point.
"""
from __future__ import annotations

from ..layout import View, numel
from .templating import KernelSource

LOCAL_SIZES = (16, 32, 64, 128, 256)


class OnePerOutput:
    """A family whose kernel computes one output element per work-item; its only parameter is
    the work-group size."""

    def __init__(self, name: str, template: str, problem_types: tuple, adapt_views=None,
                 work_items=None):
        self.name = name
        self.template = template
        self.problem_types = problem_types
        self._adapt_views = adapt_views or (lambda problem, views: views)
        self._work_items = work_items or (lambda problem: numel(problem.out_shape))

    def applies(self, problem) -> bool:
        return isinstance(problem, self.problem_types)

    def space(self, problem, device) -> dict:
        return {"local": [s for s in LOCAL_SIZES if s <= device.max_work_group_size]}

    def default(self, problem, device) -> dict:
        return {"local": min(64, device.max_work_group_size)}

    def render(self, problem, params: dict, views: list[View], lang: str) -> KernelSource:
        views = self._adapt_views(problem, list(views))
        return KernelSource.make(self.name, self.template, lang, problem, params, views,
                                 self._work_items(problem), params["local"],
                                 op=getattr(problem, "op", "copy"),
                                 act_=getattr(problem, "act", ()))
