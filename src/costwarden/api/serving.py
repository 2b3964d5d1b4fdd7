"""The HTTP server under both apps: uvicorn's h11 protocol behind costwarden's own accept
loop, bounded against hostile and careless clients.

Anything that reaches the webhook's Service can open connections to it, and with the
chart's `failurePolicy: Ignore` a webhook that stops answering admits everything
unchecked. `uvicorn.Server` left four ways to get there (issue #22):

- A connection the client resets after a request stayed alive — protocol, transport and
  asyncio's 256 KiB TLS read buffer — until its keep-alive timer fired: uvicorn's
  `H11Protocol.connection_lost` cancels that timer only on a clean close, and the
  pending timer holds the protocol. Memory came back to Python after the keep-alive
  (60 s here) but fragmented, so the process's RSS stayed up. `Connection` cancels the
  timer on every close.
- Nothing timed out a client that stalled: after the handshake, in its headers or in its
  body. `Connection` gives the headers and the body a deadline each (`Limits`), and the
  TLS handshake is given the header timeout.
- Past the open-file limit, asyncio's accept loop logged a traceback per failed accept,
  thousands a second. `Server` accepts itself and holds at most `max_connections` open,
  below the limit (`connection_limit`); past it, new ones wait in the listen backlog.
- Shutdown waited for every connection to close: 30 s for the TLS close of an idle one,
  forever for a half-sent body. `Server.serve` returns within `shutdown_timeout`.

Whatever happens to many connections at once is logged one line per kind per minute
(`EventLog`), never a traceback per event.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import resource
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import h11
import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

RESERVED_FILES = 64
"""Open files kept back from the connection cap for everything else the process opens:
policy and certificate files, the Kubernetes watches, Prometheus queries, the listening
sockets."""
SSL_SHUTDOWN_SECONDS = 2.0
"""How long a closing TLS connection waits for the client's close_notify (asyncio's
default, 30 s, is what made an idle keep-alive client hold up shutdown)."""
TIMED_OUT = "costwarden.timed_out"
"""Set in a request's ASGI scope state when the body timeout closed its connection."""
REPORT_INTERVAL_SECONDS = 60.0
"""`EventLog` logs each kind of event at most once per this interval."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one server allows a connection (seconds, and a count)."""

    header_timeout: float
    """TLS handshake; then a request's headers, from the connection or the request's first
    byte."""
    body_timeout: float
    """A request's body, once its headers are in."""
    keep_alive: float
    """An idle connection between requests."""
    max_connections: int
    """Open at once, handshakes included."""
    shutdown_timeout: float
    """From stop to return: requests in flight finish within it or are cut off."""


def open_file_limit() -> int:
    """The process's soft RLIMIT_NOFILE (open files), or a large number if unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_limit(requested: int, *, others: int, file_limit: int | None = None) -> int:
    """The connections a server may hold: `requested` (0: as many as fit), at most the
    open-file limit less `others` (connections the other servers may hold) and
    `RESERVED_FILES`, at least 1."""
    limit = file_limit if file_limit is not None else open_file_limit()
    room = max(limit - RESERVED_FILES - others, 1)
    if requested and requested > room:
        log.warning(
            "--max-connections %d does not fit the open-file limit %d: holding at most %d",
            requested,
            limit,
            room,
        )
    return min(requested, room) if requested else room


class EventLog:
    """Logs each kind of event at most once per `interval`; the next line after a quiet
    spell says how many of that kind went unlogged meanwhile."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = REPORT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}
        """kind -> (when it was last logged, how many since)."""

    def event(self, kind: str, level: int, message: str, *args: object) -> None:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last[0] < self._interval:
            self._last[kind] = (last[0], last[1] + 1)
            return
        self._last[kind] = (now, 0)
        if last is not None and last[1]:
            message += " (and %d more like it since the last such line)"
            args = (*args, last[1])
        self._logger.log(level, message, *args)


class _ProtocolLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """uvicorn's per-connection logger, with its warnings about bad requests ("Invalid HTTP
    request received.", one per connection a scanner opens) put through an `EventLog`."""

    def __init__(self, logger: logging.Logger, events: EventLog) -> None:
        super().__init__(logger, {})
        self.events = events

    @property
    def level(self) -> int:
        level: int = self.logger.level
        return level

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level == logging.WARNING and not kwargs:
            self.events.event(f"uvicorn:{msg}", level, str(msg), *args)
        else:
            self.logger.log(level, msg, *args, **kwargs)


