"""``WAITAOF`` durability (``"AOF": True``, ``durable(aof=True)``).

The arguments and the reading of the reply are plain unit tests; the server here is
Redis 7.0, which has no ``WAITAOF``: the first durable write of a client must be
refused before anything is sent, naming the server and its version (asked once per
client with ``INFO server``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.durability import (
    Durability,
    DurabilityError,
    DurabilityUnsupported,
    current,
    parse,
)
from django_limpyd.model import RedisModel
from django_limpyd.settings_parser import parse_entry
from django_limpyd.test.commands import assert_num_commands
from tests.tools.servers import redis_version

# -- unit tests: no server -------------------------------------------------------------


def test_the_wait_command_with_and_without_aof():
    assert Durability(2, 0.25).command() == ("WAIT", 2, 250)
    assert Durability(2, 0.25, aof=True).command() == ("WAITAOF", 1, 2, 250)
    assert Durability(0, 0.0001, aof=True).command() == ("WAITAOF", 1, 0, 1)


def test_the_waitaof_reply_is_local_then_replicas():
    durability = Durability(1, 0.1, aof=True)
    durability.check("FCALL", [1, 1])
    durability.check("FCALL", [1, 2])
    with pytest.raises(DurabilityError, match=r"0 of 1 primary and 1 of the 1.*WAITAOF, AOF") as e:
        durability.check("FCALL", [0, 1])
    assert (e.value.local, e.value.acknowledged) == (0, 1)
    with pytest.raises(DurabilityError, match=r"^FCALL was applied.*1 of 1 primary and 0 of"):
        durability.check("FCALL", [1, 0])
    Durability(0, 0.1, aof=True).check("a pipeline", [1, 0])  # the primary's fsync only
    with pytest.raises(DurabilityError, match="WAITAOF failed: appendonly is disabled"):
        durability.check("SET", redis.ResponseError("appendonly is disabled"))


def test_the_wait_reply_is_a_count():
    durability = Durability(2, 0.1)
    durability.check("SET", 2)
    with pytest.raises(DurabilityError, match=r"only 1 of the 2 replica\(s\).*\(WAIT\)"):
        durability.check("SET", 1)


def test_the_aof_option_is_parsed_and_checked():
    assert parse({"replicas": 1, "aof": True}, "x") == Durability(1, 0.1, True)
    assert parse({"REPLICAS": 0, "AOF": True, "TIMEOUT": 1}, "x") == Durability(0, 1.0, True)
    assert parse({"REPLICAS": 1, "AOF": False}, "x") == Durability(1, 0.1, False)
    with pytest.raises(ValueError, match=r"\['REPLICAS'\] must be an int >= 1"):
        parse({"REPLICAS": 0}, "x")  # without AOF: no replica to wait for is no durability
    with pytest.raises(ValueError, match=r"\['AOF'\] must be True or False, got 'yes'"):
        parse({"AOF": "yes"}, "x")
    entry = {"LOCATION": "redis://localhost:6379/0", "OPTIONS": {"DURABILITY": {"AOF": 1}}}
    with pytest.raises(ImproperlyConfigured, match=r"DURABILITY.*\['AOF'\] must be True"):
        parse_entry("d", entry, {})
    entry["OPTIONS"]["DURABILITY"] = {"REPLICAS": 1, "AOF": True}
    assert parse_entry("d", entry, {}).options["DURABILITY"] == {"REPLICAS": 1, "AOF": True}


def test_durable_takes_aof():
    database = RedisDatabase(host="127.0.0.1", port=1)
    with database.durable(replicas=0, timeout=0.5, aof=True):
        assert current(database.connection) == Durability(0, 0.5, True)
    with pytest.raises(ValueError, match="REPLICAS"):
        database.durable(replicas=0)


# -- against the real Redis 7.0 server ------------------------------------------------


@pytest.fixture
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from django_limpyd.test.server import PrivateRedisServer

    server = PrivateRedisServer(tmp_path_factory.mktemp("aof"), tcp=True).start()
    yield server
    server.stop()


def make_model(database: RedisDatabase) -> type:
    class Entry(RedisModel):
        namespace = "aof"
        code = fields.InstanceHashField(indexable=True)

    Entry.database = database
    Entry._meta.register(database)
    return Entry


def server_stats(client: redis.Redis) -> tuple[int, dict[str, Any]]:
    """(calls of INFO before this one, error replies by kind) on the server of
    ``client`` (kept open: a new connection's handshake may get error replies)."""
    info = client.execute_command("INFO", "commandstats", "errorstats")
    errors = {key: value for key, value in info.items() if key.startswith("errorstat_")}
    return int(info["cmdstat_info"]["calls"]), errors


def test_aof_durability_is_refused_before_anything_is_sent_on_redis_7_0(tcp_server):
    version = redis_version(tcp_server)
    if version >= (7, 2):
        pytest.skip(f"the server runs {version}: it has WAITAOF")
    if version < (7,):  # its library reads are EVALSHA, INFO takes one section
        pytest.skip(f"the server runs {version}: the refusal on Redis 7.0 needs a 7.0 server")
    shown = ".".join(map(str, version))
    where = f"127.0.0.1:{tcp_server.port}"
    database = RedisDatabase(
        **tcp_server.connection_kwargs(), durability={"REPLICAS": 0, "AOF": True}
    )
    Entry = make_model(database)
    stats = tcp_server.client()
    try:
        with database.durable(replicas=None):
            first = Entry(code="before")  # loads the library
        database.connection.ping()  # the client's connection is open
        calls, errors = server_stats(stats)
        message = (
            rf"WAITAOF, which needs Redis >= 7\.2; the server at {re.escape(where)} "
            rf"runs version {re.escape(shown)}\. Nothing was sent"
        )
        with assert_num_commands(0, database):
            with pytest.raises(DurabilityUnsupported, match=message):
                Entry(code="refused")
            with pytest.raises(DurabilityUnsupported, match=message):
                first.code.hset("refused")  # the version is known: no INFO again
            with pytest.raises(DurabilityUnsupported), database.pipeline() as pipeline:
                Entry(code="refused")
                pipeline.execute()
        assert isinstance(DurabilityUnsupported("x"), ImproperlyConfigured)
        # one INFO for the client, no error reply (no unknown command sent), nothing written
        assert server_stats(stats) == (calls + 2, errors)  # this INFO, the client's
        assert list(Entry.collection()) == [first.pk.get()]
        assert first.code.hget() == "before"
        with assert_num_commands(1, database):
            assert first.code.hget() == "before"  # reads never wait
        with database.durable(replicas=None):
            first.code.hset("fine")  # no waiting: sent
    finally:
        stats.close()
        database.close()
