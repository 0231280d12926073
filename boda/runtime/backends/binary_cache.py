"""The on-disk cache of compiled kernels that every backend shares: where it lives, and
writes that a kill or a concurrent writer can never leave torn.

    $BODA_CACHE_DIR/<backend>/..., else ~/.cache/boda/<backend>/...

CUDA keeps cubins there (nvrtc.py), OpenCL program binaries, or on PoCL the sources
its own cache holds the code of (opencl_build.py).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def cache_dir(backend: str) -> Path:
    root = os.environ.get("BODA_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "boda"
    return Path(root) / backend


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def write(path: Path, data: bytes) -> bool:
    """Write whole (a temporary file renamed into place); False if the cache cannot be
    written (read-only, full): that costs only the next compile."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        return False

