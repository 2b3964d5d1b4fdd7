"""Reloading mounted files: ConfigMap symlink swaps, last-good-keeps-serving, readiness."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import jsonpatch
import pytest
from prometheus_client import CollectorRegistry
from webhook_support import (
    ConfigMapVolume,
    ScriptedEvaluator,
    allow_with_estimate,
    build_app,
    fixture_paths,
    load_fixture,
    local_settings,
    running,
    wait_until,
)

from costwarden import app as application
from costwarden import metrics
from costwarden.api import namespace_files, reloading
from costwarden.documents import InvalidInput


def namespaces_source(
    paths: list[Path], registry: CollectorRegistry
) -> reloading.Reloadable[namespace_files.Labels]:
    return reloading.Reloadable(
        "namespaces",
        paths=paths,
        load=namespace_files.load,
        on_status=application.reload_reporter(metrics.AdmissionMetrics(registry)),
    )


def test_hidden_configmap_directories_are_not_read_twice(tmp_path: Path) -> None:
    volume = ConfigMapVolume(tmp_path / "mount", {"a.yaml": "ml-dev: {team: a}\n"})
    assert reloading.expand([volume.directory]) == [volume.directory / "a.yaml"]


def test_a_configmap_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    volume = ConfigMapVolume(tmp_path / "mount", {"a.yaml": "ml-dev: {team: a}\n"})
    source = namespaces_source([volume.directory], CollectorRegistry())
    assert source.reload_if_changed() is False
    volume.update({"a.yaml": "ml-dev: {team: b}\n"})
    assert source.reload_if_changed() is True
    assert source.current == {"ml-dev": {"team": "b"}}


def test_a_bad_reload_keeps_the_last_good_value_and_reports_why(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    volume = ConfigMapVolume(tmp_path / "mount", {"a.yaml": "ml-dev: {team: a}\n"})
    source = namespaces_source([volume.directory], registry)
    volume.update({"a.yaml": "ml-dev: {team: [not, a, string]}\n"})
    assert source.reload_if_changed() is False
    assert source.current == {"ml-dev": {"team": "a"}}
    assert source.status.loaded is True
    assert source.status.error is not None
    assert "a.yaml:1" in source.status.error
    assert "ml-dev" in source.status.error
    assert (
        registry.get_sample_value("costwarden_policy_reload_success", {"source": "namespaces"})
        == 0.0
    )
    volume.update({"a.yaml": "ml-dev: {team: c}\n"})
    assert source.reload_if_changed() is True
    assert source.status.error is None
    assert (
        registry.get_sample_value("costwarden_policy_reload_success", {"source": "namespaces"})
        == 1.0
    )


def test_an_invalid_file_at_first_start_refuses_to_start_naming_file_and_line(
    tmp_path: Path,
) -> None:
    file = tmp_path / "namespaces.yaml"
    file.write_text("ml-dev: {team: a}\nml-train: [oops]\n")
    with pytest.raises(InvalidInput) as raised:
        namespaces_source([file], CollectorRegistry())
    assert f"{file}:2" in str(raised.value)
    assert "ml-train" in str(raised.value)


def test_readiness_shows_a_failed_reload_while_the_last_good_set_keeps_it_ready(
    tmp_path: Path,
) -> None:
    volume = ConfigMapVolume(tmp_path / "mount", {"a.yaml": "ml-dev: {team: a}\n"})
    app = build_app(
        tmp_path, ScriptedEvaluator(allow_with_estimate), namespace_paths=[volume.directory]
    )
    volume.update({"a.yaml": ": not yaml : ["})
    app.reload_files()
    ready, detail = app.readiness()
    assert ready is True
    assert "not valid YAML" in detail["sources"]["namespaces"]["error"]


class NotSynced:
    def labels_for(self, namespace: str) -> None:
        return None

    def ready(self) -> bool:
        return False


def test_not_ready_until_the_namespace_labels_have_loaded(tmp_path: Path) -> None:
    app = build_app(tmp_path, ScriptedEvaluator(allow_with_estimate))
    app.namespaces = NotSynced()
    ready, detail = app.readiness()
    assert ready is False
    assert detail["namespaces"] == {"ready": False, "adapter": "NotSynced"}


def test_the_running_server_reloads_namespace_labels_and_mutates_with_the_new_ones(
    tmp_path: Path,
) -> None:
    volume = ConfigMapVolume(tmp_path / "mount", {"ns.yaml": "ml-infer: {team: old}\n"})
    settings = local_settings(reload_interval_seconds=0.05)
    app = build_app(
        tmp_path,
        ScriptedEvaluator(allow_with_estimate),
        settings=settings,
        namespace_paths=[volume.directory],
    )
    source = app.sources[-1]
    review = load_fixture(next(p for p in fixture_paths() if p.name.startswith("058-")))

    def team_after_mutate(http: httpx.Client) -> str:
        answer = http.post("/mutate", json=review).json()["response"]
        patch = jsonpatch.JsonPatch.from_string(base64.b64decode(answer["patch"]).decode())
        team: str = patch.apply(review["request"]["object"])["metadata"]["labels"]["team"]
        return team

    with (
        running(app) as serving,
        httpx.Client(base_url=f"http://127.0.0.1:{serving.webhook_port}") as http,
    ):
        assert team_after_mutate(http) == "old"
        volume.update({"ns.yaml": "ml-infer: {team: new}\n"})
        wait_until(
            lambda: source.current.get("ml-infer", {}).get("team") == "new",
            what="the new namespace labels",
        )
        assert team_after_mutate(http) == "new"


def test_a_catalog_is_indexed_as_it_loads_not_by_the_first_review(tmp_path: Path) -> None:
    from costwarden.estimating import indexes

    prices = tmp_path / "prices.yaml"
    header = "apiVersion: costwarden.io/v1alpha1\nkind: PriceCatalog\n"
    prices.write_text(header + "metadata: {name: a}\nspec: {currency: USD}\n")
    app = application.create_app(local_settings(catalogs=(prices,)))
    assert app.catalog is not None
    first = app.catalog.current
    assert len(app.memos.catalogs) == 1  # built at start-up
    prices.write_text(header + "metadata: {name: b}\nspec: {currency: USD}\n")
    app.reload_files()
    second = app.catalog.current
    assert second is not first
    assert len(app.memos.catalogs) == 2  # built by the reload, before any review
    assert indexes.index(second, memos=app.memos) is indexes.index(second, memos=app.memos)


def test_an_empty_policy_directory_refuses_to_start_and_a_reload_to_one_keeps_the_last_set(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInput, match="no CostPolicy rules found"):
        application.create_app(local_settings(policies=(empty,)))
    policy = (
        "apiVersion: costwarden.io/v1alpha1\nkind: CostPolicy\nmetadata: {name: gpus}\n"
        "spec: {rules: [{name: max-gpus, gpuLimits: {maxPerPod: 4}}]}\n"
    )
    volume = ConfigMapVolume(tmp_path / "mount", {"p.yaml": policy})
    app = application.create_app(local_settings(policies=(volume.directory,)))
    volume.update({"p.yaml": "# generated empty\n"})  # a ConfigMap generated empty
    app.reload_files()
    ready, detail = app.readiness()
    assert ready is True  # the last good set still serves
    assert "no CostPolicy rules found" in detail["sources"]["policies"]["error"]
