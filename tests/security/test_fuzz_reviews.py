"""A fuzz of the webhook over mutated captured AdmissionReviews (issue #20).

Two properties of the real app (bundled policies and catalog, the fixtures' namespace
labels, a fixed clock), posted to in process through httpx's ASGI transport:

* Nothing a client sends makes the webhook answer 5xx. Each captured review, mutated in
  its object (or oldObject) and its envelope — a value replaced by one of another JSON
  type, a key deleted, junk keys inserted, strings of ~100 KB, lists and objects nested up
  to 1,200 deep, unicode, extreme numbers and number-like strings, long lists — is
  answered 200 with an AdmissionReview, or 4xx with a reason.
* Nothing malformed gets a denied pod through. The captured Pods and workloads their
  goldens deny are first given a change that alone may admit them (or none, see
  `test_a_repair_alone_admits_each_denied_pod`), so the malformation, not the rule that
  denied them, is what must refuse them; then made malformed where costwarden reads them
  (device counts that are no whole number, a kind, apiVersion or namespace that is not the
  request's, no object, containers that are no list of containers...). They are answered
  4xx or `allowed: false`, never `allowed: true`.

`COSTWARDEN_FUZZ_EXAMPLES` is the number of cases across both properties (default 1,000;
`make soak` runs 10,000). Runs are derandomized, so CI sees the same cases every time, and
keep no example database; a failure prints the smallest case that still fails, as the
fixture and the list of mutations made to it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import reprlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.api.webhook_support import (
    NAMESPACES,
    fixture_paths,
    load_fixture,
    local_settings,
    webhook_of,
)

from costwarden import app as application

EXAMPLES = int(os.environ.get("COSTWARDEN_FUZZ_EXAMPLES", "1000"))
"""Cases across the two properties: 60 % mutate anything, 40 % malform denied pods."""
ANY_MUTATION_EXAMPLES = EXAMPLES * 6 // 10
MALFORMING_EXAMPLES = EXAMPLES - ANY_MUTATION_EXAMPLES

GOLDEN = Path(__file__).parent.parent / "api" / "golden"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

FIXTURES = {path.name: load_fixture(path) for path in fixture_paths()}
WEBHOOKS = {name: webhook_of(Path(name)) for name in FIXTURES}


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(examples, 1),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class FixedClock:
    def now(self) -> datetime:
        return NOW


Post = Callable[[str, bytes], httpx.Response]


@pytest.fixture(scope="module")
def post() -> Iterator[Post]:
    """POSTs a body to the real admission app, in process, on one event loop."""
    webhook = application.create_app(
        local_settings(),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=FixedClock(),
    )
    with asyncio.Runner() as runner:
        transport = httpx.ASGITransport(app=webhook.admission)
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        headers = {"content-type": "application/json"}

        def send(path: str, body: bytes) -> httpx.Response:
            return runner.run(client.post(path, content=body, headers=headers))

        yield send
        runner.run(client.aclose())


# --- values ---------------------------------------------------------------------------------

SHORT = reprlib.Repr()
SHORT.maxstring, SHORT.maxother = 40, 60


def value_repr(value: Any) -> str:
    """A value as a failing case shows it: long strings and lists cut short."""
    return SHORT.repr(value)


@dataclass(frozen=True)
class Raw:
    """JSON text written into the body as is: nesting deeper than the encoder goes, or
    tokens it never writes (`NaN`, `1e999`)."""

    text: str
    what: str

    def __repr__(self) -> str:
        return self.what


def nested(depth: int, shape: str, leaf: str) -> Raw:
    """`leaf` inside `depth` lists, objects, or both in turn."""
    if shape == "lists":
        opening, closing = "[" * depth, "]" * depth
    elif shape == "objects":
        opening, closing = '{"a":' * depth, "}" * depth
    else:
        opening = "".join('[{"a":' for _ in range(depth // 2)) + "[" * (depth % 2)
        closing = "]" * (depth % 2) + "}]" * (depth // 2)
    return Raw(opening + leaf + closing, f"<{leaf} in {depth} nested {shape}>")


@dataclass(frozen=True)
class Long:
    """A long string or list, shown by its size in a failing case (not in full)."""

    value: str | list[Any]
    what: str

    def __repr__(self) -> str:
        return self.what


def long_string(char: str, size: int) -> Long:
    return Long(char * size, f"<{size} × {char!r}>")


def long_list(item: Any, size: int) -> Long:
    return Long([item] * size, f"<list of {size} × {value_repr(item)}>")


NUMBER_LIKE = (
    "", " ", "0", "-0", "1", "-1", "4.5", "4.0001", "1e308", "-1e308", "1e999", "NaN",
    "nan", "Infinity", "-Infinity", "0x10", "1_000", "+1", "1Ei", "99999999999999999999Ei",
    "9223372036854775808", "1m", "500m", "16Gi", "1e-3", "²", "١٢", "４", "Ⅻ",
)  # fmt: skip
"""Strings a quantity or count parser might read as a number (or choke on); `huge` has
numbers of 100,000 digits."""
TEXT_LIKE = (
    "abc", "true", "null", "{}", "[]", "Pod", "pod", "v1", "apps/v1", "ml-dev", "ml-train",
    "kube-system", "spot", "on-demand", "karpenter.sh/capacity-type", "nvidia.com/gpu",
    "system:serviceaccount:kube-system:replicaset-controller", "ABC-123", "2026-12-01",
    "\x00", "\u202e", "🚀🚀🚀", "e\u0301", "\ud800", "\\", '"', "~1/~0",
)  # fmt: skip
NUMBERS = (
    0, -1, 1, 4.5, -0.0, 1e308, -1e308, 5e-324, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1,
    10**30, 1.0,
)  # fmt: skip
RAW_TOKENS = tuple(
    Raw(token, token) for token in ("NaN", "Infinity", "-Infinity", "1e999", "-0", "1" + "0" * 400)
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(NUMBER_LIKE),
    st.sampled_from(TEXT_LIKE),
    st.text(max_size=12),
)
small_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
deep = st.builds(
    nested,
    st.one_of(st.integers(900, 1030), st.integers(1, 1200)),  # mostly around orjson's 1,024
    st.sampled_from(["lists", "objects", "mixed"]),
    st.sampled_from(["1", '"x"', "null", "{}", "[]"]),
)
huge = st.one_of(
    st.builds(
        long_string,
        st.sampled_from(["a", "7", "é", "🚀", " ", "\\", '"', "\x00"]),
        st.integers(90_000, 110_000),
    ),
    st.builds(long_list, scalars, st.integers(1_000, 20_000)),
)
JUNK = (scalars, small_json, deep, huge, st.sampled_from(RAW_TOKENS))
junk = st.integers(0, 9).flatmap(lambda i: JUNK[(0, 0, 0, 1, 1, 2, 2, 3, 3, 4)[i]])
"""Any value a client could put anywhere (deep and huge ones a fifth of the time each)."""

KEYS = (
    "kind", "apiVersion", "metadata", "name", "namespace", "labels", "annotations", "spec",
    "template", "containers", "initContainers", "resources", "requests", "limits", "cpu",
    "memory", "nvidia.com/gpu", "nodeSelector", "affinity", "tolerations", "replicas",
    "parallelism", "completions", "overhead", "ownerReferences", "cost-exception",
    "costwarden.io/exception-expires", "costwarden.io/expected-nodes", "", "__proto__",
)  # fmt: skip
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))


# --- cases ----------------------------------------------------------------------------------


class Case:
    """A captured review, changed: shown as the fixture and the changes made to it."""

    def __init__(self, fixture: str, webhook: str) -> None:
        self.fixture = fixture
        self.review: dict[str, Any] = copy.deepcopy(FIXTURES[fixture])
        self.webhook = webhook
        self.changes: list[str] = []

    def __repr__(self) -> str:
        changes = "; ".join(self.changes) or "as captured"
        return f"Case({self.fixture} to /{self.webhook}: {changes})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this
        printer.text(repr(self))

    def body(self) -> bytes:
        """The review as JSON text, `Raw` and `Long` values written in."""
        raws: list[str] = []

        def encode(value: Any) -> Any:
            if isinstance(value, Long):
                return value.value
            if isinstance(value, Raw):
                raws.append(value.text)
                return f"\x00raw{len(raws) - 1}\x00"
            raise TypeError(f"cannot encode {value!r}")

        text = json.dumps(self.review, default=encode, ensure_ascii=False)
        for i, raw in enumerate(raws):
            text = text.replace(json.dumps(f"\x00raw{i}\x00", ensure_ascii=False), raw, 1)
        return text.encode("utf-8", "surrogatepass")


Where = tuple[str | int, ...]

SELDOM_READ = ("managedFields", "volumes", "volumeMounts", "status", "options")
"""Parts of an object costwarden never reads: mutated less often than the rest."""
DECIDING = frozenset(KEYS) | {"generateName", "jobTemplate", "suspend", "matchExpressions"}
"""Keys whose values costwarden reads to decide (and names in its errors)."""
DECIDING_MAPS = ("labels", "annotations", "nodeSelector", "requests", "limits", "overhead")


def paths(node: Any, prefix: Where = ()) -> list[Where]:
    """Every path to a value inside `node` (JSON containers only, not `Raw`/`Long`)."""
    found: list[Where] = []
    stack: list[tuple[Any, Where]] = [(node, prefix)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            children: list[tuple[str | int, Any]] = list(value.items())
        elif isinstance(value, list):
            children = list(enumerate(value))
        else:
            continue
        for key, child in children:
            found.append((*where, key))
            stack.append((child, (*where, key)))
    return found


def at(root: Any, where: Where) -> Any:
    for key in where:
        root = root[key]
    return root


def shown(where: Where) -> str:
    return "".join(f".{key}" if isinstance(key, str) else f"[{key}]" for key in where)


def deciding(where: Where) -> bool:
    return where[-1] in DECIDING or (len(where) > 1 and where[-2] in DECIDING_MAPS)


@st.composite
def any_path(draw: st.DrawFn, root: Any) -> Where | None:
    """A path in `root`: half the time to a value costwarden decides by, a quarter to one
    outside the parts it never reads, a quarter to any."""
    every = paths(root)
    if not every:
        return None
    read = [p for p in every if not any(key in SELDOM_READ for key in p)]
    choice = draw(st.sampled_from(["deciding", "deciding", "read", "any"]))
    if choice == "deciding":
        read = [p for p in read if deciding(p)] or read
    return draw(st.sampled_from(read if read and choice != "any" else every))


@st.composite
def object_mutation(draw: st.DrawFn, case: Case) -> None:
    """Replace, delete or insert anywhere in `request.object`, or in `oldObject` (on a
    DELETE, which has no object, and one UPDATE in four)."""
    request = case.review["request"]
    name = "object" if isinstance(request.get("object"), dict) else "oldObject"
    if isinstance(request.get("oldObject"), dict) and not draw(st.integers(0, 3)):
        name = "oldObject"
    root = request.get(name)
    if not isinstance(root, dict | list):
        request[name] = draw(junk)
        case.changes.append(f"request.{name} = {value_repr(request[name])}")
        return
    where = draw(any_path(root))
    if where is None:
        return
    operation = draw(st.sampled_from(["replace", "delete", "insert"]))
    parent, key = at(root, where[:-1]), where[-1]
    label = f"request.{name}{shown(where)}"
    if operation == "replace":
        parent[key] = draw(junk)
        case.changes.append(f"{label} = {value_repr(parent[key])}")
    elif operation == "delete":
        del parent[key]
        case.changes.append(f"del {label}")
    else:
        container = at(root, where)
        if isinstance(container, dict):
            new_key, value = draw(keys), draw(junk)
            container[new_key] = value
            case.changes.append(f"{label}[{new_key!r}] = {value_repr(value)}")
        elif isinstance(container, list):
            index, value = draw(st.integers(0, len(container))), draw(junk)
            container.insert(index, value)
            case.changes.append(f"{label}.insert({index}, {value_repr(value)})")
        else:
            parent[key] = [container, draw(junk)]
            case.changes.append(f"{label} = [it, junk]")


ENVELOPE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "uid": st.sampled_from(["", "x", "é" * 70_000]),
    "kind": st.sampled_from(
        [
            {"group": "", "version": "v1", "kind": "Deployment"},
            {"group": "apps", "version": "v1", "kind": "Pod"},
            {"group": "", "version": "v1", "kind": "pod"},
            {"kind": "Pod"},
            {"group": "", "version": "v1"},
            {"group": "", "version": "v1", "kind": "Pod", "extra": [1]},
        ]
    ),
    "resource": st.sampled_from([{}, {"group": "", "version": "v1"}, {"resource": "pods"}]),
    "operation": st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT", "create", "PATCH"]),
    "namespace": st.sampled_from([*NAMESPACES, "", "kube-system", "ML-DEV", "ml-dev "]),
    "name": st.sampled_from(["", "other", "x" * 300]),
    "subResource": st.sampled_from(["", "scale", "status", "ephemeralcontainers"]),
    "dryRun": st.sampled_from(["true", "false", 1, 0, "yes", "no", "", None]),
    "userInfo": st.builds(
        lambda username, groups, extra: {"username": username, "groups": groups, "extra": extra},
        junk,
        junk,
        junk,
    ),
    "oldObject": st.sampled_from(["copy", "empty"]),
    "requestKind": st.just({"group": "", "version": "v1"}),
    "options": st.just({"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}),
}


@st.composite
def envelope_mutation(draw: st.DrawFn, case: Case) -> None:
    """Replace or delete a field of the review or its request, or set it to a likely
    but wrong value (another operation, namespace, kind...)."""
    review, request = case.review, case.review["request"]
    target = draw(st.sampled_from(["review", "request", "request", "request"]))
    if target == "review":
        key = draw(st.sampled_from(["apiVersion", "kind", "request", "response"]))
        container, label = review, key
    else:
        key = draw(st.sampled_from(sorted(ENVELOPE_VALUES)))
        container, label = request, f"request.{key}"
    operation = draw(st.sampled_from(["likely", "junk", "delete"]))
    if operation == "delete":
        container.pop(key, None)
        case.changes.append(f"del {label}")
        return
    if operation == "likely" and container is request:
        value = draw(ENVELOPE_VALUES[key])
        if key == "oldObject":
            value = copy.deepcopy(request.get("object")) if value == "copy" else {}
    else:
        value = draw(junk)
    container[key] = value
    case.changes.append(f"{label} = {value_repr(value)}")


@st.composite
def mutated_reviews(draw: st.DrawFn) -> Case:
    """A captured review with one to four mutations of its object or envelope, sent to
    the webhook the API server called with it (one time in four, the other one)."""
    name = draw(st.sampled_from(sorted(FIXTURES)))
    webhook = WEBHOOKS[name]
    if not draw(st.integers(0, 3)):
        webhook = "mutate" if webhook == "validate" else "validate"
    case = Case(name, webhook)
    for _ in range(draw(st.integers(1, 4))):
        if not isinstance(case.review.get("request"), dict):
            break
        if draw(st.integers(0, 3)):
            draw(object_mutation(case))
        else:
            draw(envelope_mutation(case))
    return case


# --- malforming denied pods -----------------------------------------------------------------

SPOT = "karpenter.sh/capacity-type"
GPU = "nvidia.com/gpu"


def pod_spec(obj: Any) -> Any:
    """The pod spec of a Pod or of a workload's pod template (None where there is none)."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    path = {"Pod": ("spec",), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}.get(
        kind, ("spec", "template", "spec")
    )
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def spot_by_selector(obj: dict[str, Any]) -> None:
    pod_spec(obj)["nodeSelector"] = {SPOT: "spot"}


