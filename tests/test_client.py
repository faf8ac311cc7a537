"""The client of a database: timeouts, the retry policy, observers, defaults.

Every test runs against real redis-servers: a stalled server is a
``PrivateRedisServer`` paused with SIGSTOP, a lost connection is cut by
:class:`tests.tools.proxy.FaultProxy` in front of a private TCP server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis
from django.test import override_settings

import django_limpyd
from django_limpyd.client import no_retry, retry_count
from django_limpyd.database import RedisDatabase
from django_limpyd.test.server import PrivateRedisServer
from tests.tools.proxy import (
    DROP_BEFORE,
    DROP_REPLY,
    HANDSHAKE_COMMANDS,
    FaultProxy,
    parse_reply,
    parse_request,
)

pytestmark = pytest.mark.timeout(30)

SOCKET_TIMEOUT = 1
#: SOCKET_TIMEOUT + 1 s: the longest a call to a stalled server may take. A
#: second attempt after the timeout would need at least 2 * SOCKET_TIMEOUT.
STALL_BOUND = SOCKET_TIMEOUT + 1

INCR_SCRIPT = "return redis.call('INCR', KEYS[1])"


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedisServer]:
    """A private redis-server on a TCP port, for the fault proxy (one per module)."""
    server = PrivateRedisServer(tmp_path_factory.mktemp("tcp-redis"), tcp=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def direct(tcp_server: PrivateRedisServer) -> Iterator[redis.Redis]:
    """A plain client of the TCP server, bypassing the proxy; the server starts empty."""
    client = tcp_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def proxy(tcp_server: PrivateRedisServer, direct: redis.Redis) -> Iterator[FaultProxy]:
    with FaultProxy(tcp_server.port, timeout=5) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def proxied(proxy: FaultProxy) -> Iterator[RedisDatabase]:
    """A hand-built database connected through the proxy, its connection warmed up."""
    db = RedisDatabase(host="127.0.0.1", port=proxy.port, socket_timeout=5)
    db.connection.ping()  # connect now: the handshake is not part of the tests
    yield db
    db.close()


def arm(proxy: FaultProxy, k: int | set[int], mode: str) -> None:
    """Cut the connection at the ``k``-th command from now (handshakes not counted)."""
    proxy.reset()
    proxy.arm(k, mode, skip=HANDSHAKE_COMMANDS)


def sent(proxy: FaultProxy) -> list[str]:
    """The commands the proxy received since :func:`arm`, handshakes left out."""
    return [name for name in proxy.commands if name not in HANDSHAKE_COMMANDS]


def timed_failure(call: Callable[..., object], *args: object) -> float:
    """Run ``call(*args)``, which must raise a redis TimeoutError; return the duration."""
    start = time.monotonic()
    with pytest.raises(redis.exceptions.TimeoutError):
        call(*args)
    return time.monotonic() - start


# -- a stalled server -----------------------------------------------------------------


def _stalled_calls(db: RedisDatabase, server: PrivateRedisServer) -> list[float]:
    """Pause ``server``; time a read and a write on a live connection, then a read
    on a new connection. Every call must fail with TimeoutError within the bound."""
    db.connection.set("key", "value")  # the connection is open before the stall
    server.pause()
    durations = [
        timed_failure(db.connection.get, "key"),  # a read: never retried on a timeout
        timed_failure(db.connection.incr, "counter"),
    ]
    db.close()
    durations.append(timed_failure(db.connection.get, "key"))  # connects to a stalled server
    return durations


@pytest.mark.timeout(30)
@pytest.mark.parametrize("built", ["settings", "by_hand"])
def test_stalled_server_fails_within_socket_timeout(tmp_path, built):
    server = PrivateRedisServer(tmp_path, tcp=True).start()
    try:
        if built == "settings":
            entry = {"LOCATION": server.url, "OPTIONS": {"SOCKET_TIMEOUT": SOCKET_TIMEOUT}}
            with override_settings(LIMPYD_DATABASES={"stalled": entry}):
                db = django_limpyd.databases["stalled"]
                assert db.connection.connection_pool.connection_kwargs["socket_timeout"] == 1
                durations = _stalled_calls(db, server)
        else:
            db = RedisDatabase(host="127.0.0.1", port=server.port, socket_timeout=SOCKET_TIMEOUT)
            try:
                durations = _stalled_calls(db, server)
            finally:
                db.close()
        for duration in durations:
            # the socket timeout fired (not some other error), once (no retry)
            assert SOCKET_TIMEOUT * 0.9 <= duration < STALL_BOUND, durations
        server.resume()
        client = server.client()
        assert client.get("key") == "value"  # the server itself was fine
        client.close()
    finally:
        server.resume()
        server.stop()


# -- lost connections: writes are never retried -----------------------------------


def test_incr_with_lost_reply_is_applied_once(proxy, proxied, direct):
    arm(proxy, 1, DROP_REPLY)
    with pytest.raises(redis.exceptions.ConnectionError):
        proxied.connection.incr("counter")
    assert proxy.fired.is_set()
    assert sent(proxy) == ["INCRBY"]  # sent once, never again
    assert direct.get("counter") == "1"
    assert proxied.connection.incr("counter") == 2  # the database reconnects


def test_evalsha_with_lost_reply_is_applied_once(proxy, proxied, direct):
    sha = direct.script_load(INCR_SCRIPT)
    arm(proxy, 1, DROP_REPLY)
    with pytest.raises(redis.exceptions.ConnectionError):
        proxied.connection.evalsha(sha, 1, "counter")
    assert proxy.fired_command == "EVALSHA"
    assert sent(proxy) == ["EVALSHA"]
    assert direct.get("counter") == "1"


def test_script_object_with_lost_reply_is_applied_once(proxy, proxied, direct):
    script = proxied.connection.register_script(INCR_SCRIPT)
    direct.script_load(INCR_SCRIPT)
    arm(proxy, 1, DROP_REPLY)
    with pytest.raises(redis.exceptions.ConnectionError):
        script(keys=["counter"])
    assert sent(proxy) == ["EVALSHA"]  # no fallback to SCRIPT LOAD + EVALSHA
    assert direct.get("counter") == "1"


@pytest.mark.parametrize(
    ("mode", "k", "expected"),
    [
        (DROP_BEFORE, 1, "0"),  # MULTI never sent
        (DROP_BEFORE, 2, "0"),  # INCRBY never queued
        (DROP_BEFORE, 3, "0"),  # EXEC never sent: the server discards the transaction
        (DROP_REPLY, 1, "0"),  # +OK of MULTI lost
        (DROP_REPLY, 2, "0"),  # +QUEUED lost: the transaction is discarded on close
        (DROP_REPLY, 3, "1"),  # EXEC ran, its reply lost
    ],
)
def test_transaction_with_lost_connection_is_applied_at_most_once(
    proxy, proxied, direct, mode, k, expected
):
    arm(proxy, k, mode)
    pipe = proxied.connection.pipeline(transaction=True)
    pipe.incr("counter")
    with pytest.raises(redis.exceptions.ConnectionError):
        pipe.execute()
    assert proxy.fired.is_set()
    assert sent(proxy) == ["MULTI", "INCRBY", "EXEC"][:k]  # one attempt, cut at k
    assert (direct.get("counter") or "0") == expected


def test_incr_cut_before_sending_is_not_applied(proxy, proxied, direct):
    arm(proxy, 1, DROP_BEFORE)
    with pytest.raises(redis.exceptions.ConnectionError):
        proxied.connection.incr("counter")
    assert proxy.fired_command == "INCRBY"
    assert sent(proxy) == ["INCRBY"]
    assert direct.get("counter") is None


def test_write_on_a_connection_closed_while_idle_reconnects(proxy, proxied, direct):
    proxy.drop_connections()  # e.g. a server restart or timeout while the pool was idle
    deadline = time.monotonic() + 5
    while proxy.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.connections == 0
    proxy.reset()
    assert proxied.connection.incr("counter") == 1  # checked out, found closed, reopened
    assert sent(proxy) == ["INCRBY"]
    # a new connection was opened: its handshake (HELLO, or CLIENT SETINFO on RESP2)
    assert HANDSHAKE_COMMANDS.intersection(proxy.commands)


def test_failed_health_check_fails_the_write_unsent(proxy, direct):
    db = RedisDatabase(host="127.0.0.1", port=proxy.port, health_check_interval=0.1)
    try:
        db.connection.ping()
        time.sleep(0.2)  # idle longer than the interval: the next command checks first
        arm(proxy, 1, DROP_REPLY)  # the health-check PING loses its reply
        with pytest.raises(redis.exceptions.ConnectionError):
            db.connection.incr("counter")
        assert sent(proxy) == ["PING"]  # the INCRBY was never sent...
        assert direct.get("counter") is None  # ...and the failed check was not retried
        assert db.connection.incr("counter") == 1
    finally:
        db.close()


# -- lost connections: reads are retried READ_RETRIES times ------------------------


@pytest.mark.parametrize("read_retries", [None, 0])
def test_read_with_lost_reply_follows_read_retries(proxy, direct, read_retries):
    direct.set("key", "value")
    options = {} if read_retries is None else {"READ_RETRIES": read_retries}
    with override_settings(
        LIMPYD_DATABASES={"proxied": {"LOCATION": proxy.url, "OPTIONS": options}}
    ):
        db = django_limpyd.databases["proxied"]
        assert db.connection.read_retries == (1 if read_retries is None else 0)
        db.connection.ping()
        arm(proxy, 1, DROP_REPLY)
        if read_retries is None:  # the default, 1: sent again on a new connection
            assert db.connection.get("key") == "value"
            assert sent(proxy) == ["GET", "GET"]
        else:
            with pytest.raises(redis.exceptions.ConnectionError):
                db.connection.get("key")
            assert sent(proxy) == ["GET"]
        assert proxy.fired_command == "GET"


def test_read_is_retried_read_retries_times_and_no_more(proxy, direct):
    direct.set("key", "value")
    db = RedisDatabase(host="127.0.0.1", port=proxy.port, read_retries=2)
    seen = []
    db.add_observer(lambda commands, duration: seen.append(list(commands)))
    try:
        db.connection.ping()
        arm(proxy, {1, 2}, DROP_REPLY)  # the first two attempts lose their reply
        assert db.connection.get("key") == "value"
        assert sent(proxy) == ["GET"] * 3
        assert seen[-1:] == [[("GET", "key")]]  # observers: one call, retries included
        arm(proxy, {1, 2, 3}, DROP_REPLY)  # the third one too: no fourth attempt
        with pytest.raises(redis.exceptions.ConnectionError):
            db.connection.get("key")
        assert sent(proxy) == ["GET"] * 3
        arm(proxy, 1, DROP_BEFORE)  # a read cut before reaching the server: retried too
        assert db.connection.get("key") == "value"
        assert sent(proxy) == ["GET", "GET"]
    finally:
        db.close()


# -- observers -----------------------------------------------------------------------


def test_observers_see_commands_and_transactions_as_round_trips(database):
    seen = []

    def observer(commands, duration):
        seen.append((list(commands), duration))

    database.connection.ping()  # the client exists before the observer: still observed
    database.add_observer(observer)
    database.connection.set("key", "value")
    assert database.connection.get("key") == "value"
    pipe = database.connection.pipeline(transaction=True)
    pipe.incr("counter")
    pipe.get("key")
    assert pipe.execute() == [1, "value"]

    assert [commands for commands, _ in seen] == [
        [("SET", "key", "value")],
        [("GET", "key")],
        [("MULTI",), ("INCRBY", "counter", 1), ("GET", "key"), ("EXEC",)],
    ]
    assert all(isinstance(duration, float) and duration >= 0 for _, duration in seen)

    database.remove_observer(observer)
    database.connection.set("key", "other")
    pipe = database.connection.pipeline(transaction=True)
    pipe.incr("counter")
    pipe.execute()
    assert len(seen) == 3


def test_observer_sees_a_failed_round_trip(proxy, proxied):
    seen = []
    proxied.add_observer(lambda commands, duration: seen.append(list(commands)))
    arm(proxy, 1, DROP_REPLY)
    with pytest.raises(redis.exceptions.ConnectionError):
        proxied.connection.incr("counter")
    assert seen == [[("INCRBY", "counter", 1)]]


# -- defaults --------------------------------------------------------------------------


def test_settings_database_defaults(redis_server):
    with override_settings(LIMPYD_DATABASES={"plain": {"LOCATION": redis_server.url}}):
        db = django_limpyd.databases["plain"]
        kwargs = db.connection.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 10
        assert kwargs["socket_connect_timeout"] == 5
        assert kwargs["decode_responses"] is True
        assert retry_count(kwargs["retry"]) == 0
        assert kwargs["health_check_interval"] == 30
        assert db.connection.read_retries == 1
        db.connection.set("key", "value")
        assert db.connection.get("key") == "value"  # decoded: str, not bytes


def test_hand_built_database_defaults(tcp_server):
    database = RedisDatabase(host="127.0.0.1", port=tcp_server.port)
    try:
        kwargs = database.connection.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 10
        assert kwargs["socket_connect_timeout"] == 5
        assert kwargs["decode_responses"] is True
        assert retry_count(kwargs["retry"]) == 0
        assert kwargs["health_check_interval"] == 30
        assert database.connection.read_retries == 1
    finally:
        database.close()


# -- the proxy itself ------------------------------------------------------------------


def test_fault_proxy_parses_requests_and_replies():
    assert parse_request(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") == (20, [b"GET", b"k"])
    assert parse_request(b"*2\r\n$3\r\nGET\r\n$1\r\n") is None  # incomplete
    assert parse_request(b"PING\r\n*1") == (6, [b"PING"])  # inline
    assert parse_request(b"\r\n") == (2, [])
    frames = [
        b"+OK\r\n",
        b"-ERR no\r\n",
        b"$-1\r\n",
        b"$5\r\nhello\r\n",
        b"*2\r\n:1\r\n*1\r\n$1\r\na\r\n",
        b"%1\r\n+k\r\n#t\r\n",
        b"~1\r\n,1.5\r\n",
        b"*1\r\n|1\r\n+ttl\r\n:3\r\n:5\r\n",  # an attribute inside an array
    ]
    for frame in frames:
        assert parse_reply(frame + b"+next\r\n") == (len(frame), "reply")
        assert parse_reply(frame[:-1]) is None
    push = b">2\r\n+message\r\n+x\r\n"
    assert parse_reply(push) == (len(push), "push")
    attribute = b"|1\r\n+ttl\r\n:3\r\n"  # metadata, then the reply itself
    assert parse_reply(attribute + b":5\r\n") == (len(attribute), "attribute")


def test_fault_proxy_counts_across_connections(proxy, direct):
    # no client-side retries: plain redis.Redis would send the cut SET again
    first = redis.Redis(port=proxy.port, protocol=2, retry=no_retry())
    second = redis.Redis(port=proxy.port, protocol=3, retry=no_retry())
    try:
        first.ping()
        second.ping()
        proxy.reset()
        proxy.arm(3, DROP_BEFORE, skip=HANDSHAKE_COMMANDS)
        first.set("a", 1)
        second.set("b", 2)
        assert proxy.armed and not proxy.fired.is_set()
        with pytest.raises(redis.exceptions.ConnectionError):
            first.set("c", 3)
        assert not proxy.armed and proxy.fired.is_set()
        assert sorted(direct.keys()) == ["a", "b"]
        pipe = second.pipeline(transaction=False)
        for i in range(500):
            pipe.set(f"k{i}", "x" * 1000)
        assert all(pipe.execute())
        assert direct.dbsize() == 502
        assert proxy.commands.count("SET") == 503
    finally:
        first.close()
        second.close()


def test_observers_see_commands_sent_at_once_after_watch(database):
    seen = []

    def observer(commands, duration):
        seen.append([command[0] for command in commands])

    database.add_observer(observer)
    try:
        pipe = database.connection.pipeline()
        pipe.watch("w")
        pipe.get("w")
        pipe.multi()
        pipe.set("w", 1)
        pipe.execute()
    finally:
        database.remove_observer(observer)
    assert seen == [["WATCH"], ["GET"], ["MULTI", "SET", "EXEC"]]
