"""Unique fields of a sharded model on the async transport (``acreate``, ``await
field.ahset()``, ``ahmset``, ``adelete``): the protocol of
django_limpyd/sharding/unique.py (reserve, fenced write, confirm/settle), written once
as steps, sent on the async client: the same guarantees, errors, commands and round
trips as the sync path; while the model is resharded too."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from typing import Any

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.model import RedisModel
from django_limpyd.sharding import moves, unique
from django_limpyd.test.cluster import PrivateRedisCluster
from django_limpyd.test.commands import count_commands
from django_limpyd.test.isolation import short_tempdir
from tests.sharding import reshard_models, unique_models
from tests.sharding.reshard_models import order_model
from tests.sharding.unique_models import Account


@pytest.fixture
def accounts(redis_server):
    unique_models.DATABASE.connect(**unique_models.connection_kwargs(redis_server))
    yield Account
    unique_models.DATABASE.close()


def _holders(value):
    return list(Account.collection(email=value))


def test_a_value_is_held_once_across_shards(accounts):
    async def main():
        first = await Account.acreate(email="a@x", name="ann")
        # the next creates go to other shards: their own unique index cannot see "a@x"
        for _ in range(Account._meta.shards):
            with pytest.raises(UniquenessError, match="a@x"):
                await Account.acreate(email="a@x", name="bob")
        assert await Account.collection(email="a@x").alist() == [await first.pk.aget()]
        second = await Account.acreate(email="b@x")
        with pytest.raises(UniquenessError):
            await second.email.ahset("a@x")
        assert await second.email.ahget() == "b@x"
        await first.email.ahset("c@x")  # "a@x" is free again, "c@x" taken
        await second.email.ahset("a@x")
        with pytest.raises(UniquenessError):
            await Account.acreate(email="c@x")
        assert await first.adelete() is True
        await Account.acreate(email="c@x")
        await second.ahmset(email="d@x", name="bee")
        await Account.acreate(email="a@x")
        await second.email.ahdel()  # "d@x" released
        await Account.acreate(email="d@x")

    asyncio.run(main())
    assert consistency_check(Account) == []
    assert Account.collection().count() == 4  # "second" holds no value any more
    for value in ("a@x", "c@x", "d@x"):
        assert len(_holders(value)) == 1


def test_refused_in_an_async_pipeline_as_in_a_sync_one(accounts):
    instance = Account(email="p@x")

    async def main():
        async with Account._meta.database.apipeline():
            with pytest.raises(ImplementationError, match="cannot be queued in a pipeline"):
                await instance.email.ahset("q@x")
            with pytest.raises(ImplementationError, match="cannot be queued in a pipeline"):
                await Account.acreate(email="q@x")

    asyncio.run(main())
    assert instance.email.hget() == "p@x"
    assert Account.collection(email="q@x").count() == 0
    assert consistency_check(Account) == []


def test_a_revoked_reservation_refuses_its_late_async_write(accounts):
    from django_limpyd.aio.unique import afenced

    instance = Account()  # unsaved, in one of the shards
    reserved = unique._Reserved(type(instance))
    reserved.reserve(Account._meta.database.connection, {"email": "late@x"}, None)
    assert unique.repair(Account) == 1  # found pending, no instance: revoked

    async def main():
        step = unique.Fenced(reserved, lambda: instance.email.hset("late@x"))
        with pytest.raises(UniquenessError, match="revoked"):
            await afenced(step)

    asyncio.run(main())
    assert _holders("late@x") == []
    Account(email="late@x")  # free again


def _shape(recorder):
    """The round trips: each command's name, number of arguments and values (the keys,
    pk and token left out: each path writes in the shard it picks)."""
    return [
        [(str(command[0]), len(command), _values(command)) for command in trip]
        for trip in recorder.round_trips
    ]


def _values(command: tuple[Any, ...]) -> list[str]:
    return [str(part) for part in command if str(part) in ("s1", "s2", "s3", "s4", "n", "m")]


def _script(sync: bool, model: type, box: dict[str, Any], name: str, values: dict) -> Any:
    """One write of ``name`` on either path (the instance kept in ``box``)."""
    instance = box.get("instance")
    if name == "create":
        return model(**values) if sync else model.acreate(**values)
    if name == "hset":
        field = getattr(instance, next(iter(values)))
        return field.hset(*values.values()) if sync else field.ahset(*values.values())
    if name == "hmset":
        return instance.hmset(**values) if sync else instance.ahmset(**values)
    if name == "hdel":
        field = getattr(instance, next(iter(values)))
        return field.hdel() if sync else field.ahdel()
    assert name == "delete"
    return instance.delete() if sync else instance.adelete()


def _play(model: type, script: list[tuple[str, dict]], sync: bool) -> list[Any]:
    """Each write of ``script`` on one path: its round trips, or its error's type."""
    box: dict[str, Any] = {}
    shapes = []

    async def one(call: Any) -> Any:
        return await call

    for name, values in script:
        with count_commands(model) as recorder:
            try:
                call = _script(sync, model, box, name, values)
                result = call if sync else asyncio.run(one(call))
            except UniquenessError as error:
                result = type(error)
        if name == "create" and not isinstance(result, type):
            box["instance"] = result
        shapes.append((name, _shape(recorder), result if isinstance(result, type) else None))
    return shapes


