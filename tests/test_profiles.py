"""Vendor profiles from the identity strings real devices report (tests/real_devices.py), and
the search spaces and defaults they shape. The kernels a GPU profile picks are run here on
PoCL: what they compute does not depend on the device that runs them."""
from __future__ import annotations

import functools
import json
import os

import pytest
from real_devices import FIXTURES, device, with_limits

from boda import kernels
from boda.devices import list_devices
from boda.devices.profiles import adreno_model, amd_gfx, cpu_vector_registers, mali_model
from boda.frontend import zoo
from boda.ir.numpy_reference import max_rel_error, random_inputs, reference
from boda.plan import plan_model
from boda.tuner.db_keys import device_identity
from boda.tuner.measure import run_problem
from boda.tuner.tune import model_tasks


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f["name"])
def test_identity_strings_give_the_family_architecture_and_generation(fixture):
    dev = device(fixture)
    profile = dev.profile
    assert dev.family == profile.family == fixture["expect"]["family"]
    for key, value in fixture["expect"].items():
        assert getattr(profile, key) == value, key


def test_parsers_read_what_drivers_write():
    assert adreno_model("OpenCL C 2.0 Adreno(TM) 640") == 640
    assert adreno_model("QUALCOMM Adreno(TM)") is None  # old drivers: only the version says
    assert adreno_model("FD618") == 618
    assert amd_gfx("gfx90a") == "gfx90a" and amd_gfx("gfx1100") == "gfx1100"
    assert amd_gfx("Radeon RX 570 Series (POLARIS10, DRM 3.26.0)") is None
    assert mali_model("Mali-G57 MC2 r0p1") == ("G", 57)
    assert mali_model("Mali-T860") == ("T", 860)
    pocl = "OpenCL 3.0 PoCL HSTR: pthread-{}-unknown-linux-gnu-{}"
    assert cpu_vector_registers(pocl.format("x86_64", "znver3"), 8) == 16  # AVX2
    assert cpu_vector_registers(pocl.format("x86_64", "skylake-avx512"), 16) == 32
    assert cpu_vector_registers(pocl.format("x86_64", "generic"), 4) == 16  # SSE
    assert cpu_vector_registers(pocl.format("aarch64", "cortex-a53"), 4) == 32  # NEON
    assert cpu_vector_registers(pocl.format("x86_64", "generic"), 1) == 0  # unknown


def test_adreno_models_with_one_device_name_are_different_architectures():
    """Qualcomm's older drivers call every GPU "QUALCOMM Adreno(TM)": the lookup chain's
    architecture level must not serve an Adreno 505's winners to an Adreno 650."""
    a650, a505 = (device(f) for f in FIXTURES[:3:2])
    assert a650.name == a505.name
    assert device_identity(a650)["arch"] != device_identity(a505)["arch"]
    assert device_identity(a650)["vendor_key"] == device_identity(a505)["vendor_key"]
    other_phone = device(FIXTURES[0], driver_version="another build", compute_units=4)
    assert device_identity(other_phone)["arch"] == device_identity(a650)["arch"]


def test_fp16_comes_from_the_extension_or_the_compute_capability():
    assert device(FIXTURES[0]).profile.fp16
    assert not device(FIXTURES[0], extensions="cl_khr_fp64").profile.fp16
    assert not list_devices()[0].profile.fp16  # PoCL's CPU device reports no cl_khr_fp16
    rtx = next(f for f in FIXTURES if f["name"] == "NVIDIA GeForce RTX 3050 Laptop GPU")
    nvidia = device(rtx, backend="cuda", compute_capability="8.6")
    assert nvidia.profile.fp16 and nvidia.profile.arch == "sm_86"
    assert not device(rtx, backend="cuda", compute_capability="5.0").profile.fp16


@functools.lru_cache(maxsize=None)
def squeezenet_tasks():
    return model_tasks(plan_model(zoo.build("squeezenet1_1", batch=1), None))


