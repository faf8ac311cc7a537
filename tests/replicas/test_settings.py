"""Replicas from settings (``OPTIONS["REPLICAS"]``, Sentinel), and bad settings.

A ``LIMPYD_DATABASES`` entry with ``"REPLICAS": [url, ...]`` gets a client per
replica, built by the same django-redis connection factory and options as the
primary's; with the Sentinel factory a replica URL names a service, whose replicas
Sentinel knows. Each check asks the server a client reached for its role
(``INFO replication``). Bad values fail with ``ImproperlyConfigured`` naming the
option, before any connection; so do bad ``replicas=`` of a hand-built database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_limpyd.connections import databases, replica_url
from django_limpyd.database import RedisDatabase
from django_limpyd.settings_parser import parse_entry
from tests.replicas.helpers import primary_and_replica, sentinel

pytestmark = pytest.mark.timeout(30)


@contextmanager
def alias(entry: dict[str, Any]) -> Iterator[RedisDatabase]:
    """``databases["replicated"]`` defined by ``entry`` (the suite's aliases kept)."""
    entries = {**settings.LIMPYD_DATABASES, "replicated": entry}
    with override_settings(LIMPYD_DATABASES=entries):
        database = databases["replicated"]
        try:
            yield database
        finally:
            database.close()


def role(client: Any) -> tuple[str, int]:
    """``(role, port)`` of the server ``client`` reaches (port 0: a unix socket)."""
    info = client.info()
    return info["role"], int(info["tcp_port"])


def test_replicas_from_settings_take_the_reads(servers):
    primary, replica = servers
    entry = {"LOCATION": primary.url, "OPTIONS": {"REPLICAS": [replica.url]}}
    with alias(entry) as database:
        assert len(database.replica_connections) == 1
        assert role(database.read_connection) == ("slave", 0)
        assert role(database.connection) == ("master", primary.port)
        with database.using_primary():
            assert role(database.read_connection) == ("master", primary.port)
        with database.pipeline():
            assert role(database.read_connection) == ("master", primary.port)
        # built by the same factory and options as the primary's client
        kwargs = database.read_connection.connection_pool.connection_kwargs
        assert kwargs["path"] == replica.unix_socket_path
        assert kwargs["decode_responses"] is True
        assert kwargs["health_check_interval"] == 30


def test_a_test_location_has_no_replicas(servers):
    """The test machinery points an alias elsewhere (``use_location``): its reads must
    not go to the replicas of its settings."""
    primary, replica = servers
    entry = {"LOCATION": primary.url, "OPTIONS": {"REPLICAS": [replica.url]}}
    with alias(entry) as database:
        database.use_location(primary.url)
        assert database.replica_connections == []
        assert database.read_connection is database.connection
        database.use_location(None)
        assert role(database.read_connection) == ("slave", 0)


def test_sentinel_hands_out_the_replicas_of_the_service(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sen")
    with ExitStack() as stack:
        primary, replica = stack.enter_context(primary_and_replica(directory, tcp_replica=True))
        port = stack.enter_context(sentinel(primary, replica, directory / "s"))
        entry = {
            "LOCATION": "redis://mymaster/0",
            "OPTIONS": {
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [("127.0.0.1", port)],
                "REPLICAS": ["redis://mymaster/0"],
            },
        }
        database = stack.enter_context(alias(entry))
        assert role(database.connection) == ("master", primary.port)
        assert role(database.read_connection) == ("slave", replica.port)
        with database.using_primary():
            assert role(database.read_connection) == ("master", primary.port)


def test_replica_url_asks_sentinel_for_replicas():
    assert replica_url("redis://mymaster/0") == "redis://mymaster/0?is_master=0"
    assert replica_url("redis://mymaster/0?a=1") == "redis://mymaster/0?a=1&is_master=0"
    assert replica_url("redis://mymaster/0?is_master=1") == "redis://mymaster/0?is_master=1"


BAD_REPLICAS = {
    "a string": (
        "redis://replica:6379/0",
        r"LIMPYD_DATABASES\['x'\]\['OPTIONS'\]\['REPLICAS'\] must be a list or tuple, "
        r"got 'redis://replica:6379/0'",
    ),
    "not a URL": (
        ["redis://ok:6379/0", "replica:6379"],
        r"\['REPLICAS'\]\[1\] = 'replica:6379' is not a URL",
    ),
    "not a string": ([6379], r"\['REPLICAS'\]\[0\] must be a non-empty string, got 6379"),
    "a bad port": (["redis://replica:port/0"], r"\['REPLICAS'\]\[0\] = .* cannot be parsed"),
    "embedded": (
        ["embedded://var/redis"],
        r"\['REPLICAS'\]\[0\] = 'embedded://var/redis': a replica is reached with one of",
    ),
}


@pytest.mark.parametrize("value, message", BAD_REPLICAS.values(), ids=list(BAD_REPLICAS))
def test_bad_replicas_settings_name_the_option(value, message):
    entry = {"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"REPLICAS": value}}
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_entry("x", entry, {})


def test_bad_replicas_fail_before_connecting():
    entry = {"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"REPLICAS": "redis://r/0"}}
    entries = {**settings.LIMPYD_DATABASES, "replicated": entry}
    with override_settings(LIMPYD_DATABASES=entries):
        with pytest.raises(ImproperlyConfigured, match=r"\['replicated'\]\['OPTIONS'\]"):
            databases.get_config("replicated")
        with pytest.raises(ImproperlyConfigured, match=r"\['replicated'\]\['OPTIONS'\]"):
            databases["replicated"].read_connection  # noqa: B018


BAD_HAND_BUILT = {
    "not a list": ({"host": "r"}, r"RedisDatabase\(replicas=...\) must be a list of dicts"),
    "not a dict": (["redis://r/0"], r"RedisDatabase\(replicas=...\)\[0\] must be a dict"),
    "no location": ([{"db": 1}], r"\[0\] must be a dict .* naming where the replica is"),
    "reserved": (
        [{"host": "r", "decode_responses": False}],
        r"got \['decode_responses'\], which django_limpyd manages itself",
    ),
}


@pytest.mark.parametrize("value, message", BAD_HAND_BUILT.values(), ids=list(BAD_HAND_BUILT))
def test_bad_hand_built_replicas_are_refused(value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        RedisDatabase(replicas=value)
    database = RedisDatabase()
    with pytest.raises(ImproperlyConfigured, match=message):
        database.connect(replicas=value)
