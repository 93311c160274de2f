"""What an FL server's processes may see of the environment: an allow-list, on both backends.

The registry's own environment holds the admin token and the database URL. Whatever the
FL server has, Flower's SuperLink, its SuperExec and the ServerApp (which runs a task's
strategy code) inherit, so an FL server must never be started with the registry's
environment: it gets the variables named here and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

__all__ = [
    "INHERITED_NAMES",
    "SECRET_NAMES",
    "SERVER_NAMES",
    "inherited_environment",
    "secret_environment",
    "server_environment",
]

logger = logging.getLogger(__name__)

# What the registry sets per server (registry/server_environment.py) or a provisioner adds; each one
# is read by fedops-server (flserver/) or the ServerApp it starts.
SERVER_NAMES = frozenset(
    {
        "FEDOPS_TASK_ID",  # whose server this is
        "FEDOPS_TASK_NAME",
        "FEDOPS_API_URL",  # the registry, for the run controller and model versions
        "FEDOPS_MONITORING_URL",  # where round reports go
        "FEDOPS_SERVER_DATA_DIR",  # the task's volume
        "FEDOPS_FLEET_HOST",  # interface and port of the fleet proxy
        "FEDOPS_FLEET_PORT",
        "FEDOPS_FLEET_TLS_CERT",  # paths of the fleet port's certificate, key and CA
        "FEDOPS_FLEET_TLS_KEY",
        "FEDOPS_FLEET_TLS_CA",
        "FEDOPS_SUPERNODE_AUTH",  # admit only enrolled SuperNodes' keys
        "FEDOPS_ROUND_TIMEOUT_SECONDS",  # how long a round waits for replies
        "FEDOPS_WAIT_FOR_CLIENTS_SECONDS",  # how long a run waits for its first client
    }
)
# Flower's own knobs (FLWR_HOME, FLWR_TELEMETRY_ENABLED, ...): no fedops credential has
# this prefix, and operators tune Flower with them.
FLOWER_PREFIX = "FLWR_"

# The server's credential; a Secret on Kubernetes, a 0600 file locally.
SECRET_NAMES = frozenset({"FEDOPS_SERVER_TOKEN"})

# Taken over from the registry's environment by the local provisioner, which runs the
# server as a process of this machine:
INHERITED_NAMES = frozenset(
    {
        "PATH",  # the server finds flower-superlink and flower-superexec
        "HOME",  # Python and Flower resolve ~ (FLWR_HOME itself is set per task)
        "LANG",  # text encoding of logs and file names
        "LANGUAGE",
        "TZ",  # log timestamps in the operator's zone
        "TMPDIR",  # where temporary files may go on this machine
        # The server command is `python -m fedops_services.flserver`: when the registry runs
        # from a source tree (PYTHONPATH), the server must import the same code.
        "PYTHONPATH",
        "SSL_CERT_FILE",  # a private CA for an HTTPS registry URL
        "SSL_CERT_DIR",
    }
)
INHERITED_PREFIXES = ("LC_", FLOWER_PREFIX)  # locale categories; Flower's knobs


def inherited_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of this machine's environment a local FL server may inherit."""
    return {
        name: value
        for name, value in environ.items()
        if name in INHERITED_NAMES or name.startswith(INHERITED_PREFIXES)
    }


def server_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` restricted to what an FL server reads; anything else is dropped (and logged,
    by name only: it is a bug in whatever built it)."""
    kept = {
        name: value for name, value in env.items() if name in SERVER_NAMES or name.startswith(FLOWER_PREFIX)
    }
    _log_dropped(env, kept, "environment")
    return kept


def secret_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` restricted to the server's own credential."""
    kept = {name: value for name, value in env.items() if name in SECRET_NAMES}
    _log_dropped(env, kept, "secret environment")
    return kept


def _log_dropped(env: Mapping[str, str], kept: Mapping[str, str], what: str) -> None:
    dropped = sorted(set(env) - set(kept))
    if dropped:
        logger.warning("not passing %s to an FL server's %s: not on its allow-list", ", ".join(dropped), what)
