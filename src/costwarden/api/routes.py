"""The two FastAPI applications: admission (HTTPS port) and operations (metrics port).

Routers parse, delegate, return. Bad input is mapped to HTTP here and only here: a
`BadReview` becomes its 4xx status with `{"reason": ...}`; nothing a client sends can
produce a 500. A failure inside evaluation is ours: a 500 with the reason, logged with
its traceback and counted as `decision="error"`. The admission routes answer with raw
bytes built by `responding` rather than a FastAPI response model, so the hot path
serialises once, and parse and answer through `batching.Batches`: reviews that arrive
together are answered back to back.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from costwarden.api import reading
from costwarden.api.admitting import Admission
from costwarden.api.batching import Batches
from costwarden.reviews import AdmissionRequest

JSON = "application/json"

log = logging.getLogger(__name__)


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes before reading them all (HTTP 413)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise reading.BadReview(f"body of {declared} bytes exceeds {limit}", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise reading.BadReview(f"body exceeds {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


class _Failed(Exception):
    """Evaluating a review raised: our bug, answered 500 (the failure is logged where it
    happened, with its traceback)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def admission_app(
    admission: Admission, *, max_request_bytes: int, batches: Batches | None = None
) -> FastAPI:
    """`/validate` and `/mutate`; `batches` answers reviews that arrive together back to
    back (see `batching`; None: each at once)."""
    app = FastAPI(title="costwarden admission", docs_url=None, redoc_url=None, openapi_url=None)
    batches = batches if batches is not None else Batches()

    def decide(webhook: str, body: bytes, started: float) -> bytes | AdmissionRequest:
        """The response body; or the parsed request, when answering it may block on the
        network (the route answers it in a worker thread)."""
        try:
            review = reading.parse(body)
        except reading.BadReview:
            admission.invalid(webhook, started=started)
            raise
        if admission.may_block(webhook, review):
            return review
        return answer_now(webhook, review, started)

    def answer_now(webhook: str, review: AdmissionRequest, started: float) -> bytes:
        try:
            return admission.answer(webhook, review, started=started)
        except reading.BadReview:
            raise
        except Exception as exc:  # our bug, not the caller's: 500, and the API server's
            # failurePolicy decides (a 4xx would claim the request was at fault).
            log.exception("evaluating %s uid=%s failed", webhook, review.uid)
            raise _Failed(f"costwarden could not evaluate request {review.uid}: {exc!r}") from exc

    async def answer(webhook: str, request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await read_body(request, limit=max_request_bytes)
        except reading.BadReview:
            admission.invalid(webhook, started=started)
            raise
        try:
            done = await batches.run(functools.partial(decide, webhook, body, started))
            if not isinstance(done, bytes):
                done = await run_in_threadpool(answer_now, webhook, done, started)
        except _Failed as failed:
            return JSONResponse({"reason": failed.reason}, status_code=500)
        return Response(done, media_type=JSON)

    @app.post("/validate")
    async def validate(request: Request) -> Response:
        return await answer("validate", request)

    @app.post("/mutate")
    async def mutate(request: Request) -> Response:
        return await answer("mutate", request)

    @app.exception_handler(reading.BadReview)
    async def bad_review(request: Request, exc: reading.BadReview) -> Response:
        return JSONResponse({"reason": exc.reason}, status_code=exc.status)

    return app


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def operations_app(
    *,
    readiness: Callable[[], tuple[bool, Mapping[str, Any]]],
    metrics: Callable[[], tuple[bytes, str]],
) -> FastAPI:
    """`/healthz` (the process answers), `/readyz` (with detail), `/metrics`."""
    app = FastAPI(title="costwarden operations", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz")
    async def readyz() -> Response:
        ready, detail = readiness()
        body = json.dumps({"ready": ready, **detail}, default=_json_value, indent=2).encode()
        return Response(body, status_code=200 if ready else 503, media_type=JSON)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        body, content_type = metrics()
        return Response(body, media_type=content_type)

    return app
