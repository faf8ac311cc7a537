"""django_limpyd.client, the one module using redis-py internals: each of its named
methods and functions, against real redis-servers, on any supported redis-py (``make
test``: the newest; ``make test-redis-py-oldest``: redis-py 5.0.8).

The observers (``execute`` and ``immediate_execute_command`` overrides) and the
zero-retry connections are covered by tests/test_client.py; the lost EXEC of a
watched ``transaction()`` through the ORM by tests/reliability/test_connection_cut.py
("transaction() with WATCH") and tests/reliability/test_stalled_server.py. Here: the
same private hook at the redis-py level.
"""

from __future__ import annotations

import inspect

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import WatchError
from redis.retry import Retry

from django_limpyd.client import (
    EXEC_FAILURE_HOOK,
    REDIS_PY_VERSION,
    LimpydPipeline,
    no_retry,
    resp2_reply_callbacks,
    retry_count,
    send_unobserved,
)
from tests import test_client
from tests.tools.proxy import DROP_REPLY

pytestmark = pytest.mark.timeout(30)

# the fault-proxy fixtures of tests/test_client.py (a private TCP server per module)
tcp_server = test_client.tcp_server
direct = test_client.direct
proxy = test_client.proxy
proxied = test_client.proxied
arm = test_client.arm
sent = test_client.sent


# -- the private hook ------------------------------------------------------------------


def test_the_exec_failure_hook_is_the_one_redis_py_calls():
    major, minor = REDIS_PY_VERSION
    assert redis.__version__.startswith(f"{major}.{minor}.")
    # redis-py's Pipeline.execute calls it by that name: a rename would show here
    assert EXEC_FAILURE_HOOK in inspect.getsource(redis.client.Pipeline.execute)
    override = getattr(LimpydPipeline, EXEC_FAILURE_HOOK)
    assert override is LimpydPipeline._exec_connection_lost
    assert override is not getattr(redis.client.Pipeline, EXEC_FAILURE_HOOK)


def test_lost_exec_of_a_watched_transaction_raises_the_connection_error(proxy, proxied, direct):
    pipe = proxied.connection.pipeline()
    pipe.watch("counter")
    assert pipe.get("counter") is None  # read while watching
    pipe.multi()
    pipe.incr("counter")
    arm(proxy, 3, DROP_REPLY)  # MULTI, INCRBY, EXEC: EXEC runs, its reply is lost
    with pytest.raises(RedisConnectionError) as raised:
        pipe.execute()
    # not a WatchError, which would make a transaction() run its function again
    assert not isinstance(raised.value, WatchError)
    assert proxy.fired_command == "EXEC"
    assert sent(proxy) == ["MULTI", "INCRBY", "EXEC"]  # no UNWATCH on a new connection
    assert not pipe.is_watching()
    assert direct.get("counter") == "1"  # applied once
    assert proxied.connection.incr("counter") == 2  # the database reconnects


def test_lost_exec_of_an_unwatched_transaction_raises_the_connection_error(proxy, proxied, direct):
    pipe = proxied.connection.pipeline()
    pipe.incr("counter")
    arm(proxy, 3, DROP_REPLY)
    with pytest.raises(RedisConnectionError):
        pipe.execute()
    assert sent(proxy) == ["MULTI", "INCRBY", "EXEC"]  # once: no retry
    assert direct.get("counter") == "1"


# -- the queue ---------------------------------------------------------------------------


def test_queued_count_and_queued_commands(database):
    pipe = database.connection.pipeline()
    assert pipe.queued_count() == 0
    assert pipe.queued_commands() == []
    pipe.set("a", "x")
    pipe.incr("b")
    assert pipe.queued_count() == 2 == len(pipe)
    queued = pipe.queued_commands()
    assert queued == [("SET", "a", "x"), ("INCRBY", "b", 1)]
    queued.clear()  # a copy
    assert pipe.queued_count() == 2
    assert pipe.execute() == [True, 1]
    assert pipe.queued_count() == 0
    pipe.set("a", "y")
    pipe.reset()
    assert pipe.queued_count() == 0


