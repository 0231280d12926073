"""The README's install as a user does it: the wheel built from this tree, installed into a
fresh virtual environment (no editable install, no system site-packages), and the commands a
user runs first, from outside the source tree. A module missing from the wheel fails here."""
from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin directory of a fresh venv holding boda's wheel, the wheel's path)."""
    work = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(work / "dist"), ROOT], check=True, timeout=600)
    [wheel] = (work / "dist").glob("boda-*.whl")
    venv.create(work / "venv", with_pip=True)
    bindir = work / "venv" / "bin"
    res = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-2000:]
    return bindir, wheel


def test_wheel_holds_every_subpackage_and_the_data(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, _, files in os.walk(os.path.join(ROOT, "boda")):
        if "__init__.py" in files:
            rel = os.path.relpath(folder, ROOT)
            assert f"{rel}/__init__.py" in names, f"{rel} is missing from the wheel"
    templates = [f for f in os.listdir(os.path.join(ROOT, "templates")) if f.endswith(".j2")]
    assert templates and all(f"boda/templates/{t}" in names for t in templates)
    shipped = [f for f in os.listdir(os.path.join(ROOT, "tuning_db")) if f.endswith(".json")]
    assert shipped and all(f"boda/shipped_tuning/{s}" in names for s in shipped)


def test_first_commands_from_the_installed_wheel(installed, tmp_path):
    bindir, _ = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["BODA_DB"] = str(tmp_path / "tuning.sqlite")

    def run(*args):
        res = subprocess.run([str(bindir / "boda"), *map(str, args)], capture_output=True,
                             text=True, cwd=tmp_path, env=env, timeout=900)
        assert res.returncode == 0, f"boda {' '.join(map(str, args))}: {res.stderr[-2000:]}"
        return res.stdout

    where = subprocess.run([str(bindir / "python"), "-c", "import boda; print(boda.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env).stdout
    assert where.startswith(str(bindir.parent)), f"boda imported from {where}, not the venv"
    assert "tune" in run("--help")
    assert "squeezenet1_1" in run("zoo", "--list")
    run("zoo", "squeezenet1_1", "-o", "m.onnx")
    assert "top-5 [0]:" in run("run", "--model", "m.onnx")
    out = run("tune", "--model", "m.onnx", "--budget", "20")
    assert "winner" in out.lower() or "tuned" in out.lower(), out
    assert "--token" in run("agent", "--help")
    assert "cpu" in run("devices")
