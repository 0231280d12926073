"""`boda agent` and `--remote`, end to end over loopback with PoCL as the remote device: tuning
through the agent gives what tuning here gives, and a wrong token, an oversized message,
garbage bytes, a silent peer and a killed agent each get a clear error and lose nothing."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import onnx
import pytest

from boda.devices import list_devices
from boda.errors import CompileError
from boda.remote import RemoteError, remote_devices
from boda.remote.agent import Agent
from boda.remote.client import Connection, RemoteRunError
from boda.remote.protocol import HEAD, MAGIC, receive, send
from boda.runtime.backends.remote import RemoteBackend
from boda.tuner.database import TuningDB
from conftest import assert_one_line_error, boda, ort_run

TOKEN = "test-token-0123"


def start_agent(*extra):
    """A `boda agent` process on a free port; returns (process, "127.0.0.1:PORT")."""
    proc = subprocess.Popen([sys.executable, "-m", "boda.cli", "agent", "--port", "0",
                             "--token", TOKEN, *extra], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    line = proc.stderr.readline()
    assert "listening on" in line, line
    address = line.split("listening on ")[1].split(",")[0]
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain its log
    return proc, address


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture(scope="module")
def agent():
    proc, address = start_agent()
    yield address
    stop(proc)


@pytest.fixture
def small_agent():
    """An agent in this process with a 1 MiB message limit and a 1 s idle timeout."""
    server = Agent("127.0.0.1", 0, TOKEN, max_payload=1 << 20, idle_timeout=1.0,
                   log=lambda msg: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.address
    server.shutdown()
    server.server_close()


def raw(address):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def hello(sock, token=TOKEN, device=0):
    send(sock, {"op": "hello", "token": token, "version": 1, "device": device})
    return receive(sock)[0]


def test_the_remote_device_has_the_local_identity(agent):
    [remote] = [d for d in remote_devices(agent, TOKEN)]
    local = list_devices()[0]
    assert remote.remote == agent and remote.name == local.name
    from boda.tuner.db_keys import device_identity
    assert device_identity(remote)["key"] == device_identity(local)["key"]


def test_tune_and_run_through_the_agent_match_a_local_run(agent, tiny, tmp_path):
    """The same tune (model, budget, seed) here and through the agent: both databases hold one
    device with the same key and a winner for every problem; each run serves every layer from
    its database at the exact level, and gives onnxruntime's answer."""
    remote_db, local_db = tmp_path / "remote.sqlite", tmp_path / "local.sqlite"
    # 20 s: at 10 the conv's last batch could run past the budget through the agent on a
    # slow machine (a Zen 3), so the pool's turn never came
    common = ["--model", tiny, "--budget", 20, "--workers", 1, "--quiet", "--device", "cpu"]
    res = boda("tune", *common, "--db", remote_db, "--remote", agent, "--token", TOKEN)
    assert res.returncode == 0, res.stderr
    res = boda("tune", *common, "--db", local_db)
    assert res.returncode == 0, res.stderr
    dbs = [TuningDB(p) for p in (remote_db, local_db)]
    keys = [[r["key"] for r in db.db["devices"].rows] for db in dbs]
    assert len(keys[0]) == 1 and keys[0] == keys[1]
    winners = [{r["problem"] for r in db.db["winners"].rows} for db in dbs]
    assert winners[0] == winners[1] and len(winners[0]) >= 2
    assert all(db.db["trials"].count >= len(winners[0]) for db in dbs)

    x = np.random.default_rng(5).standard_normal((1, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    outs = []
    for where, db in (("remote", remote_db), ("local", remote_db), ("local", local_db)):
        out = tmp_path / f"{where}-{db.stem}.npy"
        extra = ["--remote", agent, "--token", TOKEN] if where == "remote" else []
        res = boda("run", "--model", tiny, "--input", tmp_path / "x.npy", "--db", db,
                   "--output", out, "--explain", *extra)
        assert res.returncode == 0, res.stderr
        assert "chosen by: 4 exact" in res.stdout, res.stdout
        outs.append(np.load(out))
    np.testing.assert_array_equal(outs[0], outs[1])  # the same kernels on the same device
    [expected] = ort_run(onnx.load(tiny), {"x": x})
    for out in outs:
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_bench_through_the_agent(agent, tiny, tmp_path):
    res = boda("bench", "--model", tiny, "--against", "onnxruntime", "--repeat", 3,
               "--remote", agent, "--token", TOKEN, "--untuned")
    assert res.returncode == 0, res.stderr
    [ort] = [line for line in res.stdout.splitlines() if line.startswith("| onnxruntime |")]
    assert float(ort.strip("| ").split("|")[-1]) < 1e-4  # the agent's outputs are right
    assert f"reached through `boda agent` at {agent}" in res.stdout


def test_a_wrong_or_missing_token_is_refused(agent, tiny):
    assert_one_line_error(boda("run", "--model", tiny, "--remote", agent, "--token", "nope"),
                          "refused", "wrong or missing token")
    env = {k: v for k, v in os.environ.items() if k != "BODA_AGENT_TOKEN"}
    res = subprocess.run([sys.executable, "-m", "boda.cli", "run", "--model", str(tiny),
                          "--remote", agent], capture_output=True, text=True, env=env)
    assert_one_line_error(res, "no token", "--token")
    with raw(agent) as sock:  # the refusal comes before any device is touched
        reply = hello(sock, token="")
        assert not reply["ok"] and "token" in reply["error"]


def test_bad_addresses_and_absent_agents_are_one_line(tiny):
    assert_one_line_error(boda("run", "--model", tiny, "--remote", "nohost", "--token", "t"),
                          "HOST:PORT")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    assert_one_line_error(boda("run", "--model", tiny, "--remote", f"127.0.0.1:{port}",
                               "--token", "t"), "cannot reach a boda agent")


def test_oversized_and_garbage_messages_are_refused_and_the_agent_goes_on(small_agent):
    with raw(small_agent) as sock:
        assert hello(sock)["ok"]
        sock.sendall(HEAD.pack(MAGIC, 10, 2 << 20))  # announces 2 MiB: over the limit
        reply = receive(sock)[0]
        assert not reply["ok"] and "over the limit" in reply["error"]
        assert sock.recv(1) == b""  # and the agent closed this connection
    with raw(small_agent) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = receive(sock)[0]
        assert not reply["ok"] and "not a boda message" in reply["error"]
    with raw(small_agent) as sock:  # a JSON header that is not an object
        data = b"[1, 2]"
        sock.sendall(HEAD.pack(MAGIC, len(data), 0) + data)
        assert "not a JSON object" in receive(sock)[0]["error"]
    conn = Connection(small_agent, TOKEN, device=0)  # still serving
    with pytest.raises(RemoteError, match="over the agent's limit"):  # refused before sending
        conn.request({"op": "upload", "buffer": 1}, b"\0" * (2 << 20))
    assert conn.request({"op": "alloc", "nelems": 4})["buffer"] >= 1
    conn.close()


def test_requests_that_fail_get_error_replies_and_the_session_goes_on(small_agent):
    be = RemoteBackend.__new__(RemoteBackend)
    be.conn = Connection(small_agent, TOKEN, device=0)
    with pytest.raises(CompileError, match="OpenCL build failed"):
        be.compile("__kernel void f(__global float* x) { x[0] = undefined_name; }")
    with pytest.raises(RemoteError, match="unknown request 'exec'"):
        be.conn.request({"op": "exec", "command": "ls"})
    with pytest.raises(RemoteError, match="no buffer 99"):
        be.conn.request({"op": "download", "buffer": 99, "nelems": 4})
    with pytest.raises(RemoteError, match="only -D and -cl- build options"):
        be.compile("__kernel void f() {}", ("-I/etc",))
    program = be.compile("__kernel void twice(__global float* x) "
                         "{ x[get_global_id(0)] *= 2.0f; }")
    buf = be.alloc(8)
    x = np.arange(8, dtype=np.float32) - 3.5
    be.upload(buf, x)
    kern = be.kernel(program, "twice", [buf])
    with pytest.raises(RemoteRunError):  # a local size that does not divide: the launch fails
        be.launch(kern, 8, 3)
    be.record([(kern, 8, 4)])()
    out = np.empty(8, np.float32)
    be.download(buf, out)
    np.testing.assert_array_equal(out, 2 * x)
    [times] = be.time_sequence([(kern, 8, 4)], 1)
    assert len(times) == 1 and times[0] > 0
    be.conn.close()


def test_timeouts_on_both_ends(small_agent):
    with raw(small_agent) as sock:  # a client that says nothing is disconnected
        sock.settimeout(10)
        t0 = time.time()
        assert sock.recv(1) == b"" and time.time() - t0 < 8
    silent = socket.socket()  # an "agent" that accepts and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    with pytest.raises(RemoteError, match="did not answer a hello request in time"):
        Connection(address, TOKEN, timeout=1.0)
    silent.close()


def _trial_count(path) -> int:
    try:
        with sqlite3.connect(path) as c:
            return c.execute("select count(*) from trials").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_killed_agent_stops_tuning_in_one_line_and_a_rerun_resumes(tiny, tmp_path):
    proc, address = start_agent()
    db_path = tmp_path / "k.sqlite"
    args = ["tune", "--model", tiny, "--db", db_path, "--quiet", "--workers", 1,
            "--remote", address, "--token", TOKEN]
    tune = subprocess.Popen([sys.executable, "-m", "boda.cli", *map(str, args), "--budget",
                             "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while _trial_count(db_path) < 3 and time.time() < deadline and tune.poll() is None:
        time.sleep(0.1)
    stop(proc)
    out, err = tune.communicate(timeout=300)
    seen = _trial_count(db_path)
    assert seen >= 3
    assert tune.returncode == 1 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and "agent" in err, err
    db = TuningDB(db_path)
    causes = [r["cause"] for r in db.db["trials"].rows]
    assert not any("agent" in c or "connection" in c for c in causes), causes  # none blamed
    db.close()

    proc, address = start_agent()
    try:
        res = boda(*args[:-4], "--remote", address, "--token", TOKEN, "--budget", 10)
    finally:
        stop(proc)
    assert res.returncode == 0, res.stderr
    assert TuningDB(db_path).db["trials"].count >= seen
    recorded = sum(int(row.split()[-1].split("+")[1]) for row in res.stdout.splitlines()
                   if "+" in (row.split() or [""])[-1])
    assert recorded >= 1, res.stdout  # the rerun found the first run's trials
