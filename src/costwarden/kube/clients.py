"""Building the Kubernetes API clients the adapters use (in-cluster service account)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client, config

# The client ships no type hints; mypy --strict would flag every call into it.
_config: Any = config


@dataclass(frozen=True, slots=True)
class Clients:
    core_v1: Any
    apps_v1: Any


def in_cluster() -> Clients:
    """Clients authenticated as the pod's service account (raises outside a cluster)."""
    _config.load_incluster_config()
    api = client.ApiClient()
    return Clients(core_v1=client.CoreV1Api(api), apps_v1=client.AppsV1Api(api))
