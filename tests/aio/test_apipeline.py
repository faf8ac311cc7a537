"""Async pipelines (``async with database.apipeline()``): the async twin of
tests/pipelines/test_pipelines.py, with the same commands and round trips."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ResponseError

from django_limpyd import fields
from django_limpyd.aio.apipeline import AsyncPipeline
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.indexes import EqualIndex
from django_limpyd.model import RedisModel
from django_limpyd.signals import post_save, pre_save
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.tools.calls import wire


def first_letter(value):
    return value[:1]


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "apipeline"
        name = fields.StringField()
        city = fields.StringField(indexable=True)
        email = fields.InstanceHashField(unique=True)
        initial = fields.InstanceHashField(
            indexable=True, indexes=[EqualIndex.configure(transform=first_letter)]
        )
        tags = fields.SetField(indexable=True)
        scores = fields.SortedSetField()
        history = fields.ListField()
        data = fields.HashField()

    Person.use_database(database)
    database.load_scripts()
    for name, city in [
        ("Jean Dupond", "Paris"),
        ("Francois Martin", "Paris"),
        ("John Smith", "New York"),
        ("John Doe", "San Franciso"),
        ("Paul Durand", "Paris"),
    ]:
        Person(name=name, city=city)
    return Person


def run(coroutine):
    return asyncio.run(coroutine)


def test_reads_in_one_round_trip(Person, database):
    async def main():
        persons = [person async for person in Person.objects.filter(city="Paris")]
        with assert_num_commands(5, database, round_trips=1) as commands:
            async with database.apipeline() as pipeline:
                for person in persons:
                    assert await person.name.aget() is pipeline  # queued
                assert len(pipeline) == 3
                names = await pipeline.execute()
        # the instances of a collection are checked on their first read, in the pipeline
        assert [command[0] for command in commands.commands] == wire([
            "MULTI", "FCALL_RO", "FCALL_RO", "FCALL_RO", "EXEC"
        ])  # fmt: skip
        return names

    assert run(main()) == ["Jean Dupond", "Francois Martin", "Paul Durand"]


def test_commands_of_every_field_type_queue_and_return_in_order(Person, database):
    async def main():
        person = await Person.objects.aget(pk=1)
        with assert_num_commands(13, database, round_trips=1):
            async with database.apipeline() as pipeline:
                await person.name.aset("Jean")
                await person.name.aget()
                await person.email.ahset("jean@example.com")
                await person.email.ahget()
                await person.tags.asadd("a", "b")
                await person.tags.ascard()
                await person.scores.azadd(x=1.5)
                await person.scores.azscore("x")
                await person.history.arpush("one", "two")
                await person.history.alrange(0, -1)
                await person.data.ahmset(k="v")
                return await pipeline.execute()

    assert run(main()) == [
        True, "Jean", 1, "jean@example.com", 2, 2, 1, 1.5, 2, ["one", "two"], True,
    ]  # fmt: skip


def test_indexed_writes_creates_and_deletes_in_one_round_trip(Person, database):
    async def main():
        first = await Person.objects.aget(pk=1)
        second = await Person.objects.aget(pk=2)
        # + 2 HGET: the stored values of the transform-indexed field, read ahead (1 round
        # trip) so that no write of the MULTI/EXEC needs a second round
        with assert_num_commands(10, database, round_trips=2):
            async with database.apipeline() as pipeline:
                await first.city.aset("Lyon")
                await second.tags.asadd("x")
                created = await Person.acreate(name="New", city="Lyon", email="new@example.com")
                assert created.pk.get() is None  # known after execute()
                assert await Person.lazy_connect(3).adelete() is pipeline
                await first.initial.ahset("Zed")
                await second.email.ahset("second@example.com")
                results = await pipeline.execute()
        return results, created.pk.get()

    assert run(main()) == ([True, 1, "6", True, 1, 1], "6")
    assert list(Person.collection(city="Lyon")) == ["1", "6"]
    assert list(Person.collection(initial="Z")) == ["1"]
    assert not Person.exists(3)
    assert consistency_check(Person) == []


def test_a_pipeline_without_transaction(Person, database):
    async def main():
        person = await Person.objects.aget(pk=1)
        with assert_num_commands(3, database, round_trips=1) as commands:
            async with database.apipeline(transaction=False) as pipeline:
                await person.city.aset("Oslo")
                await person.name.aget()
                await Person.abulk_create([{"name": "Bulk"}])
                results = await pipeline.execute()
        assert [command[0] for command in commands.commands] == wire(["FCALL", "GET", "FCALL"])
        return results

    assert run(main()) == [True, "Jean Dupond", "6"]
    assert list(Person.collection(city="Oslo")) == ["1"]


def test_failures_are_reported_for_their_command_only(Person, database):
    Person(1).email.hset("taken@example.com")

    async def main():
        async with database.apipeline() as pipeline:
            await (await Person.objects.aget(pk=2)).city.aset("Rome")
            failed = await Person.acreate(name="X", email="taken@example.com")
            await Person.lazy_connect(3).email.ahset("taken@example.com")
            await (await Person.objects.aget(pk=4)).city.aset("Oslo")
            await Person.lazy_connect(4).name.aincr()  # a plain command's error reply
            results = await pipeline.execute(raise_on_error=False)
        assert results[0] is True and results[3] is True
        assert isinstance(results[1], UniquenessError)
        assert isinstance(results[2], UniquenessError)
        assert isinstance(results[4], ResponseError)
        assert failed.pk.get() is None
        async with database.apipeline() as pipeline:
            await Person.lazy_connect(5).email.ahset("taken@example.com")
            await Person.lazy_connect(5).city.aset("Nice")
            with pytest.raises(UniquenessError):
                await pipeline.execute()

    run(main())
    assert Person(3).email.hget() is None
    assert list(Person.collection(city="Oslo")) == ["4"]
    assert list(Person.collection(city="Nice")) == ["5"]  # ran, the error raised after
    assert consistency_check(Person) == []


def test_transforms_of_stored_values_are_read_ahead(Person, database):
    Person(1).initial.hset("Alpha")

    async def main():
        with count_commands(database) as recorder:
            async with database.apipeline() as pipeline:
                await Person.lazy_connect(1).initial.ahset("Beta")  # the old value's transform
                await Person.lazy_connect(2).initial.ahset("Gamma")
                results = await pipeline.execute()
        return results, recorder.num_round_trips

    assert run(main()) == ([0, 1], 2)
    assert list(Person.collection(initial="B")) == ["1"]
    assert list(Person.collection(initial="A")) == []
    assert consistency_check(Person) == []


def test_instance_created_in_a_pipeline_cannot_be_written_before_execute(Person, database):
    async def main():
        async with database.apipeline() as pipeline:
            person = await Person.acreate(name="New")
            with pytest.raises(ImplementationError, match="unknown until execute"):
                await person.city.aset("Paris")
            await pipeline.execute()
        assert await person.city.aset("Paris") is True
        async with database.apipeline():
            dropped = await Person.acreate(name="Dropped")  # never executed
        assert dropped.pk.get() is None and not dropped.__dict__.get("_queued_creation")

    run(main())
    assert Person.collection(city="Paris").count() == 4


def test_only_the_task_that_opened_it_queues(Person, database):
    async def other_task(person):
        return await person.name.aget()  # sent at once

    async def main():
        person = await Person.objects.aget(pk=1)
        async with database.apipeline() as pipeline:
            await person.city.aset("Rome")
            name = await asyncio.create_task(other_task(person))
            assert await Person.objects.acount() == 5  # collections run at once
            assert len(pipeline) == 1
            assert await pipeline.execute() == [True]
        return name

    assert run(main()) == "Jean Dupond"


def test_nested_pipelines_are_refused_and_sync_pipelines_stay_apart(Person, database):
    async def main():
        async with database.apipeline():
            with pytest.raises(ImplementationError, match="already has an active async"):
                async with database.apipeline():
                    pass
        assert isinstance(database.apipeline(), AsyncPipeline)

    run(main())


def test_signals_pre_save_when_queued_post_save_after_execute(Person, database):
    seen = []

    def pre(sender, instance, **kwargs):
        seen.append(("pre", instance.pk.get()))

    def post(sender, instance, **kwargs):
        seen.append(("post", instance.pk.get()))

    async def main():
        async with database.apipeline() as pipeline:
            await Person.acreate(name="Signals")
            seen.append(("queued", None))
            await pipeline.execute()

    pre_save.connect(pre, sender=Person)
    post_save.connect(post, sender=Person)
    try:
        run(main())
    finally:
        pre_save.disconnect(pre, sender=Person)
        post_save.disconnect(post, sender=Person)
    assert seen == [("pre", None), ("queued", None), ("post", "6")]
