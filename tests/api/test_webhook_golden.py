"""Golden request/response pairs: every captured review through the real engine.

The requests are the 68 captured AdmissionReviews (`tests/fixtures/admission/`); the
expected responses live in `tests/api/golden/<fixture>.json`, with the patch also shown
decoded so a reviewer can read what changed. The server runs on the bundled policies and
catalog, the fixtures' namespace labels and a fixed clock, so the answers are stable.

When a deliberate change alters the answers, regenerate and review the diff:

    COSTWARDEN_REGENERATE_GOLDENS=1 .venv/bin/pytest tests/api/test_webhook_golden.py
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_support import NAMESPACES, fixture_paths, load_fixture, local_settings, webhook_of

from costwarden import app as application

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("COSTWARDEN_REGENERATE_GOLDENS") == "1"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(scope="module")
def webhook() -> application.App:
    return application.create_app(
        local_settings(),
        namespaces=application.StaticNamespaceLabels(NAMESPACES),
        clock=FixedClock(),
    )


def readable(answer: dict[str, Any]) -> dict[str, Any]:
    patch = answer["response"].get("patch")
    decoded = json.loads(base64.b64decode(patch)) if patch else None
    return {"response": answer, "patch_decoded": decoded}


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.name)
async def test_the_answer_to_each_captured_review_matches_its_golden(
    webhook: application.App, path: Path
) -> None:
    transport = httpx.ASGITransport(app=webhook.admission)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        answer = await http.post(f"/{webhook_of(path)}", json=load_fixture(path))
    assert answer.status_code == 200
    actual = readable(answer.json())
    golden = GOLDEN / path.name
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert golden.exists(), f"no golden for {path.name}: regenerate (see module docstring)"
    assert actual == json.loads(golden.read_text())
