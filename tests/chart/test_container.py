"""deploy/Dockerfile builds the image the chart runs: same user, ports and entrypoint."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

import yaml
from tests.chart.conftest import Objects, only
from tests.conftest import ROOT

from costwarden import __version__

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            parsed.append((instruction.upper(), arguments.strip()))
    return parsed


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def test_image_is_a_multi_stage_build_on_a_slim_python_311_base() -> None:
    steps = instructions()
    bases = [args for name, args in steps if name == "FROM"]
    assert len(bases) >= 2
    (default,) = [a for n, a in steps if n == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", default)
    assert all(base.startswith("${PYTHON_IMAGE}") for base in bases)
    assert any(name == "COPY" and "--from=build" in args for name, args in final_stage())


def test_image_runs_as_the_non_root_user_the_chart_sets(defaults: Objects) -> None:
    users = [args for name, args in final_stage() if name == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    user, _, group = users[-1].partition(":")
    pod = only(defaults, "Deployment")["spec"]["template"]["spec"]
    assert int(user) == pod["securityContext"]["runAsUser"] != 0
    assert int(group) == pod["securityContext"]["runAsGroup"]


def test_image_entrypoint_is_costwarden_serve_and_exposes_the_chart_ports(
    defaults: Objects,
) -> None:
    (entrypoint,) = [args for name, args in final_stage() if name == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["costwarden", "serve"]
    (container,) = only(defaults, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "command" not in container
    assert container["args"][0].startswith("--")
    (exposed,) = [args for name, args in final_stage() if name == "EXPOSE"]
    assert {int(p) for p in exposed.split()} == {p["containerPort"] for p in container["ports"]}


def test_chart_app_version_is_the_package_version_the_image_installs(defaults: Objects) -> None:
    chart = yaml.safe_load((ROOT / "charts" / "costwarden" / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"] == __version__
    (container,) = only(defaults, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(f":{__version__}")


def test_the_wheel_the_image_installs_runs_on_its_bundled_data_alone(tmp_path) -> None:
    # No Docker engine here: repeat the image's build steps that matter — `pip wheel .`,
    # install that wheel (only), then run costwarden away from the source tree — so a
    # file missing from the package data (catalog, policies, schema, examples) fails here.
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("costwarden-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
    )
    # Dependencies from this interpreter, costwarden only from the installed wheel.
    paths = [str(site), *(p for p in sys.path if p and "site-packages" in p)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONSAFEPATH": "1"}
    examples = site / "costwarden" / "data" / "examples"
    run = subprocess.run(
        [sys.executable, "-m", "costwarden", "estimate", "-f", str(examples), "-o", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(run.stdout)["objects"]
    lint = subprocess.run(
        [sys.executable, "-m", "costwarden", "lint"], cwd=tmp_path, env=env, capture_output=True
    )
    assert lint.returncode == 0, lint.stdout
    check = subprocess.run(
        [sys.executable, "-c", "import costwarden; print(costwarden.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.startswith(str(site))
