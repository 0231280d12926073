"""The device matrix: the zoo's models against onnxruntime on PoCL at each x86 CPU class
(PoCL's target forced through $BODA_POCL_TARGET, as a host reporting that name would give)
and on Mesa's rusticl (llvmpipe); every kernel family under Oclgrind with its memory,
initialization and data-race checks on. Each configuration runs in its own process (the
device environment is read when OpenCL starts). CI installs rusticl and Oclgrind (.ci/run);
without them those tests are skipped, saying which package is missing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from boda.runtime.backends import pocl_target

TESTS = os.path.dirname(os.path.abspath(__file__))
MATRIX = os.path.join(os.path.dirname(TESTS), "benchmarks", "device_matrix.py")
MODELS = ["squeezenet1_0", "squeezenet1_1", "mobilenet", "resnet18"]
RUSTICL_ICD = "/etc/OpenCL/vendors/rusticl.icd"
OCLGRIND_LIB = "/usr/lib/oclgrind/liboclgrind-rt-icd.so"


def run(script, *args, env=None, timeout=1500):
    return subprocess.run([sys.executable, os.path.join(TESTS, script), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def results(res) -> list[dict]:
    assert res.returncode == 0, res.stderr[-3000:]
    return [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]


def assert_models_match(rows, models=MODELS):
    assert [r["model"] for r in rows] == models
    for r in rows:
        assert r["max_rel_error"] <= 1e-4, r


# One target of each class PoCL's kernel libraries distinguish that an x86-64 machine
# with AVX-512 can execute, and the two names real hosts got wrong (Zen 4, Zen 5).
PICKS = {"sse4": "x86-64-v2", "avx2": "haswell", "avx512": "skylake-avx512",
         "zen4-znver3": "znver3", "zen5-generic": "generic"}


@pytest.mark.slow
@pytest.mark.parametrize("cls", list(PICKS))
def test_pocl_at_every_cpu_class(cls, device):
    if not pocl_target.pocl_pick(device.version):
        pytest.skip("needs PoCL's x86 CPU device")
    pick = PICKS[cls]
    rows = results(run(MATRIX, "--one", "cpu", *MODELS,
                       env={pocl_target.FORCE_ENV: pick}))
    assert_models_match(rows)
    flags = pocl_target.host_flags()
    target, _ = pocl_target.choose(pick, flags)
    assert {r["target"] for r in rows} == {target}
    assert pocl_target.agrees(target, pocl_target.library_variant(flags))


def rusticl_env():
    if not os.path.exists(RUSTICL_ICD):
        pytest.skip("Mesa's rusticl is not installed (apt-get install mesa-opencl-icd)")
    return {"RUSTICL_ENABLE": "llvmpipe"}


@pytest.mark.slow
def test_rusticl_llvmpipe_runs_the_zoo():
    assert_models_match(results(run(MATRIX, "--one", "llvmpipe", *MODELS,
                                    env=rusticl_env())))


@pytest.mark.slow
def test_rusticl_llvmpipe_runs_the_activation_functions():
    """MobileNetV3-small's HardSwish and HardSigmoid are calls of activations.j2's functions,
    built by Mesa's own clang."""
    assert_models_match(results(run(MATRIX, "--one", "llvmpipe", "mobilenet_v3_small",
                                    env=rusticl_env())), ["mobilenet_v3_small"])


@pytest.mark.slow
def test_rusticl_llvmpipe_runs_the_decoders():
    """Resize (by scales and by sizes), ConvTranspose and InstanceNorm built by Mesa's clang."""
    names = ["unet_small", "lraspp_small"]
    assert_models_match(results(run(MATRIX, "--one", "llvmpipe", *names, env=rusticl_env())),
                        names)


@pytest.mark.slow
def test_a_short_tune_on_rusticl(tiny, tmp_path):
    env = rusticl_env()
    res = subprocess.run([sys.executable, "-m", "boda.cli", "tune", "--model", str(tiny),
                          "--device", "llvmpipe", "--budget", "20", "--db",
                          str(tmp_path / "t.sqlite"), "--quiet"], capture_output=True,
                         text=True, timeout=900, env=dict(os.environ, **env))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "llvmpipe" in res.stdout
    shown = subprocess.run([sys.executable, "-m", "boda.cli", "db", "show", "--model",
                            str(tiny), "--device", "llvmpipe", "--db",
                            str(tmp_path / "t.sqlite")], capture_output=True, text=True,
                           timeout=600, env=dict(os.environ, **env))
    assert shown.returncode == 0, shown.stderr
    assert "exact" in shown.stdout  # the winners are keyed on rusticl's own identity


def oclgrind_env(tmp_path, log):
    if not os.path.exists(OCLGRIND_LIB):
        pytest.skip("Oclgrind is not installed (apt-get install oclgrind)")
    vendors = tmp_path / "vendors"
    vendors.mkdir(exist_ok=True)
    (vendors / "oclgrind.icd").write_text(OCLGRIND_LIB + "\n")
    # -cl-opt-disable: Oclgrind 21.10's uninitialized-value checker stops at LLVM's `freeze`
    # instruction, which optimized code contains
    return {"OCL_ICD_VENDORS": str(vendors), "OCLGRIND_DATA_RACES": "1",
            "OCLGRIND_UNINITIALIZED": "1", "OCLGRIND_BUILD_OPTIONS": "-cl-opt-disable",
            "OCLGRIND_LOG": str(log)}


@pytest.mark.slow
def test_every_family_passes_oclgrinds_checks(tmp_path):
    log = tmp_path / "oclgrind.log"
    rows = results(run("oclgrind_families.py", env=oclgrind_env(tmp_path, log)))
    families = {r["family"] for r in rows}
    from boda import kernels
    assert families == {f.name for f in kernels.FAMILIES}  # every family was exercised
    failed = [r for r in rows if r["failed"]]
    assert not failed, failed[:3]
    report = log.read_text() if log.exists() else ""
    assert not report.strip(), report[:3000]


def test_oclgrind_reports_a_planted_overrun(tmp_path):
    """The check above can fail: a kernel that writes one element past its buffer is
    reported in the same log."""
    log = tmp_path / "oclgrind.log"
    res = run("oclgrind_families.py", "--plant-overrun", env=oclgrind_env(tmp_path, log))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Invalid write" in log.read_text()
