"""Colour on a terminal, for verdicts only: denied red, warned yellow.

Only when the output is a terminal and `NO_COLOR` is unset or empty (no-color.org): a
pipe, a file or a CI log that is no terminal gets plain text, byte for byte the same.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator, Mapping
from typing import TextIO

RED = "\033[31m"
YELLOW = "\033[33m"
RESET = "\033[0m"

_TAGGED = re.compile(r"^(\s+)(DENY|WARN)(\s)")
_VERDICT = re.compile(r"^(\S.*\s)(denied|warned)$")  # a table row's last column
_COLOURS = {"DENY": RED, "denied": RED, "WARN": YELLOW, "warned": YELLOW}


def enabled(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` gets colour: a terminal, and NO_COLOR unset or empty."""
    environ = os.environ if environ is None else environ
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(line: str) -> str:
    """A table row's verdict (its last column) and a `DENY`/`WARN` tag, coloured."""
    line = _TAGGED.sub(lambda m: f"{m[1]}{_COLOURS[m[2]]}{m[2]}{RESET}{m[3]}", line)
    return _VERDICT.sub(lambda m: f"{m[1]}{_COLOURS[m[2]]}{m[2]}{RESET}", line)


@contextlib.contextmanager
def painted(stream: TextIO) -> Iterator[None]:
    """What is printed inside goes to `stream` with verdicts coloured, if it gets colour."""
    if not enabled(stream):
        yield
        return
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    stream.write("".join(paint(line) + "\n" for line in buffer.getvalue().splitlines()))
