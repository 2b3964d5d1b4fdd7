"""Workloads as pod templates × pods running at once (Deployment, StatefulSet, Job, ...).

Rules written for Pods must also judge the objects that stamp Pods out, at the moment they
are applied (Kyverno calls this auto-generation): `pod_template` finds the pod template in
any of the built-in workload kinds and says how many pods of it run at the same time.
Objects are plain JSON dicts as the API server sends them; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from costwarden import schedules

PathPart = str | int

JSON_OBJECT = (dict, Mapping)
"""isinstance() types of a JSON object (dict first: that is what decoded JSON is)."""

EXPECTED_NODES_ANNOTATION = "costwarden.io/expected-nodes"
"""On a DaemonSet: how many nodes it is expected to run on (default 1)."""

_TEMPLATE = ("spec", "template")
_CRONJOB_TEMPLATE = ("spec", "jobTemplate", "spec", "template")

# kind -> (API groups it may come from, path of its pod template). The group check keeps a
# custom resource that happens to be called `Job` from being read as a batch/v1 Job.
_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Pod": (("",), ()),
    "ReplicationController": (("",), _TEMPLATE),
    "Deployment": (("apps", "extensions"), _TEMPLATE),
    "ReplicaSet": (("apps", "extensions"), _TEMPLATE),
    "StatefulSet": (("apps",), _TEMPLATE),
    "DaemonSet": (("apps", "extensions"), _TEMPLATE),
    "Job": (("batch",), _TEMPLATE),
    "CronJob": (("batch",), _CRONJOB_TEMPLATE),
}
WORKLOAD_KINDS = frozenset(_KINDS)
"""Every kind `pod_template` understands."""
CHARGED_WITH_OWNER = WORKLOAD_KINDS - {"Pod", "CronJob"}
"""Controllers charged when they were admitted, so what they create is not charged again.
A CronJob is not among them: it is checked for one run, and each Job it starts pays."""

BUILT_IN_CONTROLLERS = frozenset(
    {
        "system:kube-controller-manager",
        *(
            f"system:serviceaccount:kube-system:{name}"
            for name in (
                "replicaset-controller",
                "deployment-controller",
                "statefulset-controller",
                "daemon-set-controller",
                "job-controller",
                "cronjob-controller",
                "replication-controller",
            )
        ),
    }
)
"""Kubernetes' own controllers, as the API server names them in `userInfo`: the
kube-controller-manager, or the service account of each of its controllers that makes pods
or workloads (`--use-service-account-credentials`, the kubeadm default)."""
_POINTERS: dict[tuple[str, ...], str] = {
    path: "/" + "/".join(path) for path in (_TEMPLATE, _CRONJOB_TEMPLATE)
}
"""Pod template path -> its RFC 6901 pointer."""

_ONE = Decimal(1)


class InvalidObject(ValueError):
    """An object whose shape is not what Kubernetes would accept, at `path` inside it;
    `field` is the AdmissionRequest field holding it (`object`, or `oldObject`)."""

    def __init__(
        self, message: str, path: tuple[PathPart, ...] = (), *, field: str = "object"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.field = field

    def within(self, prefix: tuple[PathPart, ...]) -> InvalidObject:
        """The same error, its path made relative to an enclosing object."""
        return InvalidObject(self.message, (*prefix, *self.path), field=self.field)


class PodTemplate(NamedTuple):
    """The pods a workload runs: their template, and how many run at once (a NamedTuple:
    one or two are built per review)."""

    kind: str
    name: str
    namespace: str | None
    metadata: Mapping[str, Any]
    """The pod template's metadata (the Pod's own metadata for a Pod)."""
    spec: Mapping[str, Any]
    """The pod spec."""
    pointer: str
    """RFC 6901 pointer to the pod template inside the object ("" for a Pod)."""
    pods: Decimal
    """Pods running at the same time (replicas, Job parallelism, DaemonSet nodes)."""
    assumptions: tuple[str, ...] = ()
    """How `pods` was worked out where the object leaves it open, in plain words."""
    runs: schedules.Runs | None = None
    """How a Job or CronJob runs (run length, runs a month); None: the pods run on."""


def pod_template(obj: Mapping[str, Any]) -> PodTemplate | None:
    """The pod template of a Pod or built-in workload, or None for kinds that run no pods.

    Raises `InvalidObject` when the object is of a workload kind but malformed where this
    reads it (the API server would have rejected it).
    """
    kind = obj.get("kind")
    known = _KINDS.get(kind) if isinstance(kind, str) else None
    if known is None:
        return None
    groups, path = known
    api_version = obj.get("apiVersion")
    if isinstance(api_version, str) and _group(api_version) not in groups:
        return None
    assert isinstance(kind, str)
    metadata = _metadata(obj, ())
    name: str = metadata.get("name") or metadata.get("generateName") or ""
    namespace: str | None = metadata.get("namespace")
    spec = obj.get("spec")
    if not isinstance(spec, JSON_OBJECT):
        spec = _mapping(obj, ("spec",))  # raises: missing, or not a mapping
    # Positional arguments, in PodTemplate's field order: this runs on every review.
    if not path:  # a Pod
        return PodTemplate(kind, name, namespace, metadata, spec, "", _ONE)
    template = _mapping(spec, path[1:], base=path[:1])
    pods, assumptions = _pods_at_once(kind, spec, metadata)
    template_metadata = _metadata(template, path)
    pod_spec = _mapping(template, ("spec",), base=path)
    runs = None
    if kind in _RUN_TO_COMPLETION:
        runs = _runs(kind, spec, pod_spec, metadata, template_metadata)
    return PodTemplate(
        kind,
        name,
        namespace,
        template_metadata,
        pod_spec,
        _POINTERS[path],
        pods,
        assumptions,
        runs,
    )


def is_workload(group: str, kind: str) -> bool:
    """Whether `pod_template` reads objects of this API group and kind (each of them is
    namespaced: its pods run in its namespace)."""
    known = _KINDS.get(kind)
    return known is not None and group in known[0]


def with_replicas(template: PodTemplate, replicas: int | Decimal) -> PodTemplate:
    """The template scaled to `replicas` pods (an `autoscaling/v1` Scale of its workload)."""
    return template._replace(
        pods=Decimal(replicas), assumptions=(f"scaled to {replicas} replicas",)
    )


def scale_replicas(scale: Mapping[str, Any]) -> int | None:
    """`spec.replicas` of an `autoscaling/v1` Scale, None when not set.

    Raises `InvalidObject` for a spec that is not a mapping or a count that is not a
    non-negative integer (the API server refuses both).
    """
    replicas = _mapping(scale, ("spec",), required=False).get("replicas")
    return None if replicas is None else _count(replicas, ("spec", "replicas"))


def _pods_at_once(
    kind: str, spec: Mapping[str, Any], metadata: Mapping[str, Any]
) -> tuple[Decimal, tuple[str, ...]]:
    """Pods of `spec` (the workload's spec) running at once, and how that was worked out."""
    if kind == "DaemonSet":
        annotations = _mapping(metadata, ("annotations",), required=False, base=("metadata",))
        expected = annotations.get(EXPECTED_NODES_ANNOTATION)
        if expected is None:
            return _ONE, (
                "DaemonSet: one pod per matching node; assumed 1 node "
                f"(annotate {EXPECTED_NODES_ANNOTATION}: N to say how many)",
            )
        nodes = _count(expected, ("metadata", "annotations", EXPECTED_NODES_ANNOTATION))
        return Decimal(nodes), (
            f"DaemonSet: one pod per node on {nodes} nodes ({EXPECTED_NODES_ANNOTATION})",
        )
    if kind == "Job":
        return _job_pods(spec, base=("spec",), what="Job")
    if kind == "CronJob":
        job_spec = _mapping(spec, ("jobTemplate", "spec"), base=("spec",))
        pods, assumptions = _job_pods(
            job_spec, base=("spec", "jobTemplate", "spec"), what="CronJob run"
        )
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Allow":
            overlap = "runs may overlap (concurrencyPolicy Allow); assumed one run at a time"
        else:
            overlap = f"at most one run at a time (concurrencyPolicy {policy})"
        notes = [*assumptions, f"CronJob: priced while a run is active; {overlap}"]
        if spec.get("suspend") is True:
            notes.append("CronJob is suspended; priced as if resumed")
        return pods, tuple(notes)
    replicas = spec.get("replicas")
    if replicas is None:
        return _ONE, ("replicas not set: 1, as the API server defaults it",)
    return Decimal(_count(replicas, ("spec", "replicas"))), ()


_RUN_TO_COMPLETION = frozenset({"Job", "CronJob"})


def _runs(
    kind: str,
    spec: Mapping[str, Any],
    pod_spec: Mapping[str, Any],
    metadata: Mapping[str, Any],
    template_metadata: Mapping[str, Any],
) -> schedules.Runs:
    """How a Job or CronJob runs (`spec` is the workload's spec; see `schedules`)."""
    job_spec = spec if kind == "Job" else _mapping(spec, ("jobTemplate", "spec"), base=("spec",))
    length = schedules.stated_run_length(
        job_spec, pod_spec, metadata.get("annotations"), template_metadata.get("annotations")
    )
    if kind == "Job":
        return schedules.Runs(length)
    schedule, zone = spec.get("schedule"), spec.get("timeZone")
    if not isinstance(schedule, str):
        raise InvalidObject('expected a cron schedule such as "0 2 * * *"', ("spec", "schedule"))
    if zone is not None and not isinstance(zone, str):
        raise InvalidObject(f"expected a time zone name, got {zone!r}", ("spec", "timeZone"))
    try:
        return schedules.cronjob_runs(schedule, zone, length)
    except ValueError as exc:
        where = "timeZone" if str(exc).startswith("time zone") else "schedule"
        raise InvalidObject(str(exc), ("spec", where)) from None


def _job_pods(
    spec: Mapping[str, Any], *, base: tuple[PathPart, ...], what: str
) -> tuple[Decimal, tuple[str, ...]]:
    """Pods of a Job running at once: parallelism (default 1), at most `completions`."""
    parallelism = _count(spec.get("parallelism", 1), (*base, "parallelism"))
    completions = spec.get("completions")
    notes = []
    pods = parallelism
    if completions is not None:
        pods = min(parallelism, _count(completions, (*base, "completions")))
        notes.append(
            f"{what}: {_pods(pods)} at once (parallelism {parallelism}, completions {completions})"
        )
    else:
        notes.append(f"{what}: {_pods(pods)} at once (parallelism {parallelism})")
    if spec.get("suspend") is True:
        notes.append(f"{what} is suspended; priced as if resumed")
    return Decimal(pods), tuple(notes)


def _pods(count: int) -> str:
    return "1 pod" if count == 1 else f"{count} pods"


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _mapping(
    obj: Mapping[str, Any],
    path: tuple[str, ...],
    *,
    required: bool = True,
    base: tuple[PathPart, ...] = (),
) -> Mapping[str, Any]:
    value: Any = obj
    for i, key in enumerate(path):
        value = value.get(key)
        if value is None:
            if required:
                raise InvalidObject("required field is missing", (*base, *path[: i + 1]))
            return {}
        if not isinstance(value, JSON_OBJECT):
            raise InvalidObject("expected a mapping", (*base, *path[: i + 1]))
    return value  # type: ignore[no-any-return]


def _metadata(obj: Mapping[str, Any], base: tuple[str, ...]) -> Mapping[str, Any]:
    """`obj.metadata`, checked where rules read it: name and namespace are strings, labels
    and annotations map strings to strings, ownerReferences is a list (the API server
    rejects anything else)."""
    metadata = obj.get("metadata")
    if metadata is None:
        return {}
    if not isinstance(metadata, JSON_OBJECT):
        raise InvalidObject("expected a mapping", (*base, "metadata"))
    for field in ("name", "generateName", "namespace"):
        value = metadata.get(field)
        if value is not None and not isinstance(value, str):
            raise InvalidObject(f"expected a string, got {value!r}", (*base, "metadata", field))
    for field in ("labels", "annotations"):
        values = metadata.get(field)
        if values is None:
            continue
        if not isinstance(values, JSON_OBJECT):
            raise InvalidObject("expected a mapping", (*base, "metadata", field))
        for key, value in values.items():
            if not isinstance(value, str):
                raise InvalidObject(
                    f"expected a string, got {value!r}", (*base, "metadata", field, key)
                )
    owners = metadata.get("ownerReferences")
    if owners is not None and not isinstance(owners, list):
        raise InvalidObject("expected a list", (*base, "metadata", "ownerReferences"))
    return metadata


MAX_COUNT = 2**31 - 1
"""Replicas, parallelism and completions are int32 in the Kubernetes API."""


def _count(value: Any, path: tuple[PathPart, ...]) -> int:
    """A non-negative int32 count (replicas, parallelism, an annotation's text)."""
    count = None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # ASCII only: `isdigit` is also true of "²" (which int() refuses) and "١٢" (which it
        # reads as 12); and int() refuses more than 4,300 digits, so a long one is too large.
        digits = value.lstrip("0") or "0"
        count = int(digits) if len(digits) <= len(str(MAX_COUNT)) else MAX_COUNT + 1
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        count = value
    if count is None or count > MAX_COUNT:
        raise InvalidObject(
            f"expected a non-negative integer up to {MAX_COUNT}, got {value!r}", path
        )
    return count