@pytest.mark.parametrize("fixture", with_limits(), ids=lambda f: f["name"])
def test_spaces_and_defaults_follow_the_profile(fixture):
    """On every SqueezeNet problem, each family the profile allows has a default inside its
    space; GPU work-groups are at least a subgroup and within the device's limit; vector
    widths are the profile's; Mali gets no local-memory staging."""
    dev = device(fixture)
    profile = dev.profile
    for task in squeezenet_tasks():
        families = kernels.families_for(task.problem, task.consts, dev)
        assert families and all(profile.suits(f.name) for f in families)
        for family in families:
            space = family.space(task.problem, dev)
            default = family.default(task.problem, dev)
            assert family.contains(task.problem, dev, default), (family.name, default)
            sizes = space.get("local", [])
            assert all(s <= dev.max_work_group_size for s in sizes)
            if profile.is_gpu:
                assert all(s >= profile.subgroup for s in sizes)
            assert set(space.get("vw", [])) <= set(profile.vector_widths) | {8, 16}
            if profile.family == "mali":
                assert space.get("lmem", [0]) == [0]
    if profile.family == "mali":
        conv = next(t.problem for t in squeezenet_tasks() if t.problem.kind == "conv")
        assert "conv_splitk" not in {f.name for f in kernels.families_for(conv, None, dev)}


SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tuning_db")
# the zoo models (and batches) the shipped files were tuned on
SHIPPED_MODELS = (("squeezenet1_1", 1), ("squeezenet1_0", 1), ("mobilenet", 1),
                  ("resnet18", 1), ("squeezenet1_1", 8))


def shipped_model_tasks() -> dict:
    """Signature -> Task of every layer of the models the shipped files were tuned on."""
    return {t.problem.signature: t for m, batch in SHIPPED_MODELS
            for t in model_tasks(plan_model(zoo.build(m, batch=batch), None))}


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(SHIPPED) if f.endswith(".json")))
def test_the_cpu_profile_keeps_the_spaces_pocl_was_tuned_in(name):
    """Every winner shipped for PoCL is still a point of its family's space on the device
    that tuned it (else the runtime would ignore it) and is served there at the exact level;
    none is of a template that has changed since (its time no longer holds: such winners
    are pruned from the shipped file). A group of layers side by side is recorded for its
    members' kernels: each member is served exactly that kernel there."""
    from boda.devices import Device
    from boda.kernels import side_by_side
    from boda.kernels.selection import Lookup
    from boda.kernels.side_by_side import SideBySide
    from boda.kernels.templating import template_hash
    from boda.tuner.database import shipped_databases
    from boda.tuner.db_keys import KEY_COLUMNS
    with open(os.path.join(SHIPPED, name)) as f:
        data = json.load(f)
    [row] = data["devices"]
    # the device that tuned them (not this machine's, whose CPU may differ)
    cpu = Device(index=0, global_mem=row["global_mem"],
                 **{k: row[k] for k in KEY_COLUMNS if k != "compute_capability"})
    winners = {w["problem"]: w for w in data["winners"] if w["family"] != "side_by_side"}
    groups = [w for w in data["winners"] if w["family"] == "side_by_side"]
    lookup = Lookup(shipped_databases())
    served = 0
    tasks = shipped_model_tasks()
    for t in tasks.values():
        w = winners.get(t.problem.signature)
        if w is None:
            continue
        family = kernels.BY_NAME[w["family"]]
        assert family.contains(t.problem, cpu, json.loads(w["params"])), w
        assert w["template_hash"] == template_hash(family.template), (
            f"{w['family']} changed since tuning_db/{name} was made: prune it "
            "(tuning_db/README.md)")
        assert lookup.choose(t.problem, cpu, t.consts)[2] == "exact"
        served += 1
    assert served == len(winners) > 0
    for w in groups:
        assert w["template_hash"] == side_by_side.VERSION, w
        members = []
        for part in SideBySide.parts_of(w["problem"]):
            t = tasks[part.split(" ")[0]]
            family, params, _, _ = lookup.choose(t.problem, cpu, t.consts)
            members.append((t.problem, family, params))
        assert SideBySide.of(members).signature == w["problem"], "a member's kernel changed"
        assert lookup.side_by_side(members, cpu)[1] == "exact"


