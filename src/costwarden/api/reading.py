"""Reading an AdmissionReview from a request body, or saying precisely why not.

The second error channel (STYLE.md #6): a pod breaking a policy is a Verdict, but a body
that is not an `admission.k8s.io/v1` AdmissionReview is a bad webhook call — `BadReview`,
mapped to an HTTP 4xx with the reason in one place (`routes`). Bad input never
becomes a 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import ValidationError

from costwarden import reviews
from costwarden.api import wire
from costwarden.documents import format_path
from costwarden.engine import wording

MAX_REASONS = 5
"""A body can be wrong in hundreds of places; the first few say enough."""
MAX_DEPTH = 100
"""Nesting no object of a kind the webhook is registered for comes near (a Pod's deepest
field is about 15 levels down); see `too_deep`."""
SHOWN_STEPS = 12


MAX_REASON_CHARS = 1000
"""A 4xx reason is cut here: it quotes what was wrong, and what was wrong may be megabytes
a client sent to make the server echo them."""


class BadReview(Exception):
    """A request body that is not a usable AdmissionReview; `status` is the HTTP status."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        reason = wording.clip(reason, MAX_REASON_CHARS)
        super().__init__(reason)
        self.reason = reason
        self.status = status


def parse(body: bytes) -> reviews.AdmissionRequest:
    """The review's request; raises `BadReview` for anything else."""
    if not body:
        raise BadReview("empty body: expected an admission.k8s.io/v1 AdmissionReview")
    # Decode, then validate the decoded value: orjson builds the plain dicts the engine
    # reads faster than `model_validate_json` decodes and validates in one go.
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReview(f"body is not JSON: {exc}") from None
    try:
        return wire.read_review(data)
    except ValidationError:
        # Rare and not hot: let JSON-mode validation name the problem exactly as it reads
        # the body (its error locations and messages are the ones documented).
        try:
            return wire.AdmissionReview.model_validate_json(body).request.read()
        except ValidationError as exc:
            raise BadReview(_reason(exc)) from None


def too_deep(request: reviews.AdmissionRequest) -> str | None:
    """Where the request holds a value nested more than `MAX_DEPTH` levels deep (the first
    found, as its path's first `SHOWN_STEPS` steps), or None.

    orjson decodes up to 1,024 levels, but Python's recursion gives out sooner, where a
    value is read or named in an error: answering such a request raises `RecursionError`.
    Walking every body to refuse deep ones up front would cost each review about half its
    decoding time, so the answer's `RecursionError` is checked with this instead (no
    recursion of its own): a request that holds such a value is the caller's fault.
    """
    pending: list[tuple[tuple[str | int, ...], Any, int]] = [
        (("request", "userInfo"), request.user_info, 1),
        (("request", "object"), request.object, 1),
        (("request", "oldObject"), request.old_object, 1),
    ]
    while pending:
        path, value, depth = pending.pop()
        if isinstance(value, dict):
            children: Iterable[tuple[str | int, Any]] = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if depth > MAX_DEPTH:  # its first steps say where it is; the rest repeat themselves
            return format_path(path[:SHOWN_STEPS]) + ("…" if len(path) > SHOWN_STEPS else "")
        pending.extend(((*path, key), child, depth + 1) for key, child in children)
    return None


def _reason(error: ValidationError) -> str:
    items = error.errors(include_url=False, include_input=False)
    if items and items[0]["type"] == "json_invalid":
        return f"body is not JSON: {items[0]['ctx'].get('error', items[0]['msg'])}"
    if items and items[0]["type"] == "model_type" and not items[0]["loc"]:
        return "body is JSON but not an object: expected an AdmissionReview"
    parts = []
    for item in items[:MAX_REASONS]:
        where = format_path([p for p in item["loc"] if isinstance(p, str | int)]) or "body"
        message = "required field is missing" if item["type"] == "missing" else item["msg"]
        parts.append(f"{where}: {message}")
    more = f" (and {len(items) - MAX_REASONS} more)" if len(items) > MAX_REASONS else ""
    return "not an admission.k8s.io/v1 AdmissionReview: " + "; ".join(parts) + more
