"""Turning a Verdict into the AdmissionResponse the API server (and kubectl) shows.

- A denial is `allowed: false` with `status.code` 403 and every denying rule's message,
  one per line: kubectl prints `admission webhook "..." denied the request: <message>`.
- `warnings` carry the estimate and the warn-level rules. kubectl prints each as its own
  `Warning:` line; the API server truncates long ones, so each is at most 120 characters:
  a longer message is split at word boundaries, its continuation lines indented.
- `dryrun`-action violations are recorded (metrics, logs) but not shown: that is what the
  action means — try a rule on live traffic before anyone sees it.
- A waiver is never silent: each rule an exception waived is one more warning, naming the
  exception and when it ends (`waiver_warning`), after the rules' warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from costwarden.api import patches
from costwarden.engine import wording
from costwarden.engine.verdicts import Exempted, PatchOperation, Verdict

MAX_WARNING_CHARS = 120
CONTINUATION = "  "
"""Prefix of a warning's continuation lines, so a reader sees they belong together."""
API_VERSION = "admission.k8s.io/v1"
Response = dict[str, Any]
"""An `AdmissionResponse` as its wire JSON (camelCase keys, no nulls): see `wire`."""
MAX_WARNINGS = 20
"""The API server keeps warnings to a few KiB in total; past this many, say how many more."""


def split_warning(message: str, *, width: int = MAX_WARNING_CHARS) -> list[str]:
    """A message as lines of at most `width` characters, split between words (a word
    longer than a line is cut), whitespace runs read as one space.

    Greedy and hand-written rather than `textwrap`: this runs for every warning of every
    review. Each line is found with one `rfind` for the last space that fits, not word by
    word: a budget warning has ~60 words.
    """
    if len(message) <= width and "\n" not in message:
        return [message]
    text = " ".join(message.split())
    lines: list[str] = []
    room = width
    while len(text) > room:
        cut = text.rfind(" ", 0, room + 1)
        if cut < 0:  # a single word longer than a line: cut it
            lines.append(text[:room])
            text = text[room:]
        else:
            lines.append(text[:cut])
            text = text[cut + 1 :]
        room = width - len(CONTINUATION)
    if text:
        lines.append(text)
    return lines[:1] + [CONTINUATION + line for line in lines[1:]]


def warnings_of(messages: Iterable[str]) -> tuple[str, ...]:
    lines = [line for message in messages for line in split_warning(message)]
    if len(lines) > MAX_WARNINGS:
        hidden = len(lines) - (MAX_WARNINGS - 1)
        lines = [*lines[: MAX_WARNINGS - 1], f"... and {hidden} more warning lines"]
    return tuple(lines)


MAX_REASON_CHARS = MAX_WARNING_CHARS
"""A waiver's reason shown at most this long (the whole of it stays on the exception)."""


def waiver_warning(exempted: Exempted) -> str:
    """`[rule] waived until <YYYY-MM-DD HH:MM> UTC by <exception>: <reason>`, wrapped like
    every warning: when it ends comes first. The reason is free text (a PolicyException's
    `spec.reason`): its line breaks and other unprintable characters become spaces, and past
    `MAX_REASON_CHARS` it is cut short."""
    printable = "".join(c if c.isprintable() else " " for c in exempted.reason)
    reason = " ".join(printable.split())
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1].rstrip() + "…"
    until = wording.day(exempted.expires)
    return f"[{exempted.rule}] waived until {until} by {exempted.exception}: {reason}"


def validation(uid: str, verdict: Verdict) -> Response:
    """The /validate answer: decision, denial messages, warnings (never a patch)."""
    response: Response = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        messages = [v.message for v in verdict.denials] or ["denied by costwarden policy"]
        response["status"] = {"code": 403, "message": "\n".join(messages), "reason": "Forbidden"}
    shown = warnings_of(
        (
            *verdict.notices,
            *(v.message for v in verdict.warnings),
            *(waiver_warning(e) for e in verdict.exempted),
        )
    )
    if shown:
        response["warnings"] = list(shown)
    return response


def mutation(uid: str, operations: Sequence[PatchOperation]) -> Response:
    """The /mutate answer: always allowed (/validate decides), with the patch if any."""
    if not operations:
        return untouched(uid)
    return {
        "uid": uid,
        "allowed": True,
        "patch": patches.encode(operations),
        "patchType": "JSONPatch",
    }


def untouched(uid: str) -> Response:
    return {"uid": uid, "allowed": True}


def review(response: Response) -> bytes:
    """The response body: an AdmissionReview with camelCase keys and no nulls.

    Plain dicts encoded by orjson (compact UTF-8) rather than
    `wire.AdmissionReviewResponse`: the same bytes, without validating what we just
    built. The tests hold every answer to the wire model.
    """
    return orjson.dumps(
        {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}
    )