def spot_by_affinity(obj: dict[str, Any]) -> None:
    requirement = {"key": SPOT, "operator": "In", "values": ["spot"]}
    pod_spec(obj)["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
            }
        }
    }


def namespace_cost_labels(obj: dict[str, Any]) -> None:
    """The object's own cost labels dropped, so its namespace's apply."""
    template = obj.get("spec", {}).get("template", {})
    for metadata in (obj.get("metadata"), template.get("metadata")):
        for key in ("cost-centre", "team"):
            ((metadata or {}).get("labels") or {}).pop(key, None)


REPAIRS: dict[str, Callable[[dict[str, Any]], None]] = {
    "Spot by nodeSelector": spot_by_selector,
    "Spot by required node affinity": spot_by_affinity,
    "the namespace's cost labels": namespace_cost_labels,
}
"""Changes that may alone make a denied pod allowed: each denied pod has one that does (a
test below shows it); one that does not is as good as none."""

DENIED_PODS = sorted(
    name
    for name, review in FIXTURES.items()
    if json.loads((GOLDEN / name).read_text())["response"]["response"]["allowed"] is False
    and isinstance(pod_spec(review["request"]["object"]), dict)
)
"""The captured reviews of Pods and workloads their goldens deny (a dev notebook left off
Spot, dry run and not, among them): what the malforming property starts from. (A denied
Scale carries no pod to malform; the generic property covers it.)"""