@pytest.mark.parametrize("name", ["QUALCOMM Adreno(TM)", "Mali-G71", "gfx1010"])
def test_gpu_profile_defaults_compute_correctly(name):
    """The kernels the Adreno, Mali and AMD profiles choose untuned (work-groups of whole
    waves, their vector widths) give the reference's answers, run on PoCL."""
    from boda.runtime.backends import backend_for
    pocl = list_devices()[0]
    backend = backend_for(pocl)
    fixture = next(f for f in FIXTURES if f["name"] == name)
    dev = device(fixture, compute_units=fixture.get("compute_units", 4),
                 max_work_group_size=fixture.get("max_work_group_size", 256))
    seen = set()
    for task in squeezenet_tasks()[:12]:
        family, params = kernels.default_choice(task.problem, dev, task.consts)
        if (family.name, task.problem.kind) in seen:
            continue
        seen.add((family.name, task.problem.kind))
        inputs = random_inputs(task.problem, seed=3)
        out = run_problem(task.problem, inputs, dev, family, params, backend=backend)
        err = max_rel_error(out, reference(task.problem, *inputs))
        assert err <= family.tolerance, (family.name, params, err)


def accumulator_vectors(family, params) -> int:
    """The vector registers a conv default's accumulator tile takes."""
    if family.name == "conv_k1":
        return params["tm"] * (params["tp"] // params["vw"])
    return (params["tm"] // params["vw"]) * params.get("tp", params.get("tw", 1))


@pytest.mark.parametrize("fixture", [f for f in with_limits() if f.get("kind") == "cpu"],
                         ids=lambda f: f["version"].rsplit("-", 1)[-1])
def test_cpu_defaults_leave_registers_for_the_operands(fixture):
    """On a CPU core the untuned tiles of conv_gemm, conv_k1 and conv_direct_tiled hold at
    most half the vector registers in accumulators (three quarters for conv_k1's widest
    layers), whatever the register file: 32 with AVX-512, 16 with AVX2. Tiles sized for
    AVX-512 spilled on an AVX2 core (Zen 3) and ran 1.5-3x slower. The AVX-512 defaults are
    the ones measured in sequence there."""
    dev = device(fixture)
    registers = dev.profile.registers
    assert registers in (16, 32)
    seen = 0
    for name in ("squeezenet1_1", "resnet18", "mobilenet"):
        for task in model_tasks(plan_model(zoo.build(name, batch=1), None)):
            for family in kernels.families_for(task.problem, task.consts, dev):
                if family.name not in ("conv_gemm", "conv_k1", "conv_direct_tiled"):
                    continue
                params = family.default(task.problem, dev)
                limit = registers * 3 // 4 if family.name == "conv_k1" else registers // 2
                assert accumulator_vectors(family, params) <= limit, (family.name, params)
                seen += 1
    assert seen > 50
    if registers == 32:  # the AVX-512 defaults measured on PoCL in sequence
        k1 = kernels.BY_NAME["conv_k1"]
        classifier = next(t.problem for t in squeezenet_tasks()
                          if t.problem.kind == "conv" and t.problem.m == 1000)
        assert {k: v for k, v in k1.default(classifier, dev).items()
                if k in ("tm", "tp", "vw")} == {"tm": 12, "tp": 32, "vw": 16}


@pytest.mark.parametrize("fixture", [f for f in with_limits() if f.get("kind") == "cpu"],
                         ids=lambda f: f["version"].rsplit("-", 1)[-1])
def test_deep_layers_on_7_wide_maps_run_whole_rows_on_cpu_threads(fixture):
    """ResNet-18's last stage (3x3, 512 channels, 7x7; with and without the fused residual
    Add): on CPU threads with AVX2's 16 registers the untuned kernel is conv_direct_tiled,
    one whole row x one vector of channels (Zen 3: 2.5-2.8 ms a layer against conv_gemm's
    3.8-4.8); with AVX-512's 32 it is conv_gemm's tile (Zen 5: 0.81-0.90 ms against the
    whole row's 1.18) over a panel of pixel tiles, conv_gemm_panel, since its 9.4 MB of
    filters come from memory inside runs (Intel Xeon, the three layers in runs 0.92-0.95x
    conv_gemm's time: benchmarks/layers_in_runs.py). The strided layer into the 7x7 stage keeps
    conv_gemm, measured faster there, and its 14x14 stage runs the same family with and
    without the residual (a family that takes the residual takes it in its epilogue:
    conv_winograd by the estimate)."""
    dev = device(fixture)
    assert dev.profile.registers in (16, 32), fixture["version"]
    by_size = {}
    for task in model_tasks(plan_model(zoo.build("resnet18", batch=1), None)):
        p = task.problem
        if p.kind == "conv" and p.kernel == (3, 3):
            family, params = kernels.default_choice(p, dev, task.consts)
            by_size.setdefault((p.in_size, p.stride, p.residual), set()).add(
                (family.name, params.get("tw"), params.get("tm") == params.get("vw")))
    last_stage = by_size[(7, 7), (1, 1), False] | by_size[(7, 7), (1, 1), True]
    if dev.profile.registers == 16:
        assert last_stage == {("conv_direct_tiled", 7, True)}
    else:
        assert {f for f, _, _ in last_stage} == {"conv_gemm_panel"}
    assert ({f for f, _, _ in by_size[(14, 14), (1, 1), True]}
            == {f for f, _, _ in by_size[(14, 14), (1, 1), False]})
    assert {f for f, _, _ in by_size[(14, 14), (2, 2), False]} == {"conv_gemm"}


@pytest.mark.parametrize("fixture", [f for f in with_limits() if f.get("kind") == "cpu"],
                         ids=lambda f: f["version"].rsplit("-", 1)[-1])
def test_winograd_gemm_tiles_follow_the_register_file(fixture):
    """conv_winograd's untuned GEMM tile on SqueezeNet 1.1's 3x3 layers: with AVX2's 16
    registers two vectors of channels x 4 tiles, half the registers (Zen 3: 1.1-1.25x faster
    than 1 x 4; its outputs live across barriers, in memory on PoCL, so they are not
    counted); with AVX-512's 32 one vector x 7 tiles (a plane's tiles are a multiple of 7),
    as measured on Zen 4. Both inside the family's space."""
    dev = device(fixture)
    family = kernels.BY_NAME["conv_winograd"]
    tiles = set()
    for task in squeezenet_tasks():
        p = task.problem
        if p.kind == "conv" and family.applies(p):
            params = family.default(p, dev)
            assert family.contains(p, dev, params), params
            tiles.add((params["tm"] // params["vw"], params["tp"]))
    # their planes hold 28x28, 14x14 and 7x7 tiles
    assert tiles == ({(2, 4)} if dev.profile.registers == 16 else {(1, 7)})


def test_whole_row_tiles_are_for_cpu_threads_only():
    """A GPU (and llvmpipe, whose lanes are work-items) keeps its choice on those layers."""
    last = next(t for t in model_tasks(plan_model(zoo.build("resnet18", batch=1), None))
                if t.problem.kind == "conv" and t.problem.in_size == (7, 7)
                and t.problem.kernel == (3, 3))
    gpus = [f for f in with_limits() if f.get("kind", "gpu") == "gpu"]
    assert gpus
    for fixture in gpus:
        family, params = kernels.default_choice(last.problem, device(fixture), last.consts)
        assert (family.name, params.get("tw")) != ("conv_direct_tiled", 7), fixture["name"]
