"""`costwarden serve` in a child process over HTTPS on loopback, and a raw HTTP/1.1 client
for it: for what only the process itself shows — its memory, its log, its open files,
its exit on SIGTERM. The soak benchmark (tests/benchmarks/bench_soak.py) uses it too.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import trustme
from tests.api.webhook_support import NAMESPACES
from tests.conftest import ADMISSION_FIXTURES, ROOT

START_PATIENCE_SECONDS = 60.0
"""How long the server may take to become ready before the caller fails: bounds a hang."""


def captured_reviews() -> list[tuple[str, bytes]]:
    """The captured AdmissionReviews, each with the webhook path it was captured on."""
    return [
        ("/" + path.name.split("-")[1], path.read_bytes())
        for path in sorted(ADMISSION_FIXTURES.glob("*.json"))
    ]


def post_bytes(path: str, body: bytes, *, close: bool = False) -> bytes:
    """An HTTP/1.1 POST of a JSON body, as the API server sends a review."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of one response (Content-Length framed, as uvicorn answers)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response's headers: {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in a response's body")
        body += chunk
    return status, body


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), no TLS close_notify: a client that vanishes."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def still_open(socks: Sequence[socket.socket], *, patience: float) -> list[int]:
    """Which of `socks` (their indexes) the server has not closed (EOF or a reset) after
    waiting at most `patience` seconds for all of them together."""
    waiting = dict(enumerate(socks))
    for sock in socks:
        sock.setblocking(False)
    deadline = time.monotonic() + patience
    with selectors.DefaultSelector() as selector:
        for index, sock in waiting.items():
            selector.register(sock, selectors.EVENT_READ, index)
        while waiting and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                sock = waiting[key.data]
                try:
                    if sock.recv(65536):
                        continue  # an answer (a 408, say): keep reading to the close
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except (ConnectionError, ssl.SSLError):
                    pass
                selector.unregister(sock)
                del waiting[key.data]
    return sorted(waiting)


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    webhook_port: int
    metrics_port: int
    client_context: ssl.SSLContext
    log_file: Path

    def rss_mib(self) -> float:
        """The server process's resident memory (Linux /proc), MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc/PID/status")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def tcp(self, *, timeout: float = 30.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.webhook_port), timeout=timeout)

    def tls(self, *, timeout: float = 30.0) -> ssl.SSLSocket:
        """A connection with the TLS handshake done."""
        return self.client_context.wrap_socket(
            self.tcp(timeout=timeout), server_hostname="127.0.0.1"
        )

    def review(self, path: str, body: bytes) -> tuple[int, bytes]:
        """One review on a connection of its own, closed cleanly after."""
        with self.tls() as sock:
            sock.sendall(post_bytes(path, body, close=True))
            return read_response(sock)


@contextmanager
def serve_process(
    directory: Path,
    *,
    flags: Sequence[str] = (),
    open_file_limit: int | None = None,
    ca: trustme.CA | None = None,
) -> Iterator[ServeProcess]:
    """`costwarden serve` (bundled policies and catalog, the captured reviews' namespace
    labels, a trustme certificate) on free loopback ports until the block ends; its log
    (stderr) in `directory`/serve.log. `open_file_limit` lowers its RLIMIT_NOFILE."""
    ca = ca or trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = directory / "tls.crt", directory / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    namespaces = directory / "namespaces.json"
    namespaces.write_text(json.dumps(NAMESPACES))
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    command = [
        *(sys.executable, "-m", "costwarden", "serve", "--host", "127.0.0.1"),
        *("--webhook-port", str(ports[0]), "--metrics-port", str(ports[1])),
        *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
        *("--namespace-labels-file", str(namespaces)),
        *flags,
    ]

    def limit_files() -> None:
        if open_file_limit is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_file_limit, hard))

    log_file = directory / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit_files, env=env
        )
    context = ssl.create_default_context()
    ca.configure_trust(context)
    serving = ServeProcess(process, ports[0], ports[1], context, log_file)
    try:
        _wait_ready(serving)
        yield serving
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(serving: ServeProcess) -> None:
    deadline = time.monotonic() + START_PATIENCE_SECONDS
    while time.monotonic() < deadline:
        if serving.process.poll() is not None:
            raise AssertionError(f"costwarden serve exited at start:\n{serving.log()[-3000:]}")
        with suppress(OSError):
            url = f"http://127.0.0.1:{serving.metrics_port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.1)
    raise AssertionError(f"costwarden serve did not become ready:\n{serving.log()[-3000:]}")