NOT_DEVICE_COUNTS = (
    "4.5", 4.5, "4.0001", -1, "-1", "abc", True, False, "1.5", 0.5, "1m", "500m", "1e-3",
    "NaN", "Infinity", "", [], {}, ["1"], {"value": 1}, "²", "0x1",
)  # fmt: skip
"""Device counts the API server refuses: fractions, negatives, no number at all."""
NOT_MAPPINGS = ("x", 7, True, [], ["a"], [{"a": "b"}])
NOT_STRINGS = (7, 1.5, True, [], ["x"], {"a": "b"})
NOT_QUANTITIES = ("abc", "NaN", "-1", -1, True, [], {}, "1e", "0x4", "4 4", "Infinity")


@st.composite
def device_count(draw: st.DrawFn, request: dict[str, Any]) -> str:
    lists = draw(st.sampled_from([("requests",), ("limits",), ("requests", "limits")]))
    value = draw(st.sampled_from(NOT_DEVICE_COUNTS))
    resources = pod_spec(request["object"])["containers"][0].setdefault("resources", {})
    for name in lists:
        if not isinstance(resources.get(name), dict):  # an earlier malformation's
            resources[name] = {}
        resources[name][GPU] = value
    return f"containers[0] {' and '.join(lists)} {GPU} = {value!r}"