SCRIPT = [
    ("create", {"email": "s1", "name": "n"}),
    ("create", {"email": "s1"}),  # refused
    ("hset", {"email": "s2"}),
    ("hset", {"email": "s2"}),  # the same value again
    ("hmset", {"email": "s3", "name": "m"}),
    ("hdel", {"email": None}),
    ("hset", {"email": "s4"}),
    ("delete", {}),
]


def test_the_same_commands_and_round_trips_as_sync(accounts):
    sync = _play(Account, SCRIPT, sync=True)
    assert consistency_check(Account) == []
    Account._meta.database.connection.flushdb()
    got = _play(Account, SCRIPT, sync=False)
    assert consistency_check(Account) == []
    assert [len(shape) for _name, shape, _error in got] == [len(s) for _n, s, _e in sync]
    assert got == sync
    for name, shape, error in got:
        print(f"[async sharded unique] {name}: {len(shape)} round trips, {error or 'ok'}")
    # a create: reserve, WATCH, EXISTS, MULTI/EXEC, confirm
    assert [len(trip) for trip in got[0][1]] == [1, 1, 1, 3, 1]


def test_abulk_create_as_bulk_create(accounts):
    items = [{"email": f"b{number}", "name": "n"} for number in range(8)]
    items += [{"email": "b3"}, {"email": "other"}]  # "b3" given twice: one is refused

    def summary(instances, recorder):
        trips = [
            [(str(command[0]), len(command)) for command in trip] for trip in recorder.round_trips
        ]
        saved = [instance.pk.get() is not None for instance in instances]
        return sorted(map(str, trips)), saved

    with count_commands(Account) as recorder, pytest.raises(UniquenessError, match="b3"):
        Account.bulk_create(items)
    sync = summary(list(Account.collection().instances()), recorder)
    with count_commands(Account) as recorder:
        made = Account.bulk_create(items, raise_on_error=False)
    refused = summary(made, recorder)
    assert refused[1] == [False] * len(items)  # every value is held now
    Account._meta.database.connection.flushdb()

    with count_commands(Account) as recorder, pytest.raises(UniquenessError, match="b3"):
        asyncio.run(Account.abulk_create(items))
    assert summary(list(Account.collection().instances()), recorder) == sync
    with count_commands(Account) as recorder:
        made = asyncio.run(Account.abulk_create(items, raise_on_error=False))
    assert summary(made, recorder) == refused
    assert Account.collection().count() == 9
    assert consistency_check(Account) == []


# -- races ------------------------------------------------------------------------------


def _race(server: dict, seed: int, values: list[str], results: Any, events: Any) -> None:
    unique_models.DATABASE.connect(**server)
    Account.collection().count()  # connected, scripts loaded
    ready, go = events
    ready.set()
    go.wait(60)
    won = []
    for value in values[::-1] if seed < 0 else values:
        with contextlib.suppress(UniquenessError):
            won.append(Account(email=value, name=f"p{seed}").pk.get())
    results.put(won)