class _Slot:
    """One accepted connection's place under the cap, given back exactly once."""

    __slots__ = ("_server",)

    def __init__(self, server: Server) -> None:
        self._server: Server | None = server

    def release(self) -> None:
        if self._server is not None:
            self._server.released()
            self._server = None


class Connection(H11Protocol):
    """uvicorn's h11 protocol with read deadlines, and without the reset leak."""

    def __init__(self, config: uvicorn.Config, server: Server, slot: _Slot) -> None:
        super().__init__(config=config, server_state=server.state, app_state={})
        self.logger = server.protocol_log  # type: ignore[assignment]
        self._limits = server.limits
        self._events = server.events
        self._name = server.name
        self._slot = slot
        self._owed: str | None = None
        """What the client owes now and has a deadline for: "headers", "body" or None."""
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # uvicorn cancels the keep-alive timer only when exc is None; a reset left it
        # holding this protocol, its transport and the TLS buffers until it fired.
        self._unset_keepalive_if_required()
        self._set_deadline(None)
        self._slot.release()

    def shutdown(self) -> None:
        """Stop: an idle connection (or one still sending headers) closes now; one with a
        request in progress closes after its response."""
        try:
            super().shutdown()
        except h11.LocalProtocolError:  # the connection was already in error
            self.transport.abort()

    def _watch(self) -> None:
        """Set the deadline for what the client owes now: the headers of its first request
        (from the connection), of a later one (from its first byte), or a body."""
        if self.transport is None or self.transport.is_closing():
            self._set_deadline(None)
            return
        state = self.conn.their_state
        owed: str | None = None
        if state is h11.IDLE:
            if self.cycle is None or self.conn.trailing_data[0]:
                owed = "headers"
        elif state is h11.SEND_BODY:
            owed = "body"
        self._set_deadline(owed)

    def _set_deadline(self, owed: str | None) -> None:
        if owed == self._owed:
            return  # one deadline per thing owed: trickling bytes does not extend it
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._owed = owed
        if owed is not None:
            self._deadline = self.loop.call_later(self._timeout(owed), self._overdue)

    def _timeout(self, owed: str | None) -> float:
        return self._limits.header_timeout if owed == "headers" else self._limits.body_timeout

    def _overdue(self) -> None:
        owed, self._deadline, self._owed = self._owed, None, None
        timeout = self._timeout(owed)
        self._events.event(
            f"timeout:{owed}",
            logging.INFO,
            "%s port: closed a connection whose request %s did not arrive within %g s",
            self._name,
            owed,
            timeout,
        )
        if owed == "body":  # the request's handler is waiting for it: logged here, not there
            self.scope["state"][TIMED_OUT] = True
        self.transport.abort()


