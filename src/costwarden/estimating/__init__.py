"""Pod cost estimation: effective requests, placement, and $/h from the price catalog (pure).

`estimate_pod(spec, catalog=...)` prices one pod; `estimate_object(obj, catalog=...)` a
Pod or any built-in workload (pods at once × one pod); `estimate_template(template,
catalog=...)` a `workloads.PodTemplate` (e.g. after `kubectl scale`, via
`workloads.with_replicas`). The model is in `pricing`.

An estimate says what it knows: a low and a high $/h (equal when the pod is pinned to one
catalogued instance type), why it is a range, and `unpriced` naming what the catalog lacks
when it cannot price the pod — never another type's or model's price (docs/cost-model.md).
"""

from costwarden.estimating.pricing import estimate_object, estimate_pod, estimate_template

__all__ = ["estimate_object", "estimate_pod", "estimate_template"]
