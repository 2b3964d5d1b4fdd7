"""Every entry point over a corpus of bad inputs: a clear error where it is, never a traceback.

Each command runs as a real process (`python -m costwarden`), as CI runs it. A bad input —
an impossible date, binary garbage, an empty file or stdin, a directory without YAML, a
syntax error, nesting past the limit, a value of the wrong type — is exit 2 with an
`error: FILE[:LINE]: ...` line naming it, and no "Traceback" on stdout or stderr. `lint`
reports what it finds in the files it read as problems (exit 1, one `FILE:LINE: ...` line
each): finding them is what it is for; a file it cannot read is one of them.

Dates stay the text they are written as (Kubernetes reads YAML so): a date-like value in a
ConfigMap or an annotation is no error at all.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

POD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Pod
    metadata: {name: p, namespace: ml-train, labels: {cost-centre: Sales-5045, team: nlp}}
    spec:
      containers:
      - name: c
        image: x
        resources: {requests: {cpu: "1", memory: 1Gi}}
    """
)
POLICY = textwrap.dedent(
    """\
    apiVersion: costwarden.io/v1alpha1
    kind: CostPolicy
    metadata: {name: p}
    spec:
      rules:
      - {name: gpus, gpuLimits: {maxPerPod: 4}}
    """
)
CATALOG = textwrap.dedent(
    """\
    apiVersion: costwarden.io/v1alpha1
    kind: PriceCatalog
    metadata: {name: mine, version: "1"}
    spec:
      currency: USD
      instanceTypes:
      - name: box.large
        vcpu: 2
        memoryGiB: 8
        onDemandHourly: 0.1
        source: "a quote"
        effectiveDate: 2026-02-30
    """
)
EXCEPTION = textwrap.dedent(
    """\
    apiVersion: costwarden.io/v1alpha1
    kind: PolicyException
    metadata: {name: e, namespace: ml-train, annotations: {costwarden.io/approved-by: fin}}
    spec: {rules: [gpus], expires: 2026-02-30, reason: "FIN-1 a big run"}
    """
)
DEEP = "a: " + "[" * 150 + "]" * 150 + "\n"

# name -> the file's bytes (None: a directory holding no YAML)
CORPUS: dict[str, bytes | None] = {
    "invalid date in a policy": (EXCEPTION + "---\n" + POLICY).encode(),
    "invalid date in a catalog": CATALOG.encode(),
    "invalid date in a manifest's PolicyException": (POD + "---\n" + EXCEPTION).encode(),
    "binary garbage": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00garbage",
    "empty file": b"",
    "YAML syntax error": b"apiVersion: v1\nkind: Pod\nmetadata: {name: [p\n",
    "nested past the limit": DEEP.encode(),
    "a list, not a mapping": b"- 1\n- 2\n",
    "wrong types": b"apiVersion: v1\nkind: Pod\nmetadata: 5\nspec: {containers: nope}\n",
    "policy with a wrong type": POLICY.replace("maxPerPod: 4", "maxPerPod: [4]").encode(),
    "directory without YAML": None,
}


@dataclass(frozen=True)
class Entry:
    """One way to hand a command a file: the arguments for the bad input at `path`."""

    name: str
    argv: Callable[[Path, Path], list[str]]
    """(bad path, a good pod manifest) -> the command's arguments."""
    lint: bool = False
    """`lint`: problems in what it read are exit 1."""
    only: frozenset[str] | None = None
    """The inputs it is run on, where it reads them as an entry point already run on all
    reads them (each run is a process: the corpus stays quick)."""


def _port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


SOME = frozenset(
    {
        "invalid date in a policy",
        "invalid date in a catalog",
        "binary garbage",
        "empty file",
        "YAML syntax error",
        "nested past the limit",
        "directory without YAML",
    }
)
"""A sample of each kind of fault, for entry points that read through one run on all."""
SERVE = ["serve", "--insecure-http", "--host", "127.0.0.1", "--metrics-port", "0"]
ENTRIES = [
    Entry("check -f", lambda bad, pod: ["check", "-f", str(bad)]),
    Entry("estimate -f", lambda bad, pod: ["estimate", "-f", str(bad)]),
    Entry("check --policies", lambda bad, pod: ["check", "-f", str(pod), "--policies", str(bad)]),
    Entry("check --catalog", lambda bad, pod: ["check", "-f", str(pod), "--catalog", str(bad)]),
    Entry(
        "check --namespace-labels-file",
        lambda bad, pod: ["check", "-f", str(pod), "--namespace-labels-file", str(bad)],
    ),
    Entry(
        "estimate --catalog",
        lambda bad, pod: ["estimate", "-f", str(pod), "--catalog", str(bad)],
        only=SOME,
    ),
    Entry("lint --policies", lambda bad, pod: ["lint", "--policies", str(bad)], lint=True),
    Entry("lint --catalog", lambda bad, pod: ["lint", "--catalog", str(bad)], lint=True, only=SOME),
    Entry(
        "serve --policies",
        lambda bad, pod: [*SERVE, "--webhook-port", _port(), "--policies", str(bad)],
        only=SOME,
    ),
    Entry(
        "serve --catalog",
        lambda bad, pod: [*SERVE, "--webhook-port", _port(), "--catalog", str(bad)],
        only=SOME,
    ),
]
NOT_BAD_FOR = {("invalid date in a manifest's PolicyException", "estimate -f")}
"""estimate prices the pod beside it and reads no PolicyException: nothing wrong for it."""


@dataclass(frozen=True)
class Ran:
    argv: Sequence[str]
    status: int | None
    """None: still running at the timeout (a `serve` that started on the bad input)."""
    out: str
    err: str


