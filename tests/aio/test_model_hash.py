"""The async twins of an instance's hash commands (``ahmget``, ``ahmset``, ``ahdel``,
``ahgetall``, ``ahkeys``, ``ahvals``, ``ahlen``): the results, errors and commands of
their sync twins."""

from __future__ import annotations

import asyncio

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands
from tests.tools.calls import wire


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "aio-hash"
        name = fields.InstanceHashField(unique=True)
        city = fields.InstanceHashField(indexable=True)
        nick = fields.InstanceHashField()
        notes = fields.StringField()

    Person.use_database(database)
    database.load_scripts()
    return Person


def test_hash_commands_return_what_the_sync_ones_return(Person, database):
    async def main():
        ann = await Person.acreate(name="Ann")
        with assert_num_commands(1, database):
            assert await ann.ahmset(city="Paris", nick="annie") is True
        with assert_num_commands(1, database):
            values = await ann.ahmget("name", "city", "nick")
        results = [
            values,
            await ann.ahgetall(),
            await ann.ahkeys(),
            await ann.ahvals(),
            await ann.ahlen(),
        ]
        with assert_num_commands(0, database):
            assert await ann.ahmget() == []  # as hmget(): nothing to ask
        return results

    async_results = asyncio.run(main())
    ann = Person(1)
    assert async_results == [
        ann.hmget("name", "city", "nick"),
        ann.hgetall(),
        ann.hkeys(),
        ann.hvals(),
        ann.hlen(),
    ]
    assert async_results[0] == ["Ann", "Paris", "annie"]
    assert list(Person.collection(city="Paris")) == ["1"]


def test_ahdel_and_ahmset_keep_indexes_and_uniqueness(Person, database):
    Person(name="Bob", city="Rome")

    async def main():
        ann = await Person.acreate(name="Ann", city="Paris", nick="annie")
        with assert_num_commands(1, database):
            assert await ann.ahdel("city", "nick") == 2
        assert await ann.ahdel("city") == 0
        with pytest.raises(UniquenessError):
            await ann.ahmset(name="Bob", city="Oslo")  # nothing written
        assert await ann.ahgetall() == {"name": "Ann"}
        with pytest.raises(ImplementationError, match="'notes' is not an InstanceHashField"):
            await ann.ahmget("notes")  # not an InstanceHashField, as in sync code

    asyncio.run(main())
    assert list(Person.collection(city="Paris")) == []
    assert list(Person.collection(city="Oslo")) == []
    assert consistency_check(Person) == []


def test_a_lazy_instance_is_checked_in_the_same_call(Person, database):
    Person(name="Ann")

    async def main():
        with assert_num_commands(1, database) as commands:
            assert await Person.lazy_connect(1).ahmget("name") == ["Ann"]
        assert commands.commands[0][0] == wire("FCALL_RO")
        with pytest.raises(Person.DoesNotExist):
            await Person.lazy_connect(9).ahgetall()

    asyncio.run(main())


def test_hash_commands_queue_in_an_async_pipeline(Person, database):
    async def main():
        ann = await Person.acreate(name="Ann")
        with assert_num_commands(5, database, round_trips=1):
            async with database.apipeline() as pipeline:
                assert await ann.ahmset(city="Lyon") is pipeline
                await ann.ahmget("name", "city")
                await ann.ahlen()
                return await pipeline.execute()

    assert asyncio.run(main()) == [True, ["Ann", "Lyon"], 2]
    assert list(Person.collection(city="Lyon")) == ["1"]
