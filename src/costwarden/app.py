"""The composition root: builds the webhook's parts and wires adapters into the engine's ports.

`create_app(settings, *, namespaces=..., spend=..., ...)` builds everything from settings;
tests pass real-but-local adapters instead of patching globals. `Serving` runs the result:
the admission app over HTTPS (our own `SSLContext`, re-loaded on certificate rotation)
and the operations app over plain HTTP, both uvicorn servers on one event loop, with the
background loops that re-load files and certificates.

```
kube-apiserver --HTTPS--> /validate, /mutate --> Admission --> engine.evaluate / repair
                                                   |  ports: namespaces, clock, spend,
                                                   |         workloads, reservations
                                                   |  policies: the files' set + the
                                                   |            cluster's PolicyExceptions
Prometheus ---HTTP-----> /metrics, /readyz, /healthz
background: policies/catalog/namespace files (reload on change), TLS files (rotation)
```
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import logging
import os
import re
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import prometheus_client
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from costwarden import metrics, reviews, tls
from costwarden import workloads as workload_kinds
from costwarden.api import namespace_files, routes
from costwarden.api import serving as webserver
from costwarden.api.admitting import Admission, CostLabels, Evaluator, Repairer
from costwarden.api.batching import Batches
from costwarden.api.reloading import Reloadable, Status
from costwarden.catalog.loading import load_catalog
from costwarden.catalog.models import Catalog
from costwarden.documents import InvalidInput, Problem
from costwarden.engine import evaluating
from costwarden.engine.contexts import Context, StaticNamespaces
from costwarden.engine.ports import (
    EMPTY_SPEND,
    Clock,
    DraObjects,
    NamespaceLabels,
    SpendSource,
    WorkloadLookup,
)
from costwarden.engine.verdicts import Repair, Verdict
from costwarden.estimating import indexes as estimating_indexes
from costwarden.kube import clients as kube_clients
from costwarden.kube import dra as kube_dra
from costwarden.kube import exceptions as kube_exceptions
from costwarden.kube import namespaces as kube_namespaces
from costwarden.kube import nodes as kube_nodes
from costwarden.kube import pods as kube_pods
from costwarden.kube import workloads as kube_workloads
from costwarden.memos import Memos
from costwarden.metrics import SpendMetrics
from costwarden.policies import loading as policy_loading
from costwarden.policies import models as policy_models
from costwarden.policies.sets import PolicySet
from costwarden.reservations.ledger import ReservationLedger
from costwarden.settings import Settings
from costwarden.spend import queries as budget_queries
from costwarden.spend import watched_pods
from costwarden.spend.prometheus import PrometheusClient
from costwarden.spend.queries import BudgetQuery
from costwarden.spend.snapshots import SpendRefresher
from costwarden.spend.watched_pods import PodCostTracker, Recall

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 60
"""The API server keeps idle webhook connections ~90 s; reusing them saves a handshake
per review. uvicorn's default (5 s) would close most of them between bursts."""
OPERATIONS_KEEP_ALIVE_SECONDS = 5
OPERATIONS_MAX_CONNECTIONS = 32
"""Connections the operations port holds at once: kubelet probes and a Prometheus or two
need a handful; the rest of the open-file limit is the webhook's."""


class StartupError(Exception):
    """The server could not start (a port in use, an address not available)."""


class NamespaceSource(NamespaceLabels, Protocol):
    """A `NamespaceLabels` adapter that can say whether it has loaded yet (/readyz)."""

    def ready(self) -> bool: ...


class ExceptionSource(Protocol):
    """Approved PolicyExceptions from beside the policy files: the cluster's, watched
    (`kube.exceptions`)."""

    def exceptions(self) -> Sequence[policy_models.PolicyException]:
        """The approved exceptions now: a new object whenever they change and the same one
        while they do not, so the policy set they join is rebuilt on a change only."""
        ...

    def ready(self) -> bool:
        """Whether they have loaded (shown by /readyz)."""
        ...


