"""How long estimating a pod takes, next to decoding the same object's JSON.

Two figures, both priced against the bundled catalog:

* one realistic pod: the train-a100 Pod a real API server sent (fixture 009: an init
  container, 4 A100s pinned to p4d.24xlarge on-demand);
* every pod-bearing object of the captured reviews (`request.object` and `oldObject`):
  `workloads.pod_template` + `estimating.estimate_template`, averaged per object. "Warm" is
  the steady state (a pod spec already priced against this catalog comes from the memo);
  "cold" empties the memos before each object (every spec priced as if first seen).

The estimator runs on the admission hot path right after the request body is decoded; the
target is that it costs no more than that decode.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures/admission"
FIXTURE = FIXTURES / "009-validate-pod-create-ml-train-train-a100.json"


def _pod_bearing_objects() -> list[dict[str, Any]]:
    from costwarden import workloads

    objects = []
    for path in sorted(FIXTURES.glob("*.json")):
        request = json.loads(path.read_text())["request"]
        for field in ("object", "oldObject"):
            obj = request.get(field)
            if obj and workloads.pod_template(obj) is not None:
                objects.append(obj)
    return objects


def main() -> None:
    sys.path.insert(0, str(HERE))
    from timing import per_call_us

    from costwarden import estimating, workloads
    from costwarden.catalog import loading
    from costwarden.estimating import indexes
    from costwarden.memos import Memos

    text = json.dumps(json.loads(FIXTURE.read_text())["request"]["object"])
    obj = json.loads(text)
    catalog = loading.bundled_catalog()
    memos = Memos()  # as the webhook keeps them: a pod seen before comes from the memo
    estimate = estimating.estimate_object(obj, catalog=catalog, memos=memos)
    assert estimate is not None
    decode = per_call_us(lambda: json.loads(text))
    pod = per_call_us(lambda: estimating.estimate_object(obj, catalog=catalog, memos=memos))
    print(f"object: {FIXTURE.name} request.object, {len(text)} bytes of JSON")
    print(f"estimate: {estimate.hourly.total:.4f} $/h on {estimate.pod.placement.instance_type}")
    print(f"json.loads of the object:  {decode:8.2f} µs")
    print(f"estimate_object (one pod): {pod:8.2f} µs")
    print(f"ratio estimate / decode:   {pod / decode:8.2f}")

    objects = _pod_bearing_objects()
    texts = [json.dumps(o) for o in objects]

    def decode_all() -> None:
        for each in texts:
            json.loads(each)

    index = indexes.index(catalog, memos=memos)

    def estimate_all(*, cold: bool) -> None:
        for each in objects:
            if cold:  # both memos: by spec text, and by what pricing reads from it
                index.by_spec.clear()
                index.priced.clear()
            template = workloads.pod_template(each)
            assert template is not None
            estimating.estimate_template(template, catalog=catalog, memos=memos)

    count = len(objects)
    decode_each = per_call_us(decode_all, number=100) / count
    warm = per_call_us(lambda: estimate_all(cold=False), number=100) / count
    cold = per_call_us(lambda: estimate_all(cold=True), number=100) / count
    print(f"all fixtures: {count} pod-bearing objects (request.object and oldObject)")
    print(f"json.loads, per object:           {decode_each:8.2f} µs")
    print(f"pod_template + estimate, warm:    {warm:8.2f} µs  ratio {warm / decode_each:5.2f}")
    print(f"pod_template + estimate, cold:    {cold:8.2f} µs  ratio {cold / decode_each:5.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "src"))
    main()