@st.composite
def other_kind(draw: st.DrawFn, request: dict[str, Any]) -> str:
    """The object's kind is not the request's (either side changed, never both)."""
    value = draw(st.sampled_from(["<delete>", "Pod", "pod", "POD", "Deployment", "Namespace", ""]))
    if draw(st.booleans()):
        value = value if value != request["kind"]["kind"] and value != "<delete>" else "Scale"
        request["kind"] = {**request["kind"], "kind": value}
        return f"request.kind.kind = {value!r}"
    if value == "<delete>":
        request["object"].pop("kind", None)
        return "del object.kind"
    value = value if value != request["object"].get("kind") else "Namespace"
    request["object"]["kind"] = value
    return f"object.kind = {value!r}"


@st.composite
def other_api_version(draw: st.DrawFn, request: dict[str, Any]) -> str:
    value = draw(st.sampled_from(["<delete>", "apps/v1", "v1", "v2", "V1", " v1", "", None, 1]))
    if value == request["object"].get("apiVersion"):
        value = "v2"
    if value == "<delete>":
        request["object"].pop("apiVersion", None)
        return "del object.apiVersion"
    request["object"]["apiVersion"] = value
    return f"object.apiVersion = {value!r}"


@st.composite
def other_namespace(draw: st.DrawFn, request: dict[str, Any]) -> str:
    """The object's namespace and the request's differ (or neither is given)."""
    choice = draw(st.sampled_from(["object", "request", "neither"]))
    value = draw(st.sampled_from(["kube-system", "ml-train", "ml-dev", "ML-DEV", "ml-dev ", ""]))
    if value == request.get("namespace"):
        value = "kube-system"
    if choice == "object":
        request["object"]["metadata"]["namespace"] = value
        return f"object.metadata.namespace = {value!r}"
    if choice == "request":
        request["namespace"] = value
        return f"request.namespace = {value!r}"
    request.pop("namespace", None)
    request["object"]["metadata"].pop("namespace", None)
    return "no namespace, neither in the request nor in the object"


