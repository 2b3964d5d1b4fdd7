"""The Deployment the chart renders starts a working server: `costwarden serve` accepts its
arguments, and reading the rendered ConfigMaps and a certificate from the paths the chart
mounts (laid out as the kubelet lays out ConfigMap and Secret volumes) it becomes ready and
answers an AdmissionReview over HTTPS."""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.chart.conftest import CHART, Objects, Render, load_values, of_kind, only
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


def parsed_settings(args: list[str]) -> Any:
    """The Settings `costwarden serve` builds from these args (its own parser and loader)."""
    from costwarden import cli, settings

    namespace = cli.build_parser().parse_args(["serve", *args])
    given = {field: getattr(namespace, field) for field in settings.Settings.model_fields}
    return settings.load(flags=given, environ={})


def test_costwarden_serve_parses_the_rendered_args_into_the_chart_values(render: Render) -> None:
    require_serve()
    defaults = parsed_settings(container(render())["args"])
    assert defaults.policies == (Path("/etc/costwarden/policies"),)
    assert defaults.catalogs == (Path("/etc/costwarden/catalog"),)
    assert defaults.tls_cert_file == Path("/etc/costwarden/tls/tls.crt")
    assert defaults.tls_key_file == Path("/etc/costwarden/tls/tls.key")
    assert (defaults.webhook_port, defaults.metrics_port) == (8443, 8080)
    assert defaults.in_cluster is True
    assert defaults.insecure_http is False
    assert (defaults.log_level, defaults.budget_stale_default) == ("info", "warn")
    assert defaults.spend_stale_after_seconds == 300
    assert defaults.prometheus_url is None
    assert defaults.propagate_cost_labels is True
    # Each replica reserves its share of a budget's headroom: no joint overshoot.
    assert (defaults.budget_replicas, defaults.spend_source) == (2, "costwarden")

    values = load_values(CHART / "ci" / "custom-policies-values.yaml")
    custom = parsed_settings(container(render(values))["args"])
    assert custom.prometheus_url == values["prometheus"]["url"]
    assert custom.budget_stale_default == "deny"
    assert custom.log_level == "debug"
    assert custom.cost_centre_label == "finops.example.com/cost-centre"
    assert custom.team_label == "finops.example.com/team"
    assert custom.propagate_cost_labels is False
    assert custom.policies == (Path("/etc/costwarden/policies"),)


def test_controllers_the_platform_team_trusts_reach_serve_by_exact_name(render: Render) -> None:
    require_serve()
    assert parsed_settings(container(render())["args"]).trusted_controllers == ()
    operators = ["system:serviceaccount:gpu-operator:gpu-operator", "system:serviceaccount:x:y"]
    trusted = parsed_settings(container(render({"trustedControllers": operators}))["args"])
    assert trusted.trusted_controllers == tuple(operators)


def test_what_an_unpriceable_scale_up_does_reaches_serve(render: Render) -> None:
    require_serve()
    assert parsed_settings(container(render())["args"]).scale_lookup_failure == "deny"
    warn = render({"webhook": {"scaleLookupFailure": "warn"}})
    assert parsed_settings(container(warn)["args"]).scale_lookup_failure == "warn"


def test_budget_headroom_is_split_by_the_replica_count_unless_set(render: Render) -> None:
    require_serve()
    three = parsed_settings(container(render({"replicaCount": 3}))["args"])
    assert three.budget_replicas == 3
    scaled = {"replicaCount": 3, "budgets": {"headroomSplit": 10, "spendSource": "opencost"}}
    hpa = parsed_settings(container(render(scaled))["args"])
    assert (hpa.budget_replicas, hpa.spend_source) == (10, "opencost")


def test_the_rendered_mounts_are_where_the_rendered_args_point(render: Render) -> None:
    for values in ({}, load_values(CHART / "ci" / "custom-policies-values.yaml")):
        server = container(render(values))
        mounts = [m["mountPath"] for m in server["volumeMounts"]]
        paths = [arg for arg in server["args"] if arg.startswith("/")]
        assert paths
        for path in paths:
            assert any(path == m or path.startswith(m + "/") for m in mounts), path


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


@contextlib.contextmanager
def serving(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COSTWARDEN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "costwarden", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:  # /readyz answers 503 with the same body
        body = json.loads(error.read())
    return body


def post_review(port: int, review: dict[str, Any], context: ssl.SSLContext) -> dict[str, Any]:
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/validate",
        data=json.dumps(review).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def eventually(check: Callable[[], bool], *, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"not within {within} s: {what}")


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_server_starts_with_the_rendered_args_and_mounted_files_and_answers_a_review(
    defaults: Objects, pod_filesystem: tuple[Path, trustme.CA]
) -> None:
    require_serve()
    root, ca = pod_filesystem
    webhook_port, metrics_port = free_port(), free_port()
    rendered = container(defaults)["args"]
    args = localised(
        rendered, root=root, ports={"--webhook-port": webhook_port, "--metrics-port": metrics_port}
    )
    assert set(flags(rendered)) - set(flags(args)) == NEEDS_A_CLUSTER
    with serving(args) as process:
        assert wait_ready(f"http://127.0.0.1:{metrics_port}/readyz", process) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5) as r:
            assert r.status == 200
        # Each mounted file is read once, through its visible name, none from `..data`;
        # /readyz names it relative to its mount, never where the mount is.
        sources = get_json(f"http://127.0.0.1:{metrics_port}/readyz")["sources"]
        for name, mount in (("policies", "policies"), ("catalog", "catalog")):
            directory = root / "etc" / "costwarden" / mount
            visible = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
            assert sorted(sources[name]["files"]) == visible
        review = json.loads(
            (ADMISSION_FIXTURES / "009-validate-pod-create-ml-train-train-a100.json").read_text()
        )
        answer = post_review(webhook_port, review, trusting(ca))
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == review["request"]["uid"]
        assert isinstance(answer["response"]["allowed"], bool)


