"""Async reads on read-only replicas, as on the sync path: a primary and its replica
(``redis-server`` processes started by the test), field reads, checked reads and
collections from async code on the replica, writes on the primary, ``using_primary()``
and async pipelines on the primary; a replica without the library; replicas from
``OPTIONS["REPLICAS"]``.

Each server is private to the test, so ``INFO commandstats`` says what each ran; a
replica whose replication is stopped keeps its old data, which shows where reads go."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from django_limpyd import databases
from django_limpyd.aio import get_client
from django_limpyd.aio.connections import get_read_client
from django_limpyd.database import RedisDatabase
from django_limpyd.fields import InstanceHashField, SetField, StringField
from django_limpyd.model import RedisModel
from tests.replicas.helpers import command_counts, commands_since, stop_replication
from tests.tools.servers import redis_version, replicated_servers, wait_in_sync

pytestmark = pytest.mark.timeout(60)

#: pointed at the primary, with its replica, by the ``servers`` fixture
DATABASE = RedisDatabase()


class Person(RedisModel):
    database = DATABASE
    namespace = "aio-replicas"
    name = InstanceHashField(indexable=True)
    city = StringField(indexable=True)
    tags = SetField()


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    with replicated_servers(tmp_path_factory.mktemp("arep"), timeout=10) as (primary, replica):
        DATABASE.connect(
            **primary.connection_kwargs(), socket_timeout=5, replicas=[replica.connection_kwargs()]
        )
        try:
            yield primary, replica
        finally:
            DATABASE.close()


def role(info: dict[str, Any]) -> str:
    return info["role"]


def test_reads_go_to_the_replica_writes_to_the_primary(servers):
    primary, replica = servers

    async def write():
        ann = await Person.acreate(name="Ann", city="Paris")
        await ann.tags.asadd("a", "b")
        return ann.pk.get()

    pk = asyncio.run(write())
    wait_in_sync(primary, replica)
    before = command_counts(primary), command_counts(replica)

    async def read():
        assert role(await get_read_client(DATABASE).info()) == "slave"
        assert role(await get_client(DATABASE).info()) == "master"
        ann = await Person.objects.aget(pk=pk)
        return {
            "hget": await ann.name.ahget(),
            "get": await ann.city.aget(),
            "smembers": sorted(await ann.tags.asmembers()),
            "hmget": await ann.ahmget("name"),
            "count": await Person.objects.filter(city="Paris").acount(),
            "filter": [p.pk.get() async for p in Person.objects.filter(name="Ann")],
            "all": await Person.objects.alist(),
        }

    read = asyncio.run(read())
    assert read["hget"] == "Ann" and read["get"] == "Paris"
    assert read["smembers"] == ["a", "b"] and read["hmget"] == ["Ann"]
    assert read["count"] == 1 and read["filter"] == [pk] and len(read["all"]) == 1
    on_primary = commands_since(primary, before[0])
    on_replica = commands_since(replica, before[1])
    # the library may be loaded on the primary (unobserved): nothing else ran there
    # (Redis 6.2: SCRIPT LOAD, its INFO commandstats without subcommands)
    functions = redis_version(primary) >= (7,)
    loads = {"function|load", "function|list"} if functions else {"script"}
    assert set(on_primary) <= loads, on_primary
    # Redis 6.2: the one-filter collection is a plain SMEMBERS of the index's set too
    smembers = 1 if functions else 2
    assert on_replica.get("hget") == 1 and on_replica.get("smembers") == smembers, on_replica

    before = command_counts(primary), command_counts(replica)

    async def write_again():
        ann = await Person.objects.aget(pk=pk)  # a read: on the replica
        await ann.city.aset("Rome")  # a write: on the primary

    asyncio.run(write_again())
    if not functions:  # Redis 6.2: the write and the checked read are both EVALSHA
        assert commands_since(primary, before[0]).get("evalsha") == 1
        return
    assert any(name.startswith("fcall") for name in commands_since(primary, before[0]))
    assert not any(
        name.startswith("fcall") and not name.startswith("fcall_ro")
        for name in commands_since(replica, before[1])
    )


def test_using_primary_and_pipelines_read_fresh_data(servers):
    primary, replica = servers

    async def main():
        ann = await Person.acreate(name="Ann", city="Paris")
        await asyncio.to_thread(wait_in_sync, primary, replica)
        await asyncio.to_thread(stop_replication, replica)  # the replica is stale now
        await ann.city.aset("Rome")
        stale = await ann.city.aget()
        stale_count = await Person.objects.filter(city="Rome").acount()
        with DATABASE.using_primary():
            fresh = await ann.city.aget()
            fresh_count = await Person.objects.filter(city="Rome").acount()
        async with DATABASE.apipeline():
            in_pipeline = await Person.objects.filter(city="Rome").acount()
        return stale, stale_count, fresh, fresh_count, in_pipeline

    assert asyncio.run(main()) == ("Paris", 0, "Rome", 1, 1)


def test_a_replica_without_the_library_reads_on_the_primary(servers):
    """A read-only call (a checked read, a collection call) on a replica lacking its
    library runs on the primary; a replica cannot load it (FUNCTION LOAD is a write)."""
    primary, replica = servers
    if redis_version(primary) < (7,):  # as tests/replicas/test_functions.py
        pytest.skip("Redis functions: Redis 7+ (a 6.2 replica loads a script itself)")

    async def main():
        await Person.acreate(name="Ann", city="Paris")
        await asyncio.to_thread(wait_in_sync, primary, replica)
        await asyncio.to_thread(stop_replication, replica)
        client = replica.client()
        try:
            client.config_set("replica-read-only", "no")
            client.execute_command("FUNCTION", "FLUSH")
            client.config_set("replica-read-only", "yes")
        finally:
            client.close()
        await Person.acreate(name="Bob", city="Paris")  # on the primary only
        before = await asyncio.to_thread(command_counts, primary)
        # the collection function (two filters): on the primary, the replica lacking it
        count = await Person.objects.filter(city="Paris", name="Bob").acount()
        return count, await asyncio.to_thread(commands_since, primary, before)

    count, on_primary = asyncio.run(main())
    assert count == 1
    assert on_primary.get("fcall_ro") == 1, on_primary


@pytest.fixture
def replicated_alias(servers) -> Iterator[tuple[RedisDatabase, Any, Any]]:
    primary, replica = servers
    entry = {"LOCATION": primary.url, "OPTIONS": {"REPLICAS": [replica.url]}}
    entries = {**settings.LIMPYD_DATABASES, "aio-replicated": entry}
    with override_settings(LIMPYD_DATABASES=entries):
        database = databases["aio-replicated"]
        try:
            yield database, primary, replica
        finally:
            database.close()


def test_replicas_from_settings_take_the_async_reads(replicated_alias):
    database, _primary, replica = replicated_alias

    async def main():
        reader = get_read_client(database)
        assert reader is not get_client(database)
        assert get_read_client(database) is reader  # one per replica and loop
        kwargs = reader.connection_pool.connection_kwargs
        assert kwargs["path"] == replica.unix_socket_path
        assert kwargs["decode_responses"] is True
        with database.using_primary():
            assert get_read_client(database) is get_client(database)
        return role(await reader.info()), role(await get_client(database).info())

    assert asyncio.run(main()) == ("slave", "master")