class PoliciesWithExceptions:
    """The live policy set with the approved exceptions beside the files' own: what each
    review is judged by. Rebuilt when the files' set or the exceptions change (by identity),
    never per review."""

    def __init__(self, policies: Reloadable[PolicySet], exceptions: ExceptionSource) -> None:
        self._policies = policies
        self._exceptions = exceptions
        # The set built, with the two it was built from: held, so their identities stay theirs.
        self._memo: tuple[PolicySet, Sequence[policy_models.PolicyException], PolicySet] | None
        self._memo = None

    @property
    def current(self) -> PolicySet:
        files, approved = self._policies.current, self._exceptions.exceptions()
        memo = self._memo  # one read: another thread may swap it meanwhile
        if memo is not None and memo[0] is files and memo[1] is approved:
            return memo[2]
        combined = files.with_exceptions(approved) if approved else files
        self._memo = (files, approved, combined)
        return combined


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    """Everything `Serving` runs: the two ASGI apps and what they read."""

    settings: Settings
    admission: FastAPI
    registry: CollectorRegistry
    metrics: metrics.AdmissionMetrics
    namespaces: NamespaceSource
    exceptions: ExceptionSource | None = None
    """The cluster's approved PolicyExceptions (`--in-cluster`)."""
    dra: kube_dra.DraCache | None = None
    """The cluster's DRA objects pods' claims name (`--in-cluster`), for /readyz and the pod
    cost exporter (`pod_tracker`)."""
    nodes: kube_nodes.NodeCache | None = None
    """The cluster's nodes' pricing labels (`--in-cluster`), for /readyz and the pod cost
    exporter, which prices a running pod on its node (`pod_tracker`)."""
    sources: tuple[Reloadable[Any], ...] = ()
    """Files reloaded while serving (policies, catalogs, namespace labels)."""
    tls: tls.ReloadingContext | None = field(default=None)
    """Set by `Serving` when it serves HTTPS."""
    catalog: Reloadable[Catalog] | None = None
    """The live catalog (the pod cost exporter prices running pods with it)."""
    spend: SpendRefresher | None = None
    """Spend data from Prometheus, refreshed in the background while serving."""
    spend_metrics: SpendMetrics | None = None
    reservations: ReservationLedger | None = None
    """The budget ledger (the pod watch releases a deleted pod's reservation)."""
    recall: Recall | None = None
    """What a pod admitted before this replica started holds in `reservations` (the pod
    watch asks at its first list)."""
    clock: Clock = field(default_factory=SystemClock)
    memos: Memos = field(default_factory=Memos)
    """What the request path memoises (price indexes, priced pods, budget figures)."""
    batches: Batches = field(default_factory=Batches)
    """Answers reviews that arrive together back to back (`Serving` tells it how many
    requests the webhook server has in progress)."""

    @functools.cached_property
    def operations(self) -> FastAPI:
        """The plain-HTTP app: /healthz, /readyz (this app's readiness), /metrics."""
        return routes.operations_app(
            readiness=self.readiness, metrics=lambda: metrics.render(self.registry)
        )

    def pod_tracker(self) -> PodCostTracker | None:
        """What the pod watch feeds (`--in-cluster`): running pods' cost, priced with the
        live catalog and `dra`, each on its node's labels from `nodes` (both as set when
        this is called: `serve` sets them first);
        deleted pods release their reservations, the first list recalls what was admitted
        just before this replica started, and the spend refresh learns each workload's
        pods (a Deployment's release its reservation). None without spend metrics."""
        if self.spend_metrics is None or self.catalog is None:
            return None
        tracker = PodCostTracker(
            estimate=watched_pods.catalog_estimator(self.catalog, dra=self.dra, memos=self.memos),
            namespaces=self.namespaces,
            metrics=self.spend_metrics,
            nodes=self.nodes,
            cost_centre_label=self.settings.cost_centre_label,
            team_label=self.settings.team_label,
            reservations=self.reservations,
            recall=self.recall,
            clock=self.clock.now,
        )
        if self.spend is not None:
            self.spend.watch_workloads(tracker)
        return tracker

    def readiness(self) -> tuple[bool, Mapping[str, Any]]:
        """Ready once every source and the namespace labels have loaded."""
        namespaces_ready = self.namespaces.ready()
        detail: dict[str, Any] = {
            "sources": {
                source.source: _without_directories(asdict(source.status))
                for source in self.sources
            },
            "namespaces": {"ready": namespaces_ready, "adapter": type(self.namespaces).__name__},
        }
        if self.exceptions is not None:
            # Not a readiness condition: until they load, exception labels waive nothing
            # (denials, never an unchecked admission), and a cluster without the CRD (a Helm
            # upgrade does not install crds/) must not take the webhook down.
            detail["exceptions"] = {
                "ready": self.exceptions.ready(),
                "loaded": len(self.exceptions.exceptions()),
                "adapter": type(self.exceptions).__name__,
            }
        if self.dra is not None:
            # Not a readiness condition: until they load, a pod naming a claim is unpriced
            # (its rules say what that does), and a cluster without resource.k8s.io/v1
            # (before Kubernetes 1.34) must not take the webhook down.
            detail["dra"] = {"ready": self.dra.ready(), "loaded": len(self.dra)}
        if self.nodes is not None:
            # Not a readiness condition: until they load, running pods are priced on their
            # spec alone, and admission never reads them.
            detail["nodes"] = {"ready": self.nodes.ready(), "loaded": len(self.nodes)}
        if self.tls is not None:
            detail["tls"] = _without_directories(
                {
                    **asdict(self.tls.status),
                    "files": (str(self.tls.cert_file), str(self.tls.key_file)),
                }
            )
        if self.spend is not None:
            # Not a readiness condition: budget rules degrade per their own setting.
            snapshot = self.spend.snapshot()
            detail["spend"] = {"fetched_at": snapshot.fetched_at, "error": snapshot.error}
        ready = namespaces_ready and all(source.status.loaded for source in self.sources)
        return ready, detail

    def reload_files(self) -> None:
        """One pass over the reloaded files (blocking I/O: run it in a worker thread)."""
        for source in self.sources:
            source.reload_if_changed()


ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/:'\"]+/)*([^\s/:'\"]+)")
"""An absolute file path in a message (not a URL's path: no scheme or host before it)."""


