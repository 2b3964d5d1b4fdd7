"""What the chart's ConfigMaps put in the pod is what costwarden's loaders read: the files
arrive byte for byte, each once, even though the kubelet keeps every key twice in a
ConfigMap volume (a hidden timestamped directory and a symlink to it)."""

from __future__ import annotations

from pathlib import Path

from tests.chart.conftest import CHART, Objects, Render, load_values, of_kind, only
from tests.chart.test_serve import atomic_volume

from costwarden import documents, estimating
from costwarden.catalog import loading
from costwarden.policies import loading as policy_loading


def config_map_data(objects: Objects, suffix: str) -> dict[str, str]:
    (config_map,) = [
        c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith(suffix)
    ]
    data: dict[str, str] = config_map["data"]
    return data


def mount(tmp_path: Path, data: dict[str, str]) -> Path:
    directory = tmp_path / "volume"
    atomic_volume(directory, {key: text.encode() for key, text in data.items()})
    return directory


def test_a_config_map_volume_yields_each_file_once(tmp_path: Path) -> None:
    directory = mount(tmp_path, {"a.yaml": "x: 1\n", "b.yml": "y: 2\n"})
    assert list(documents.iter_files([directory])) == [directory / "a.yaml", directory / "b.yml"]


def test_the_catalog_config_map_carries_the_bundled_catalog_byte_for_byte(
    defaults: Objects,
) -> None:
    data = config_map_data(defaults, "-catalog")
    assert data == {"default.yaml": loading.BUNDLED.read_text(encoding="utf-8")}


def test_the_mounted_catalog_loads_as_the_bundled_catalog(
    defaults: Objects, tmp_path: Path
) -> None:
    directory = mount(tmp_path, config_map_data(defaults, "-catalog"))
    assert loading.load_catalog([directory], include_bundled=False) == loading.bundled_catalog()


def test_with_the_chart_defaults_one_catalog_gives_one_version(
    defaults: Objects, tmp_path: Path
) -> None:
    """serve loads the image's bundled catalog, then the chart's copy of it (--catalog): one
    catalog, so the catalog-version annotation names one version, not "v + v"."""
    (server,) = only(defaults, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert server["args"][server["args"].index("--catalog") + 1] == "/etc/costwarden/catalog"
    directory = mount(tmp_path, config_map_data(defaults, "-catalog"))
    catalog = loading.load_catalog([directory])
    bundled = loading.bundled_catalog()
    assert (catalog.name, catalog.version) == (bundled.name, bundled.version)
    assert " + " not in catalog.version
    pod = estimating.estimate_pod({"containers": [{"name": "a"}]}, catalog=catalog)
    assert pod.catalog_version == bundled.version


def test_a_values_catalog_over_the_chart_copy_names_both_versions_once(
    render: Render, tmp_path: Path
) -> None:
    objects = render(load_values(CHART / "ci" / "custom-policies-values.yaml"))
    catalog = loading.load_catalog([mount(tmp_path, config_map_data(objects, "-catalog"))])
    bundled = loading.bundled_catalog()
    assert catalog.version.split(" + ")[0] == bundled.version
    assert catalog.version.count(bundled.version) == 1


def test_the_mounted_policies_load_as_the_bundled_policy_set(
    defaults: Objects, tmp_path: Path
) -> None:
    directory = mount(tmp_path, config_map_data(defaults, "-policies"))
    mounted = policy_loading.load_policies([directory])
    bundled = policy_loading.bundled_policies()
    assert mounted.policies == bundled.policies
    assert mounted.exceptions == bundled.exceptions
    assert len(mounted.sources) == len(config_map_data(defaults, "-policies"))


def test_policies_and_prices_from_values_load_and_take_effect(
    render: Render, tmp_path: Path
) -> None:
    objects = render(load_values(CHART / "ci" / "custom-policies-values.yaml"))
    policies = policy_loading.load_policies(
        [mount(tmp_path / "p", config_map_data(objects, "-policies"))]
    )
    assert [p.metadata.name for p in policies.policies] == ["team-gpu-limits"]
    catalog = loading.load_catalog([mount(tmp_path / "c", config_map_data(objects, "-catalog"))])
    assert str(catalog.instance_types["g5.xlarge"].on_demand_hourly) == "0.80"


def test_catalog_files_from_values_join_the_chart_copy(render: Render) -> None:
    objects = render(load_values(CHART / "ci" / "custom-policies-values.yaml"))
    assert set(config_map_data(objects, "-catalog")) == {"default.yaml", "negotiated-prices.yaml"}
    assert set(config_map_data(objects, "-policies")) == {"team-gpu-limits.yaml"}


def test_without_any_catalog_file_the_flag_and_volume_are_left_out(render: Render) -> None:
    """An empty directory is an error for the catalog loader; the bundled catalog needs no flag."""
    objects = render({"catalog": {"fromChart": False}})
    assert [
        c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith("-catalog")
    ] == []
    (server,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "--catalog" not in server["args"]
    assert all(m["name"] != "catalog" for m in server["volumeMounts"])


def test_an_existing_config_map_is_mounted_instead_of_the_charts(render: Render) -> None:
    objects = render({"policies": {"existingConfigMap": "team-policies"}})
    assert all(
        not c["metadata"]["name"].endswith("-policies") for c in of_kind(objects, "ConfigMap")
    )
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "policies"]
    assert volume["configMap"]["name"] == "team-policies"
    (server,) = pod["containers"]
    index = server["args"].index("--policies")
    (mounted,) = [m for m in server["volumeMounts"] if m["name"] == "policies"]
    assert server["args"][index + 1] == mounted["mountPath"]


def test_config_maps_stay_well_under_the_one_mib_object_limit(defaults: Objects) -> None:
    for config_map in of_kind(defaults, "ConfigMap"):
        size = sum(len(k) + len(v.encode()) for k, v in config_map["data"].items())
        assert size < 512 * 1024, (config_map["metadata"]["name"], size)
