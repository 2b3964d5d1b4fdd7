"""A real Prometheus for the spend tests: seeded history, stop/restart, and a fault proxy.

- The seeded history (OpenMetrics, one sample a minute) is turned into TSDB blocks with
  `promtool tsdb create-blocks-from openmetrics` once per session, then copied into the
  data directory of each server before it starts. The history is at fixed dates in
  February/March 2026 and every query passes an explicit `time=`, so results do not
  depend on today's date.
- `PrometheusServer` runs `/usr/bin/prometheus` on 127.0.0.1 on a free port, waits for
  `/-/ready`, and can be stopped and started again on the same port and data.
- `FaultProxy` sits in front of a real server and can delay answers, answer HTTP 500 or
  answer garbage — the answers that do come are always the real server's.

The scenario (all UTC; "month" = March 2026 unless a test says otherwise):

costwarden_pod_hourly_cost, 2026-02-27T00:00 .. 2026-03-04T00:00 (exclusive):
    ml-train/train-a100  Sales-5045  nlp     4.5 $/h  whole window, exported by TWO replicas
    ml-train/llm-0       Sales-5045  nlp     0.75 $/h from 2026-03-02T00:00
    ml-infer/infer-0     Retail-2045 search  0.5 $/h  whole window
    ml-dev/notebook      RnD-1001    vision  0.25 $/h until 2026-03-02T00:00, then 1.0 $/h
OpenCost, same window, constant:
    node gpu-1: 0.03125 $/vCPU-h, 0.00390625 $/GiB-h, 2.5 $/GPU-h
    node cpu-1: 0.0625 $/vCPU-h, 0.0078125 $/GiB-h, 0 $/GPU-h
    ml-train/train-a100/trainer on gpu-1: 8 vCPU, 64 GiB, 1 GPU (two OpenCost replicas)
        = 0.25 + 0.25 + 2.5 = 3.0 $/h
    ml-infer/web-0/nginx on cpu-1: 2 vCPU, 4 GiB, no GPU series = 0.125 + 0.03125 = 0.15625 $/h
    kube_namespace_labels: ml-train -> Sales-5045/nlp, ml-infer -> Retail-2045/search
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import require

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

WINDOW_START = datetime(2026, 2, 27, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 4, tzinfo=UTC)
SWITCH = datetime(2026, 3, 2, tzinfo=UTC)


def _series(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    at = start
    while at < end:
        yield at
        at += timedelta(minutes=1)


def openmetrics_history() -> str:
    """The scenario of this module's docstring as OpenMetrics text."""
    lines: list[str] = []

    def family(name: str, series: list[tuple[dict[str, str], Any]]) -> None:
        lines.append(f"# TYPE {name} gauge")
        for labels, value_at in series:
            text = _series(labels)
            for at in _minutes(WINDOW_START, WINDOW_END):
                value = value_at(at)
                if value is not None:
                    lines.append(f"{name}{text} {value} {int(at.timestamp())}")

    def pod(
        ns: str, name: str, cc: str, team: str, gpu: str, cap: str, **extra: str
    ) -> dict[str, str]:
        return {
            "namespace": ns,
            "pod": name,
            "cost_centre": cc,
            "team": team,
            "gpu_model": gpu,
            "capacity_type": cap,
            "job": "costwarden",
            **extra,
        }

    family(
        "costwarden_pod_hourly_cost",
        [
            (
                pod(
                    "ml-train",
                    "train-a100",
                    "Sales-5045",
                    "nlp",
                    "A100",
                    "on-demand",
                    instance="replica-a",
                ),
                lambda at: "4.5",
            ),
            (
                pod(
                    "ml-train",
                    "train-a100",
                    "Sales-5045",
                    "nlp",
                    "A100",
                    "on-demand",
                    instance="replica-b",
                ),
                lambda at: "4.5",
            ),
            (
                pod("ml-train", "llm-0", "Sales-5045", "nlp", "L4", "spot", instance="replica-a"),
                lambda at: "0.75" if at >= SWITCH else None,
            ),
            (
                pod(
                    "ml-infer",
                    "infer-0",
                    "Retail-2045",
                    "search",
                    "T4",
                    "on-demand",
                    instance="replica-a",
                ),
                lambda at: "0.5",
            ),
            (
                pod("ml-dev", "notebook", "RnD-1001", "vision", "", "spot", instance="replica-a"),
                lambda at: "1.0" if at >= SWITCH else "0.25",
            ),
        ],
    )

    def node(name: str) -> dict[str, str]:
        kind = "p4d.24xlarge" if name == "gpu-1" else "m5.xlarge"
        return {
            "node": name,
            "instance_type": kind,
            "region": "us-east-1",
            "provider_id": f"aws:///us-east-1a/{name}",
            "job": "opencost",
        }

    def container(
        ns: str, pod_name: str, name: str, node_name: str, instance: str
    ) -> dict[str, str]:
        return {
            "namespace": ns,
            "pod": pod_name,
            "container": name,
            "node": node_name,
            "job": "opencost",
            "instance": instance,
        }

    def constant(value: str) -> Any:
        return lambda at: value

    trainer_a = container("ml-train", "train-a100", "trainer", "gpu-1", "opencost-a")
    trainer_b = container("ml-train", "train-a100", "trainer", "gpu-1", "opencost-b")
    nginx = container("ml-infer", "web-0", "nginx", "cpu-1", "opencost-a")
    family(
        "node_cpu_hourly_cost",
        [(node("gpu-1"), constant("0.03125")), (node("cpu-1"), constant("0.0625"))],
    )
    family(
        "node_ram_hourly_cost",
        [(node("gpu-1"), constant("0.00390625")), (node("cpu-1"), constant("0.0078125"))],
    )
    family(
        "node_gpu_hourly_cost", [(node("gpu-1"), constant("2.5")), (node("cpu-1"), constant("0"))]
    )
    family(
        "container_cpu_allocation",
        [(trainer_a, constant("8")), (trainer_b, constant("8")), (nginx, constant("2"))],
    )
    family(
        "container_memory_allocation_bytes",
        [
            (trainer_a, constant(str(64 * 2**30))),
            (trainer_b, constant(str(64 * 2**30))),
            (nginx, constant(str(4 * 2**30))),
        ],
    )
    family("container_gpu_allocation", [(trainer_a, constant("1")), (trainer_b, constant("1"))])
    family(
        "kube_namespace_labels",
        [
            (
                {
                    "namespace": "ml-train",
                    "label_cost_centre": "Sales-5045",
                    "label_team": "nlp",
                    "job": "kube-state-metrics",
                },
                constant("1"),
            ),
            (
                {
                    "namespace": "ml-infer",
                    "label_cost_centre": "Retail-2045",
                    "label_team": "search",
                    "job": "kube-state-metrics",
                },
                constant("1"),
            ),
        ],
    )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def write_blocks(directory: Path) -> Path:
    """The scenario's TSDB blocks, written by promtool into `directory/blocks`."""
    source = directory / "history.om"
    source.write_text(openmetrics_history())
    blocks = directory / "blocks"
    subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            str(source),
            str(blocks),
        ],
        check=True,
        capture_output=True,
    )
    return blocks


