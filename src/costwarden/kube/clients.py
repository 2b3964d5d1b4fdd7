"""Building the Kubernetes API clients the adapters use, with credentials found as a
controller finds them.

In the order of controller-runtime's `GetConfig` (kubectl's, with the pod's own service
account in it), the first that applies:

1. `--kubeconfig PATH`;
2. the `KUBECONFIG` environment variable: files separated by `:` (`;` on Windows), merged
   as kubectl merges them; names of missing files are skipped, as kubectl skips them;
3. the pod's service account, inside a pod (`KUBERNETES_SERVICE_HOST` is set);
4. `~/.kube/config`.

`--kube-context` picks a context of the kubeconfig instead of its `current-context`.
Whatever goes wrong reading them is one `ConfigurationError` line naming the file, never a
traceback. Tokens a kubeconfig's auth plugin refreshes are not written back to the file.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

# The client ships no type hints; mypy --strict would flag every call into it.
_config: Any = config

IN_CLUSTER_HOST = "KUBERNETES_SERVICE_HOST"
"""Set by the kubelet in every container: the service account applies."""
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
"""Where the kubelet mounts the pod's service account token and the cluster's CA."""


class ConfigurationError(Exception):
    """No usable credentials; the message is one line naming the file or variable."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where the API server is and how to authenticate to it."""

    configuration: Any
    """A `kubernetes.client.Configuration` of its own (the client's global default is
    left alone)."""
    source: str
    """Where they came from, for the log: `kubeconfig /path (context c)`, `service
    account`."""

    @property
    def host(self) -> str:
        host: str = self.configuration.host
        return host


@dataclass(frozen=True, slots=True)
class Clients:
    core_v1: Any
    apps_v1: Any


def find_credentials(
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
    environ: Mapping[str, str],
    home: Path,
    service_account: Path = SERVICE_ACCOUNT,
) -> Credentials:
    """The first credentials that apply (module docstring); raises `ConfigurationError`."""
    if kubeconfig is not None:
        if not kubeconfig.is_file():
            raise ConfigurationError(f"--kubeconfig {kubeconfig}: no such file")
        return _from_kubeconfig(str(kubeconfig), context=context, shown=str(kubeconfig))
    listed = environ.get("KUBECONFIG", "")
    if listed:
        files = [f for f in listed.split(os.pathsep) if f]
        if not any(Path(f).expanduser().is_file() for f in files):
            raise ConfigurationError(f"KUBECONFIG={listed}: names no file that exists")
        return _from_kubeconfig(listed, context=context, shown=f"KUBECONFIG={listed}")
    if environ.get(IN_CLUSTER_HOST) and context is None:
        configuration = client.Configuration()
        loader = _config.incluster_config.InClusterConfigLoader(
            token_filename=str(service_account / "token"),
            cert_filename=str(service_account / "ca.crt"),
            environ=environ,
        )
        try:
            # Re-reads the token as the kubelet rotates it (bound tokens last an hour).
            loader.load_and_set(configuration)
        except ConfigException as exc:
            raise ConfigurationError(f"the pod's service account: {_one_line(exc)}") from None
        return Credentials(configuration=configuration, source="service account")
    default = home / ".kube" / "config"
    if default.is_file():
        return _from_kubeconfig(str(default), context=context, shown=str(default))
    raise ConfigurationError(
        "no Kubernetes credentials: give --kubeconfig, set KUBECONFIG, run in a pod with a "
        f"service account, or create {default}"
        + (" (--kube-context needs a kubeconfig)" if context is not None else "")
    )


def connect(credentials: Credentials) -> Clients:
    """Clients on `credentials` (no request is sent until an adapter makes one)."""
    api = client.ApiClient(credentials.configuration)
    return Clients(core_v1=client.CoreV1Api(api), apps_v1=client.AppsV1Api(api))


def _from_kubeconfig(files: str, *, context: str | None, shown: str) -> Credentials:
    configuration = client.Configuration()
    try:
        _config.load_kube_config(
            config_file=files,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, yaml.YAMLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"kubeconfig {shown}: {_one_line(exc)}") from None
    if not configuration.host or configuration.host == client.Configuration().host:
        raise ConfigurationError(f"kubeconfig {shown}: its cluster names no server")
    # Checked now: a CA or client certificate that does not load would otherwise fail
    # every request later, one retried traceback each, in the watch threads.
    try:
        checked = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"kubeconfig {shown}: its certificate-authority does not load: {_one_line(exc)}"
        ) from None
    if configuration.cert_file or configuration.key_file:
        try:
            checked.load_cert_chain(configuration.cert_file or "", configuration.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"kubeconfig {shown}: its client-certificate and client-key do not load "
                f"as a pair: {_one_line(exc)}"
            ) from None
    picked = f" (context {context})" if context is not None else ""
    return Credentials(configuration=configuration, source=f"kubeconfig {shown}{picked}")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"not YAML: {exc.problem} at line {exc.problem_mark.line + 1}"
    if isinstance(exc, KeyError):
        return f"missing key {exc}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
