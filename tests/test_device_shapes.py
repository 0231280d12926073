"""Defaults and spaces valid for every device shape: for every problem of every zoo model,
on synthetic devices (preferred vector width 1 to 16, work-groups of 64 to 4096, local
memory from none to 1 MiB, CPU and GPU kinds, an unknown vendor) and on every real-device
fixture, each family that applies has its default inside its own space, and the runtime
finds a kernel for every layer."""
from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from real_devices import FIXTURES
from real_devices import device as fixture_device

from boda import kernels
from boda.devices import Device
from boda.frontend import zoo
from boda.plan import plan_model


@functools.lru_cache(maxsize=None)
def zoo_problems() -> tuple:
    problems = {}
    for name in zoo.MODELS:
        for step in plan_model(zoo.build(name)).steps:
            problems.setdefault(step.problem, None)
    return tuple(problems)


def synthetic(vector_width, max_group, local_kib, kind, vendor) -> Device:
    return Device(index=0, backend="opencl", platform="Synthetic", name=f"{vendor} {kind}",
                  vendor=vendor, version="OpenCL 1.2", driver_version="1.0",
                  opencl_c_version="OpenCL C 1.2", kind=kind, compute_units=8,
                  global_mem=1 << 30, local_mem=local_kib * 1024,
                  max_work_group_size=max_group, vector_width=vector_width)


def defaults_outside_their_space(device) -> list[str]:
    bad = []
    for problem in zoo_problems():
        applicable = kernels.families_for(problem, None, device)
        for family in applicable:
            params = family.default(problem, device)
            if not family.contains(problem, device, params):
                bad.append(f"{family.name} {params} on {problem.signature}")
        try:
            family, params = kernels.default_choice(problem, device)
        except LookupError:
            bad.append(f"no kernel for {problem.signature}")
    return bad


@settings(max_examples=40, deadline=None)
@given(vector_width=st.sampled_from([1, 2, 4, 8, 16]),
       max_group=st.sampled_from([64, 256, 1024, 4096]),
       local_kib=st.sampled_from([0, 16, 32, 48, 64, 1024]),
       kind=st.sampled_from(["cpu", "gpu"]),
       vendor=st.sampled_from(["Acme Silicon", "NVIDIA Corporation", "Advanced Micro Devices",
                               "ARM", "QUALCOMM", "Intel(R) Corporation"]))
def test_synthetic_devices(vector_width, max_group, local_kib, kind, vendor):
    device = synthetic(vector_width, max_group, local_kib, kind, vendor)
    bad = defaults_outside_their_space(device)
    assert not bad, f"{len(bad)} defaults outside their space; first: {bad[0]}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f["name"])
def test_real_device_fixtures(fixture):
    device = fixture_device(fixture)
    bad = defaults_outside_their_space(device)
    assert not bad, f"{len(bad)} defaults outside their space; first: {bad[0]}"
