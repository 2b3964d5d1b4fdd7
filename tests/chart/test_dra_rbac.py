"""The chart lets the server read what it prices DRA claims from (#21): list and watch of
the `resource.k8s.io` kinds `kube.dra` watches, and nothing more (the real Helm engine)."""

from __future__ import annotations

from tests.chart.conftest import RELEASE, Objects, named

from costwarden.kube import dra


def test_the_server_may_list_and_watch_exactly_the_dra_kinds_it_watches(
    defaults: Objects,
) -> None:
    role = named(defaults, "ClusterRole", RELEASE)
    rules = [r for r in role["rules"] if "resource.k8s.io" in r["apiGroups"]]
    assert rules == [
        {
            "apiGroups": ["resource.k8s.io"],
            "resources": list(dra.WATCHED),
            "verbs": ["list", "watch"],
        }
    ]
    # Never the ResourceSlices (what nodes publish) nor any write.
    assert all("resourceslices" not in r["resources"] for r in role["rules"])