@st.composite
def no_object(draw: st.DrawFn, request: dict[str, Any]) -> str:
    if draw(st.booleans()):
        request["object"] = None
        return "request.object = None"
    request.pop("object", None)
    return "del request.object"


@st.composite
def update_without_old_object(draw: st.DrawFn, request: dict[str, Any]) -> str:
    request["operation"] = "UPDATE"
    if draw(st.booleans()):
        request["oldObject"] = None
        return "request.operation = 'UPDATE', oldObject None"
    request.pop("oldObject", None)
    return "request.operation = 'UPDATE', no oldObject"


@st.composite
def bad_spec(draw: st.DrawFn, request: dict[str, Any]) -> str:
    value = draw(st.sampled_from(["<delete>", None, *NOT_MAPPINGS]))
    if value == "<delete>":
        request["object"].pop("spec", None)
        return "del object.spec"
    request["object"]["spec"] = value
    return f"object.spec = {value!r}"


@st.composite
def bad_containers(draw: st.DrawFn, request: dict[str, Any]) -> str:
    spec = pod_spec(request["object"])
    container = spec["containers"][0]
    value = draw(
        st.sampled_from(
            [
                {"0": container},
                container,
                "jupyter",
                7,
                True,
                [container, "sidecar"],
                [7, container],
                [[container]],
            ]
        )
    )
    spec["containers"] = value
    return f"object.spec.containers = {value_repr(value)}"