def _without_directories(status: Mapping[str, Any]) -> dict[str, Any]:
    """A status for `/readyz`, which anything that reaches the operations port may read:
    its files named relative to the directory they share (`tls.crt`, `gpu/limits.yaml`),
    the error likewise, and any other absolute path in it cut to its file name — where
    the mounts are is the log's business."""
    shown = dict(status)
    files = [str(file) for file in status.get("files", ())]
    error = status.get("error")
    if files:
        directories = [os.path.dirname(file) for file in files]
        try:
            root = os.path.commonpath(directories) if all(directories) else ""
        except ValueError:  # relative and absolute paths mixed: no shared directory
            root = ""
        if root:
            shown["files"] = tuple(os.path.relpath(file, root) for file in files)
            if error and root != os.sep:
                error = error.replace(root.rstrip(os.sep) + os.sep, "")
        else:
            shown["files"] = tuple(ABSOLUTE_PATH.sub(r"\1", file) for file in files)
    if error:
        shown["error"] = ABSOLUTE_PATH.sub(r"\1", error)
    return shown


def reload_reporter(registry_metrics: metrics.AdmissionMetrics) -> Callable[[Status], None]:
    """A `Reloadable.on_status` that records each load in the reload metrics."""

    def report(status: Status) -> None:
        succeeded = status.error is None
        when = status.loaded_at if succeeded else status.failed_at
        registry_metrics.reloaded(
            source=status.source,
            success=succeeded,
            at_unix_seconds=when.timestamp() if when is not None else 0.0,
        )

    return report


