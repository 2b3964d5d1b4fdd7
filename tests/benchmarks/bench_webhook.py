"""Load benchmark of the admission webhook over HTTPS, against the HTTP layer's own limit.

Two servers are started in turn, each in its own process, on the same stack — uvicorn,
our `SSLContext` (TLS 1.2+), FastAPI, `app.Serving`, `app.settle_heap`, the answers
scheduled by `api.batching` (reviews that arrive together answered back to back):

- `costwarden`: `costwarden serve` on bundled policies and catalog, namespace labels from
  the demo file: parse, evaluate, mutate, respond, record metrics;
- `bare`: the same stack answering every review `allowed: true` (the body decoded with the
  same JSON codec, orjson, and only the uid read): the limit of the HTTP layer.

The client replays the 68 captured AdmissionReviews (each to the webhook path it was
captured on) from a separate process over keep-alive HTTPS connections (a lean asyncio
HTTP/1.1 client: httpx's own overhead would hide the server's), at 1, 8 and 64
concurrent clients, and prints requests/s, p50 and p99 latency, and the ratio of
costwarden's throughput to the bare stack's (bound: >= 65 %).

Costwarden memoises what repeats across reviews (a workload's pods and the mutate and
validate calls for each ask the same prices), and replaying 68 reviews repeats them far
more than a cluster would. So each point is also measured with `distinct` reviews: the
same 68, each sent with its first container's CPU request changed to a value no other
request uses (4096 variants in turn), so no memo ever answers — the worst case.

On a 2-core machine the client and the server share the CPU: absolute figures are
pessimistic, the ratio is the meaningful one. Throughput also moves with whatever else
runs, so each point also reports the CPU time each server spent per request (from
`/proc`, Linux) and what the client spent: the server-CPU ratio is steadier than the
throughput ratio, and a client far from a full core shows the server is what limits.
Run: `make bench BENCH=webhook`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import orjson
from fastapi import FastAPI, Request, Response

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "admission"
DEMO_NAMESPACES = ROOT / "src" / "costwarden" / "data" / "demo" / "namespaces.yaml"
CONCURRENCY = (1, 8, 64)
SECONDS_PER_RUN = 3.0
ROUNDS = 3


class Point(NamedTuple):
    rps: float
    p50_ms: float
    p99_ms: float
    failures: int
    server_cpu_us: float | None
    """Server process CPU (user + system) per request; None where /proc is not there."""
    client_cpu_us: float


WARMUP_SECONDS = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bare_server(cert: str, key: str, port: int, metrics_port: int) -> None:
    """The `bare` server: same Serving and TLS, a route that only echoes the uid."""
    from prometheus_client import CollectorRegistry

    from costwarden import app as application
    from costwarden import metrics
    from costwarden.settings import Settings

    settings = Settings(
        host="127.0.0.1",
        webhook_port=port,
        metrics_port=metrics_port,
        tls_cert_file=Path(cert),
        tls_key_file=Path(key),
    )
    bare = FastAPI()

    def answer(body: bytes) -> bytes:
        uid = orjson.loads(body)["request"]["uid"]
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": True},
        }
        return orjson.dumps(review)

    async def allowed(request: Request) -> Response:
        # Answered through the same batching as costwarden's routes: answering together
        # makes the HTTP work around the answers cheaper too, and that is the stack's.
        body = await request.body()
        answered = await app.batches.run(functools.partial(answer, body))
        return Response(answered, media_type="application/json")

    bare.post("/validate")(allowed)
    bare.post("/mutate")(allowed)
    registry = CollectorRegistry()
    app = application.assemble(
        settings,
        evaluate=lambda request, *, side_effects: None,
        repair=lambda request: None,
        namespaces=application.StaticNamespaceLabels(),
        registry=registry,
        admission_metrics=metrics.AdmissionMetrics(registry),
    )
    app.admission = bare
    serving = application.Serving(app)
    application.settle_heap()  # as `costwarden serve` does
    asyncio.run(serving.run())


def _start(command: list[str], metrics_port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become ready")


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> int:
    """One keep-alive HTTP/1.1 POST; the status code. A lean client on purpose: on two
    shared cores every microsecond the client spends is taken from the server."""
    writer.write(
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return status


async def _load(
    port: int, cert: str, reviews: list[tuple[str, bytes]], clients: int, seconds: float
) -> tuple[float, list[float], int]:
    context = ssl.create_default_context(cafile=cert)
    latencies: list[float] = []
    failures = 0
    connections = [
        await asyncio.open_connection("127.0.0.1", port, ssl=context) for _ in range(clients)
    ]
    measure_from = time.perf_counter() + WARMUP_SECONDS
    stop_at = measure_from + seconds

    async def client(
        offset: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal failures
        i = offset
        while (started := time.perf_counter()) < stop_at:
            path, body = reviews[i % len(reviews)]
            i += 1
            if await _post(reader, writer, path, body) != 200:
                failures += 1
            if started >= measure_from:
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(
        *(client(k * 7, reader, writer) for k, (reader, writer) in enumerate(connections))
    )
    for _, writer in connections:
        writer.close()
    return len(latencies) / seconds, latencies, failures


def _process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def distinct_variants(
    reviews: list[tuple[str, bytes]], count: int = 4096
) -> list[tuple[str, bytes]]:
    """`count` reviews cycling through `reviews`, each pod (template) with a CPU request of
    its own (`object` and `oldObject` alike, so an UPDATE still compares equal specs)."""
    from costwarden import workloads

    variants = []
    for n in range(count):
        path, body = reviews[n % len(reviews)]
        review = orjson.loads(body)
        request = review["request"]
        for field in ("object", "oldObject"):
            obj = request.get(field)
            template = workloads.pod_template(obj) if isinstance(obj, dict) else None
            containers = template.spec.get("containers") if template else None
            if containers:
                resources = containers[0].setdefault("resources", {})
                resources.setdefault("requests", {})["cpu"] = f"{1000 + n}m"
        variants.append((path, orjson.dumps(review)))
    return variants


def _point(port: int, pid: int, cert: str, reviews: list[tuple[str, bytes]], clients: int) -> Point:
    server_before, client_before = _process_cpu_seconds(pid), _own_cpu_seconds()
    started = time.perf_counter()
    rps, latencies, failures = asyncio.run(_load(port, cert, reviews, clients, SECONDS_PER_RUN))
    # CPU is counted over the whole run (warm-up and connecting included): per request,
    # divide by the requests of the same span at the measured rate.
    requests = rps * (time.perf_counter() - started)
    server_after, client_after = _process_cpu_seconds(pid), _own_cpu_seconds()
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = (server_after - server_before) / requests * 1e6
    client_cpu = (client_after - client_before) / requests * 1e6
    quantiles = statistics.quantiles(latencies, n=100)
    return Point(rps, quantiles[49] * 1e3, quantiles[98] * 1e3, failures, server_cpu, client_cpu)


def _commands(cert: str, key: str) -> dict[str, tuple[list[str], int, int]]:
    commands = {}
    for label in ("bare", "costwarden"):
        port, metrics_port = _free_port(), _free_port()
        if label == "bare":
            command = [sys.executable, __file__, "--bare", cert, key, str(port), str(metrics_port)]
        else:
            command = [
                *(sys.executable, "-m", "costwarden", "serve", "--host", "127.0.0.1"),
                *("--webhook-port", str(port), "--metrics-port", str(metrics_port)),
                *("--tls-cert-file", cert, "--tls-key-file", key),
                *("--namespace-labels-file", str(DEMO_NAMESPACES), "--log-level", "error"),
            ]
        commands[label] = (command, port, metrics_port)
    return commands


def main() -> None:
    from costwarden import tls

    reviews = [
        ("/" + path.name.split("-")[1], path.read_bytes())
        for path in sorted(FIXTURES.glob("*.json"))
    ]
    with tempfile.TemporaryDirectory() as workdir:
        cert, key = (str(p) for p in tls.write_self_signed(Path(workdir), hosts=("127.0.0.1",)))
        print(
            f"{len(reviews)} captured reviews, HTTPS keep-alive, {os.cpu_count()} CPUs shared by "
            f"client, server and whatever else runs; {ROUNDS} interleaved rounds of "
            f"{SECONDS_PER_RUN:.0f} s per point, the best round of each kept"
        )
        commands = _commands(cert, key)
        processes = {
            label: _start(command, metrics) for label, (command, _, metrics) in commands.items()
        }
        variants = {"replayed": reviews, "distinct": distinct_variants(reviews)}
        try:
            for clients, (variant, sent) in itertools.product(CONCURRENCY, variants.items()):
                best: dict[str, Point] = {}
                for _ in range(ROUNDS):  # interleaved: a noisy neighbour hits both alike
                    for label, (_, port, _) in commands.items():
                        point = _point(port, processes[label].pid, cert, sent, clients)
                        if label not in best or point.rps > best[label].rps:
                            best[label] = point
                for label, point in best.items():
                    cpu = f"{point.server_cpu_us:4.0f}" if point.server_cpu_us else "   ?"
                    print(
                        f"  {label:<10} {clients:>3} clients, {variant:<8}: {point.rps:7.0f} req/s"
                        f"  p50 {point.p50_ms:6.2f} ms  p99 {point.p99_ms:6.2f} ms"
                        f"  failures {point.failures}  CPU/request: server {cpu} µs,"
                        f" client {point.client_cpu_us:4.0f} µs"
                    )
                ratio = best["costwarden"].rps / best["bare"].rps
                line = (
                    f"  costwarden / bare at {clients} clients, {variant} reviews: {ratio:.0%}"
                    " (bound >= 65 %)"
                )
                bare_cpu, costwarden_cpu = (best[k].server_cpu_us for k in ("bare", "costwarden"))
                if bare_cpu and costwarden_cpu:
                    line += f"; by server CPU per request: {bare_cpu / costwarden_cpu:.0%}"
                print(line)
        finally:
            for process in processes.values():
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        _bare_server(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
