"""The async API behind Redis Sentinel: a primary, its replica and a Sentinel
(``redis-server`` processes on loopback started by the test), an alias with
django-redis' ``SentinelConnectionFactory``: the async client asks Sentinel for the
master, reads go to the replica Sentinel knows, and after a planned failover
(``SENTINEL FAILOVER``) the next async write goes to the new master."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from django_limpyd import databases, fields
from django_limpyd.aio import get_client
from django_limpyd.aio.connections import get_read_client
from django_limpyd.aio.sentinel import BlockingSentinelConnectionPool
from django_limpyd.client import retry_count
from django_limpyd.database import RedisDatabase
from django_limpyd.model import RedisModel
from tests.replicas.helpers import primary_and_replica, sentinel

pytestmark = pytest.mark.timeout(60)


class Ticket(RedisModel):
    namespace = "aio-sentinel"
    database = "default"
    code = fields.InstanceHashField(unique=True)


@contextmanager
def sentinel_alias(directory: Any) -> Iterator[tuple[RedisDatabase, Any, Any, int]]:
    with ExitStack() as stack:
        primary, replica = stack.enter_context(primary_and_replica(directory, tcp_replica=True))
        port = stack.enter_context(sentinel(primary, replica, directory / "s"))
        entry = {
            "LOCATION": "redis://mymaster/0",
            "OPTIONS": {
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [("127.0.0.1", port)],
                "REPLICAS": ["redis://mymaster/0"],
                "SOCKET_TIMEOUT": 3,
            },
        }
        entries = {**settings.LIMPYD_DATABASES, "aio-sentinel": entry}
        stack.enter_context(override_settings(LIMPYD_DATABASES=entries))
        database = databases["aio-sentinel"]
        stack.callback(database.close)
        Ticket.use_database(database)
        yield database, primary, replica, port


def port_of(info: dict[str, Any]) -> tuple[str, int]:
    return info["role"], int(info["tcp_port"])


def test_async_writes_to_the_master_reads_from_the_replica(tmp_path_factory):
    with sentinel_alias(tmp_path_factory.mktemp("asen")) as (database, primary, replica, _port):

        async def main():
            client = get_client(database)
            assert isinstance(client.connection_pool, BlockingSentinelConnectionPool)
            assert client.connection_pool.service_name == "mymaster"
            assert retry_count(client.connection_pool.connection_kwargs["retry"]) == 0
            assert client.connection_pool.connection_kwargs["socket_timeout"] == 3
            ticket = await Ticket.acreate(code="a1")
            reader = get_read_client(database)
            assert reader is not client
            assert await ticket.code.ahget() == "a1"  # read from the replica
            return port_of(await client.info()), port_of(await reader.info()), ticket.code.key

        master, read, key = asyncio.run(main())
        assert master == ("master", primary.port)
        assert read == ("slave", replica.port)
        with redis.Redis(port=primary.port, decode_responses=True) as plain:
            assert plain.hget(key, "code") == "a1"


def ask_failover(port: int, timeout: float = 20.0) -> None:
    """``SENTINEL FAILOVER``, asked again while Sentinel has no fresh news of the
    replica yet (``NOGOODSLAVE``: it ran nothing)."""
    deadline = time.monotonic() + timeout
    with redis.Redis(port=port, decode_responses=True) as manager:
        while True:
            try:
                manager.execute_command("SENTINEL", "FAILOVER", "mymaster")
                return
            except redis.ResponseError as error:
                if "NOGOODSLAVE" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def test_after_a_failover_the_next_async_write_goes_to_the_new_master(tmp_path_factory):
    with sentinel_alias(tmp_path_factory.mktemp("afail")) as (database, primary, replica, port):

        async def before():
            await Ticket.acreate(code="before")
            return port_of(await get_client(database).info())

        keys = []

        async def after():
            ticket = await Ticket.acreate(code="after")
            keys.append(ticket.code.key)
            return port_of(await get_client(database).info())

        async def scenario():
            assert await before() == ("master", primary.port)
            watcher = database.connection.limpyd_watcher
            assert watcher is not None
            seen = watcher.switches
            await asyncio.to_thread(ask_failover, port)
            deadline = time.monotonic() + 20
            while watcher.switches == seen:  # Sentinel announced the new master
                assert time.monotonic() < deadline, "no +switch-master within 20 s"
                await asyncio.sleep(0.05)
            return await after()

        assert asyncio.run(scenario()) == ("master", replica.port)
        with redis.Redis(port=replica.port, decode_responses=True) as new_master:
            assert new_master.hget(keys[0], "code") == "after"