def assemble(
    settings: Settings,
    *,
    evaluate: Evaluator,
    repair: Repairer,
    namespaces: NamespaceSource,
    registry: CollectorRegistry,
    admission_metrics: metrics.AdmissionMetrics,
    sources: Sequence[Reloadable[Any]] = (),
    looks_up_workloads: bool = False,
) -> App:
    """The two apps around the engine's two questions (`create_app` binds the engine)."""
    admission = Admission(
        evaluate=evaluate,
        repair=repair,
        namespaces=namespaces,
        metrics=admission_metrics,
        labels=CostLabels(
            cost_centre=settings.cost_centre_label,
            team=settings.team_label,
            propagate=settings.propagate_cost_labels,
        ),
        looks_up_workloads=looks_up_workloads,
    )
    batches = Batches()
    batches.on_batch = admission_metrics.batch
    return App(
        settings=settings,
        admission=routes.admission_app(
            admission, max_request_bytes=settings.max_request_bytes, batches=batches
        ),
        batches=batches,
        registry=registry,
        metrics=admission_metrics,
        namespaces=namespaces,
        sources=tuple(sources),
    )


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, made as asyncio makes its own: with `IPPROTO_TCP` as its
    protocol, which is what makes asyncio set TCP_NODELAY on accepted connections (without
    it, Nagle's algorithm meets delayed ACKs and every response waits ~40 ms)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise StartupError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    return sock


class Serving:
    """Runs an `App`: HTTPS admission, plain-HTTP operations, reload loops, until stopped."""

    def __init__(self, app: App) -> None:
        settings = app.settings
        self.app = app
        ssl_context: ssl.SSLContext | None = None
        if not settings.insecure_http:
            if settings.tls_cert_file is None or settings.tls_key_file is None:
                raise tls.CertificateError(
                    "--tls-cert-file and --tls-key-file are required (or --insecure-http "
                    "for a local demo: the API server only calls webhooks over HTTPS)"
                )
            app.tls = tls.ReloadingContext(
                cert_file=settings.tls_cert_file, key_file=settings.tls_key_file
            )
            app.metrics.reloaded(
                source="tls", success=True, at_unix_seconds=app.tls.status.loaded_at.timestamp()
            )
            ssl_context = app.tls.context
        limits = webserver.Limits(
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            keep_alive=KEEP_ALIVE_SECONDS,
            max_connections=webserver.connection_limit(
                settings.max_connections,
                others=OPERATIONS_MAX_CONNECTIONS if settings.metrics_port else 0,
            ),
            shutdown_timeout=settings.shutdown_timeout_seconds,
        )
        # Bound here, before anything runs: a port in use is a clean StartupError.
        self.sockets = [_listen(settings.host, settings.webhook_port)]
        if settings.metrics_port:
            try:
                self.sockets.append(
                    _listen(settings.metrics_host or settings.host, settings.metrics_port)
                )
            except StartupError:
                self.sockets[0].close()
                raise
        self.ports: list[int] = [sock.getsockname()[1] for sock in self.sockets]
        self.servers = [
            webserver.Server(app.admission, self.sockets[0], limits=limits, tls=ssl_context)
        ]
        # A task per request in progress, from its headers to its response.
        state = self.servers[0].state
        app.batches.in_progress = lambda: len(state.tasks)
        if settings.metrics_port:
            operations = dataclasses.replace(
                limits,
                keep_alive=OPERATIONS_KEEP_ALIVE_SECONDS,
                max_connections=OPERATIONS_MAX_CONNECTIONS,
            )
            self.servers.append(
                webserver.Server(
                    app.operations, self.sockets[1], limits=operations, name="operations"
                )
            )
        self._started = threading.Event()

    @property
    def webhook_port(self) -> int:
        return self.ports[0]

    @property
    def metrics_port(self) -> int:
        return self.ports[1]

    def wait_started(self, timeout: float) -> bool:
        return self._started.wait(timeout)

    def stop(self) -> None:
        """Stop (from any thread): stop accepting, close idle connections, let requests in
        flight finish within --shutdown-timeout-seconds, then return from `run`."""
        for server in self.servers:
            server.stop()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.stop)
        loop.set_exception_handler(webserver.quiet_transport_errors(self.servers[0].events))
        serving = [asyncio.create_task(server.serve()) for server in self.servers]
        background = [asyncio.create_task(self._reload_files_forever())]
        if self.app.spend is not None:
            self.app.spend.start()
        if self.app.tls is not None:
            background.append(asyncio.create_task(self._reload_tls_forever()))
        while not all(server.started for server in self.servers):
            if any(task.done() for task in serving):  # a port in use, a bad host...
                break
            await asyncio.sleep(0.01)
        else:
            self._started.set()
        try:
            await asyncio.gather(*serving)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if self.app.spend is not None:
                await self.app.spend.stop()
            for sock in self.sockets:
                sock.close()

    async def _reload_files_forever(self) -> None:
        while True:
            await asyncio.sleep(self.app.settings.reload_interval_seconds)
            await asyncio.to_thread(self.app.reload_files)

    async def _reload_tls_forever(self) -> None:
        assert self.app.tls is not None
        last_error: str | None = None
        while True:
            await asyncio.sleep(self.app.settings.tls_reload_interval_seconds)
            # On the event loop on purpose: the context is only ever touched from this
            # thread, between handshakes, never concurrently with one.
            reloaded = self.app.tls.reload_if_changed()
            status = self.app.tls.status
            if reloaded:
                log.info("serving certificate reloaded (%s)", status.fingerprint)
            elif status.error is not None and status.error != last_error:
                log.error(
                    "certificate rotation refused; the previous one keeps serving: %s",
                    status.error,
                )
            last_error = status.error
            self.app.metrics.reloaded(
                source="tls",
                success=status.error is None,
                at_unix_seconds=status.loaded_at.timestamp(),
            )