def test_tasks_and_a_process_racing_for_the_same_values_hold_each_once(accounts, redis_server):
    values = [f"race{number}@x" for number in range(80)]
    server = unique_models.connection_kwargs(redis_server)
    context = multiprocessing.get_context("spawn")
    results, ready, go = context.Queue(), context.Event(), context.Event()
    process = context.Process(target=_race, args=(server, -1, values, results, (ready, go)))

    async def task(seed: int) -> list[str]:
        won = []
        for value in values if seed % 2 else reversed(values):
            with contextlib.suppress(UniquenessError):
                won.append((await Account.acreate(email=value, name=f"t{seed}")).pk.get())
        return won

    async def main() -> list[str]:
        await Account.collection().acount()  # connected, scripts loaded
        assert await asyncio.to_thread(ready.wait, 60)
        go.set()  # the process starts creating too
        lists = await asyncio.gather(*(task(seed) for seed in range(8)))
        return [pk for won in lists for pk in won]

    process.start()
    won = asyncio.run(main())
    by_process = results.get(timeout=60)
    process.join(timeout=30)
    won += by_process
    assert len(won) == len(set(won)) == len(values)  # each value created exactly once
    for value in values:
        assert len(_holders(value)) == 1
    print(
        f"\n[async sharded unique] race: {len(won)} values created once, "
        f"{len(by_process)} by the process, the others by 8 tasks"
    )
    assert consistency_check(Account) == []


def test_tasks_racing_to_move_to_the_same_value(accounts):
    """Updates too: of 20 instances moving to one value, one holds it."""
    instances = [Account(email=f"from{number}@x") for number in range(20)]

    async def main():
        return await asyncio.gather(
            *(instance.email.ahset("target@x") for instance in instances), return_exceptions=True
        )

    outcomes = asyncio.run(main())
    errors = [outcome for outcome in outcomes if isinstance(outcome, UniquenessError)]
    assert len(errors) == 19 and len(_holders("target@x")) == 1
    assert consistency_check(Account) == []


# -- while the model is resharded ------------------------------------------------------


@pytest.fixture
def server(redis_server):
    reshard_models.DATABASE.connect(**reshard_models.connection_kwargs(redis_server))
    yield redis_server
    reshard_models.DATABASE.close()


def test_unique_async_writes_stay_unique_while_resharded(server):
    Before = order_model(4)
    olds = [Before(code=f"c{number}", kind="a") for number in range(12)]
    During = order_model(6, resharding_from=4)

    def problems():
        found = [p for shard in During._meta.stored_models for p in consistency_check(shard)]
        return found + unique.reservation_problems(During)

    async def writes(round_: str, stale: Any) -> list[Any]:
        created = await During.acreate(code=f"{round_}1", kind="b")
        for code in ("c3", f"{round_}1"):  # held in the old layout, or just taken
            with pytest.raises(UniquenessError):
                await During.acreate(code=code)
        old_code = await stale.code.ahget()
        with pytest.raises(UniquenessError):
            await stale.code.ahset("c6")
        await stale.code.ahset(f"{round_}5")  # its old value released
        await During.acreate(code=old_code)
        racing = await asyncio.gather(
            *(During.acreate(code=f"{round_}-same") for _ in range(10)), return_exceptions=True
        )
        assert sum(isinstance(outcome, UniquenessError) for outcome in racing) == 9
        return [created, stale]

    kept = asyncio.run(writes("before", During(olds[5].pk.get())))
    assert type(kept[0])._meta.layout == "old"  # until the command runs: the old layout
    assert problems() == []

    moves.close_old_layout(During)
    moves.move_reservations(During)
    later = asyncio.run(writes("after", During(olds[7].pk.get())))
    assert type(later[0])._meta.layout == "new"

    async def more():
        with pytest.raises(UniquenessError):  # a value taken before the close
            await During.acreate(code="before1")
        assert await kept[0].adelete() is True  # its value released in both layouts
        await During.acreate(code="before1")

    asyncio.run(more())
    assert problems() == []
    moves.run(During, batch=5)
    asyncio.run(more_after_move(During))
    After = order_model(6)
    for code in ("c0", "before1", "after1", "before-same", "after-same", "before5"):
        assert len(list(After.collection(code=code))) == 1, code
    assert [p for shard in After._meta.stored_models for p in consistency_check(shard)] == []
    assert unique.reservation_problems(After) == []


