"""Tuning and running on a device attached to another machine, through `boda agent`.

    on the target:       boda agent --token T [--host 0.0.0.0] [--port 7070]
    on the workstation:  boda tune --model F --device adreno --remote HOST:7070 --token T

    protocol.py  the wire format (JSON headers, raw array bytes)
    agent.py     the server, on the target
    client.py    the connection, the agent's devices and the tokens, on the workstation
(runtime/backends/remote.py is the backend over that connection.) The tuning database stays
on the workstation, keyed by the remote device's own identity, so winners tuned remotely
serve the same device wherever it is attached.
"""
from __future__ import annotations

from .client import TOKEN_ENV, remote_devices, token_for, use_token
from .protocol import RemoteError

__all__ = ["RemoteError", "TOKEN_ENV", "remote_devices", "token_for", "use_token"]
