"""Durable writes on the async transport, on a real primary and replica
(``redis-server --replicaof``, as tests/reliability/test_durable_writes.py).

Each async write of a durable database is sent with ``WAIT`` on the same connection in
the same round trip (a pipeline: ``MULTI`` ... ``EXEC WAIT``): when it returns, the
replica has it. A replica that does not acknowledge in time (paused with SIGSTOP, or
none at all) makes the write raise DurabilityError, applied once, never sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from django_limpyd import fields
from django_limpyd.aio import get_client
from django_limpyd.database import RedisDatabase
from django_limpyd.durability import DurabilityError
from django_limpyd.exceptions import UniquenessError
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.tools.calls import wire
from tests.tools.servers import replicated_servers


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    with replicated_servers(tmp_path_factory.mktemp("aio-durable"), timeout=10) as pair:
        yield pair


@pytest.fixture
def primary_db(servers: tuple[Any, Any]) -> Iterator[RedisDatabase]:
    primary, _replica = servers
    database = RedisDatabase(**primary.connection_kwargs())
    database.connection.flushdb()
    yield database
    database.close()


@pytest.fixture
def reader(servers: tuple[Any, Any]) -> Iterator[redis.Redis]:
    client = redis.Redis(**servers[1].connection_kwargs(), decode_responses=True)
    yield client
    client.close()


def make_model(database: RedisDatabase) -> type:
    class Ticket(RedisModel):
        namespace = "aio-durable"
        code = fields.InstanceHashField(indexable=True, unique=True)
        notes = fields.StringField()

    Ticket.database = database
    Ticket._meta.register(database)
    return Ticket


def names(recorder: Any) -> list[str]:
    return [str(command[0]) for command in recorder.commands]


def test_an_async_durable_write_is_on_the_replica_when_it_returns(servers, reader):
    primary, _replica = servers
    database = RedisDatabase(
        **primary.connection_kwargs(), durability={"replicas": 1, "timeout": 2}
    )
    database.connection.flushdb()
    Ticket = make_model(database)
    keys = Ticket._meta.keys

    async def main() -> None:
        await Ticket.acreate(code="warm-up")  # loads the library
        with assert_num_commands(2, database, round_trips=1) as commands:
            ticket = await Ticket.acreate(code="a1")
        assert names(commands) == wire(["FCALL", "WAIT"])
        # no sleep: WAIT returned, so the replica has the instance and its index entry
        pk = ticket.pk.get()
        assert reader.hget(keys.instance_hash(pk), "code") == "a1"
        assert reader.zscore(keys.pks, pk) is not None
        with assert_num_commands(2, database, round_trips=1) as commands:
            assert await ticket.notes.aset("field write") is True
        assert names(commands) == wire(["FCALL", "WAIT"])
        assert reader.get(keys.field("notes", pk)) == "field write"
        # a plain command on the async client too
        with assert_num_commands(2, database, round_trips=1) as commands:
            assert await get_client(database).set("aio-durable:plain", "v") is True
        assert names(commands) == ["SET", "WAIT"]
        assert reader.get("aio-durable:plain") == "v"
        # reads do not wait (on Redis 6.2 a library read is an EVALSHA, which may write:
        # it waits, as documented in docs/reliability.rst)
        with assert_num_commands(1, database):
            assert await ticket.notes.aget() == "field write"
        with assert_num_commands(1 if wire("FCALL_RO") == "FCALL_RO" else 2, database):
            assert await Ticket.objects.acount() == 2
        # a bulk create: MULTI, its calls, EXEC, WAIT in one round trip
        with assert_num_commands(3 + 3, database, round_trips=1) as commands:
            created = await Ticket.abulk_create([{"code": f"p{n}"} for n in range(3)])
        assert names(commands) == wire(["MULTI", "FCALL", "FCALL", "FCALL", "EXEC", "WAIT"])
        assert [instance.pk.get() for instance in created] == ["3", "4", "5"]
        assert reader.zcard(keys.pks) == 5
        # an async pipeline: MULTI ... EXEC WAIT, one round trip
        with assert_num_commands(5, database, round_trips=1) as commands:
            async with database.apipeline() as pipeline:
                await ticket.notes.aset("piped")
                await Ticket.acreate(code="piped")
                assert await pipeline.execute() == [True, "6"]
        assert names(commands) == wire(["MULTI", "FCALL", "FCALL", "EXEC", "WAIT"])
        assert reader.get(keys.field("notes", pk)) == "piped"
        assert reader.hget(keys.instance_hash("6"), "code") == "piped"
        with assert_num_commands(2, database, round_trips=1):
            assert await created[0].adelete() is True
        assert reader.zcard(keys.pks) == 5
        # durable(replicas=None): no WAIT inside the block
        with database.durable(replicas=None), assert_num_commands(1, database):
            await ticket.notes.aset("fast")

    try:
        asyncio.run(main())
    finally:
        database.close()


def test_a_durable_block_is_task_local(primary_db, reader):
    Ticket = make_model(primary_db)

    async def durable_task(started: asyncio.Event) -> None:
        with primary_db.durable(replicas=1, timeout=2):
            started.set()
            await asyncio.sleep(0)
            await Ticket.acreate(code="durable")

    async def plain_task(started: asyncio.Event) -> None:
        await started.wait()
        await Ticket.acreate(code="plain")

    async def main() -> list[str]:
        await Ticket.acreate(code="warm-up")
        started = asyncio.Event()
        with count_commands(primary_db) as recorder:
            await asyncio.gather(durable_task(started), plain_task(started))
        return names(recorder)

    assert sorted(asyncio.run(main())) == sorted(wire(["FCALL", "FCALL", "WAIT"]))
    assert reader.zcard(Ticket._meta.keys.pks) == 3


def test_a_write_not_confirmed_in_time_raises_and_is_not_sent_again(servers, primary_db):
    _primary, replica = servers
    Ticket = make_model(primary_db)

    async def main() -> None:
        ticket = await Ticket.acreate(code="warm-up")
        replica.pause()  # SIGSTOP: no acknowledgement comes
        try:
            with primary_db.durable(replicas=1, timeout=0.2):
                with pytest.raises(DurabilityError, match=r"applied on the primary.*0 of the 1"):
                    await Ticket.acreate(code="b1")
                with pytest.raises(
                    DurabilityError, match=rf"^{wire('FCALL')} was applied.*\(WAIT\)"
                ):
                    await ticket.notes.aset("unconfirmed")
                with pytest.raises(DurabilityError, match="a pipeline was applied"):
                    await Ticket.abulk_create([{"code": "b2"}, {"code": "b3"}])
                with pytest.raises(DurabilityError, match="a pipeline was applied"):
                    async with primary_db.apipeline(transaction=False) as pipeline:
                        await ticket.notes.aset("piped, unconfirmed")
                        await pipeline.execute()
                # a refused write wrote nothing: its error, not DurabilityError
                with pytest.raises(UniquenessError):
                    await Ticket.acreate(code="b1")
        finally:
            replica.resume()
        # applied once each on the primary, never re-sent
        assert await Ticket.objects.filter(code="b1").primary_keys().alist() == ["2"]
        assert await ticket.notes.aget() == "piped, unconfirmed"
        assert await Ticket.objects.acount() == 4
        await Ticket.acreate(code="b4")  # outside the block, no waiting

    asyncio.run(main())


def test_no_replica_at_all_raises_durability_error(database):
    """The suite's server has no replica: ``WAIT 1`` gets 0 acknowledgements."""

    class Lone(RedisModel):
        namespace = "aio-durable-lone"
        name = fields.InstanceHashField(indexable=True)

    Lone.use_database(database)

    async def main() -> int:
        ann = await Lone.acreate(name="Ann")
        with database.durable(replicas=1, timeout=0.05):
            with pytest.raises(DurabilityError, match="0 of the 1 replica"):
                await Lone.acreate(name="Bob")
            with pytest.raises(DurabilityError):
                await ann.name.ahset("Annie")
            with assert_num_commands(1, database):
                assert await ann.name.ahget() == "Annie"  # reads do not wait
        return await Lone.objects.acount()

    assert asyncio.run(main()) == 2


