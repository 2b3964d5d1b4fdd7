"""Runtime settings of `costwarden serve`, grouped, documented, loaded once and passed down.

Sources, later wins: defaults < environment (`COSTWARDEN_<FIELD>`, e.g.
`COSTWARDEN_WEBHOOK_PORT`) < command-line flags. No module-level instance: the CLI builds
one and hands it to `app.create_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StaleBehaviour = Literal["deny", "warn", "allow"]
LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- where policy comes from
    policies: tuple[Path, ...] = ()
    """Policy files or directories. Empty: the policies bundled with costwarden."""
    catalogs: tuple[Path, ...] = ()
    """Extra price catalogs, each overriding/extending the bundled one in order."""
    namespace_labels_file: Path | None = None
    """YAML `{namespace: {label: value}}` used instead of watching the cluster."""
    reload_interval_seconds: float = Field(default=5.0, gt=0)
    """How often mounted policy/catalog files are checked for change. ConfigMap volume
    updates land within about a minute; 5 s keeps the extra delay small for a stat() call."""

    # --- serving
    host: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    """HTTPS port the API server calls (the Service targets it)."""
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    """Plain-HTTP port for /metrics, /healthz, /readyz; 0 disables it."""
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    """Serving certificate and key (PEM). Both required for `serve` unless `insecure_http`."""
    tls_reload_interval_seconds: float = Field(default=10.0, gt=0)
    """How often the certificate files are checked for rotation."""
    insecure_http: bool = False
    """Serve the webhook over plain HTTP (local demos only; the API server requires HTTPS)."""

    # --- cluster and spend data
    in_cluster: bool = False
    """Watch namespaces (and workloads for Scale requests) through the Kubernetes API."""
    prometheus_url: str | None = None
    """Prometheus-compatible HTTP API for spend (Prometheus, Thanos, Mimir, VictoriaMetrics).
    None: budget rules see no spend data and behave as their stale-data setting says."""
    spend_refresh_seconds: float = Field(default=30.0, gt=0)
    """Background spend refresh interval: well under Prometheus' 1-min scrape."""
    spend_timeout_seconds: float = Field(default=5.0, gt=0)
    spend_stale_after_seconds: float = Field(default=300.0, gt=0)
    """Spend older than this is stale: five missed refreshes plus scrape jitter."""

    budget_stale_default: StaleBehaviour = "warn"
    """How a budget rule with no `onStaleData` of its own behaves when spend data is stale."""

    log_level: LogLevel = "info"

    # --- admission behaviour (added by the webhook)
    cost_centre_label: str = "cost-centre"
    """Label naming an object's cost centre: copied from the namespace, and the
    `cost_centre` dimension of the cost metrics."""
    team_label: str = "team"
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
