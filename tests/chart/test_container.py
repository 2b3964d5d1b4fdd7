"""deploy/Dockerfile builds the image the chart runs: same user, ports and entrypoint."""

from __future__ import annotations

import json
import re
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