async def more_after_move(model: type) -> None:
    with pytest.raises(UniquenessError):
        await model.acreate(code="c0")
    instance = await model.objects.aget(code="after1")
    with pytest.raises(UniquenessError):
        await instance.code.ahset("c1")


def test_a_crash_point_stops_an_async_write_at_the_same_step(accounts, redis_server):
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_crashed, args=("after_reserve", unique_models.connection_kwargs(redis_server))
    )
    process.start()
    process.join(timeout=60)
    assert process.exitcode == -9  # SIGKILLed at that step
    problems = consistency_check(Account)
    assert len(problems) == 1 and "pending reservation of 'v@x'" in problems[0]
    assert unique.repair(Account) == 1
    Account(email="v@x")
    assert consistency_check(Account) == []


def _crashed(step: str, server: dict) -> None:
    os.environ["LIMPYD_SHARD_CRASH_AT"] = step
    unique_models.DATABASE.connect(**server)
    asyncio.run(Account.acreate(email="v@x"))


# -- on a Redis Cluster -------------------------------------------------------------------


def _names(recorder: Any, skip: str = "") -> list[list[str]]:
    trips = [[str(command[0]) for command in trip] for trip in recorder.round_trips]
    return [trip for trip in trips if trip != [skip]]


CLUSTER = RedisDatabase(cluster_nodes=[("127.0.0.1", 1)], socket_timeout=4, read_retries=2)


class Member(RedisModel):
    database = CLUSTER
    namespace = "aio-cluster-unique"
    shards = 6
    email = fields.InstanceHashField(unique=True)


@pytest.mark.slow
def test_on_a_redis_cluster_with_the_same_round_trips_as_sync():
    """The buckets, shards and fences in the slots of 3 masters: the async steps go to
    each one's node (the fenced write on the node of the fence's slot)."""

    async def main(items):
        first = await Member.acreate(email="a")
        for _ in range(Member._meta.shards):
            with pytest.raises(UniquenessError):
                await Member.acreate(email="a")
        second = await Member.acreate(email="b")
        with pytest.raises(UniquenessError):
            await second.email.ahset("a")
        await first.email.ahset("c")
        await second.email.ahset("a")
        await first.adelete()
        await Member.acreate(email="c")
        return await Member.abulk_create(items, raise_on_error=False)

    def sync(items):
        first = Member(email="a")
        for _ in range(Member._meta.shards):
            with pytest.raises(UniquenessError):
                Member(email="a")
        second = Member(email="b")
        with pytest.raises(UniquenessError):
            second.email.hset("a")
        first.email.hset("c")
        second.email.hset("a")
        first.delete()
        Member(email="c")
        return Member.bulk_create(items, raise_on_error=False)

    items = [{"email": f"x{number}"} for number in range(10)] + [{"email": "a"}]
    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=0) as cluster:
        CLUSTER.connect(**cluster.connection_kwargs(), socket_timeout=4, read_retries=2)
        try:
            with count_commands(Member) as by_sync:
                made = sync(items)
            assert [instance._pk is not None for instance in made] == [True] * 10 + [False]
            assert consistency_check(Member) == []
            client = cluster.client()
            client.flushall(target_nodes=client.PRIMARIES)
            client.close()
            with count_commands(Member) as by_async:
                made = asyncio.run(main(items))
            assert [instance._pk is not None for instance in made] == [True] * 10 + [False]
            assert consistency_check(Member) == []
            # the same round trips; but the sync cluster client does not report its
            # WATCH to observers (the async one does, as both do on one server)
            assert _names(by_async, "WATCH") == _names(by_sync)
            fenced = [trip for trip in _names(by_async) if trip[0] == "MULTI"]
            assert _names(by_async).count(["WATCH"]) == len(fenced) == 11
        finally:
            CLUSTER.close()
