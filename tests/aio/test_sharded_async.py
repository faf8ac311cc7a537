"""The async twins of the collections of sharded models (``acount``, ``aget``,
``afirst``, ``alast``, ``aexists``, ``alist``, ``async for``): the same steps as the
sync path (django_limpyd/sharding/scatter.py), so the same results, errors, commands
and round trips, sent on the async transport; while the model is resharded too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db.models import Q

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.model import RedisModel
from django_limpyd.sharding import moves
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.sharding import reshard_models
from tests.sharding.reshard_models import fill_orders, order_model
from tests.sharding.test_sharded_models import _fill, models  # noqa: F401 - a fixture

QUERIES = [
    lambda M: M.collection(),
    lambda M: M.collection(kind="a"),
    lambda M: M.collection(kind="b", tags="x"),
    lambda M: M.collection(score__gte=0),
    lambda M: M.collection().exclude(kind="a").sort(by="-score"),
    lambda M: M.collection(kind="c").sort(by="-name", alpha=True),
    lambda M: M.collection().order_by("kind", "-score")[3:11],
    lambda M: M.collection(kind="nothing"),
    lambda M: M.collection().values("kind", "score")[:7],
    lambda M: M.collection().instances().sort(by="score"),
    lambda M: M.objects.filter(Q(kind="a") | Q(score__lt=-20)),
]


def _pk(value: Any) -> Any:
    return value.pk.get() if isinstance(value, RedisModel) else value


def _pks(values: list[Any]) -> list[Any]:
    return [_pk(value) for value in values]


def _sync_answers(query, model):
    with count_commands(model) as recorder:
        answers = (
            _pks(list(query(model))),
            query(model).count(),
            query(model).exists(),
            _pk(query(model).first()),
            _pk(query(model).last()),
        )
    return answers, recorder


async def _async_answers(query, model):
    with count_commands(model) as recorder:
        answers = (
            _pks(await query(model).alist()),
            await query(model).acount(),
            await query(model).aexists(),
            _pk(await query(model).afirst()),
            _pk(await query(model).alast()),
        )
        walked = _pks([item async for item in query(model)])
    return answers, walked, recorder


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_results_commands_and_round_trips_as_sync(models, query):  # noqa: F811
    Event, Plain = models
    _fill(Event, Plain, count=40)
    expected, sync = _sync_answers(query, Event)
    got, walked, recorder = asyncio.run(_async_answers(query, Event))
    assert got == expected
    assert walked == expected[0]
    assert recorder.round_trips[: len(sync.round_trips)] == sync.round_trips
    # and the merge is right: the answers of the unsharded model
    if query(Plain).ordered:
        assert expected[0] == _pks(list(query(Plain)))
    assert expected[1] == query(Plain).count()


def test_one_pipeline_per_scatter(models, database):  # noqa: F811
    Event, Plain = models
    _fill(Event, Plain, count=20)

    async def main():
        collection = Event.collection(kind="a").sort(by="score")
        with assert_num_commands(4, database, round_trips=1):
            page = await collection[2:6].alist()
        with assert_num_commands(4, database, round_trips=1):
            count = await Event.collection(kind="a").acount()
        with assert_num_commands(4, database, round_trips=1):
            first = await Event.collection().sort(by="-score").afirst()
        with assert_num_commands(4, database, round_trips=1):
            exists = await Event.collection(kind="nothing").aexists()
        evaluated = Event.collection(kind="a")
        await evaluated.alist()
        with assert_num_commands(0, database):  # an evaluated collection: no round trip
            again = (await evaluated.acount(), await evaluated.afirst(), await evaluated.alist())
        return page, count, first, exists, again

    page, count, first, exists, again = asyncio.run(main())
    assert page == list(Plain.collection(kind="a").sort(by="score")[2:6])
    assert count == len(Plain.collection(kind="a"))
    assert first == Plain.collection().sort(by="-score").first()
    assert exists is False
    assert again[0] == count and again[2] == list(Event.collection(kind="a"))


def test_aget_answers_and_fails_as_get(models, database):  # noqa: F811
    Event, Plain = models
    _fill(Event, Plain, count=20)
    name = Plain.collection().values_list("name", flat=True)[3]
    pk = Plain.collection(name=name).first()

    def errors(call):
        try:
            call()
        except Exception as error:
            return type(error), str(error)
        raise AssertionError("no error")

    async def aerrors(call):
        try:
            await call()
        except Exception as error:
            return type(error), str(error)
        raise AssertionError("no error")

    async def main():
        with assert_num_commands(4, database, round_trips=1):
            found = await Event.collection().aget(name=name)
        by_pk = await Event.objects.aget(pk)
        with_q = await Event.collection().aget(Q(name=name) & Q(kind__in=["a", "b", "c"]))
        missing = await aerrors(lambda: Event.collection().aget(kind="nope"))
        several = await aerrors(lambda: Event.collection(kind="a").aget())
        too_many = await aerrors(lambda: Event.collection().aget("1", "2"))
        read = await found.name.ahget()
        return found, by_pk, with_q, missing, several, too_many, read

    found, by_pk, with_q, missing, several, too_many, read = asyncio.run(main())
    assert found.pk.get() == by_pk.pk.get() == with_q.pk.get() == pk
    assert type(found) is type(Event(pk)) and read == name
    assert missing == errors(lambda: Event.collection().get(kind="nope"))
    assert missing[0] is Event.DoesNotExist
    assert several == errors(lambda: Event.collection(kind="a").get())
    assert several[0] is Event.MultipleObjectsReturned
    assert too_many == errors(lambda: Event.collection().get("1", "2"))


def test_async_for_gives_instances_of_their_shard_models(models):  # noqa: F811
    Event, Plain = models
    _fill(Event, Plain, count=12)

    async def main():
        return [(event, await event.kind.ahget()) async for event in Event.objects.filter(kind="b")]

    found = asyncio.run(main())
    assert [event.pk.get() for event, _kind in found] == sorted(Plain.collection(kind="b"), key=int)
    assert all(kind == "b" and isinstance(event, Event) for event, kind in found)
    assert all(type(event) is type(Event(event.pk.get())) for event, _kind in found)


# -- while the model is resharded ------------------------------------------------------


@pytest.fixture
def server(redis_server):
    reshard_models.DATABASE.connect(**reshard_models.connection_kwargs(redis_server))
    yield redis_server
    reshard_models.DATABASE.close()


RESHARD_QUERIES = [
    lambda M: M.collection(),
    lambda M: M.collection(kind="a"),
    lambda M: M.collection().sort(by="score")[2:7],
    lambda M: M.collection(tags="t1").sort(by="-score")[:3],
    lambda M: M.objects.filter(kind="b").order_by("-score"),
]


def test_while_resharded_the_same_reads_and_counts_as_sync(server):
    Before = order_model(4)
    made = fill_orders(Before, 30)
    During = order_model(6, resharding_from=4)

    def compare():
        for query in RESHARD_QUERIES:
            expected, sync = _sync_answers(query, During)
            got, walked, recorder = asyncio.run(_async_answers(query, During))
            assert got == expected and walked == expected[0]
            # a count read again (it took more than SETTLE) may add round trips
            assert recorder.round_trips[: len(sync.round_trips)] == sync.round_trips

    compare()
    moves.close_old_layout(During)
    moves.move_reservations(During)
    old_shards = During._meta.previous_shard_models
    moves.move_batch(During, old_shards[0], 100)
    moves.move_batch(During, old_shards[1], 3)
    compare()

    async def main():
        # the old shards' moves and counts in one transaction, then the new shards
        with assert_num_commands(4 * 2 + 2 + 6, reshard_models.DATABASE, round_trips=2):
            count = await During.collection(kind="a").acount()
        found = await During.collection().aget(code="c7")
        members = {item async for item in During.collection()}
        return count, found, members

    count, found, members = asyncio.run(main())
    assert count == 15 == len(During.collection(kind="a"))
    assert found.pk.get() == next(pk for pk, n in made.items() if n == 7)
    assert members == set(made)
    moves.run(During)
    compare()
    assert asyncio.run(During.collection().acount()) == 30


# -- on a Redis Cluster ----------------------------------------------------------------

#: never contacted at this address: the fixture connects it to the module's cluster
CLUSTER_DATABASE = RedisDatabase(cluster_nodes=[("127.0.0.1", 1)], socket_timeout=4)


@pytest.fixture(scope="module")
def cluster() -> Any:
    from django_limpyd.test.cluster import PrivateRedisCluster
    from django_limpyd.test.isolation import short_tempdir

    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=0) as started:
        yield started


@pytest.fixture
def cluster_db(cluster) -> Any:
    client = cluster.client()
    client.flushall(target_nodes=client.PRIMARIES)
    client.close()
    CLUSTER_DATABASE.connect(**cluster.connection_kwargs(), socket_timeout=4)
    yield CLUSTER_DATABASE
    CLUSTER_DATABASE.close()


@pytest.mark.slow
def test_on_an_async_cluster_client_the_same_as_sync(cluster_db):
    from django_limpyd.contrib.collection import ExtendedCollectionManager
    from tests.sharding.test_sharded_models import _event_fields

    attrs = {"database": cluster_db, "namespace": "aio-shards", "__module__": __name__}
    Event = type("Event", (RedisModel,), {**attrs, "shards": 6, **_event_fields()})
    Event.collection_manager = ExtendedCollectionManager
    for number in range(30):
        Event(kind="abc"[number % 3], name=f"n{number:02d}", score=str(number % 7))
    for query in QUERIES:
        expected, sync = _sync_answers(query, Event)
        got, walked, recorder = asyncio.run(_async_answers(query, Event))
        assert got == expected and walked == expected[0]
        assert recorder.round_trips[: len(sync.round_trips)] == sync.round_trips

    async def main():
        with assert_num_commands(6, cluster_db, round_trips=1):  # one per node, in parallel
            count = await Event.collection(kind="a").acount()
        found = await Event.collection().aget(name="n04")
        return count, found.pk.get(), await found.score.aget()

    pk = Event.collection().get(name="n04").pk.get()
    assert asyncio.run(main()) == (10, pk, "4")


# -- async writes of instances of a model being resharded ---------------------------


def test_async_writes_follow_a_moved_instance_as_sync_writes_do(server):
    Before = order_model(4)
    made = fill_orders(Before, 12)
    During = order_model(6, resharding_from=4)
    pks = list(made)
    stale = {pk: During(pk) for pk in pks}  # instance objects of the old layout
    assert all(type(instance)._meta.layout == "old" for instance in stale.values())

    moves.close_old_layout(During)
    moves.run(During)

    # a field write and a hash write of instance objects of the old layout: each follows
    # its instance to the new one, with the sync path's commands (a read of one does
    # not: it reads where its object says, as in sync code)
    def sync_write(instance):
        with count_commands(reshard_models.DATABASE) as recorder:
            instance.hits.set("7")
        return recorder

    async def async_writes():
        with count_commands(reshard_models.DATABASE) as recorder:
            await stale[pks[1]].hits.aset("7")
        await stale[pks[2]].ahmset(kind="z")
        hits = await stale[pks[3]].hits.aget()  # a checked instance: a plain read
        return recorder, hits

    sync = sync_write(stale[pks[0]])
    recorder, hits = asyncio.run(async_writes())
    assert recorder.num_commands == sync.num_commands == 4  # FCALL, 2 ZSCORE, FCALL
    assert recorder.num_round_trips == sync.num_round_trips == 3
    assert [len(trip) for trip in recorder.round_trips] == [1, 2, 1]
    assert [trip[0][0] for trip in recorder.round_trips] == [
        trip[0][0] for trip in sync.round_trips
    ]
    assert During(pks[0]).hits.get() == During(pks[1]).hits.get() == "7"
    assert type(stale[pks[1]])._meta.layout == "new"
    assert During(pks[2]).kind.hget() == "z" and type(stale[pks[2]])._meta.layout == "new"
    assert hits is None and type(stale[pks[3]])._meta.layout == "old"


def test_an_async_create_follows_the_closing_of_the_old_layout(server):
    # (an async create of a sharded model with unique values is refused: several steps)
    plain_code = {"code": fields.InstanceHashField(indexable=True)}
    Before = order_model(4, **plain_code)
    made = fill_orders(Before, 5)
    During = order_model(6, resharding_from=4, **plain_code)
    stale = During(next(iter(made)))

    async def create(code):
        return await During.acreate(code=code, kind="a", score="50")

    # until the command closes the old layout, creates go there
    early = asyncio.run(create("early"))
    assert type(early)._meta.layout == "old"
    # another process closes it: this one learns it from its refused create (CLOSED),
    # which then goes to the new layout, as in sync code
    moves.close_old_layout(During)
    assert not During._meta.__dict__.get("_reshard_closed")
    late = asyncio.run(create("late"))
    assert type(late)._meta.layout == "new" and int(late.pk.get()) > int(early.pk.get())
    assert During._meta._reshard_closed
    assert During(late.pk.get()).code.hget() == "late"
    moves.run(During)
    assert sorted(During.collection(code="early")) == [early.pk.get()]
    # a delete of an instance object of the old layout follows its instance too
    assert asyncio.run(stale.adelete()) is True
    assert type(stale)._meta.layout == "new" and not During.exists(stale.pk.get())
    assert len(During.collection()) == 6


def test_an_async_read_of_a_lazily_connected_instance_finds_its_layout(server):
    Before = order_model(4)
    made = fill_orders(Before, 8)
    During = order_model(6, resharding_from=4)
    moves.close_old_layout(During)
    old_shards = During._meta.previous_shard_models
    moves.move_batch(During, old_shards[0], 100)

    async def main():
        read = {}
        for pk in made:
            instance = await During.collection().aget(pk=pk)  # layout not known yet
            read[pk] = (await instance.score.aget(), type(instance)._meta.layout)
        return read

    read = asyncio.run(main())
    assert {pk: score for pk, (score, _layout) in read.items()} == {
        pk: str(n) for pk, n in made.items()
    }
    layouts = {pk: layout for pk, (_score, layout) in read.items()}
    assert {layouts[pk] for pk in made if int(pk) % 4 == 1} == {"new"}  # moved
    assert {layouts[pk] for pk in made if int(pk) % 4 != 1} == {"old"}


def test_an_async_write_waits_for_a_move_and_is_not_followed_in_a_pipeline(server, monkeypatch):
    from django_limpyd.exceptions import ImplementationError, Redirected
    from django_limpyd.sharding import reshard

    Before = order_model(2)
    made = fill_orders(Before, 6)
    During = order_model(3, resharding_from=2)
    moves.close_old_layout(During)
    pk = next(iter(made))
    instance = During(pk)
    old = type(instance)
    connection = reshard_models.DATABASE.connection
    connection.hset(old._meta.keys.moves, pk, "moving")  # the fence
    monkeypatch.setattr(reshard, "WAIT", 0.3)

    async def fenced():
        async with reshard_models.DATABASE.apipeline() as pipeline:
            await instance.hits.aset("1")
            with pytest.raises(Redirected, match="being moved"):
                await pipeline.execute()
        with pytest.raises(ImplementationError, match="run it again"):
            await instance.hits.aset("2")
        return await instance.hits.aget()

    assert asyncio.run(fenced()) is None  # nothing was written
    connection.hdel(old._meta.keys.moves, pk)
    moves.run(During)

    async def moved():
        assert await instance.hits.aset("3")
        return type(instance)._meta.layout

    assert asyncio.run(moved()) == "new"
    assert During(pk).hits.get() == "3"


@pytest.mark.slow
def test_on_an_async_cluster_client_while_resharded(cluster_db):
    from tests.sharding.test_sharded_models import _event_fields

    def event(shards, resharding_from=None):
        attrs = {"database": cluster_db, "namespace": "aio-reshard", "__module__": __name__}
        if resharding_from is not None:
            attrs["resharding_from"] = resharding_from
        return type("Event", (RedisModel,), {**attrs, "shards": shards, **_event_fields()})

    Before = event(2)
    for number in range(20):
        Before(kind="ab"[number % 2], name=f"n{number:02d}", score=str(number))
    During = event(3, resharding_from=2)
    moves.close_old_layout(During)
    moves.move_batch(During, During._meta.previous_shard_models[0], 4)
    stale = During(next(pk for pk in Before.collection() if int(pk) % 2 == 0))
    queries = [lambda M: M.collection(kind="a"), lambda M: M.collection().sort(by="-score")[:5]]
    for query in queries:
        expected, sync = _sync_answers(query, During)
        got, walked, recorder = asyncio.run(_async_answers(query, During))
        assert got == expected and walked == expected[0]
        assert recorder.round_trips[: len(sync.round_trips)] == sync.round_trips
    moves.run(During)

    async def main():
        await stale.score.aset("100")  # follows its instance to the new layout
        return await During.collection(kind="a").acount(), type(stale)._meta.layout

    assert asyncio.run(main()) == (10, "new")
    assert During(stale.pk.get()).score.get() == "100"
