"""Tuning and running on a device attached to another machine, through `boda agent`.

    on the target:       boda agent --token T [--host 0.0.0.0] [--port 7070]
    on the workstation:  boda tune --model F --device adreno --remote HOST:7070 --token T

agent.py is the server, protocol.py the wire format, and boda/backends/remote.py the client
backend. The tuning database stays on the workstation, keyed by the remote device's own
identity, so winners tuned remotely serve the same device wherever it is attached.
"""
from __future__ import annotations

import os

from .protocol import RemoteError

TOKEN_ENV = "BODA_AGENT_TOKEN"
_TOKENS: dict[str, str] = {}


def use_token(address: str, token: str | None):
    """Remember the token for an agent (the CLI's --token); None leaves $BODA_AGENT_TOKEN."""
    if token:
        _TOKENS[address] = token


def token_for(address: str) -> str:
    token = _TOKENS.get(address) or os.environ.get(TOKEN_ENV)
    if not token:
        raise RemoteError(f"no token for the agent at {address}: give --token or set "
                          f"{TOKEN_ENV}")
    return token


def remote_devices(address: str, token: str | None = None) -> list:
    """The devices the agent at `address` serves, as Devices whose backend is remote."""
    from ..backends.remote import list_remote_devices
    use_token(address, token)
    return list_remote_devices(address, token_for(address))


__all__ = ["RemoteError", "TOKEN_ENV", "remote_devices", "token_for", "use_token"]