def atomic_update(directory: Path, files: Mapping[str, bytes]) -> None:
    """Update a volume as the kubelet does: new timestamped dir, `..data` swapped by rename,
    symlinks added for new keys and removed for gone ones."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    (directory / stamp).mkdir()
    for key, data in files.items():
        (directory / stamp / key).write_bytes(data)
    (directory / "..data_tmp").symlink_to(stamp)
    os.replace(directory / "..data_tmp", directory / "..data")
    for entry in directory.iterdir():
        if entry.is_symlink() and not entry.name.startswith(".") and entry.name not in files:
            entry.unlink()
    for key in files:
        if not (directory / key).is_symlink():
            (directory / key).symlink_to(Path("..data") / key)


def test_server_follows_config_map_and_secret_updates_made_the_kubelets_way(
    defaults: Objects, pod_filesystem: tuple[Path, trustme.CA]
) -> None:
    """The chart puts no checksum on the pod template: policy, catalog and certificate
    changes reach a running server through the volumes alone."""
    require_serve()
    root, old_ca = pod_filesystem
    webhook_port, metrics_port = free_port(), free_port()
    args = localised(
        container(defaults)["args"],
        root=root,
        ports={"--webhook-port": webhook_port, "--metrics-port": metrics_port},
    )
    # Faster polling than the defaults, so the test does not wait for them.
    args += ["--reload-interval-seconds", "0.2", "--tls-reload-interval-seconds", "0.2"]
    policies = root / "etc" / "costwarden" / "policies"
    tls = root / "etc" / "costwarden" / "tls"
    readyz = f"http://127.0.0.1:{metrics_port}/readyz"
    with serving(args) as process:
        assert wait_ready(readyz, process) == 200
        before = {p.name: p.read_bytes() for p in policies.iterdir() if not p.name.startswith(".")}

        # A ConfigMap update that drops a policy file: the server loads the new set.
        fewer = dict(sorted(before.items())[1:])
        atomic_update(policies, fewer)
        eventually(
            lambda: len(get_json(readyz)["sources"]["policies"]["files"]) == len(fewer),
            what="the policy file removed from the ConfigMap is unloaded",
        )

        # A broken policy file: the last good set keeps serving, and /readyz says why.
        atomic_update(
            policies,
            {
                **fewer,
                "broken.yaml": b"apiVersion: costwarden.io/v1alpha1\nkind: CostPolicy\nspec: 7\n",
            },
        )
        eventually(
            lambda: bool(get_json(readyz)["sources"]["policies"]["error"]),
            what="the broken policy file is reported",
        )
        assert "broken.yaml" in get_json(readyz)["sources"]["policies"]["error"]

        # A Secret update (cert-manager renewal): new connections get the new certificate.
        new_ca = trustme.CA()
        serving_cert = new_ca.issue_cert("localhost", "127.0.0.1")
        atomic_update(
            tls,
            {
                "tls.crt": serving_cert.cert_chain_pems[0].bytes(),
                "tls.key": serving_cert.private_key_pem.bytes(),
                "ca.crt": new_ca.cert_pem.bytes(),
            },
        )
        review = json.loads(
            (ADMISSION_FIXTURES / "009-validate-pod-create-ml-train-train-a100.json").read_text()
        )

        def answers_with_new_certificate() -> bool:
            try:
                post_review(webhook_port, review, trusting(new_ca))
            except (urllib.error.URLError, ssl.SSLError, ConnectionError):
                return False
            return True

        eventually(answers_with_new_certificate, what="the rotated certificate is served")
        with pytest.raises((urllib.error.URLError, ssl.SSLError)):
            post_review(webhook_port, review, trusting(old_ca))


def test_atomic_volume_layout_matches_the_kubelets(tmp_path: Path) -> None:
    atomic_volume(tmp_path / "v", {"a.yaml": b"x: 1\n"})
    assert (tmp_path / "v" / "a.yaml").read_bytes() == b"x: 1\n"
    assert (tmp_path / "v" / "a.yaml").is_symlink()
    assert os.readlink(tmp_path / "v" / "a.yaml") == "..data/a.yaml"
    assert (tmp_path / "v" / "..data").is_symlink()