class StaticNamespaceLabels(StaticNamespaces):
    """Fixed namespace labels (none by default): serving with neither a cluster nor a file."""

    __slots__ = ()

    def ready(self) -> bool:
        return True


def create_app(
    settings: Settings,
    *,
    namespaces: NamespaceSource | None = None,
    exceptions: ExceptionSource | None = None,
    spend: SpendSource | None = None,
    reservations: ReservationLedger | None = None,
    workloads: WorkloadLookup | None = None,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    dra: DraObjects | None = None,
) -> App:
    """The webhook, with the engine bound to the live policies and catalog.

    Raises `documents.InvalidInput` naming file and path when a policy, catalog or
    namespace-labels file is invalid at start: better not to start than to serve a
    policy set nobody wrote.
    """
    registry = registry if registry is not None else CollectorRegistry()
    clock = clock or SystemClock()
    admission_metrics = metrics.AdmissionMetrics(
        registry, cost_series_limit=settings.cost_metric_max_series
    )
    report = reload_reporter(admission_metrics)

    def load_policies(files: Sequence[Path]) -> PolicySet:
        # Configured but empty (an empty ConfigMap) is an error, never "no policies": at
        # start serve refuses to start, at a reload the last good set stays.
        return (
            policy_loading.load_policies(files)
            if settings.policies
            else policy_loading.bundled_policies()
        )

    policies = Reloadable("policies", paths=settings.policies, load=load_policies, on_status=report)
    judged_by: Reloadable[PolicySet] | PoliciesWithExceptions = (
        PoliciesWithExceptions(policies, exceptions) if exceptions is not None else policies
    )
    catalog = Reloadable("catalog", paths=settings.catalogs, load=load_catalog, on_status=report)
    sources: list[Reloadable[Any]] = [policies, catalog]
    if namespaces is None and settings.namespace_labels_file is not None:
        files = Reloadable(
            "namespaces",
            paths=[settings.namespace_labels_file],
            load=namespace_files.load,
            on_status=report,
        )
        sources.append(files)
        namespaces = namespace_files.FileNamespaceLabels(files)
    live_namespaces = namespaces if namespaces is not None else StaticNamespaceLabels()
    spend_metrics = (
        SpendMetrics(registry) if settings.prometheus_url or settings.in_cluster else None
    )
    refresher = None
    if spend is None and settings.prometheus_url is not None:
        reservations = (
            reservations
            if reservations is not None
            else ReservationLedger(headroom_share=Decimal(1) / settings.budget_replicas)
        )
        refresher = SpendRefresher(
            client=PrometheusClient(
                settings.prometheus_url, timeout_seconds=settings.spend_timeout_seconds
            ),
            budgets=_budget_queries(policies.current, source=settings.spend_source),
            clock=clock,
            interval_seconds=settings.spend_refresh_seconds,
            metrics=spend_metrics,
            reservations=reservations,
        )
        policies.subscribe(
            lambda new: refresher.set_budgets(_budget_queries(new, source=settings.spend_source))
        )
        spend = refresher
    spend_stale_after = timedelta(seconds=settings.spend_stale_after_seconds)
    memos = Memos()
    controllers = workload_kinds.BUILT_IN_CONTROLLERS | frozenset(settings.trusted_controllers)

    def context() -> Context:
        return Context(
            namespaces=live_namespaces,
            now=clock.now(),
            spend=spend.snapshot() if spend is not None else EMPTY_SPEND,
            workloads=workloads,
            scale_lookup_failure=settings.scale_lookup_failure,
            reservations=reservations,
            spend_stale_after=spend_stale_after,
            budget_stale_default=settings.budget_stale_default,
            controllers=controllers,
            memos=memos,
            dra=dra,
        )

    def evaluate(request: reviews.AdmissionRequest, *, side_effects: bool) -> Verdict:
        """The engine decides; what an allowed request reserves is held here, never for a
        dry run (`side_effects`), in one step of the ledger that checks it again."""
        verdict = evaluating.evaluate(
            request, policies=judged_by.current, catalog=catalog.current, context=context()
        )
        if not (side_effects and verdict.holds and reservations is not None):
            return verdict
        refused = reservations.commit([hold.reservation for hold in verdict.holds])
        return verdict.refused(refused) if refused else verdict

    def recall(pod: Mapping[str, Any], admitted: datetime) -> int:
        assert reservations is not None  # `recall` is offered only with a ledger
        held = evaluating.recall(
            pod,
            admitted=admitted,
            policies=judged_by.current,
            catalog=catalog.current,
            context=context(),
        )
        return len(held) - len(reservations.commit(held))

    def repair(request: reviews.AdmissionRequest) -> Repair:
        return evaluating.repair(
            request, policies=judged_by.current, catalog=catalog.current, context=context()
        )

    app = assemble(
        settings,
        evaluate=evaluate,
        repair=repair,
        namespaces=live_namespaces,
        registry=registry,
        admission_metrics=admission_metrics,
        sources=sources,
        looks_up_workloads=workloads is not None,
    )
    app.catalog, app.spend, app.spend_metrics = catalog, refresher, spend_metrics
    app.exceptions = exceptions
    app.reservations = reservations
    app.recall = recall if reservations is not None else None
    app.clock = clock
    app.memos = memos
    # A catalog's price index is built as it loads (at start-up, and in the reload thread),
    # not by the first review to need it.
    _index_catalog(catalog.current, memos)
    catalog.subscribe(lambda new: _index_catalog(new, memos))
    return app


