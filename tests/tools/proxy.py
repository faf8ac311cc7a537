"""A TCP proxy in front of a redis-server that cuts connections at a chosen command.

:class:`FaultProxy` listens on a free port of 127.0.0.1 and forwards every
client connection to a redis-server TCP port. It parses the request stream of
each client (RESP arrays of bulk strings, and inline commands) so it can
record and count commands, and it parses the reply stream of the server so
that every reply is matched with its command. A *fault plan*, armed with
:meth:`FaultProxy.arm`, cuts a connection at the K-th command counted (1-based,
across all client connections) since the plan was armed:

``"drop_before"``
    The K-th command never reaches the server. The replies of the commands
    the same connection sent before it are delivered, then both sides of the
    connection are closed. Commands sent after it are never forwarded.
``"drop_reply"``
    The K-th command is forwarded and executed: the proxy waits for its
    reply from the server (so the effect is certainly applied when the client
    sees the cut), then closes both sides without delivering that reply.
    Commands the client sent after it are never forwarded.

``k`` may also be a collection of positions (``{1, 2}``: cut the first
attempt and the retry too). Once its last position has passed, the plan is
spent and the proxy forwards normally again. Every command is
counted, including the ``CLIENT SETINFO`` handshake redis-py sends on each new
connection; pass ``skip=HANDSHAKE_COMMANDS`` to :meth:`~FaultProxy.arm` so that
K counts only the commands of the code under test (skipped commands are still
recorded in :attr:`~FaultProxy.commands`, and never faulted).

Example (the reliability pattern: cut at every position K of an operation)::

    from tests.tools.proxy import HANDSHAKE_COMMANDS, FaultProxy

    server = PrivateRedisServer(directory, tcp=True).start()
    with FaultProxy(server.port) as proxy:
        # a django_limpyd client: a plain redis.Redis would retry the INCR itself
        client = RedisDatabase(host="127.0.0.1", port=proxy.port).connection
        client.ping()                                # connect now (handshake done)
        proxy.arm(1, "drop_reply")                   # the next command runs, its reply is lost
        with pytest.raises(redis.ConnectionError):
            client.incr("n")                         # sent as INCRBY n 1
        assert server.client().get("n") == "1"       # applied exactly once
        assert proxy.fired.is_set() and proxy.fired_command == "INCRBY"

        proxy.reset()                                # forget commands, disarm
        operation()                                  # a clean run: count its commands
        total = len([c for c in proxy.commands if c not in HANDSHAKE_COMMANDS])
        for k in range(1, total + 1):
            proxy.arm(k, "drop_before", skip=HANDSHAKE_COMMANDS)
            with pytest.raises(redis.ConnectionError):
                operation()
            check_invariants()

Limits: one reply per command is assumed (no ``SUBSCRIBE``, ``MONITOR`` or
``CLIENT REPLY OFF`` on a faulted connection; RESP3 push frames and
attributes are forwarded without being matched to a command); RESP3
streamed strings are not parsed. Every thread is a daemon, every socket has a
timeout, and :meth:`FaultProxy.stop` (``__exit__``) closes all of them.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections import deque
from collections.abc import Iterable

__all__ = [
    "DROP_BEFORE",
    "DROP_REPLY",
    "HANDSHAKE_COMMANDS",
    "FaultProxy",
    "ProxyProtocolError",
    "parse_reply",
    "parse_request",
]

#: Fault: close the connection instead of forwarding the K-th command.
DROP_BEFORE = "drop_before"
#: Fault: forward the K-th command, wait for its reply, close without delivering it.
DROP_REPLY = "drop_reply"
MODES = (DROP_BEFORE, DROP_REPLY)

#: Commands a client sends when it (re)connects; ``arm(..., skip=HANDSHAKE_COMMANDS)``
#: keeps them out of the count.
HANDSHAKE_COMMANDS = frozenset({"AUTH", "CLIENT", "HELLO", "SELECT"})

#: How often blocked threads check whether they must stop (seconds).
POLL_INTERVAL = 0.05
_BUFSIZE = 65536


class ProxyProtocolError(ValueError):
    """The bytes seen are not valid RESP; the connection is closed."""


# -- RESP parsing -------------------------------------------------------------------


def _line(buf: bytes | bytearray, start: int) -> tuple[bytes, int] | None:
    """The bytes up to the next CRLF from ``start``, and the position after it."""
    end = buf.find(b"\r\n", start)
    if end < 0:
        return None
    return bytes(buf[start:end]), end + 2


def _int(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ProxyProtocolError(f"expected an integer, got {raw!r}") from None


def parse_request(buf: bytes | bytearray, pos: int = 0) -> tuple[int, list[bytes]] | None:
    """Parse one client request starting at ``buf[pos]``.

    Return ``(end, args)``, ``end`` being the position after the request, or
    ``None`` if the request is not complete yet. ``args`` is empty for a
    request that carries no command (an empty inline line, ``*0``).
    """
    if pos >= len(buf):
        return None
    if buf[pos] != ord("*"):  # an inline command: one line, words split on whitespace
        newline = buf.find(b"\n", pos)
        if newline < 0:
            return None
        return newline + 1, bytes(buf[pos:newline]).split()
    line = _line(buf, pos + 1)
    if line is None:
        return None
    raw, pos = line
    args: list[bytes] = []
    for _ in range(max(_int(raw), 0)):
        if pos >= len(buf):
            return None
        if buf[pos] != ord("$"):
            raise ProxyProtocolError(f"expected a bulk string, got {bytes(buf[pos : pos + 1])!r}")
        line = _line(buf, pos + 1)
        if line is None:
            return None
        raw, pos = line
        size = _int(raw)
        if size < 0:
            raise ProxyProtocolError(f"invalid bulk length {size}")
        end = pos + size
        if len(buf) < end + 2:
            return None
        if buf[end : end + 2] != b"\r\n":
            raise ProxyProtocolError("bulk string not terminated by CRLF")
        args.append(bytes(buf[pos:end]))
        pos = end + 2
    return pos, args


_LINE_TYPES = b"+-:_,#("  # simple string, error, integer, null, double, boolean, big number
_BLOB_TYPES = b"$!="  # bulk string, blob error, verbatim string
_ARRAY_TYPES = b"*~>"  # array, set, push
_MAP_TYPES = b"%|"  # map, attribute: 2 elements per entry


def _skip_value(buf: bytes | bytearray, pos: int) -> int | None:
    """The position after the RESP2/RESP3 value at ``pos`` (``None``: incomplete)."""
    if pos >= len(buf):
        return None
    kind = buf[pos]
    line = _line(buf, pos + 1)
    if line is None:
        return None
    raw, pos = line
    if kind in _LINE_TYPES:
        return pos
    size = _int(raw)
    if kind in _BLOB_TYPES:
        if size < 0:  # null bulk string
            return pos
        end = pos + size + 2
        return end if len(buf) >= end else None
    if kind in _ARRAY_TYPES or kind in _MAP_TYPES:
        if size < 0:  # null array
            return pos
        for _ in range(size * 2 if kind in _MAP_TYPES else size):
            next_pos = _skip_element(buf, pos)
            if next_pos is None:
                return None
            pos = next_pos
        return pos
    raise ProxyProtocolError(f"unknown RESP type {bytes([kind])!r}")


def _skip_element(buf: bytes | bytearray, pos: int) -> int | None:
    """Like :func:`_skip_value`, also skipping the attributes that precede a value."""
    while True:
        if pos >= len(buf):
            return None
        is_attribute = buf[pos] == ord("|")
        next_pos = _skip_value(buf, pos)
        if next_pos is None or not is_attribute:
            return next_pos
        pos = next_pos


def parse_reply(buf: bytes | bytearray, pos: int = 0) -> tuple[int, str] | None:
    """Parse one server frame starting at ``buf[pos]``.

    Return ``(end, kind)`` or ``None`` if the frame is not complete yet.
    ``kind`` is ``"reply"`` (the reply to one command), ``"push"`` (a RESP3
    out-of-band message) or ``"attribute"`` (RESP3 metadata preceding a reply).
    """
    if pos >= len(buf):
        return None
    first = buf[pos]
    end = _skip_value(buf, pos)
    if end is None:
        return None
    kind = "push" if first == ord(">") else "attribute" if first == ord("|") else "reply"
    return end, kind


# -- the proxy ----------------------------------------------------------------------


class _Plan:
    def __init__(self, positions: frozenset[int], mode: str, skip: frozenset[str]) -> None:
        self.positions = positions
        self.last = max(positions)
        self.mode = mode
        self.skip = skip
        self.seen = 0


class _Link:
    """One client connection and its upstream connection, with two pump threads."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.lock = threading.Lock()
        #: one entry per command forwarded and not answered yet: drop its reply?
        self.pending: deque[bool] = deque()
        #: a drop_before fault: close once the commands already forwarded are answered
        self.drain_then_close = False
        self.closed = False
        self._running = 2

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._client_to_server, name="fault-proxy-up", daemon=True),
            threading.Thread(target=self._server_to_client, name="fault-proxy-down", daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def close(self) -> None:
        """Cut both sides (idempotent); blocked pumps wake up and exit."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _fault_applied(self) -> None:
        self.proxy.fired.set()  # first: the client wakes up as soon as the link is cut
        self.close()

    def _pump_exited(self) -> None:
        with self.lock:
            self._running -= 1
            last = self._running == 0
        if last:  # nobody uses the sockets any more: release them
            self.close()
            self.client.close()
            self.upstream.close()
            self.proxy._forget(self)

    def _recv_loop(self, sock: socket.socket) -> Iterable[bytes]:
        """Yield the data read from ``sock`` until EOF or :meth:`close`."""
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            while not self.closed:
                if not selector.select(POLL_INTERVAL):
                    continue
                data = sock.recv(_BUFSIZE)
                if not data:
                    return
                yield data

    def _client_to_server(self) -> None:
        keep_open = False
        buf = bytearray()
        try:
            for data in self._recv_loop(self.client):
                buf += data
                while (parsed := parse_request(buf)) is not None:
                    end, args = parsed
                    chunk = bytes(buf[:end])
                    del buf[:end]
                    mode = self.proxy._count(args) if args else None
                    if mode == DROP_BEFORE:
                        with self.lock:
                            self.drain_then_close = True
                            drained = not self.pending
                        if drained:
                            self._fault_applied()
                        keep_open = True  # the other pump delivers earlier replies
                        return
                    if args:
                        with self.lock:
                            self.pending.append(mode == DROP_REPLY)
                    self.upstream.sendall(chunk)
                    if mode == DROP_REPLY:
                        keep_open = True  # the other pump waits for the reply
                        return
        except (OSError, ProxyProtocolError):
            pass
        finally:
            if not keep_open:
                self.close()
            self._pump_exited()

    def _server_to_client(self) -> None:
        buf = bytearray()
        try:
            for data in self._recv_loop(self.upstream):
                buf += data
                while (parsed := parse_reply(buf)) is not None:
                    end, kind = parsed
                    frame = bytes(buf[:end])
                    del buf[:end]
                    if kind != "reply":
                        self.client.sendall(frame)
                        continue
                    with self.lock:
                        drop = self.pending[0] if self.pending else False
                    if drop:
                        self._fault_applied()
                        return
                    self.client.sendall(frame)
                    with self.lock:
                        if self.pending:
                            self.pending.popleft()
                        drained = self.drain_then_close and not self.pending
                    if drained:
                        self._fault_applied()
                        return
        except (OSError, ProxyProtocolError):
            pass
        finally:
            self.close()  # no replies can reach the client any more
            self._pump_exited()


class FaultProxy:
    """A threaded TCP proxy to a redis-server, with a fault plan (see the module doc).

    :param upstream_port: the TCP port of the redis-server.
    :param upstream_host: its host (default ``127.0.0.1``).
    :param timeout: bound (seconds) on connecting upstream, on every send, and
        on joining the threads in :meth:`stop`.
    """

    host = "127.0.0.1"

    def __init__(
        self, upstream_port: int, upstream_host: str = "127.0.0.1", *, timeout: float = 10.0
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.timeout = timeout
        #: the port clients connect to (set by :meth:`start`)
        self.port: int | None = None
        #: set when the armed fault is applied (just before the connection is cut)
        self.fired = threading.Event()
        #: the names of the commands the armed plan hit, in order
        self.fired_commands: list[str] = []
        self._lock = threading.Lock()
        self._commands: list[str] = []
        self._history: list[tuple[bytes, ...]] = []
        self._plan: _Plan | None = None
        self._links: set[_Link] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        return f"<FaultProxy 127.0.0.1:{self.port} -> {self.upstream[0]}:{self.upstream[1]}>"

    @property
    def url(self) -> str:
        """A redis-py URL of db 0 through the proxy."""
        return f"redis://{self.host}:{self.port}/0"

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen on a free port and start accepting connections."""
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(64)
        listener.settimeout(POLL_INTERVAL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stopping.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="fault-proxy-accept", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, cut every connection and wait for the threads."""
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(self.timeout)
            self._accept_thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.drop_connections()
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(self.timeout)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault plan and records ---------------------------------------------------

    def arm(self, k: int | Iterable[int], mode: str, *, skip: Iterable[str] = ()) -> None:
        """Apply ``mode`` to the ``k``-th command (1-based) counted from now on.

        ``k`` may be a collection of positions, each of which is faulted.
        Commands named in ``skip`` (upper case, e.g. :data:`HANDSHAKE_COMMANDS`)
        are neither counted nor faulted. Arming replaces any previous plan and
        clears :attr:`fired` and :attr:`fired_commands`.
        """
        positions = frozenset([k] if isinstance(k, int) else k)
        if not positions or any(
            isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in positions
        ):
            raise ValueError(f"k must be an int >= 1 or a collection of them, got {k!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        with self._lock:
            self._plan = _Plan(positions, mode, frozenset(name.upper() for name in skip))
            self.fired.clear()
            self.fired_commands = []

    @property
    def fired_command(self) -> str | None:
        """The name of the last command the armed plan hit (``None``: not yet)."""
        with self._lock:
            return self.fired_commands[-1] if self.fired_commands else None

    def disarm(self) -> None:
        """Forget the fault plan, if it has not fired."""
        with self._lock:
            self._plan = None

    @property
    def armed(self) -> bool:
        """Whether a fault plan waits for (some of) its commands."""
        return self._plan is not None

    def reset(self) -> None:
        """Forget the recorded commands and the fault plan (connections stay open)."""
        with self._lock:
            self._commands.clear()
            self._history.clear()
            self._plan = None
            self.fired.clear()
            self.fired_commands = []

    @property
    def commands(self) -> list[str]:
        """The names (upper case) of the commands received, in order, since start or reset.

        A command cut by ``drop_before`` is included; commands the client sent
        after a faulted one on the same connection are not.
        """
        with self._lock:
            return list(self._commands)

    @property
    def history(self) -> list[tuple[bytes, ...]]:
        """The full arguments of the commands in :attr:`commands`."""
        with self._lock:
            return list(self._history)

    @property
    def connections(self) -> int:
        """The number of client connections currently open through the proxy."""
        with self._lock:
            return len(self._links)

    def drop_connections(self) -> None:
        """Cut every open connection now (both sides)."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    # -- internals ----------------------------------------------------------------

    def _count(self, args: list[bytes]) -> str | None:
        """Record a command; return the fault to apply to it, if any."""
        name = args[0].decode("utf-8", "replace").upper()
        with self._lock:
            self._commands.append(name)
            self._history.append(tuple(args))
            plan = self._plan
            if plan is None or name in plan.skip:
                return None
            plan.seen += 1
            if plan.seen >= plan.last:
                self._plan = None  # spent
            if plan.seen not in plan.positions:
                return None
            self.fired_commands.append(name)
            return plan.mode

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=self.timeout)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self._lock:
                if self._stopping.is_set():
                    client.close()
                    upstream.close()
                    return
                self._links.add(link)
                self._threads.extend(link.start())
