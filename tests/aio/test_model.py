"""The async API of models and fields: the same results, errors and commands as sync."""

import asyncio

import pytest
from redis.exceptions import ResponseError

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands


def upper(value):
    return value.upper()


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "aio"
        name = fields.InstanceHashField(unique=True)
        city = fields.InstanceHashField(indexable=True)
        nick = fields.StringField(default="anon")
        age = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
        code = fields.StringField(indexable=True, indexes=[EqualIndex.configure(transform=upper)])
        tags = fields.SetField(indexable=True)
        scores = fields.SortedSetField()
        items = fields.ListField()
        data = fields.HashField()

    Person.use_database(database)
    database.load_scripts()
    return Person


def test_acreate_and_field_reads(Person):
    async def main():
        ann = await Person.acreate(name="Ann", city="Paris", tags=["a", "b"], age=30)
        return (
            ann.pk.get(),
            await ann.pk.aget(),
            await ann.name.ahget(),
            await ann.nick.aget(),
            await ann.tags.asmembers(),
            await ann.tags.asismember("a"),
            await ann.age.aget(),
        )

    assert asyncio.run(main()) == ("1", "1", "Ann", "anon", {"a", "b"}, True, "30")
    assert Person(1).name.hget() == "Ann"
    assert consistency_check(Person) == []


def test_writes_of_every_field_type_keep_indexes(Person):
    async def main():
        ann = await Person.acreate(name="Ann")
        results = [
            await ann.city.ahset("Paris"),
            await ann.nick.aset("annie"),
            await ann.age.aincr(5),
            await ann.code.aset("abc"),
            await ann.tags.asadd("x", "y"),
            await ann.tags.asrem("x"),
            await ann.scores.azadd({"m": 1.5}),
            await ann.scores.azincrby(1, "m"),
            await ann.items.arpush("p", "q"),
            await ann.items.alrange(0, -1),
            await ann.data.ahmset({"k": "v"}),
            await ann.data.ahgetall(),
            await ann.nick.aproxy_get(),
        ]
        return results

    assert asyncio.run(main()) == [
        1, True, 5, True, 2, 1, 1, 2.5, 2, ["p", "q"], True, {"k": "v"}, "annie",
    ]  # fmt: skip
    ann = Person(1)
    assert ann.city.hget() == "Paris"
    assert list(Person.collection(code="ABC")) == ["1"]
    assert list(Person.collection(age__gte=5)) == ["1"]
    assert list(Person.collection(tags="y")) == ["1"]
    assert consistency_check(Person) == []


def test_same_results_and_commands_as_sync(Person):
    Person(name="Ann", tags=["a"])
    ann = Person(1)
    with count_commands(Person) as sync:
        sync_results = [ann.tags.smembers(), ann.name.hget(), ann.nick.set("x")]

    async def main():
        with count_commands(Person) as recorder:
            results = [await ann.tags.asmembers(), await ann.name.ahget(), await ann.nick.aset("x")]
        return results, recorder

    async_results, recorder = asyncio.run(main())
    assert async_results == sync_results
    assert recorder.commands == sync.commands


def test_errors_are_the_sync_ones_and_nothing_is_written(Person, database):
    Person(name="Ann", tags=["a"])
    before = sorted(database.connection.keys())

    async def main():
        with pytest.raises(UniquenessError, match="already exists"):
            await Person.acreate(name="Ann")
        ann = Person.lazy_connect(1)
        bob = await Person.acreate(name="Bob")
        with pytest.raises(UniquenessError):
            await bob.name.ahset("Ann")
        with pytest.raises(InvalidValue):
            await bob.nick.aset(None)
        with pytest.raises(ImplementationError, match="nx/xx"):
            await bob.nick.aset("x", nx=True)
        with pytest.raises(ResponseError, match=r"Person.name.hincrby\(\)"):
            await bob.name.ahincrby(1)
        gone = Person.lazy_connect(9)
        with pytest.raises(Person.DoesNotExist):
            await gone.name.ahget()
        with pytest.raises(Person.DoesNotExist):
            await gone.nick.aset("x")
        assert await ann.name.ahget() == "Ann"  # a lazily connected instance: checked read
        assert await bob.adelete() is True
        assert await bob.adelete() is False

    asyncio.run(main())
    assert sorted(database.connection.keys()) == before
    assert consistency_check(Person) == []


def test_adelete_and_field_adelete(Person, database):
    async def main():
        ann = await Person.acreate(name="Ann", nick="x", tags=["a"])
        await ann.tags.adelete()
        await ann.name.adelete()
        assert await ann.tags.asmembers() == set()
        return await ann.adelete()

    assert asyncio.run(main()) is True
    assert database.connection.keys() == ["{aio:Person}:max"]  # the AutoPK counter stays


def test_unsaved_instance_created_by_its_first_async_write(database):
    class Empty(RedisModel):
        namespace = "aio"
        stuff = fields.SetField()

    Empty.use_database(database)

    async def main():
        empty = await Empty.acreate()
        assert empty.pk.get() is None
        assert await empty.stuff.asadd("a", "b") == 2
        return empty.pk.get()

    assert asyncio.run(main()) == "1"
    assert Empty(1).stuff.smembers() == {"a", "b"}


def test_assert_num_commands_in_async_code(Person):
    async def main():
        with assert_num_commands(1, Person):
            ann = await Person.acreate(name="Ann")
        with assert_num_commands(1, Person):
            await ann.name.ahget()

    asyncio.run(main())


def test_abulk_create_one_round_trip(Person):
    Person(name="Taken")

    async def main():
        with assert_num_commands(5, Person, round_trips=1):  # MULTI, 3 FCALL, EXEC
            created = await Person.abulk_create(
                [{"name": "Ann", "code": "a"}, {"name": "Taken"}, {"name": "Bob", "tags": ["x"]}],
                raise_on_error=False,
            )
        with pytest.raises(UniquenessError):
            await Person.abulk_create([{"name": "Cid"}, {"name": "Ann"}])
        return created

    created = asyncio.run(main())
    assert [instance.pk.get() for instance in created] == ["2", None, "3"]
    assert sorted(Person.collection()) == ["1", "2", "3", "4"]  # Cid created, Ann refused
    assert list(Person.collection(code="A")) == ["2"]
    assert consistency_check(Person) == []


@pytest.mark.parametrize(
    "field_class",
    [
        fields.StringField,
        fields.InstanceHashField,
        fields.HashField,
        fields.SetField,
        fields.ListField,
        fields.SortedSetField,
        fields.PKField,
    ],
)
def test_every_command_has_an_async_twin(field_class):
    import inspect

    names = set(field_class.read_commands + field_class.write_commands)
    names |= {"delete", "proxy_get", "proxy_set"}
    if issubclass(field_class, fields.PKField):
        names |= {"get", "set"}
    for name in names:
        twin = getattr(field_class, "a" + name)
        assert inspect.iscoroutinefunction(twin), name
        assert twin.__name__ == "a" + name