@st.composite
def bad_resources(draw: st.DrawFn, request: dict[str, Any]) -> str:
    container = pod_spec(request["object"])["containers"][0]
    where = draw(st.sampled_from(["resources", "requests", "limits", "cpu", "memory"]))
    if where == "resources":
        value = draw(st.sampled_from(NOT_MAPPINGS))
        container["resources"] = value
    elif where in ("requests", "limits"):
        value = draw(st.sampled_from(NOT_MAPPINGS))
        container["resources"][where] = value
    else:
        value = draw(st.sampled_from(NOT_QUANTITIES))
        container["resources"].setdefault("requests", {})[where] = value
    return f"containers[0] {where} = {value!r}"


@st.composite
def bad_metadata(draw: st.DrawFn, request: dict[str, Any]) -> str:
    metadata = request["object"]["metadata"]
    where = draw(
        st.sampled_from(
            ["metadata", "name", "namespace", "labels", "label", "annotations", "annotation"]
        )
    )
    if where == "metadata":
        value = draw(st.sampled_from(NOT_MAPPINGS))
        request["object"]["metadata"] = value
    elif where in ("labels", "annotations"):
        value = draw(st.sampled_from(NOT_MAPPINGS))
        metadata[where] = value
    elif where in ("label", "annotation"):
        key = draw(
            st.sampled_from(
                ["cost-exception", "costwarden.io/exception-expires", "cost-centre", "team"]
            )
        )
        value = draw(st.sampled_from(NOT_STRINGS))
        metadata.setdefault(f"{where}s", {})[key] = value
        where = f"{where}s[{key!r}]"
    else:
        value = draw(st.sampled_from(NOT_STRINGS))
        metadata[where] = value
    return f"object.metadata {where} = {value!r}"


@st.composite
def bad_node_selector(draw: st.DrawFn, request: dict[str, Any]) -> str:
    spec = pod_spec(request["object"])
    if draw(st.booleans()):
        value: Any = draw(st.sampled_from(["spot", 7, True, ["spot"], [{SPOT: "spot"}]]))
        spec["nodeSelector"] = value
    else:
        value = {SPOT: draw(st.sampled_from(NOT_STRINGS))}
        spec["nodeSelector"] = value
    return f"object.spec.nodeSelector = {value!r}"


@st.composite
def bad_node_affinity(draw: st.DrawFn, request: dict[str, Any]) -> str:
    """Required node affinity of the wrong shape where costwarden reads it."""
    spec = pod_spec(request["object"])
    spot_by_affinity(request["object"])
    affinity = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    where = draw(
        st.sampled_from(
            ["terms", "term", "expressions", "expression", "values", "key", "operator", "element"]
        )
    )
    if where == "terms":
        value: Any = draw(st.sampled_from(["x", 7, {"matchExpressions": []}]))
        affinity["nodeSelectorTerms"] = value
    elif where == "term":
        value = draw(st.sampled_from(["x", 7, [], None]))
        affinity["nodeSelectorTerms"].append(value)
    elif where == "expressions":
        value = draw(st.sampled_from(["x", 7, {"key": SPOT}]))
        affinity["nodeSelectorTerms"][0]["matchExpressions"] = value
    elif where == "expression":
        value = draw(st.sampled_from(["x", 7, [], None]))
        affinity["nodeSelectorTerms"][0]["matchExpressions"].append(value)
    elif where == "values":
        value = draw(st.sampled_from(["spot", 7, {"spot": True}]))
        affinity["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = value
    else:  # a key, an operator or an element of values that is no string
        value = draw(st.sampled_from([7, True, None, ["x"]]))
        expression = affinity["nodeSelectorTerms"][0]["matchExpressions"][0]
        if where == "element":
            expression["values"] = [*expression["values"], value]
        else:
            expression[where] = value
    return f"Spot by node affinity with {where} = {value!r}"


MALFORMERS = (
    device_count,
    other_kind,
    other_api_version,
    other_namespace,
    no_object,
    bad_spec,
    bad_containers,
    bad_resources,
    bad_metadata,
    bad_node_selector,
    bad_node_affinity,
)
"""Each makes the object (or the request) one the API server never sends, where
costwarden reads it; a case has one or two different ones (the first may hide the
second, never undo it)."""
UNREPAIRED_ONLY = (update_without_old_object,)
"""Requests the engine judges as strictly as a CREATE: malformed, but what decides is the
object, so they are only malformations of an object no repair admits."""


def malformable(request: dict[str, Any]) -> bool:
    """Whether the object still has what the malformations change, where they change it."""
    obj = request.get("object")
    spec = pod_spec(obj)
    containers = spec.get("containers") if isinstance(spec, dict) else None
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("metadata"), dict)
        and isinstance(containers, list)
        and bool(containers)
        and isinstance(containers[0], dict)
        and isinstance(containers[0].get("resources", {}), dict)
    )


