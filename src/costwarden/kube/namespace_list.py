"""The cluster's namespaces listed once, read-only: `costwarden check --from-cluster`.

One paginated `list namespaces` (GET only, `limit` and `continue` as `kubectl get` pages),
with the credentials `kube.clients.find_credentials` finds. Whatever fails — the server
unreachable, the credentials refused, no answer in time — is one `ListingFailed` line
naming the server, never a traceback. `costwarden.namespaces.from_list` turns the items
into labels.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from costwarden.kube.clients import Credentials

PAGE_SIZE = 500
"""Namespaces per request (kubectl's `--chunk-size` default)."""


class ListingFailed(Exception):
    """The namespaces could not be listed; the message is one line naming the server."""


def list_namespaces(
    credentials: Credentials, *, page_size: int = PAGE_SIZE, timeout_seconds: float = 30
) -> list[dict[str, Any]]:
    """Every namespace in the cluster, as the API server sends them (plain dicts)."""
    configuration = credentials.configuration
    configuration.retries = 1  # one more try, not urllib3's three: a CI gate says so fast
    core: Any = client.CoreV1Api(client.ApiClient(configuration))
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            response = core.list_namespace(
                limit=page_size,
                _continue=token,
                _preload_content=False,
                _request_timeout=timeout_seconds,
            )
            page = json.loads(response.data)
        except ApiException as exc:
            raise ListingFailed(
                f"cannot list namespaces at {credentials.host} ({credentials.source}): "
                f"{exc.status} {exc.reason}" + _needs(exc.status)
            ) from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ListingFailed(
                f"cannot list namespaces at {credentials.host} ({credentials.source}): "
                f"{_one_line(exc)}"
            ) from None
        found = page.get("items") if isinstance(page, dict) else None
        items.extend(item for item in found or () if isinstance(item, dict))
        metadata = page.get("metadata") if isinstance(page, dict) else None
        token = str((metadata or {}).get("continue") or "") or None
        if token is None:
            return items


def _needs(status: int | None) -> str:
    if status in (401, 403):
        return " (check needs list on namespaces, read-only)"
    return ""


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the real cause
    text = " ".join(str(reason if reason is not None else exc).split())
    return text or type(exc).__name__
