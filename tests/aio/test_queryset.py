"""The async methods of collections and Model.objects: the same plan, one round trip."""

import asyncio

import pytest
from django.db.models import Q

from django_limpyd import fields
from django_limpyd.exceptions import ImplementationValueError
from django_limpyd.indexes import NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands


@pytest.fixture
def Book(database):
    class Book(RedisModel):
        namespace = "aio"
        title = fields.InstanceHashField(indexable=True, indexes=[TextRangeIndex])
        year = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        genre = fields.InstanceHashField(indexable=True)
        tags = fields.SetField(indexable=True)

    Book.use_database(database)
    database.load_scripts()
    for title, year, genre in [("Dune", 1965, "sf"), ("Emma", 1815, "novel"), ("Ubik", 1969, "sf")]:
        Book(title=title, year=year, genre=genre, tags=[genre, "book"])
    return Book


def pks(instances):
    return [instance.pk.get() for instance in instances]


def test_async_for_and_alist(Book):
    async def main():
        found = [book async for book in Book.objects.filter(genre="sf")]
        every = await Book.objects.order_by("-year").alist()
        pairs = await Book.objects.filter(genre="sf").values_list("title", flat=True).alist()
        return found, every, pairs

    found, every, titles = asyncio.run(main())
    assert pks(found) == ["1", "3"]
    assert pks(every) == ["3", "1", "2"]
    assert sorted(titles) == ["Dune", "Ubik"]


@pytest.mark.parametrize(
    "collection",
    [
        lambda Book: Book.objects.all(),
        lambda Book: Book.objects.filter(genre="sf"),  # a direct index read
        lambda Book: Book.objects.filter(year__gte=1900),  # a direct range read
        lambda Book: Book.objects.filter(Q(genre="novel") | Q(year__gt=1966)),
        lambda Book: Book.objects.filter(tags="book").exclude(genre="novel"),
        lambda Book: Book.objects.filter(genre__in=["sf", "novel"]),
        lambda Book: Book.objects.order_by("title")[1:],
        lambda Book: Book.objects.filter(genre="nothing"),
        lambda Book: Book.collection(genre="sf"),  # pks
    ],
)
def test_same_results_and_commands_as_sync(Book, collection):
    with count_commands(Book) as sync:
        expected = (list(collection(Book)), collection(Book).count())
        expected += (collection(Book).exists(), collection(Book).first())

    async def main():
        with count_commands(Book) as recorder:
            got = (
                await collection(Book).alist(),
                await collection(Book).acount(),
                await collection(Book).aexists(),
                await collection(Book).afirst(),
            )
        return got, recorder

    got, recorder = asyncio.run(main())
    assert got == expected
    assert recorder.commands == sync.commands


def test_aget(Book):
    async def main():
        dune = await Book.objects.aget(title="Dune")
        by_pk = await Book.objects.aget(2)
        with pytest.raises(Book.DoesNotExist, match="No Book matches"):
            await Book.objects.aget(title="Nope")
        with pytest.raises(Book.MultipleObjectsReturned):
            await Book.objects.aget(genre="sf")
        with assert_num_commands(1, Book):
            await Book.objects.aget(Q(genre="sf") & Q(year__lt=1966))
        return dune.pk.get(), await dune.title.ahget(), by_pk.pk.get()

    assert asyncio.run(main()) == ("1", "Dune", "2")


def test_afirst_alast_one_round_trip_each(Book):
    async def main():
        with assert_num_commands(2, Book):
            first = await Book.objects.order_by("year").afirst()
            last = await Book.objects.order_by("year").alast()
        return first.pk.get(), last.pk.get()

    assert asyncio.run(main()) == ("2", "3")


def test_an_evaluated_collection_answers_without_a_round_trip(Book):
    async def main():
        books = Book.objects.filter(genre="sf")
        await books.alist()
        with assert_num_commands(0, Book):
            return await books.acount(), await books.aexists(), await books.afirst()

    count, exists, first = asyncio.run(main())
    assert (count, exists, first.pk.get()) == (2, True, "1")


def test_errors_of_the_collection_function_are_the_sync_ones(Book, database):
    database.connection.set("{aio:Book}:x:not-a-set", "string")

    async def main():
        with pytest.raises(ImplementationValueError, match="intersect"):
            await Book.objects.filter(genre="sf").intersect("{aio:Book}:x:not-a-set").alist()

    asyncio.run(main())