def require_prometheus() -> None:
    """Skip locally / fail under CI=true when the Debian prometheus package is missing."""
    require(
        Path(PROMETHEUS).exists() and Path(PROMTOOL).exists(),
        what="Prometheus server and promtool",
        install="apt-get install -y prometheus",
    )


@contextlib.contextmanager
def seeded_prometheus(
    tmp_path_factory: pytest.TempPathFactory, blocks: Path | None = None
) -> Iterator[PrometheusServer]:
    """A running Prometheus with the seeded history: `blocks` if given, else written here
    (after `require_prometheus`)."""
    if blocks is None:
        require_prometheus()
        blocks = write_blocks(tmp_path_factory.mktemp("history"))
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), blocks=blocks)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusServer:
    """One real Prometheus process on loopback; stop() and start() keep port and data."""

    def __init__(
        self,
        directory: Path,
        *,
        blocks: Path | None,
        scrape: tuple[str, ...] = (),
        target_labels: Mapping[str, Mapping[str, str]] | None = None,
        honor_labels: bool = False,
    ) -> None:
        self.data = directory / "data"
        self.data.mkdir(parents=True)
        if blocks is not None:
            for block in blocks.iterdir():
                shutil.copytree(block, self.data / block.name)
        self.config = directory / "prometheus.yml"
        # `scrape`: host:port targets of a local /metrics, scraped every second so a test
        # sees exported series quickly; `target_labels`: by target, the labels attached to
        # its series, as service discovery attaches the scraped pod's namespace and name.
        labels = target_labels or {}
        job = {
            "job_name": "costwarden",
            "honor_labels": honor_labels,
            "static_configs": [
                {"targets": [target], "labels": dict(labels.get(target, {}))} for target in scrape
            ],
        }
        self.config.write_text(
            yaml.safe_dump(
                {"global": {"scrape_interval": "1s"}, "scrape_configs": [job] if scrape else []}
            )
        )
        self.log = directory / "prometheus.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.data}",
                    # Retention counts back from the newest block, not from today; the
                    # seeded history must never be cut, whatever today's date is.
                    "--storage.tsdb.retention.time=100y",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready after 60 s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None


class FaultProxy:
    """HTTP proxy to a real Prometheus that can be told to misbehave.

    mode: "pass" forwards; "slow" holds each request until `release()` (or `hold_seconds`);
    "error" answers HTTP 500; "garbage" answers 200 with a body that is not JSON.
    `fail_matching`: whatever the mode, HTTP 500 for the queries whose form body holds it.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.fail_matching: bytes | None = None
        self.requests = 0
        self.headers: dict[str, str] = {}
        """Headers of the last request."""
        self.held = threading.Event()
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                proxy.requests += 1
                proxy.headers = dict(self.headers.items())
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.mode == "slow":
                    proxy.held.set()
                    proxy._release.wait(timeout=30)
                failing = proxy.fail_matching is not None and proxy.fail_matching in body
                if proxy.mode == "error" or failing:
                    self._answer(500, b"upstream exploded")
                    return
                if proxy.mode == "garbage":
                    self._answer(200, b"<html>not json</html>")
                    return
                request = urllib.request.Request(
                    proxy.upstream + self.path,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        self._answer(answer.status, answer.read())
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read())
                except OSError:
                    self._answer(502, b"bad gateway")

            def _answer(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (its timeout) — that is the point of "slow"

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Let held ("slow") requests go on; later ones are held again while mode is slow."""
        self._release.set()
        self._release = threading.Event()
        self.held.clear()

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


class SettableClock:
    """The `Clock` port at a time the test chooses."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta
