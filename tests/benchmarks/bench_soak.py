"""Soak benchmark of `costwarden serve` under careless and hostile clients (issue #22).

`costwarden serve` (bundled policies and catalog, the captured reviews' namespace labels,
HTTPS on loopback, its default timeouts) is run in a child process for `SOAK_SECONDS`
(default 600) while `SOAK_CLIENTS` (default 64) clients replay the 68 captured
AdmissionReviews over keep-alive connections, each to the webhook path it was captured
on. Mixed in, per client:

- every `RESET_EVERY`th review, the client resets its connection (TCP RST, no TLS
  close_notify) right after the answer and opens a new one;
- every `STALL_EVERY`th review, it also opens a connection that stalls — by turns a TCP
  connection with no ClientHello, a handshake and nothing else, part of the headers,
  half a body — and leaves it for the server to close (the header and body timeouts).

Each minute it prints the reviews answered, the errors (a review not answered 200, a
connection failing under a review, a stalled connection the server had not closed within
twice its timeouts), p50 and p99 latency of the answered reviews, the server's RSS and
open files at the end of the minute, and the stalled connections opened and closed.
At the end: how it exited on SIGTERM, the server log's tracebacks and ERROR lines, and
its lines about connections (one per kind of event per minute).

Not a test: it asserts nothing. Run: `make soak-serve` (`SOAK_SECONDS=60` for a short
look). The client shares the machine's cores with the server: latencies are pessimistic.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import ssl
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.security.serve_process import (  # noqa: E402 (after the path is set)
    ServeProcess,
    captured_reviews,
    post_bytes,
    serve_process,
)

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SOAK_CLIENTS = int(os.environ.get("SOAK_CLIENTS", "64"))
RESET_EVERY = 20
STALL_EVERY = 100
STALL_KINDS = ("tcp-only", "handshake-only", "partial-headers", "half-body")
SERVER_TIMEOUT_SECONDS = 10.0
"""`costwarden serve`'s default header and body timeouts (the soak runs the defaults)."""


@dataclass
class Minute:
    answered: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    stalled_opened: int = 0
    stalled_closed: int = 0
    stalled_not_closed: int = 0
    resets: int = 0


@dataclass
class Soak:
    server: ServeProcess
    started: float
    minutes: list[Minute] = field(default_factory=list)
    stalled: set[asyncio.Task[None]] = field(default_factory=set)
    error_kinds: dict[str, int] = field(default_factory=dict)

    def minute(self) -> Minute:
        index = int((time.monotonic() - self.started) // 60)
        while len(self.minutes) <= index:
            self.minutes.append(Minute())
        return self.minutes[index]

    def error(self, kind: str) -> None:
        self.minute().errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split(b" ", 2)[1])