@st.composite
def malformed_denied_reviews(draw: st.DrawFn) -> Case:
    """A denied review, given a repair (or none), then one or two malformations."""
    name = draw(st.sampled_from(DENIED_PODS))
    case = Case(name, WEBHOOKS[name])
    request = case.review["request"]
    repair = draw(st.sampled_from([None, *REPAIRS]))
    if repair is not None:
        REPAIRS[repair](request["object"])
        case.changes.append(f"repaired by {repair}")
    malformers = MALFORMERS if repair is not None else MALFORMERS + UNREPAIRED_ONLY
    malforms = st.lists(st.sampled_from(malformers), min_size=1, max_size=2, unique=True)
    for malform in draw(malforms):
        if not malformable(request):
            break  # an earlier malformation left nothing to malform where it is read
        case.changes.append(draw(malform(request)))
    return case


# --- the properties -------------------------------------------------------------------------


def answered_without_fault(answer: httpx.Response) -> None:
    """200 with an AdmissionReview that allows or denies, or 4xx with a reason."""
    assert answer.status_code < 500, answer.text[:2000]
    if answer.status_code == 200:
        assert answer.json()["response"]["allowed"] in (True, False), answer.text[:2000]
    else:
        assert 400 <= answer.status_code < 500, answer.text[:2000]
        assert answer.json()["reason"], answer.text[:2000]


@fuzz_settings(ANY_MUTATION_EXAMPLES)
@given(case=mutated_reviews())
def test_no_mutation_of_a_captured_review_makes_the_webhook_answer_5xx(
    post: Post, case: Case
) -> None:
    answer = post(f"/{case.webhook}", case.body())
    event(f"HTTP {answer.status_code}")
    answered_without_fault(answer)


@fuzz_settings(MALFORMING_EXAMPLES)
@given(case=malformed_denied_reviews())
def test_no_malformed_object_of_a_denied_pod_is_allowed(post: Post, case: Case) -> None:
    answer = post(f"/{case.webhook}", case.body())
    event(f"HTTP {answer.status_code}")
    answered_without_fault(answer)
    if answer.status_code == 200:
        assert answer.json()["response"]["allowed"] is False, answer.text[:2000]


def test_the_goldens_deny_some_captured_pods_for_the_fuzz_to_malform() -> None:
    assert DENIED_PODS, "no captured pod is denied: the malforming property tests nothing"
    assert all(WEBHOOKS[name] == "validate" for name in DENIED_PODS)


@pytest.mark.parametrize("name", DENIED_PODS)
def test_a_repair_alone_admits_each_denied_pod(post: Post, name: str) -> None:
    # Else a malformed object could be denied by the rule that denied it as captured, and
    # the malforming property would prove nothing about the malformation.
    admitted_by = []
    for repair, change in REPAIRS.items():
        case = Case(name, WEBHOOKS[name])
        change(case.review["request"]["object"])
        answer = post(f"/{case.webhook}", case.body())
        assert answer.status_code == 200, answer.text
        if answer.json()["response"]["allowed"] is True:
            admitted_by.append(repair)
    assert admitted_by, f"no repair admits {name}: add one to REPAIRS"
