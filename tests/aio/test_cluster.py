"""The async API on a real Redis Cluster (3 masters, ``redis-server`` processes on
loopback started and stopped by this module): the async cluster client built from the
database's settings, libraries on every primary, the guard key of every call, reads,
writes, pipelines (grouped per node; a transaction confined to one slot), a unique race
between asyncio tasks, and reads never retried blindly as writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from django_limpyd import fields
from django_limpyd.aio import get_client
from django_limpyd.aio.cluster import AsyncLimpydRedisCluster
from django_limpyd.client import retry_count
from django_limpyd.client_cluster import CrossSlotBatchError
from django_limpyd.consistency import consistency_check
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import UniquenessError
from django_limpyd.indexes import NumberRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.cluster import PrivateRedisCluster
from django_limpyd.test.commands import assert_num_commands
from django_limpyd.test.isolation import short_tempdir

pytestmark = pytest.mark.slow

#: never contacted at this address: the fixture connects it to the module's cluster
DATABASE = RedisDatabase(cluster_nodes=[("127.0.0.1", 1)], socket_timeout=4, read_retries=2)


class Person(RedisModel):
    database = DATABASE
    namespace = "aio-cluster"
    name = fields.InstanceHashField(indexable=True, unique=True)
    city = fields.InstanceHashField(indexable=True)
    age = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
    tags = fields.SetField(indexable=True)


class Place(RedisModel):
    database = DATABASE
    namespace = "aio-cluster"
    label = fields.StringField(unique=True)


@pytest.fixture(scope="module")
def cluster() -> Any:
    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=0) as started:
        yield started


@pytest.fixture
def db(cluster: PrivateRedisCluster) -> Any:
    client = cluster.client()
    client.flushall(target_nodes=client.PRIMARIES)
    client.execute_command("FUNCTION", "FLUSH", target_nodes=client.PRIMARIES)
    client.close()
    DATABASE.connect(**cluster.connection_kwargs(), socket_timeout=4, read_retries=2)
    yield DATABASE
    DATABASE.close()


def test_the_async_client_is_a_cluster_client_built_from_the_settings(db):
    async def main():
        client = get_client(db)
        assert isinstance(client, AsyncLimpydRedisCluster)
        assert get_client(db) is client
        assert client.read_retries == 2
        assert retry_count(client.retry) == 0
        kwargs = client.connection_kwargs
        assert kwargs["decode_responses"] is True
        assert kwargs["socket_timeout"] == 4
        assert await client.ping() is True
        await client.set("aio:{x}", "é")
        assert await client.get("aio:{x}") == "é"
        return sorted(node.port for node in client.get_primaries())

    ports = asyncio.run(main())
    assert ports == sorted(node.port for node in db.connection.get_primaries())


def test_create_get_filter_count_delete(db, cluster):
    async def main():
        ann = await Person.acreate(name="ann", city="paris", age=30, tags=["a", "b"])
        bob = await Person.acreate(name="bob", city="paris", age=40)
        await Person.acreate(name="cid", city="rome", age=50)
        assert (await Person.objects.aget(name="ann")).pk.get() == ann.pk.get()
        assert await Person.objects.filter(city="paris").acount() == 2
        assert await Person.objects.filter(age__gte=40).acount() == 2
        assert sorted([p.pk.get() async for p in Person.objects.filter(city="paris")]) == sorted(
            [ann.pk.get(), bob.pk.get()]
        )
        assert await Person.objects.filter(tags="a").aexists()
        assert await ann.city.ahget() == "paris"
        await ann.city.ahset("rome")
        assert await Person.objects.filter(city="rome").acount() == 2
        assert await bob.adelete()
        with pytest.raises(Person.DoesNotExist):
            await Person.objects.aget(name="bob")
        with pytest.raises(UniquenessError):
            await Person.acreate(name="ann")
        return await Person.objects.acount()

    assert asyncio.run(main()) == 2
    assert consistency_check(Person) == []
    # the library is on every primary, though written through one slot only
    library = Person._meta.library.name
    for node in cluster.masters():
        with cluster.node_client(node) as client:
            assert client.execute_command("FUNCTION", "LIST", "LIBRARYNAME", library), node.port


def test_every_call_declares_the_guard_key(db):
    sent = []

    class Spy:
        def __call__(self, commands, duration):
            sent.extend(commands)

    async def main():
        client = get_client(db)
        client._limpyd_observers.append(spy := Spy())
        try:
            await Person.acreate(name="dan")
            await Person.objects.filter(name="dan").acount()
        finally:
            client._limpyd_observers.remove(spy)

    asyncio.run(main())
    calls = [command for command in sent if str(command[0]).upper().startswith("FCALL")]
    assert calls
    guard = Person._meta.library.guard
    for command in calls:
        count = int(command[2])
        assert guard in command[3 : 3 + count], command


def test_assert_num_commands_counts_async_commands(db):
    async def main():
        await Person.acreate(name="eve", city="oslo")
        with assert_num_commands(1, database=db):
            assert await Person.objects.filter(city="oslo").acount() == 1

    asyncio.run(main())


def test_one_winner_per_unique_value_among_tasks(db):
    async def main():
        return await asyncio.gather(
            *(Place.acreate(label="same") for _ in range(40)), return_exceptions=True
        )

    results = asyncio.run(main())
    winners = [result for result in results if isinstance(result, Place)]
    losers = [result for result in results if isinstance(result, UniquenessError)]
    assert len(winners) == 1 and len(losers) == 39, results
    assert Place.collection().count() == 1
    assert consistency_check(Place) == []


def test_autopk_creates_racing_on_one_loop(db):
    async def main():
        return await asyncio.gather(*(Person.acreate(name=f"n{i}", age=i) for i in range(60)))

    created = asyncio.run(main())
    assert sorted((p.pk.get() for p in created), key=int) == [str(n) for n in range(1, 61)]
    assert Person.collection().count() == 60
    assert consistency_check(Person) == []


def test_abulk_create_and_a_transaction_in_one_slot(db):
    async def main():
        people = await Person.abulk_create([{"name": f"b{i}", "city": "x"} for i in range(5)])
        assert all(person.pk.get() for person in people)
        async with db.apipeline() as pipeline:
            await Person.acreate(name="p1", city="y")
            await people[0].city.ahset("y")
            results = await pipeline.execute()
        assert len(results) == 2
        return await Person.objects.filter(city="y").acount()

    assert asyncio.run(main()) == 2
    assert consistency_check(Person) == []


def test_a_transaction_spanning_slots_is_refused_and_sends_nothing(db):
    assert db.connection.keyslot(Person._meta.keys.pks) != db.connection.keyslot(
        Place._meta.keys.pks
    )

    async def main():
        async with db.apipeline() as pipeline:
            await Person.acreate(name="x1")
            await Place.acreate(label="y1")
            with pytest.raises(
                CrossSlotBatchError,
                match=r"\{aio-cluster:Person\}.*\{aio-cluster:Place\} lives in another slot",
            ):
                await pipeline.execute()
        assert await Person.objects.acount() == 0
        assert await Place.objects.acount() == 0
        # without a transaction, a batch may span slots: grouped per node
        async with db.apipeline(transaction=False) as pipeline:
            await Person.acreate(name="x1")
            await Place.acreate(label="y1")
            await pipeline.execute()
        return await Person.objects.acount(), await Place.objects.acount()

    assert asyncio.run(main()) == (1, 1)
    assert consistency_check(Person) == [] and consistency_check(Place) == []


def test_a_write_whose_connection_is_lost_is_not_sent_again(db, monkeypatch):
    """A lost connection after a write was sent: raised, never sent again (reads are)."""
    import redis.asyncio.cluster as async_cluster
    from redis.exceptions import ConnectionError as RedisConnectionError

    sent: list[str] = []
    original = async_cluster.ClusterNode.execute_command

    async def failing(self, *args, **kwargs):
        name = str(args[0]).upper()
        sent.append(name)
        if name in ("FCALL", "SCARD"):
            await original(self, *args, **kwargs)  # applied, then the reply is lost
            raise RedisConnectionError("lost")
        return await original(self, *args, **kwargs)

    async def main():
        await Person.acreate(name="first")  # libraries loaded, topology known
        monkeypatch.setattr(async_cluster.ClusterNode, "execute_command", failing)
        with pytest.raises(RedisConnectionError):
            await Person.acreate(name="lost")
        writes = sent.count("FCALL")
        with pytest.raises(RedisConnectionError):
            await Person.objects.filter(tags="nope").acount()  # SCARD: a read
        reads = sent.count("SCARD")
        monkeypatch.undo()
        return writes, reads

    writes, reads = asyncio.run(main())
    assert writes == 1  # the write: once
    assert reads == 1 + 2  # the read: once, then READ_RETRIES times
    assert Person.collection().count() == 2  # "lost" was applied, once


def test_tasks_beyond_max_connections_wait_for_a_connection(db, cluster):
    from redis.asyncio.cluster import ClusterNode

    async def main():
        seeds = [ClusterNode("127.0.0.1", port) for port in cluster.ports]
        client = AsyncLimpydRedisCluster(startup_nodes=seeds, max_connections=2)
        try:
            await client.set("aio:{w}", "1")
            replies = await asyncio.gather(*(client.get("aio:{w}") for _ in range(50)))
            pipes = []
            for _ in range(10):
                pipe = client.pipeline(transaction=False)
                pipe.get("aio:{w}").get("aio:{v}")
                pipes.append(pipe.execute())
            piped = await asyncio.gather(*pipes)
        finally:
            await client.close_all()
        return replies, piped

    replies, piped = asyncio.run(main())
    assert replies == ["1"] * 50
    assert piped == [["1", None]] * 10


def test_durable_writes_wait_on_the_node_of_their_slot(db):
    """This cluster has no replicas: ``WAIT 1`` on the node of the write gets no
    acknowledgement; the write is applied once, DurabilityError raised (the durable
    writes on a cluster with replicas: tests/cluster/test_aio_cluster_transactions.py)."""
    from django_limpyd.durability import DurabilityError

    async def main():
        await Person.objects.acount()  # topology and libraries known
        with db.durable(replicas=1, timeout=0.05):
            with (
                assert_num_commands(2, db, round_trips=1) as recorder,
                pytest.raises(DurabilityError, match="applied on the primary"),
            ):
                await Person.acreate(name="durable")
            assert [str(command[0]) for command in recorder.commands] == ["FCALL", "WAIT"]
            with assert_num_commands(1, db):
                assert await Person.objects.acount() == 1  # reads do not wait
        await Person.acreate(name="plain")  # outside the block: no waiting
        return await Person.objects.acount()

    assert asyncio.run(main()) == 2
    assert consistency_check(Person) == []