def quiet_disconnects(app: ASGIApp, events: EventLog, *, name: str) -> ASGIApp:
    """`app`, with a client that goes away before its whole request has arrived logged as
    one line at INFO (uvicorn would log Starlette's ClientDisconnect as an application
    error, with its traceback). There is nobody left to answer."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except ClientDisconnect:
            if scope.get("state", {}).get(TIMED_OUT):
                return  # closed by the body timeout, which said so
            events.event(
                "disconnect",
                logging.INFO,
                "%s port: a client went away before its whole %s %s request arrived; not answered",
                name,
                scope.get("method"),
                scope.get("path"),
            )

    return serve


class Server:
    """Serves one ASGI app on one listening socket until `stop()`, then shuts down within
    `limits.shutdown_timeout`."""

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        *,
        limits: Limits,
        tls: ssl.SSLContext | None = None,
        name: str = "webhook",
    ) -> None:
        self.name = name
        self.sock = sock
        self.limits = limits
        self.tls = tls
        self.state = ServerState()
        self.events = EventLog(log)
        self.protocol_log = _ProtocolLog(logging.getLogger("uvicorn.error"), self.events)
        self.config = uvicorn.Config(
            quiet_disconnects(app, self.events, name=name),
            http="h11",
            ws="none",  # no upgrades: the new protocol would never give back its place
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=max(1, round(limits.keep_alive)),
        )
        self.config.load()
        self.started = False
        self.should_exit = False
        """Set (from any thread) to stop: polled every `TICK` seconds."""
        self.open = 0
        """Connections accepted and not yet closed, handshakes included."""
        self._room: asyncio.Event | None = None
        self._opening: set[asyncio.Task[None]] = set()

    TICK = 0.1

    def stop(self) -> None:
        self.should_exit = True

    def released(self) -> None:
        self.open -= 1
        if self._room is not None:
            self._room.set()

    async def serve(self) -> None:
        self._room = asyncio.Event()
        self.sock.setblocking(False)
        accepting = asyncio.create_task(self._accept_forever())
        self.started = True
        ticks = 0
        try:
            while not self.should_exit and not accepting.done():
                if ticks % 10 == 0:
                    self._set_date()
                ticks += 1
                await asyncio.sleep(self.TICK)
            failed = accepting.done() and accepting.exception()
        finally:
            accepting.cancel()
            await asyncio.gather(accepting, return_exceptions=True)
            await self._shut_down()
        if failed:
            raise failed

    def _set_date(self) -> None:
        # As uvicorn does once a second: every response carries a Date header.
        self.state.default_headers = [(b"date", formatdate(time.time(), usegmt=True).encode())]

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._room is not None
        while True:
            if self.open >= self.limits.max_connections:
                self.events.event(
                    "limit",
                    logging.WARNING,
                    "%s port: %d connections open, the most it holds (--max-connections); "
                    "new ones wait in the listen backlog until one closes",
                    self.name,
                    self.open,
                )
                self._room.clear()
                await self._room.wait()
                continue
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self.events.event(
                        "accept",
                        logging.WARNING,
                        "%s port: cannot accept a connection (%s); trying again in 1 s",
                        self.name,
                        exc.strerror or exc,
                    )
                    await asyncio.sleep(1.0)
                    continue
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue  # that client is gone already
                raise
            self.open += 1
            task = asyncio.create_task(self._open(conn, _Slot(self)))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket, slot: _Slot) -> None:
        """Hand an accepted socket to a `Connection` (after the TLS handshake)."""
        loop = asyncio.get_running_loop()
        factory = functools.partial(Connection, self.config, self, slot)
        tls_options: dict[str, Any] = {}
        if self.tls is not None:
            tls_options = {
                "ssl": self.tls,
                "ssl_handshake_timeout": self.limits.header_timeout,
                "ssl_shutdown_timeout": SSL_SHUTDOWN_SECONDS,
            }
        try:
            await loop.connect_accepted_socket(factory, conn, **tls_options)
        except asyncio.CancelledError:
            conn.close()
            slot.release()
            raise
        except Exception as exc:
            conn.close()
            slot.release()
            self.events.event(
                "handshake",
                logging.INFO,
                "%s port: a TLS handshake failed (%s: %s)",
                self.name,
                type(exc).__name__,
                str(exc)[:200],
            )

    async def _shut_down(self) -> None:
        """Stop accepting, drop handshakes, close idle connections, let requests in flight
        finish; whatever is still open at `shutdown_timeout` is cut off."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.shutdown_timeout
        self.sock.close()
        for task in list(self._opening):
            task.cancel()
        await asyncio.gather(*self._opening, return_exceptions=True)
        for connection in list(self.state.connections):
            connection.shutdown()
        while (self.open or self.state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.open or self.state.tasks:
            log.warning(
                "%s port: %d connection(s) and %d request(s) still open %g s after stopping; "
                "closing them",
                self.name,
                self.open,
                len(self.state.tasks),
                self.limits.shutdown_timeout,
            )
            for connection in list(self.state.connections):
                connection.transport.abort()
            await asyncio.sleep(0)


def quiet_transport_errors(events: EventLog) -> Callable[..., None]:
    """An event-loop exception handler: a client's connection failing under asyncio (a
    reset, a TLS error) is one line per minute at INFO; anything else goes to asyncio's
    default handler (with its traceback)."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            events.event(
                f"transport:{type(exc).__name__}",
                logging.INFO,
                "a connection failed: %s (%s: %s)",
                context.get("message", ""),
                type(exc).__name__,
                str(exc)[:200],
            )
            return
        loop.default_exception_handler(context)

    return handle