def _index_catalog(catalog: Catalog, memos: Memos) -> None:
    estimating_indexes.index(catalog, memos=memos)


def _budget_queries(policies: PolicySet, *, source: budget_queries.Source) -> list[BudgetQuery]:
    """What to fetch from Prometheus for the budget rules; raises InvalidInput for a budget
    grouped by a label the cost metrics do not carry (it could never be checked)."""
    try:
        return budget_queries.for_policies(policies, source=source)
    except ValueError as exc:
        raise InvalidInput([Problem(source="policies", message=str(exc))]) from None


def serve(settings: Settings) -> None:
    """`costwarden serve`: build from settings, serve until SIGTERM/SIGINT.

    Raises `documents.InvalidInput`, `tls.CertificateError` or `StartupError` when it
    cannot start.
    """
    # Each counter's `_created` series would double the cost counters' series (one per
    # label set, up to --cost-metric-max-series) and nothing reads them.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    namespaces: NamespaceSource | None = None
    exceptions: ExceptionSource | None = None
    workloads: WorkloadLookup | None = None
    dra: kube_dra.DraCache | None = None
    nodes: kube_nodes.NodeCache | None = None
    stop = threading.Event()
    if settings.in_cluster:
        try:
            credentials = kube_clients.find_credentials(
                kubeconfig=settings.kubeconfig,
                context=settings.kube_context,
                environ=os.environ,
                home=Path(os.path.expanduser("~")),  # never raises, unlike Path.home()
            )
        except kube_clients.ConfigurationError as exc:
            raise StartupError(str(exc)) from None
        log.info("Kubernetes API %s, credentials from %s", credentials.host, credentials.source)
        clients = kube_clients.connect(credentials)
        cache = kube_namespaces.NamespaceCache()
        kube_namespaces.start_namespace_watch(clients.core_v1, cache, stop=stop)
        namespaces = cache
        approved = kube_exceptions.ExceptionCache()
        kube_exceptions.start_exception_watch(clients.core_v1.api_client, approved, stop=stop)
        exceptions = approved
        workloads = kube_workloads.ClusterWorkloads(clients.apps_v1)
        dra = kube_dra.DraCache()  # the DRA objects pods' claims name, watched
        kube_dra.start_dra_watch(clients.core_v1.api_client, dra, stop=stop)
        nodes = kube_nodes.NodeCache()  # the labels running pods are priced on, watched
        kube_nodes.start_node_watch(clients.core_v1, nodes, stop=stop)
    app = create_app(
        settings, namespaces=namespaces, exceptions=exceptions, workloads=workloads, dra=dra
    )
    app.dra = dra
    app.nodes = nodes
    tracker = app.pod_tracker() if settings.in_cluster else None
    if tracker is not None and nodes is not None:
        threading.Thread(
            target=_watch_pods_once_nodes_listed,
            args=(clients.core_v1, tracker, nodes, stop),
            name="pod-watch-start",
            daemon=True,
        ).start()
    serving = Serving(app)
    settle_heap()
    try:
        asyncio.run(serving.run())
    finally:
        stop.set()