def run(argv: Sequence[str], *, stdin: str = "") -> Ran:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COSTWARDEN_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "costwarden", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            env=environ,
            errors="replace",
        )
    except subprocess.TimeoutExpired as expired:
        return Ran(argv, None, str(expired.stdout or ""), str(expired.stderr or ""))
    return Ran(argv, done.returncode, done.stdout, done.stderr)


def corpus(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for index, (name, content) in enumerate(CORPUS.items()):
        if content is None:
            path = tmp_path / f"bad-{index}"
            path.mkdir()
            (path / "README.txt").write_text("no manifests here\n")
        else:
            path = tmp_path / f"bad-{index}.yaml"
            path.write_bytes(content)
        paths[name] = path
    return paths


def what_is_wrong(ran: Ran, bad: Path, *, lint: bool) -> str | None:
    """Why `ran` is not an honest refusal of `bad`, or None."""
    both = ran.out + ran.err
    if "Traceback" in both:
        return "a traceback"
    if ran.status is None:
        return "still running after 30 s (it accepted the bad input)"
    place = re.escape(str(bad))
    if lint:
        if ran.status == 2 and re.search(rf"^error: {place}(/\S+)?(:\d+)?: ", ran.err, re.M):
            return None  # nothing to lint there at all
        if ran.status != 1:
            return f"exit {ran.status}, not 1"
        if not re.search(rf"^{place}(/\S+)?(:\d+)?: ", ran.out, re.M):
            return "no FILE[:LINE]: line naming it"
        return None
    if ran.status != 2:
        return f"exit {ran.status}, not 2"
    if not re.match(rf"error: {place}(/\S+)?(:\d+)?: ", ran.err):
        return f"the error does not start by naming it: {ran.err[:200]!r}"
    return None


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_every_bad_input_is_exit_two_naming_it_without_a_traceback(
    entry: Entry, tmp_path: Path
) -> None:
    paths = corpus(tmp_path)
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    cases = [
        (name, path, entry.argv(path, pod))
        for name, path in paths.items()
        if entry.only is None or name in entry.only
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: run(case[2]), cases))
    wrong = []
    for (name, path, _), ran in zip(cases, results, strict=True):
        if (name, entry.name) in NOT_BAD_FOR:
            why = None if ran.status == 0 and "Traceback" not in ran.err else "not exit 0"
        else:
            why = what_is_wrong(ran, path, lint=entry.lint)
        if why is not None:
            wrong.append(f"{name}: {why}\n  {' '.join(ran.argv)}\n  {(ran.err or ran.out)[-400:]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tests.yaml with an invalid date", "kind: PolicyTest\nspec: {now: 2026-02-30}\n"),
        ("tests.yaml of binary garbage", "\udcff\udcfe garbage"),
        ("tests.yaml empty", ""),
        ("tests.yaml with a syntax error", "kind: PolicyTest\nspec: {now: [\n"),
        ("tests.yaml nested past the limit", DEEP),
    ],
)
def test_policy_test_suites_that_are_bad_are_exit_two_naming_them(
    name: str, content: str, tmp_path: Path
) -> None:
    suite = tmp_path / "tests.yaml"
    suite.write_bytes(content.encode("utf-8", "surrogateescape"))
    ran = run(["test", str(tmp_path)])
    assert "Traceback" not in ran.out + ran.err
    assert ran.status == 2, ran.err
    assert re.match(rf"error: {re.escape(str(suite))}(:\d+)?: ", ran.err), ran.err


def test_a_directory_without_suites_is_exit_two(tmp_path: Path) -> None:
    ran = run(["test", str(tmp_path)])
    assert (ran.status, ran.err) == (2, f"error: {tmp_path}: no tests.yaml found\n")


@pytest.mark.parametrize("command", ["check", "estimate"])
def test_empty_stdin_is_exit_two_naming_stdin(command: str) -> None:
    ran = run([command, "-f", "-"], stdin="")
    assert ran.status == 2
    assert ran.err == "error: <stdin>: no objects found: nothing was checked\n"


@pytest.mark.parametrize("flag", ["--policies", "--catalog"])
def test_empty_stdin_for_policies_or_a_catalog_is_exit_two(flag: str, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    ran = run(["check", "-f", str(pod), flag, "-"], stdin="")
    assert ran.status == 2
    assert ran.err.startswith("error: <stdin>: ")
    assert "Traceback" not in ran.out + ran.err


def test_serve_help_shows_no_traceback() -> None:
    ran = run(["serve", "--help"])
    assert ran.status == 0
    assert "Traceback" not in ran.out + ran.err
    assert "--policies" in ran.out


def test_dates_in_manifests_stay_the_text_kubectl_sends(tmp_path: Path) -> None:
    # An impossible date in a ConfigMap value and an unquoted one in an annotation are
    # strings to Kubernetes: no error, and the pod is judged.
    manifests = tmp_path / "app.yaml"
    manifests.write_text(
        POD.replace(
            "metadata: {name: p,",
            "metadata: {name: p, annotations: {example.com/review-by: 2026-12-31},",
        )
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {when: 2026-02-30, since: 2026-01-01}\n"
    )
    labels = tmp_path / "ns.yaml"
    labels.write_text("ml-train: {cost-centre: Sales-5045, team: nlp, env: prod}\n")
    for argv in (
        ["check", "-f", str(manifests), "--namespace-labels-file", str(labels)],
        ["estimate", "-f", str(manifests)],
    ):
        ran = run(argv)
        assert "Traceback" not in ran.out + ran.err
        assert ran.status == 0, ran.err
        assert "Pod" in ran.out