def test_aof_durability_is_refused_before_anything_is_sent_on_redis_7_0(servers, primary_db):
    from django_limpyd.durability import DurabilityUnsupported
    from tests.tools.servers import redis_version

    primary, _replica = servers
    version = redis_version(primary)
    if version >= (7, 2):
        pytest.skip(f"the server runs {version}: it has WAITAOF")
    if version < (7,):  # its library reads are EVALSHA: refused in the block too
        pytest.skip(f"the server runs {version}: the refusal on Redis 7.0 needs a 7.0 server")
    Ticket = make_model(primary_db)
    message = (
        rf"WAITAOF, which needs Redis >= 7\.2; the server at 127\.0\.0\.1:{primary.port} "
        rf"runs version {'.'.join(map(str, version))}\. Nothing was sent"
    )

    async def main() -> None:
        ticket = await Ticket.acreate(code="before")
        client = get_client(primary_db)
        with primary_db.durable(replicas=1, timeout=0.1, aof=True):
            with assert_num_commands(0, primary_db):
                with pytest.raises(DurabilityUnsupported, match=message):
                    await Ticket.acreate(code="refused")
                assert client.__dict__["_limpyd_redis_version"] == version  # asked once
                with pytest.raises(DurabilityUnsupported, match=message):
                    await ticket.notes.aset("refused")
                with pytest.raises(DurabilityUnsupported, match=message):
                    await Ticket.abulk_create([{"code": "refused"}])
            assert await Ticket.objects.acount() == 1  # reads are sent
        assert await ticket.notes.aget() is None

    asyncio.run(main())