NODE_LIST_WAIT_SECONDS = 30.0
"""How long the pod watch waits for the first node list before it starts anyway: a pod is
priced again only at its next event, so a pod listed before its node would keep its
spec-only figure until then. 30 s is more than listing a few thousand nodes takes; past
it (nodes not readable), pods are priced on their spec alone."""


def _watch_pods_once_nodes_listed(
    core_v1: Any, tracker: PodCostTracker, nodes: kube_nodes.NodeCache, stop: threading.Event
) -> None:
    if not nodes.wait_ready(NODE_LIST_WAIT_SECONDS):
        log.warning(
            "no node list within %.0f s: running pods are priced on their spec alone until "
            "their node is known and they change",
            NODE_LIST_WAIT_SECONDS,
        )
    if not stop.is_set():
        kube_pods.start_pod_watch(core_v1, tracker, stop=stop)


def settle_heap() -> None:
    """Collect start-up's garbage, then take what start-up built — modules, the policy set,
    the catalog and its indexes — out of the cyclic garbage collector's sight (`gc.freeze`).

    Reviews allocate, so the collector runs, and each full collection would walk every one
    of those objects again; under load that showed in the p99 latency (`make bench`).
    Frozen objects are still freed by reference counting; start-up leaves no cyclic
    garbage once collected. Whatever loads later (a reloaded catalog) is collected as usual.
    """
    gc.collect()
    gc.freeze()
