"""Shared fixtures. Tests that need no device live in test_frontend.py / test_planning.py;
everything else runs on the default OpenCL device (PoCL's CPU device on every machine)."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

# Tests never read or write the user's tuning database (subprocesses inherit this).
os.environ["BODA_DB"] = os.path.join(tempfile.mkdtemp(prefix="boda-test-"), "tuning.sqlite")


@pytest.fixture(scope="session")
def device():
    from boda.devices import select_device
    return select_device()


def ort_run(model, feeds):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(out, ref, tol=1e-4):
    """max|out - ref| <= tol * max|ref|, the bar the issue sets against onnxruntime."""
    out, ref = np.asarray(out), np.asarray(ref)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    assert np.all(np.isfinite(out)), "non-finite values in the output"
    scale = float(np.abs(ref).max())
    err = float(np.abs(out.astype(np.float64) - ref).max())
    assert err <= tol * max(scale, 1e-12), f"max|out-ref| = {err:.3g}, max|ref| = {scale:.3g}"
