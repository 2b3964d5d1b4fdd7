"""Runtime settings of `costwarden serve`, grouped, documented, loaded once and passed down.

Sources, later wins: defaults < environment (`COSTWARDEN_<FIELD>`, e.g.
`COSTWARDEN_WEBHOOK_PORT`) < command-line flags. No module-level instance: the CLI builds
one and hands it to `app.create_app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from costwarden import labels

StaleBehaviour = Literal["deny", "warn", "allow"]
LookupFailure = Literal["deny", "warn", "allow"]
LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseModel):
    # Attribute docstrings become field descriptions: `costwarden serve --help` shows them.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    # --- where policy comes from
    policies: tuple[Path, ...] = ()
    """Policy files or directories. Empty: the bundled policies, the packaged copy of the
    repository's `policies/`."""
    catalogs: tuple[Path, ...] = ()
    """Extra price catalogs, each overriding/extending the bundled one in order."""
    namespace_labels_file: Path | None = None
    """Namespace labels instead of watching the cluster: a map `{namespace: {label: value}}`
    or Namespace objects as `kubectl get namespaces -o yaml` prints them."""
    reload_interval_seconds: float = Field(default=5.0, gt=0)
    """How often mounted policy/catalog files are checked for change. ConfigMap volume
    updates land within about a minute; 5 s keeps the extra delay small for a stat() call."""

    # --- serving
    host: str = "0.0.0.0"
    """Address both ports listen on (all interfaces: the Service and kubelet probes reach it)."""
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    """HTTPS port the API server calls (the Service targets it)."""
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    """Plain-HTTP port for /metrics, /healthz, /readyz; 0 disables it."""
    metrics_host: str | None = None
    """Address the metrics port listens on, when not `host`'s: `127.0.0.1` keeps it inside
    the pod (for a proxy sidecar that serves it over TLS), an interface's address keeps it
    to that network. Kubelet probes and Prometheus reach a pod by its IP, so in a cluster it
    must include the pod's (the chart leaves it unset: all interfaces)."""
    tls_cert_file: Path | None = None
    """Serving certificate chain (PEM), e.g. a mounted Secret's `tls.crt`."""
    tls_key_file: Path | None = None
    """Serving certificate and key (PEM). Both required for `serve` unless `insecure_http`."""
    tls_reload_interval_seconds: float = Field(default=10.0, gt=0)
    """How often the certificate files are checked for rotation."""
    insecure_http: bool = False
    """Serve the webhook over plain HTTP (local demos only; the API server requires HTTPS)."""
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """A new connection must finish its TLS handshake within this, and then send a
    request's complete headers within this again; so must each later request on a
    kept-alive connection, counted from its first byte. Then the connection is closed.
    The API server sends a review in one go and waits at most 30 s for the answer."""
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    """A request's body must arrive in full within this once its headers have, or the
    connection is closed (a 6 MiB review takes milliseconds inside a cluster)."""
    max_connections: int = Field(default=0, ge=0)
    """Connections the webhook port holds open at once (0: the process's open-file limit,
    RLIMIT_NOFILE, less what the rest of the process needs; a larger value is lowered to
    that). Past it, new connections wait in the listen backlog until one closes, and one
    log line says so; the header and body timeouts free the slots stalled clients hold."""
    shutdown_timeout_seconds: float = Field(default=20.0, gt=0)
    """After SIGTERM: how long reviews in flight may take to finish before every
    connection still open is closed and the process exits. Idle kept-alive connections
    close at once. Keep it under the pod's terminationGracePeriodSeconds less its preStop
    sleep (the chart: 30 − 5 s)."""

    # --- cluster and spend data
    in_cluster: bool = False
    """Watch namespaces (and workloads for Scale requests) through the Kubernetes API.
    Credentials, the first that applies: `kubeconfig`, the `KUBECONFIG` variable, the pod's
    service account (inside a pod), `~/.kube/config` — controller-runtime's order."""
    kubeconfig: Path | None = None
    """A kubeconfig file to reach the API server with, as kubectl's `--kubeconfig`: serve
    outside a cluster against any API server. Implies `in_cluster`."""
    kube_context: str | None = None
    """The kubeconfig context to use instead of its `current-context`. Implies
    `in_cluster`."""

    @model_validator(mode="before")
    @classmethod
    def _kubeconfig_implies_the_cluster(cls, values: Any) -> Any:
        # `serve --kubeconfig FILE` alone must talk to the cluster the file names.
        if isinstance(values, dict) and (values.get("kubeconfig") or values.get("kube_context")):
            if values.get("in_cluster") in (False, "false"):
                raise ValueError(
                    "--kubeconfig and --kube-context reach a cluster: they cannot go with "
                    "--no-in-cluster (COSTWARDEN_IN_CLUSTER=false)"
                )
            values = {**values, "in_cluster": True}
        return values

    scale_lookup_failure: LookupFailure = "deny"
    """What a Scale (`kubectl scale`, an autoscaler) that adds pods does when its workload
    cannot be read to price it — the lookup timed out or was refused, or there is no
    `--in-cluster` to ask: deny, warn or allow (allowed with a notice). Default deny, fail
    closed: an unpriced scale-up is never charged to a budget (the pods it adds are charged
    with their workload, not on their own), and its GPUs per workload are checked late if
    at all — at a Deployment's ReplicaSet, whose denial the user who scaled never sees.
    Lookups rarely fail (the API server asking is up; the chart grants the read) and a
    retry, or an autoscaler's next sync, gets through; scale-downs need no lookup. `warn`
    keeps scale-ups flowing when that matters more than the caps."""
    prometheus_url: str | None = None
    """Prometheus-compatible HTTP API for spend (Prometheus, Thanos, Mimir, VictoriaMetrics).
    None: budget rules see no spend data and behave as their stale-data setting says."""

    @field_validator("prometheus_url")
    @classmethod
    def _queryable(cls, url: str | None) -> str | None:
        # Refused at start: a URL no request can be sent to would leave every budget stale.
        if url is None:
            return url
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError for a port out of range)
        except ValueError as exc:
            raise ValueError(f"{url!r} is not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        return url

    spend_refresh_seconds: float = Field(default=30.0, gt=0)
    """Background spend refresh interval: well under Prometheus' 1-min scrape."""
    spend_timeout_seconds: float = Field(default=5.0, gt=0)
    """Timeout of one Prometheus query; the refresh runs in the background, never blocking."""
    spend_stale_after_seconds: float = Field(default=300.0, gt=0)
    """Spend older than this is stale: five missed refreshes plus scrape jitter."""
    spend_source: Literal["costwarden", "opencost"] = "costwarden"
    """Default spend queries of budget rules whose `spend.source` names none: costwarden's
    own pod cost exporter (needs `--in-cluster` on the webhook) or OpenCost's metrics."""

    budget_stale_default: StaleBehaviour = "warn"
    """How a budget rule with no `onStaleData` of its own behaves when spend data is stale."""
    budget_replicas: int = Field(default=1, ge=1)
    """Webhook replicas sharing the budgets (a count; set it to the Deployment's maximum
    replicas). Each replica's reservation ledger is in memory and may reserve at most
    1/N of a group's headroom (cap − spent − committed run-rate) until spend data shows
    what it admitted: N replicas together never reserve more than the headroom. Default
    1: one replica may use all the headroom, so with R replicas a burst can overshoot by
    up to (R − 1) × headroom. The price of N > 1: a burst served by one replica admits
    at most 1/N of the headroom until its reservations expire (10 min)."""

    log_level: LogLevel = "info"
    """Logging threshold; denials and reload failures log at info and error."""

    # --- admission behaviour (added by the webhook)
    trusted_controllers: tuple[str, ...] = ()
    """Users (`userInfo.username`, exact names) whose owner references are believed besides
    Kubernetes' own controllers (kube-controller-manager and its controllers' service
    accounts, always trusted). From anyone else an owner reference is a claim: the object
    is judged and charged itself. Empty by default; an operator's service account belongs
    here only if what it makes is priced when its own object is admitted."""
    cost_centre_label: str = labels.COST_CENTRE
    """Label naming an object's cost centre: copied from the namespace, and the
    `cost_centre` dimension of the cost metrics."""
    team_label: str = labels.TEAM
    """Label naming an object's team: copied from the namespace, and the `team` dimension."""
    propagate_cost_labels: bool = True
    """/mutate copies the two labels above from the namespace onto pods and workloads that
    lack them, so reports group by cost centre even when manifests forget to."""
    max_request_bytes: int = Field(default=6 * 1024 * 1024, gt=0)
    """Largest AdmissionReview body accepted (HTTP 413 above). etcd caps an object at
    1.5 MiB and a review carries object and oldObject, JSON-escaped: 6 MiB leaves headroom."""
    cost_metric_max_series: int = Field(default=2000, gt=0)
    """Distinct label sets the admitted-cost metrics keep before folding new ones into
    `other`: bounds Prometheus memory whatever namespaces and labels users invent."""


ENV_PREFIX = "COSTWARDEN_"
LIST_SEPARATOR = ","
"""Separates the items of a list field in the environment (`COSTWARDEN_POLICIES=a,b`)."""
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the flag or variable to fix."""


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def is_list(field: str) -> bool:
    return Settings.model_fields[field].annotation in (tuple[Path, ...], tuple[str, ...])


def is_switch(field: str) -> bool:
    return Settings.model_fields[field].annotation is bool


def load(*, flags: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Defaults < `COSTWARDEN_*` environment < flags (None or absent: not given).

    Raises `SettingsError` naming the flag and variable of every invalid value.
    """
    values: dict[str, Any] = {}
    for field in Settings.model_fields:
        raw = environ.get(env_name(field))
        if raw is None:
            continue
        if is_list(field):
            values[field] = tuple(item for item in raw.split(LIST_SEPARATOR) if item)
        elif is_switch(field):
            word = raw.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise SettingsError(f"{env_name(field)}={raw!r}: expected true or false")
            values[field] = word in TRUE_WORDS
        else:
            values[field] = raw
    for field, value in flags.items():
        if field in Settings.model_fields and value is not None:
            values[field] = tuple(value) if is_list(field) else value
    try:
        return Settings(**values)
    except ValidationError as exc:
        reasons = []
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            where = f"{flag_name(field)} / {env_name(field)}" if field else "settings"
            reasons.append(f"{where}: {error['msg']}")
        raise SettingsError("; ".join(reasons)) from None
