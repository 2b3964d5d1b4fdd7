"""Reservation keys, and which key a cost series stands for."""

from __future__ import annotations

import pytest

from costwarden.reservations import keys


def test_a_shared_claims_series_stands_for_the_claims_key() -> None:
    series = keys.claim_series("gpus")
    assert keys.shown_by("ml-infer", series) == keys.claim_key("ml-infer", "gpus")
    assert keys.is_kind(keys.claim_key("ml-infer", "gpus"), keys.CLAIM)
    assert keys.parts(keys.claim_key("ml-infer", "gpus")) == ("ml-infer", keys.CLAIM, "gpus")


@pytest.mark.parametrize("pod", ["infer-0", "resourceclaim-gpus", "gpus"])
def test_a_pods_series_stands_for_the_pods_key(pod: str) -> None:
    # A pod name never holds "/": no pod is ever read as a claim.
    assert keys.shown_by("ml-infer", pod) == keys.object_key("ml-infer", "Pod", pod)
