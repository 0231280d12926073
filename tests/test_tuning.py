"""The tuner and the tuning database on PoCL: trials recorded, verified winners used by the
runtime, planted bad candidates never chosen, resume after SIGKILL, concurrent tuners,
export/import, and bad database files refused without being touched."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import boda
from boda import kernels
from boda.ir.numpy_reference import reference
from boda.ir.problems import Conv
from boda.kernels.selection import Lookup
from boda.kernels.templating import template_hash
from boda.plan import plan_model
from boda.tuner.database import SCHEMA_VERSION, TuningDB, open_databases
from boda.tuner.db_keys import device_identity, params_key
from boda.tuner.measure import run_problem
from boda.tuner.tune import Tuner, model_tasks, tune_tasks
from conftest import assert_close, ort_run
from real_devices import FIXTURES
from real_devices import device as device_like

TESTS = Path(__file__).resolve().parent


def boda_cmd(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "boda.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **kw)


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """1x1 conv (bias, ReLU) -> 3x3 conv: two Problems with small, quick kernels."""
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((16, 8, 1, 1)).astype(np.float32)
    b1 = rng.standard_normal(16).astype(np.float32)
    w2 = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["y"], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "two_convs",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 9, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 9, 9])],
                          inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("tune") / "two_convs.onnx"
    onnx.save(model, path)
    return path


def tasks_of(model_file):
    return model_tasks(plan_model(str(model_file)))


def test_tune_records_trials_and_the_runtime_uses_the_winners(model_file, tmp_path, device):
    db_path = tmp_path / "t.sqlite"
    proc = boda_cmd("tune", "--model", model_file, "--db", db_path, "--budget", 24, "--quiet")
    code, out, err = finish(proc)
    assert code == 0, err
    assert "model (sum of the tuned layers" in out
    db = TuningDB(db_path)
    key = device_identity(device)["key"]
    for task in tasks_of(model_file):
        trials = db.trials(key, task.problem.signature)
        assert len(trials) >= 4
        win = db.winner(key, task.problem.signature)
        assert win is not None
        # the winner is a verified trial, and the fastest of the finalists re-timed
        ok = {(t["family"], t["params"]) for t in trials if t["status"] == "ok"}
        assert (win["family"], win["params"]) in ok
        family, params, level, _ = Lookup(open_databases(db_path)).choose(task.problem,
                                                                          device, task.consts)
        assert (level, family.name, params_key(params)) == ("exact", win["family"],
                                                              win["params"])
    # the runtime uses them, says so, and still matches onnxruntime
    sess = boda.compile(str(model_file), device, db=db_path)
    assert [l.level for l in sess.engine.layers] == ["exact", "exact"]
    x = np.random.default_rng(3).standard_normal((1, 8, 9, 9)).astype(np.float32)
    assert_close(sess.run(None, {"x": x})[0], ort_run(onnx.load(model_file), {"x": x})[0])
    untuned = boda.compile(str(model_file), device, db=False)
    assert [l.level for l in untuned.engine.layers] == ["default", "default"]
    res = subprocess.run([sys.executable, "-m", "boda.cli", "run", "--model", model_file,
                          "--db", db_path, "--explain"], capture_output=True, text=True)
    assert res.returncode == 0 and "2 exact" in res.stdout, res.stdout + res.stderr
    # a second run resumes: nothing is searched again
    code, out, err = finish(boda_cmd("tune", "--model", model_file, "--db", db_path,
                                     "--budget", 10, "--quiet"))
    assert code == 0 and out.count(" db") >= 2, out


def test_planted_wrong_and_hanging_candidates_are_never_chosen(tmp_path, device, monkeypatch):
    import planted_families
    monkeypatch.setenv("BODA_FAMILIES", "planted_families")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get(
        "PYTHONPATH", "")]))
    for f in planted_families.FAMILIES:
        kernels.register(f)
    try:
        problem = Conv(1, 16, 24, (7, 7), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1),
                                     1, True, ("relu",))
        from boda.tuner.tune import Task
        task = Task(problem, frozenset({1, 2}), ["planted"])
        # untuned, the planted wrong family would be used: its estimate is the lowest
        assert kernels.default_choice(problem, device, task.consts)[0].name == "planted_wrong"
        db = TuningDB(tmp_path / "p.sqlite")
        tuner = Tuner(device, db, "guided", chunk=3, timeout=4.0)
        try:
            outcome = tuner.tune(task, budget=15)
        finally:
            tuner.close()
        key = device_identity(device)["key"]
        status = {}
        for t in db.trials(key, problem.signature):
            status.setdefault(t["family"], set()).add(t["status"])
        assert status["planted_wrong"] == {"wrong"}
        assert status["planted_hang"] == {"timeout"}
        assert outcome.family not in ("planted_wrong", "planted_hang")
        family, params, level, _ = Lookup([db]).choose(problem, device, task.consts)
        assert level == "exact" and family.name == outcome.family
        x, w, b = (np.random.default_rng(4).standard_normal(s).astype(np.float32)
                   for s in problem.in_shapes)
        out = run_problem(problem, [x, w, b], device, family, params)
        assert_close(out, reference(problem, x, w, b))
    finally:
        for f in planted_families.FAMILIES:
            kernels.unregister(f.name)


def _trial_count(path):
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("select count(*) from trials").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_keeps_every_committed_trial_and_a_rerun_resumes(model_file, tmp_path):
    db_path = tmp_path / "k.sqlite"
    proc = boda_cmd("tune", "--model", model_file, "--db", db_path, "--budget", 120,
                    "--quiet", start_new_session=True)
    deadline = time.time() + 300
    while _trial_count(db_path) < 8 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    seen = _trial_count(db_path)
    os.killpg(proc.pid, signal.SIGKILL)  # the tuner and its workers
    proc.communicate()
    assert seen >= 8
    db = TuningDB(db_path)  # opens, passes its integrity check
    before = {(r["family"], r["params"], r["problem"]): r["id"] for r in db.db["trials"].rows}
    assert len(before) >= seen
    db.close()
    tuner_db = TuningDB(db_path)
    tasks = tasks_of(model_file)
    from boda.devices import select_device
    tuner = Tuner(select_device(), tuner_db, "guided")
    outcomes = []
    try:
        # on a slow or loaded machine the first Problem can spend the whole budget and the
        # second is left for the next session (not reached): that next session is run here
        for _ in range(3):
            run = tune_tasks(tuner, tasks, budget=12)
            outcomes += run
            if all(o.reached for o in run):
                break
    finally:
        tuner.close()
    assert sum(o.recorded for o in outcomes) >= len(before)
    assert sum(o.duplicates for o in outcomes) == 0  # nothing recorded was measured again
    after = {(r["family"], r["params"], r["problem"]): r["id"] for r in tuner_db.db["trials"].rows}
    assert all(after[k] == v for k, v in before.items())
    assert all(tuner_db.winner(tuner.device_key, t.problem.signature) for t in tasks)


def test_ctrl_c_stops_cleanly_and_keeps_every_trial(model_file, tmp_path):
    db_path = tmp_path / "i.sqlite"
    proc = boda_cmd("tune", "--model", model_file, "--db", db_path, "--budget", 120, "--quiet")
    deadline = time.time() + 300
    while _trial_count(db_path) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    seen = _trial_count(db_path)
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=120)
    assert code == 130, err
    assert "interrupted" in err and "resume" in err and "Traceback" not in err, err
    assert TuningDB(db_path).counts()["trials"] >= seen >= 4


def test_two_tuners_on_one_database_both_finish(model_file, tmp_path):
    db_path = tmp_path / "c.sqlite"
    procs = [boda_cmd("tune", "--model", model_file, "--db", db_path, "--budget", 15,
                      "--quiet", "--workers", 1, "--seed", s) for s in (1, 2)]
    results = [finish(p) for p in procs]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    db = TuningDB(db_path)
    assert db.counts()["winners"] == 2 and db.counts()["trials"] >= 8


def test_export_import_reproduces_winners_without_duplicates(model_file, tmp_path, device):
    src = TuningDB(tmp_path / "src.sqlite")
    tuner = Tuner(device, src, "random", workers=1)
    try:
        tune_tasks(tuner, tasks_of(model_file), budget=6)
    finally:
        tuner.close()
    export = tmp_path / "e.json"
    res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "export", export, "--db",
                          tmp_path / "src.sqlite"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    dst_path = tmp_path / "dst.sqlite"
    for _ in range(2):  # importing twice adds nothing the second time
        res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "import", export,
                              "--db", dst_path], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    dst = TuningDB(dst_path)
    rows = lambda db, t: sorted(json.dumps(r, sort_keys=True) for r in db.export()[t])  # noqa
    for table in ("winners", "trials", "devices", "problems"):
        assert rows(dst, table) == rows(src, table)
    for task in tasks_of(model_file):
        a = Lookup([src]).choose(task.problem, device, task.consts)
        b = Lookup([dst]).choose(task.problem, device, task.consts)
        assert (a[0].name, a[1], a[2]) == (b[0].name, b[1], b[2]) and a[2] == "exact"


def _winner_db(device, problem, family, params, seconds=1e-3, path=None):
    db = TuningDB(path)
    key = db.add_device(device)
    db.set_winner({"device": key, "problem": problem.signature, "dtype": "float32",
                   "family": family.name, "template_hash": template_hash(family.template),
                   "params": params_key(params), "seconds": seconds, "gflops": 1.0,
                   "default_seconds": 2 * seconds})
    return db


def test_a_winners_only_export_leaves_out_groups_whose_members_moved_on(device):
    """A group's winner names its members' kernels; once a member has another winner, the
    lookup never finds the group again, and a winners-only export (what ships) leaves it
    out with its problem row. A full export keeps everything."""
    from boda.kernels.side_by_side import FAMILY, SideBySide
    a = Conv(1, 16, 64, (13, 13), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ())
    b = Conv(1, 16, 64, (13, 13), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True, ())
    gemm = kernels.BY_NAME["conv_gemm"]
    pa, pb = gemm.default(a, device), gemm.default(b, device)
    db = _winner_db(device, a, gemm, pa)
    key = db.add_device(device)

    def win(problem, family, hash_, params):
        db.add_problem(problem)
        db.set_winner({"device": key, "problem": problem.signature, "dtype": "float32",
                       "family": family, "template_hash": hash_, "params": params_key(params),
                       "seconds": 1e-3, "gflops": 1.0, "default_seconds": 2e-3})

    win(b, gemm.name, template_hash(gemm.template), pb)
    served = SideBySide.of([(a, gemm, pa), (b, gemm, pb)])
    moved = SideBySide.of([(a, gemm, pa), (b, gemm, dict(pb, tp=pb["tp"] * 2))])
    for group in (served, moved):
        win(group, FAMILY, "1", {"local": 4})
    full = db.export()
    assert {w["problem"] for w in full["winners"]} == {
        a.signature, b.signature, served.signature, moved.signature}
    shipped = db.export(trials=False)
    assert {w["problem"] for w in shipped["winners"]} == {
        a.signature, b.signature, served.signature}
    assert moved.signature not in {p["signature"] for p in shipped["problems"]}
    assert served.signature in {p["signature"] for p in shipped["problems"]}


def test_lookup_chain_levels_and_stale_templates(device):
    problem = Conv(1, 16, 24, (7, 7), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1),
                                 1, True, ())
    family = kernels.BY_NAME["conv_gemm"]
    params = dict(family.default(problem, device), tp=2)
    assert family.contains(problem, device, params)
    cases = {"exact": device,
             "arch": dataclasses.replace(device, driver_version="other driver"),
             "vendor": dataclasses.replace(device, name="another CPU model")}
    for level, where in cases.items():
        db = _winner_db(where, problem, family, params)
        got = Lookup([db]).choose(problem, device, {1, 2})
        assert (got[0].name, got[1], got[2]) == ("conv_gemm", params, level)
    # another vendor's results are not used
    db = _winner_db(dataclasses.replace(device, vendor="SomeoneElse"), problem, family, params)
    assert Lookup([db]).choose(problem, device, {1, 2})[2] == "default"
    # a winner made with a different template source is never served
    db = _winner_db(device, problem, family, params)
    db.conn.execute("update winners set template_hash = '0000000000000000'")
    assert Lookup([db]).choose(problem, device, {1, 2})[2] == "default"
    # nor one whose parameters are not a valid point of the space here
    db = _winner_db(device, problem, family, dict(params, tm=3))
    assert Lookup([db]).choose(problem, device, {1, 2})[2] == "default"
    # the user's database wins over a shipped one at the same level
    fast = _winner_db(device, problem, family, dict(params, tp=4))
    assert Lookup([fast, _winner_db(device, problem, family, params)]).choose(
        problem, device, {1, 2})[1]["tp"] == 4


def test_a_tune_races_the_kernel_served_before_and_reports_its_time_as_before(device, tmp_path):
    """What the runtime served (here a shipped-like winner, not the untuned default) is
    always a finalist, though the search's space excludes it, and "before" is its time: a
    tune cannot leave a layer slower than it ran."""
    from boda.tuner.strategies import Candidate
    from boda.tuner.tune import Task
    problem = Conv(1, 16, 24, (7, 7), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ())
    family = kernels.BY_NAME["conv_gemm"]
    served = dict(family.default(problem, device), tp=2)
    shipped = _winner_db(device, problem, family, served)
    tuner = Tuner(device, TuningDB(tmp_path / "t.sqlite"), "random", workers=1,
                  lookup=Lookup([shipped]),
                  restrict=lambda c: c.family == "conv_gemm" and c.param_dict != served)
    raced = {}
    real = tuner._rounds
    tuner._rounds = lambda bench, finalists, kept: raced.update(real(bench, finalists, kept)) \
        or raced
    try:
        out = tuner.tune(Task(problem, frozenset({1, 2})), budget=3.0)
    finally:
        tuner.close()
    assert out.served == "exact"
    mine = Candidate.of("conv_gemm", served)
    assert mine in raced and out.before == raced[mine]
    assert out.after == min(raced.values()) <= out.before


def test_a_second_pass_races_again_what_ran_before_the_first(device, tmp_path):
    """By the second pass the first pass's winner is in the database, so the lookup serves
    it; the kernel that ran before the tune (here the untuned default) is raced again all
    the same, and "before" and "after" come from that one race: after <= before."""
    from boda.tuner.strategies import Candidate
    from boda.tuner.tune import Task
    problem = Conv(1, 16, 24, (7, 7), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ())
    family, params = kernels.default_choice(problem, device, frozenset({1, 2}))
    default = Candidate.of(family.name, params)
    tuner = Tuner(device, TuningDB(tmp_path / "t.sqlite"), "random", workers=1, patience=2)
    races, calls = [], []
    real_rounds, real_tune = tuner._rounds, tuner.tune

    def rounds(bench, finalists, kept):
        races.append(real_rounds(bench, finalists, kept))
        return races[-1]

    def tune(task, budget, retune=False, ran=None):
        calls.append(ran)
        return real_tune(task, budget, retune, ran)
    tuner._rounds, tuner.tune = rounds, tune
    try:
        [out] = tune_tasks(tuner, [Task(problem, frozenset({1, 2}))], budget=10)
    finally:
        tuner.close()
    assert calls == [None, (default, "default")]  # a second pass, told what ran first
    assert len(races) == 2 and default in races[1]
    assert out.served == "default" and out.before == races[1][default]
    assert out.after == min(races[1].values()) <= out.before


def test_schema_1_files_and_exports_are_rekeyed_and_keep_everything(tmp_path, device):
    """Schema 1 hashed PoCL's global_mem (the memory free at the time) into the device key.
    Opening such a file, or importing such an export, re-keys it without losing a row; two
    old keys of one device merge, keeping the faster winner."""
    problem = Conv(1, 16, 24, (7, 7), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ())
    family = kernels.BY_NAME["conv_gemm"]
    params = family.default(problem, device)
    path = tmp_path / "v1.sqlite"
    db = TuningDB(path)
    for old, seconds in (("old-key-a", 2e-3), ("old-key-b", 1e-3)):
        db.add_device(device)
        db.conn.execute("update devices set key = ?, global_mem = ? where key = ?",
                        [old, len(old) + seconds, device_identity(device)["key"]])
        db.add_trial({"device": old, "problem": problem.signature, "dtype": "float32",
                      "family": family.name, "template_hash": template_hash(family.template),
                      "params": params_key(dict(params, tp=1 + (seconds < 2e-3))),
                      "status": "ok", "seconds": seconds})
        db.set_winner({"device": old, "problem": problem.signature, "dtype": "float32",
                       "family": family.name, "template_hash": template_hash(family.template),
                       "params": params_key(dict(params, tp=1 + (seconds < 2e-3))),
                       "seconds": seconds, "gflops": 1.0, "default_seconds": 1.0})
    export_v1 = dict(db.export(), schema_version=1)
    db.conn.execute("alter table devices drop column compute_capability")
    db.conn.execute("update meta set value = '1' where key = 'schema_version'")
    db.close()
    for migrated in (TuningDB(path), _import_into(TuningDB(None), export_v1)):
        assert migrated.counts() == {"devices": 1, "problems": 0, "trials": 2, "winners": 1}
        [row] = migrated.db["devices"].rows
        assert row["key"] == device_identity(device)["key"]
        family_, got, level, _ = Lookup([migrated]).choose(problem, device, {1, 2})
        assert level == "exact" and got["tp"] == 2  # the faster of the two winners
    assert TuningDB(path).db["meta"].get("schema_version")["value"] == str(SCHEMA_VERSION)


def _import_into(db, data):
    db.import_(data)
    return db


@pytest.mark.parametrize("content", [b"this is not a database" * 100, "foreign"])
def test_bad_database_files_get_one_line_and_are_left_untouched(tmp_path, model_file,
                                                                content):
    path = tmp_path / "bad.sqlite"
    if content == "foreign":
        with sqlite3.connect(path) as conn:
            conn.execute("create table notes (x text)")
            conn.execute("insert into notes values ('mine')")
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    for args in (["db", "list"], ["run", "--model", model_file],
                 ["tune", "--model", model_file, "--budget", 5]):
        res = subprocess.run([sys.executable, "-m", "boda.cli", *map(str, args), "--db", path],
                             capture_output=True, text=True)
        err = res.stderr.strip()
        assert res.returncode == 1 and len(err.splitlines()) == 1, res.stderr
        assert err.startswith("boda: error:") and "untouched" in err, err
    assert path.read_bytes() == before


def test_import_rejects_what_is_not_an_export(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"hello": 1}))
    res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "import", bad, "--db",
                          tmp_path / "d.sqlite"], capture_output=True, text=True)
    assert res.returncode == 1 and "not a boda tuning-database export" in res.stderr


def test_prune_deletes_results_of_changed_templates(tmp_path, device, model_file):
    path = tmp_path / "pr.sqlite"
    db = TuningDB(path)
    key = db.add_device(device)
    family = kernels.BY_NAME["conv_gemm"]
    current = template_hash(family.template)
    for th, status in ((current, "ok"), (current, "wrong"), ("0" * 16, "ok")):
        db.add_trial({"device": key, "problem": f"p{status}{th}", "dtype": "float32",
                      "family": "conv_gemm", "template_hash": th, "params": "{}",
                      "status": status, "seconds": 1e-3})
    db.close()
    res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "prune", "--db", path],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(r["template_hash"] for r in TuningDB(path).db["trials"].rows) == [current] * 2
    res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "prune", "--failures",
                          "--db", path], capture_output=True, text=True)
    assert [r["status"] for r in TuningDB(path).db["trials"].rows] == ["ok"]
    # db show names every distinct problem and says where its kernel comes from
    res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "show", "--model", model_file,
                          "--db", path], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.count("default") >= 2, res.stdout + res.stderr


def test_prune_keeps_groups_side_by_side_whose_members_are_current(tmp_path, device):
    """A group's result (family side_by_side, the joining code's version as its hash) is
    stale when a member's template changed, which its signature names: prune deletes
    that one and keeps the group whose members are current (it deleted every group)."""
    from boda.ir.problems import Conv
    from boda.kernels import side_by_side as sbs
    path = tmp_path / "g.sqlite"
    db = TuningDB(path)
    key = db.add_device(device)
    a = Conv(1, 16, 64, (13, 13), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ("relu",))
    b = Conv(1, 16, 64, (13, 13), (3, 3), (1, 1), (1, 1), (1, 1), (1, 1), 1, True, ("relu",))
    gemm, k1 = kernels.BY_NAME["conv_gemm"], kernels.BY_NAME["conv_k1"]
    current = sbs.SideBySide.of([(a, k1, {"local": 4}), (b, gemm, {"local": 4})])
    stale = sbs.SideBySide(tuple(current.parts[:1]) + (
        current.parts[1].replace(template_hash(gemm.template), "0" * 16),))
    assert stale.signature != current.signature
    for group in (current, stale):
        db.add_problem(group)
        db.set_winner({"device": key, "problem": group.signature, "dtype": "float32",
                       "family": sbs.FAMILY, "template_hash": sbs.VERSION,
                       "params": '{"local":4}', "seconds": 1e-3})
    db.close()
    res = subprocess.run([sys.executable, "-m", "boda.cli", "db", "prune", "--db", path],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert [r["problem"] for r in TuningDB(path).db["winners"].rows] == [current.signature]


def test_cpu_winners_stay_within_their_vector_register_file(tmp_path):
    """A VM names a Zen 3 (AVX2: 16 registers of 8 floats) and a Zen 4 (AVX-512: 32 of 16)
    alike, "AMD EPYC". A winner tuned on one is served on the other at no level (AVX-512
    tiles spill with AVX2's registers); another AVX-512 CPU gets it at the arch level (same
    name) or the vendor level. A schema-3 file, whose keys ignored the register file, is
    re-keyed when opened."""
    avx512, avx2 = (device_like(f) for f in FIXTURES if f["name"] == "pthread-AMD EPYC")
    assert (avx512.vector_width, avx2.vector_width) == (16, 8)
    problem = Conv(1, 16, 24, (7, 7), (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True, ())
    family = kernels.BY_NAME["conv_gemm"]
    params = dict(family.default(problem, avx2), tp=2)
    assert family.contains(problem, avx512, params) and family.contains(problem, avx2, params)
    served = {  # device -> the level it gets the winner at
        "AVX2 Zen 3": (avx2, "default"),
        "AVX-512, another driver build": (dataclasses.replace(avx512, driver_version="x"),
                                          "arch"),
        "AVX-512, another name": (dataclasses.replace(avx512, name="pthread-AMD Ryzen"),
                                  "vendor")}
    db = _winner_db(avx512, problem, family, params)
    for what, (dev, level) in served.items():
        assert Lookup([db]).choose(problem, dev, {1, 2})[2] == level, what
    path = tmp_path / "v3.sqlite"
    db = _winner_db(avx512, problem, family, params, path=path)
    old = device_identity(avx2)  # as schema 3 keyed both: one arch, one vendor
    db.conn.execute("update devices set arch = ?, vendor_key = ?", [old["arch"],
                                                                    old["vendor_key"]])
    db.conn.execute("update meta set value = '3' where key = 'schema_version'")
    db.conn.commit()
    assert Lookup([db]).choose(problem, avx2, {1, 2})[2] == "arch"  # as schema 3 served it
    db.close()
    migrated = TuningDB(path)
    for what, (dev, level) in served.items():
        assert Lookup([migrated]).choose(problem, dev, {1, 2})[2] == level, what