@pytest.mark.parametrize("transaction", [True, False])
def test_replace_queued_keeps_the_position_and_the_reply_parsing(database, transaction):
    database.connection.zadd("z", {"a": 1, "b": 2})
    pipe = database.connection.pipeline(transaction=transaction)
    pipe.set("k", "v")
    pipe.zrange("z", 0, -1, withscores=True, score_cast_func=int)  # options of the reply
    pipe.get("k")
    pipe.replace_queued(1, ["ZRANGE", "z", 1, 1, "WITHSCORES"])
    assert pipe.queued_count() == 3
    assert pipe.queued_commands()[1] == ("ZRANGE", "z", 1, 1, "WITHSCORES")
    results = pipe.execute()
    assert results[0] is True and results[2] == "v"
    # parsed with the replaced command's options: scores cast to int
    assert [list(pair) for pair in results[1]] == [["b", 2]]
    assert isinstance(results[1][0][1], int)


def test_replace_queued_out_of_range(database):
    pipe = database.connection.pipeline()
    pipe.set("k", "v")
    with pytest.raises(IndexError):
        pipe.replace_queued(1, ["SET", "k", "w"])
    pipe.reset()


# -- the watch ---------------------------------------------------------------------------


def test_is_watching_and_sends_at_once(database):
    pipe = database.connection.pipeline()
    assert not pipe.is_watching() and not pipe.sends_at_once()
    pipe.watch("w")
    assert pipe.is_watching() and pipe.sends_at_once()
    assert pipe.get("w") is None  # sent at once, not queued
    assert pipe.queued_count() == 0
    pipe.multi()
    assert pipe.is_watching() and not pipe.sends_at_once()
    pipe.set("w", "1")
    assert pipe.queued_count() == 1
    assert pipe.execute() == [True]
    assert not pipe.is_watching() and not pipe.sends_at_once()

    pipe.watch("w")
    pipe.reset()
    assert not pipe.is_watching() and not pipe.sends_at_once()

    # a watched key changed: EXEC runs nothing, the watch ends
    pipe.watch("w")
    database.connection.set("w", "2")
    pipe.multi()
    pipe.set("w", "3")
    with pytest.raises(WatchError):
        pipe.execute()
    assert not pipe.is_watching()
    assert database.connection.get("w") == "2"


def test_sends_at_once_is_false_without_watch(database):
    pipe = database.connection.pipeline(transaction=False)
    pipe.get("k")
    assert not pipe.sends_at_once() and not pipe.is_watching()
    assert pipe.queued_count() == 1
    assert pipe.execute() == [None]
    pipe.multi()  # an explicit transaction, nothing watched
    assert not pipe.sends_at_once() and not pipe.is_watching()
    pipe.get("k")
    assert pipe.queued_count() == 1
    assert pipe.execute() == [None]


# -- module functions ----------------------------------------------------------------


def test_send_unobserved_skips_observers_and_read_retries(proxy, proxied, direct):
    seen = []
    proxied.add_observer(lambda commands, duration: seen.append(list(commands)))
    assert send_unobserved(proxied.connection, "SET", "k", "v") is True  # parsed reply
    assert send_unobserved(proxied.connection, "GET", "k") == "v"  # decoded
    assert seen == []
    assert proxied.connection.get("k") == "v"
    assert seen == [[("GET", "k")]]

    arm(proxy, 1, DROP_REPLY)  # the client would send this GET again: not here
    with pytest.raises(RedisConnectionError):
        send_unobserved(proxied.connection, "GET", "k")
    assert sent(proxy) == ["GET"]
    assert len(seen) == 1

    assert send_unobserved(direct, "PING") is True  # any redis.Redis


def test_resp2_reply_callbacks_parse_lua_tables_on_any_protocol(redis_server):
    callbacks = resp2_reply_callbacks()
    assert callbacks is not resp2_reply_callbacks()  # a new dict each time
    assert all(name == name.upper() for name in callbacks)
    assert callbacks["HGETALL"](["a", "1", "b", "2"]) == {"a": "1", "b": "2"}
    for protocol in (2, 3):
        client = redis.Redis(
            **redis_server.connection_kwargs(), protocol=protocol, decode_responses=True
        )
        try:
            reply = client.eval("return {'a', '1', 'b', '2'}", 0)  # a Lua table: an array
            assert reply == ["a", "1", "b", "2"]
            assert callbacks["HGETALL"](reply) == {"a": "1", "b": "2"}
        finally:
            client.close()


def test_retry_count(database):
    assert retry_count(no_retry()) == 0
    assert retry_count(Retry(NoBackoff(), 3)) == 3
    assert retry_count(database.connection.connection_pool.connection_kwargs["retry"]) == 0
