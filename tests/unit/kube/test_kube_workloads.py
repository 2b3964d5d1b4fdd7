"""The workload lookup behind a Scale, against a local HTTP server answering as the API
server would: the workload, None when it is not there (404), and `LookupFailed` naming
anything else (a refusal, a server error, a timeout, nobody listening)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from costwarden.engine.ports import LookupFailed
from costwarden.kube.workloads import ClusterWorkloads

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b"}}


class FakeApiServer(ThreadingHTTPServer):
    """Answers every GET with `status` (and a Deployment on 200); waits for `release`
    before answering when `hang` is set."""

    status = 200
    hang = False
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Answer)
        self.release = threading.Event()
        self.paths: list[str] = []


class Answer(BaseHTTPRequestHandler):
    server: FakeApiServer

    def do_GET(self) -> None:  # http.server calls it by this name
        self.server.paths.append(self.path)
        if self.server.hang:
            self.server.release.wait()
        status = self.server.status
        body = json.dumps(
            DEPLOYMENT if status == 200 else {"kind": "Status", "code": status}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def lookup(host: str, *, timeout_seconds: float = 2.0) -> ClusterWorkloads:
    configuration = client.Configuration(host=host)
    configuration.retries = 0
    return ClusterWorkloads(
        client.AppsV1Api(client.ApiClient(configuration)), timeout_seconds=timeout_seconds
    )


def read(workloads: ClusterWorkloads) -> object:
    return workloads.workload(group="apps", resource="deployments", namespace="a", name="b")


def address(server: FakeApiServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def test_the_lookup_reads_the_workload_the_scale_names(api_server: FakeApiServer) -> None:
    assert read(lookup(address(api_server))) == DEPLOYMENT
    assert api_server.paths == ["/apis/apps/v1/namespaces/a/deployments/b"]


def test_a_workload_that_is_not_there_is_none(api_server: FakeApiServer) -> None:
    api_server.status = 404
    assert read(lookup(address(api_server))) is None


@pytest.mark.parametrize(
    ("status", "reason"),
    [(403, "403 Forbidden"), (401, "401 Unauthorized"), (500, "500 Internal Server Error")],
)
def test_a_refusal_or_a_server_error_is_a_failed_lookup_naming_it(
    api_server: FakeApiServer, status: int, reason: str
) -> None:
    api_server.status = status
    with pytest.raises(LookupFailed) as failed:
        read(lookup(address(api_server)))
    assert failed.value.reason == reason


def test_no_answer_in_time_is_a_failed_lookup(api_server: FakeApiServer) -> None:
    api_server.hang = True
    with pytest.raises(LookupFailed) as failed:
        read(lookup(address(api_server), timeout_seconds=0.2))
    assert failed.value.reason == "no answer within 0.2 s"


def test_nobody_listening_is_a_failed_lookup() -> None:
    with pytest.raises(LookupFailed) as failed:
        read(lookup("http://127.0.0.1:9", timeout_seconds=0.5))
    assert failed.value.reason == "cannot connect to the API server"


def test_a_resource_it_does_not_read_is_a_failed_lookup_never_a_free_pass() -> None:
    workloads = lookup("http://127.0.0.1:9")
    with pytest.raises(LookupFailed) as failed:
        workloads.workload(group="", resource="replicationcontrollers", namespace="a", name="b")
    assert failed.value.reason == "costwarden does not read replicationcontrollers.core"
