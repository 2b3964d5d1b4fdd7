"""The Deployment the chart renders starts a working server: `costwarden serve` accepts its
arguments, and reading the rendered ConfigMaps and a certificate from the paths the chart
mounts (laid out as the kubelet lays out ConfigMap and Secret volumes) it becomes ready and
answers an AdmissionReview over HTTPS."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.chart.conftest import Objects, Render, of_kind, only
from tests.conftest import ADMISSION_FIXTURES, require

# The pod has no API server to talk to here; everything else is passed as rendered.
NEEDS_A_CLUSTER = {"--in-cluster"}


def require_serve() -> None:
    available = importlib.util.find_spec("costwarden.cli.serve") is not None
    require(available, what="`costwarden serve` (costwarden.cli.serve)", install="git merge main")


def container(objects: Objects) -> dict[str, Any]:
    (server,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return server  # type: ignore[no-any-return]


def flags(args: list[str]) -> list[str]:
    return [arg for arg in args if arg.startswith("--")]


def serve_help() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "costwarden", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_flag_the_chart_renders_is_one_costwarden_serve_accepts(render: Render) -> None:
    require_serve()
    accepted = serve_help()
    for values in ({}, {"prometheus": {"url": "http://prometheus:9090"}}):
        for flag in flags(container(render(values))["args"]):
            assert f"{flag} " in accepted or f"{flag}\n" in accepted or f"{flag}," in accepted, flag


def atomic_volume(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write files as the kubelet does for ConfigMap and Secret volumes: the data lives in a
    timestamped hidden directory, `..data` points at it, and each key is a symlink through
    `..data` (so an update is one atomic rename of `..data`)."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    (directory / stamp).mkdir(parents=True)
    for key, data in files.items():
        (directory / stamp / key).write_bytes(data)
    (directory / "..data").symlink_to(stamp)
    for key in files:
        (directory / key).symlink_to(Path("..data") / key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def pod_filesystem(tmp_path: Path, defaults: Objects) -> tuple[Path, trustme.CA]:
    """The rendered volumes, materialised under tmp_path at their mount paths."""
    ca = trustme.CA()
    serving = ca.issue_cert("localhost", "127.0.0.1")
    spec = only(defaults, "Deployment")["spec"]["template"]["spec"]
    config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in of_kind(defaults, "ConfigMap")}
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container(defaults)["volumeMounts"]:
        volume = volumes[mount["name"]]
        target = tmp_path / mount["mountPath"].lstrip("/")
        if "configMap" in volume:
            data = config_maps[volume["configMap"]["name"]]
            atomic_volume(target, {k: v.encode() for k, v in data.items()})
        elif "secret" in volume:
            atomic_volume(
                target,
                {
                    "tls.crt": serving.cert_chain_pems[0].bytes(),
                    "tls.key": serving.private_key_pem.bytes(),
                    "ca.crt": ca.cert_pem.bytes(),
                },
            )
        else:
            target.mkdir(parents=True, exist_ok=True)
    return tmp_path, ca


def localised(args: list[str], *, root: Path, ports: Mapping[str, int]) -> list[str]:
    """The rendered args with mount paths under `root` and ports free on this machine."""
    result: list[str] = []
    for arg in args:
        if arg in NEEDS_A_CLUSTER:
            continue
        if arg.startswith("/etc/costwarden/"):
            arg = str(root / arg.lstrip("/"))
        if result and result[-1] in ports:
            arg = str(ports[result[-1]])
        result.append(arg)
    return result


def wait_ready(url: str, process: subprocess.Popen[str], *, within: float = 60.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"costwarden serve exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status: int = response.status
                return status
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"{url} not ready within {within} s")


def test_server_starts_with_the_rendered_args_and_mounted_files_and_answers_a_review(
    defaults: Objects, pod_filesystem: tuple[Path, trustme.CA]
) -> None:
    require_serve()
    root, ca = pod_filesystem
    webhook_port, metrics_port = free_port(), free_port()
    args = localised(
        container(defaults)["args"],
        root=root,
        ports={"--webhook-port": webhook_port, "--metrics-port": metrics_port},
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COSTWARDEN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "costwarden", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    try:
        assert wait_ready(f"http://127.0.0.1:{metrics_port}/readyz", process) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5) as r:
            assert r.status == 200
        review = json.loads(
            (ADMISSION_FIXTURES / "009-validate-pod-create-ml-train-train-a100.json").read_text()
        )
        context = ssl.create_default_context()
        ca.configure_trust(context)
        request = urllib.request.Request(
            f"https://127.0.0.1:{webhook_port}/validate",
            data=json.dumps(review).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == review["request"]["uid"]
        assert isinstance(answer["response"]["allowed"], bool)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_atomic_volume_layout_matches_the_kubelets(tmp_path: Path) -> None:
    atomic_volume(tmp_path / "v", {"a.yaml": b"x: 1\n"})
    assert (tmp_path / "v" / "a.yaml").read_bytes() == b"x: 1\n"
    assert (tmp_path / "v" / "a.yaml").is_symlink()
    assert os.readlink(tmp_path / "v" / "a.yaml") == "..data/a.yaml"
    assert (tmp_path / "v" / "..data").is_symlink()