def rst(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP reset, no close_notify."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def stall(soak: Soak, kind: str, context: ssl.SSLContext) -> None:
    """Open a connection that stops part-way; count whether the server closes it."""
    port = soak.server.webhook_port
    path, body = REVIEWS[0]
    request = post_bytes(path, body)
    soak.minute().stalled_opened += 1
    try:
        if kind == "tcp-only":
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            if kind == "partial-headers":
                writer.write(request[:40])
            elif kind == "half-body":
                writer.write(request[: request.index(b"\r\n\r\n") + 4 + len(body) // 2])
    except OSError:
        soak.error(f"stall {kind}: could not connect")
        return
    try:
        # Handshake, then headers or body: at most two timeouts, then doubled for slack.
        async with asyncio.timeout(4 * SERVER_TIMEOUT_SECONDS):
            while await reader.read(65536):
                pass
        soak.minute().stalled_closed += 1
    except (ConnectionError, ssl.SSLError):
        soak.minute().stalled_closed += 1
    except TimeoutError:
        soak.minute().stalled_not_closed += 1
        soak.error(f"stall {kind}: not closed by the server")
    finally:
        writer.transport.abort()


async def client(soak: Soak, number: int, stop_at: float, context: ssl.SSLContext) -> None:
    port = soak.server.webhook_port
    kinds = itertools.cycle(STALL_KINDS[number % 4 :] + STALL_KINDS[: number % 4])
    writer: asyncio.StreamWriter | None = None
    for i in itertools.count(number * 7):
        if time.monotonic() >= stop_at:
            break
        if i % STALL_EVERY == 0:
            task = asyncio.create_task(stall(soak, next(kinds), context))
            soak.stalled.add(task)
            task.add_done_callback(soak.stalled.discard)
        path, body = REVIEWS[i % len(REVIEWS)]
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            started = time.perf_counter()
            writer.write(post_bytes(path, body))
            async with asyncio.timeout(30):
                status = await read_answer(reader)
            latency = time.perf_counter() - started
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            soak.error(f"review: {type(exc).__name__}")
            if writer is not None:
                writer.transport.abort()
            writer = None
            continue
        minute = soak.minute()
        if status != 200:
            soak.error(f"review: HTTP {status}")
        else:
            minute.answered += 1
            minute.latencies.append(latency)
        if i % RESET_EVERY == 0:
            rst(writer)
            minute.resets += 1
            writer = None
    if writer is not None:
        writer.close()


async def watch(soak: Soak, stop_at: float) -> None:
    """At the end of each minute: the server's RSS and open files, and the minute's line."""
    index = 0
    while True:
        next_minute = soak.started + 60 * (index + 1)
        await asyncio.sleep(max(0.0, min(next_minute, stop_at) - time.monotonic()))
        rss, files = soak.server.rss_mib(), soak.server.open_files()
        while len(soak.minutes) <= index:
            soak.minutes.append(Minute())
        report(index, soak.minutes[index], rss, files)
        index += 1
        if time.monotonic() >= stop_at - 0.5:
            return


def report(index: int, minute: Minute, rss: float, files: int) -> None:
    latencies = sorted(minute.latencies)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    print(
        f"  minute {index + 1:>2}: {minute.answered:6d} answered, {minute.errors:3d} errors, "
        f"p50 {p50:6.1f} ms, p99 {p99:6.1f} ms, RSS {rss:6.1f} MiB, {files:4d} open files, "
        f"{minute.resets:4d} resets, stalled {minute.stalled_opened:3d} opened / "
        f"{minute.stalled_closed:3d} closed by the server",
        flush=True,
    )


async def soak_for(server: ServeProcess, seconds: float) -> Soak:
    context = server.client_context
    soak = Soak(server=server, started=time.monotonic())
    stop_at = soak.started + seconds
    watcher = asyncio.create_task(watch(soak, stop_at))
    await asyncio.gather(*(client(soak, n, stop_at, context) for n in range(SOAK_CLIENTS)))
    await watcher
    # Let the last stalled connections be closed (or not) by the server.
    await asyncio.gather(*soak.stalled, return_exceptions=True)
    return soak


REVIEWS = captured_reviews()


def main() -> None:
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {len(REVIEWS)} captured reviews, "
        f"{SOAK_CLIENTS} clients for {SOAK_SECONDS:.0f} s over HTTPS keep-alive; each "
        f"client resets its connection after every {RESET_EVERY}th review and opens a "
        f"stalled connection every {STALL_EVERY}th ({', '.join(STALL_KINDS)} in turn); "
        f"server timeouts {SERVER_TIMEOUT_SECONDS:.0f} s (defaults), {os.cpu_count()} CPUs "
        "shared by client and server",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory() as workdir,
        serve_process(Path(workdir), flags=("--log-level", "info")) as server,
    ):
        start_rss = server.rss_mib()
        print(f"  start: RSS {start_rss:.1f} MiB, {server.open_files()} open files", flush=True)
        soak = asyncio.run(soak_for(server, SOAK_SECONDS))
        answered = sum(m.answered for m in soak.minutes)
        errors = sum(m.errors for m in soak.minutes)
        latencies = sorted(itertools.chain.from_iterable(m.latencies for m in soak.minutes))
        print(
            f"  total: {answered} reviews answered, {errors} errors "
            f"{soak.error_kinds or ''}, p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms; "
            f"{sum(m.resets for m in soak.minutes)} connections reset, "
            f"{sum(m.stalled_opened for m in soak.minutes)} stalled "
            f"({sum(m.stalled_closed for m in soak.minutes)} closed by the server); "
            f"RSS {start_rss:.1f} -> {server.rss_mib():.1f} MiB"
        )
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=60)
        lines = server.log().splitlines()
        transport = [line for line in lines if " costwarden.api.serving: " in line]
        print(
            f"  SIGTERM: exit {code} after {time.monotonic() - stopped:.1f} s; server log "
            f"{len(lines)} lines, {sum('Traceback' in line for line in lines)} tracebacks, "
            f"{sum(' ERROR ' in line for line in lines)} at ERROR, {len(transport)} about "
            "connections (the rest: one INFO line per denied review):"
        )
        for line in transport:
            print(f"    {line[:220]}")


if __name__ == "__main__":
    main()
