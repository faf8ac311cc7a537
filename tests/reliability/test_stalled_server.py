"""A stalled server (SIGSTOP): model calls fail within SOCKET_TIMEOUT + 1 s.

The model lives on a settings alias whose ``OPTIONS`` set ``SOCKET_TIMEOUT``
to 1 second. With the server paused, a create, reads, a collection, an
indexed update, a ``bulk_create`` pipeline and a read on a new connection
must each raise a redis-py ``TimeoutError``/``ConnectionError`` after about
one second: never hang, never be retried after the timeout. Once the server
resumes, whatever it executed late is whole (``consistency_check``), and each
write it executed was executed once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from django_limpyd.consistency import consistency_check
from django_limpyd.test.server import PrivateRedisServer
from tests.reliability.helpers import summary
from tests.reliability.models import STALLED_ALIAS, Stalled

SOCKET_TIMEOUT = 1
#: the longest a call to a stalled server may take
STALL_BOUND = SOCKET_TIMEOUT + 1
CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@pytest.fixture
def stalled_server(tmp_path) -> Iterator[PrivateRedisServer]:
    server = PrivateRedisServer(tmp_path / "stalled", tcp=True).start()
    try:
        yield server
    finally:
        server.stop()  # resumes it first if it is still paused


def timed_failure(call: Callable[[], Any]) -> tuple[float, str]:
    """Run ``call``, which must fail with a connection error; its duration and error."""
    start = time.monotonic()
    with pytest.raises(CONNECTION_ERRORS) as info:
        call()
    return time.monotonic() - start, type(info.value).__name__


@pytest.mark.timeout(60)
def test_model_calls_on_a_stalled_server_fail_within_socket_timeout(stalled_server):
    started = time.perf_counter()
    entry = {"LOCATION": stalled_server.url, "OPTIONS": {"SOCKET_TIMEOUT": SOCKET_TIMEOUT}}
    databases = {**settings.LIMPYD_DATABASES, STALLED_ALIAS: entry}
    with override_settings(LIMPYD_DATABASES=databases):
        database = Stalled._meta.database
        kwargs = database.connection.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == SOCKET_TIMEOUT
        database.load_scripts()
        first = Stalled(name="first", color="red")
        assert list(Stalled.collection(color="red")) == [first.pk.get()]

        calls: dict[str, Callable[[], Any]] = {
            "create": lambda: Stalled(name="second", color="blue"),
            "read (connect by pk)": lambda: Stalled(first.pk.get()),
            "field read": lambda: first.name.hget(),
            "collection": lambda: list(Stalled.collection(color="red")),
            "indexed update": lambda: first.color.hset("green"),
            "bulk_create (pipeline)": lambda: Stalled.bulk_create(
                [{"name": "third", "color": "blue"}, {"name": "fourth", "color": "blue"}]
            ),
            "read on a new connection": lambda: Stalled.exists(pk="1"),
        }
        durations = {}
        for name, call in calls.items():
            database.connection.ping()  # the call finds an open connection...
            if name == "read on a new connection":
                database.close()  # ...or must open one to the stalled server
            stalled_server.pause()
            try:
                durations[name] = timed_failure(call)
            finally:
                stalled_server.resume()
        slow = {
            name: duration
            for name, (duration, _error) in durations.items()
            if not SOCKET_TIMEOUT * 0.9 <= duration < STALL_BOUND
        }
        assert not slow, f"not failed within {STALL_BOUND}s (or not by the timeout): {slow}"

        # the server executes late what it had received: each write once, whole
        time.sleep(0.2)
        assert consistency_check(Stalled) == []
        names = [instance.name.hget() for instance in Stalled.instances()]
        assert len(names) == len(set(names))
        assert set(names) <= {"first", "second", "third", "fourth"}
        assert "first" in names
        database.close()
    summary(
        "stalled server",
        started,
        socket_timeout=SOCKET_TIMEOUT,
        **{
            name.replace(" ", "_"): f"{duration:.2f}s {error}"
            for name, (duration, error) in durations.items()
        },
        executed_late=sorted(set(names) - {"first"}),
    )


WATCHED_TIMEOUT_BUG = (
    "BUG: a WATCHed transaction() whose EXEC times out: redis-py turns the TimeoutError into "
    "a WatchError (it was watching), RedisDatabase.transaction retries, and the pipeline's "
    "reset sends UNWATCH on a new connection: about 4 x SOCKET_TIMEOUT instead of 1"
)


@pytest.mark.timeout(60)
def test_watched_transaction_on_a_server_stalling_after_watch(stalled_server):
    """The server stalls between WATCH (and a read) and EXEC: the transaction fails
    within SOCKET_TIMEOUT + 1 s, and is executed at most once when the server resumes."""
    started = time.perf_counter()
    entry = {"LOCATION": stalled_server.url, "OPTIONS": {"SOCKET_TIMEOUT": SOCKET_TIMEOUT}}
    databases = {**settings.LIMPYD_DATABASES, STALLED_ALIAS: entry}
    with override_settings(LIMPYD_DATABASES=databases):
        database = Stalled._meta.database
        database.load_scripts()
        first = Stalled(name="first", color="red")

        def recolor(pipeline: Any) -> None:
            color = first.color.hget()  # read while watching
            stalled_server.pause()  # the server stops answering before EXEC
            pipeline.multi()
            first.color.hset(color + "+")

        try:
            duration, error = timed_failure(lambda: database.transaction(recolor, first.color))
        finally:
            stalled_server.resume()
        time.sleep(0.2)
        assert first.color.hget() in ("red", "red+")  # at most once
        assert consistency_check(Stalled) == []
        database.close()
    summary(
        "stalled server, watched transaction",
        started,
        duration=f"{duration:.2f}s {error}",
    )
    assert SOCKET_TIMEOUT * 0.9 <= duration < STALL_BOUND, duration
