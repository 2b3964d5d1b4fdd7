"""How long estimating one realistic pod takes, next to decoding the same object's JSON.

The pod is the train-a100 Pod a real API server sent (fixture 009: an init container, 4
A100s pinned to p4d.24xlarge on-demand), priced against the bundled catalog. The estimator
runs on the admission hot path right after the request body is decoded; the target is that
it costs no more than that decode.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = (
    HERE.parent.parent.parent
    / "shared/fixtures/admission/009-validate-pod-create-ml-train-train-a100.json"
)


def main() -> None:
    sys.path.insert(0, str(HERE))
    from timing import per_call_us

    from costwarden import estimating
    from costwarden.catalog import loading

    text = json.dumps(json.loads(FIXTURE.read_text())["request"]["object"])
    obj = json.loads(text)
    catalog = loading.bundled_catalog()
    estimate = estimating.estimate_object(obj, catalog=catalog)
    assert estimate is not None
    decode = per_call_us(lambda: json.loads(text))
    pod = per_call_us(lambda: estimating.estimate_object(obj, catalog=catalog))
    print(f"object: {FIXTURE.name} request.object, {len(text)} bytes of JSON")
    print(f"estimate: {estimate.hourly.total:.4f} $/h on {estimate.pod.placement.instance_type}")
    print(f"json.loads of the object:  {decode:8.2f} µs")
    print(f"estimate_object (one pod): {pod:8.2f} µs")
    print(f"ratio estimate / decode:   {pod / decode:8.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "src"))
    main()
