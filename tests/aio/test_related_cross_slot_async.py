"""Async writes of related fields across slots: to, from and between sharded models on
one server (each shard has its own hash tag), and between models in two slots of a
Redis Cluster. The async path runs the same ordered steps as the sync one
(``contrib/related/crossslot.py``: the targets checked in their slot before the write,
read again after it, the pointers in other slots cleared after a target's delete),
written once and sent on the async client: the same errors, the same commands in the
same round trips."""

from __future__ import annotations

import asyncio

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    M2MSetField,
    RelatedModel,
    crossslot,
)
from django_limpyd.test.commands import count_commands
from tests.cluster.conftest import cluster, db  # noqa: F401 - fixtures
from tests.sharding.test_related_sharded import _consistent, models  # noqa: F401 - a fixture


def trips(recorder):
    """The command names of each round trip (pks and values differ between runs)."""
    return [[str(command[0]).upper() for command in trip] for trip in recorder.round_trips]


def keys(database):
    return sorted(database.connection.keys("*"))


def test_a_missing_target_is_refused_with_nothing_written(models, database):  # noqa: F811
    Person, _Topic, Club, Post = models
    ann = Person(name="ann")
    club = Club(name="chess")
    post = Post(kind="a")
    before = keys(database)

    def sync_writes():
        with pytest.raises(Person.DoesNotExist, match="cannot point to Person '99'"):
            Club(name="x", owner="99")
        with pytest.raises(Person.DoesNotExist, match="'98'"):
            club.members.sadd(ann, "98")
        with pytest.raises(Person.DoesNotExist):
            club.owner.hset("97")
        with pytest.raises(Person.DoesNotExist):
            club.hmset(owner="96")
        with pytest.raises(Person.DoesNotExist):
            post.author.hset("95")
        with pytest.raises(Person.DoesNotExist):
            Post(kind="b", readers=[ann, "94"])

    async def async_writes():
        with pytest.raises(Person.DoesNotExist, match="cannot point to Person '99'"):
            await Club.acreate(name="x", owner="99")
        with pytest.raises(Person.DoesNotExist, match="'98'"):
            await club.members.asadd(ann, "98")
        with pytest.raises(Person.DoesNotExist):
            await club.owner.ahset("97")
        with pytest.raises(Person.DoesNotExist):
            await club.ahmset(owner="96")
        with pytest.raises(Person.DoesNotExist):
            await post.author.ahset("95")
        with pytest.raises(Person.DoesNotExist):
            await Post.acreate(kind="b", readers=[ann, "94"])

    with count_commands(database) as sync:
        sync_writes()

    async def main():
        with count_commands(database) as recorder:
            await async_writes()
        return recorder

    recorder = asyncio.run(main())
    assert trips(recorder) == trips(sync)
    assert all(trip[0] in ("ZMSCORE", "ZSCORE") for trip in trips(recorder))  # reads only
    assert keys(database) == before
    assert len(Club.collection()) == 1 and len(Post.collection()) == 1
    _consistent(Person, Club, Post)


def test_async_writes_of_existing_targets_send_what_sync_sends(models, database):  # noqa: F811
    Person, Topic, Club, Post = models
    first = [Person(name=f"p{number}") for number in range(3)]
    news = Topic(title="news")

    def writes(ann, bob, cid):
        club = Club(name="chess", owner=ann, members=[ann, bob])
        club.members.sadd(cid)
        club.ranking.zadd({bob: 2, cid: 1})
        club.queue.rpush(cid, ann)
        club.owner.hset(bob)
        club.hmset(owner=cid, name="go")
        post = Post(kind="a", author=ann, topic=news, readers=[bob])
        post.readers.sadd(cid)
        post.topic.set(news)
        return club, post

    async def awrites(ann, bob, cid):
        club = await Club.acreate(name="chess", owner=ann, members=[ann, bob])
        await club.members.asadd(cid)
        await club.ranking.azadd({bob: 2, cid: 1})
        await club.queue.arpush(cid, ann)
        await club.owner.ahset(bob)
        await club.ahmset(owner=cid, name="go")
        post = await Post.acreate(kind="a", author=ann, topic=news, readers=[bob])
        await post.readers.asadd(cid)
        await post.topic.aset(news)
        return club, post

    # the same targets for both runs: the same reads in their shards
    with count_commands(database) as sync:
        club, _post = writes(*first)

    async def main():
        with count_commands(database) as recorder:
            aclub, apost = await awrites(*first)
        return aclub, apost, recorder

    aclub, apost, recorder = asyncio.run(main())
    assert trips(recorder) == trips(sync)
    assert aclub.owner.hget() == first[2].pk.get()
    assert aclub.members.smembers() == {p.pk.get() for p in first}
    assert apost.readers.smembers() == {first[1].pk.get(), first[2].pk.get()}
    assert list(first[0].owned()) == []
    assert sorted(first[2].owned()) == sorted([club.pk.get(), aclub.pk.get()])
    _consistent(Person, Topic, Club, Post)


def test_async_delete_of_a_target_clears_its_pointers_in_other_slots(models, database):  # noqa: F811
    Person, _Topic, Club, Post = models

    def setup():
        ann, bob = Person(name="ann"), Person(name="bob")
        club = Club(owner=ann, members=[ann, bob], queue=[ann, bob, ann])
        club.ranking.zadd({ann: 1, bob: 2})
        post = Post(author=ann, readers=[ann, bob])
        mentee = Person(name="cid", mentor=ann)
        return ann, bob, club, post, mentee

    def check(ann, bob, club, post, mentee):
        assert club.owner.hget() is None
        assert club.members.smembers() == {bob.pk.get()}
        assert club.queue.lrange(0, -1) == [bob.pk.get()]
        assert club.ranking.zrange(0, -1) == [bob.pk.get()]
        assert post.author.hget() is None and post.readers.smembers() == {bob.pk.get()}
        assert mentee.mentor.get() is None
        assert list(Club.collection(owner=ann.pk.get())) == []

    synced = setup()
    with count_commands(database) as sync:
        assert synced[0].delete()
    check(*synced)

    made = setup()

    async def main():
        with count_commands(database) as recorder:
            deleted = await made[0].adelete()
        return deleted, recorder

    deleted, recorder = asyncio.run(main())
    assert deleted is True
    check(*made)
    assert trips(recorder) == trips(sync)
    assert len(recorder.round_trips) > 5  # the delete, the listing, one write per pointer
    _consistent(Person, Club, Post)


def test_a_target_deleted_between_the_check_and_the_write_is_cleared_by_the_writer(
    models,  # noqa: F811
    database,
    monkeypatch,
):
    Person, _Topic, Club, _Post = models
    real = crossslot.precheck_steps

    def then_deleted(field, pks):  # the deleter runs right after the check
        yield from real(field, pks)
        target = field.related_model._meta.shard_model_of(pks[0])
        yield crossslot.Command(target, "zrem", (target._meta.keys.pks, pks[0]))

    ann, bob, cid, dan, eve, fay = (Person(name=name) for name in "abcdef")
    club = Club(name="x", owner=bob, members=[bob])
    aclub = Club(name="y", owner=dan, members=[dan])
    monkeypatch.setattr(crossslot, "precheck_steps", then_deleted)
    with count_commands(database) as sync:
        club.owner.hset(ann)
        club.members.sadd(eve)
    assert club.owner.hget() is None and club.members.smembers() == {bob.pk.get()}

    async def main():
        with count_commands(database) as recorder:
            await aclub.owner.ahset(cid)
            await aclub.members.asadd(fay)
        return recorder

    recorder = asyncio.run(main())
    assert aclub.owner.hget() is None  # cleared by the writer's last step
    assert aclub.members.smembers() == {dan.pk.get()}
    assert trips(recorder) == trips(sync)
    assert ["WATCH"] in trips(recorder)  # the compare-and-clear transaction


def test_async_pipelines_and_bulk_creates_check_when_queued(models, database):  # noqa: F811
    Person, _Topic, Club, _Post = models
    ann = Person(name="ann")
    club = Club(name="chess")
    before = keys(database)

    async def main():
        with pytest.raises(Person.DoesNotExist):
            async with database.apipeline() as pipeline:
                await club.members.asadd(ann)
                await club.members.asadd("98")  # refused when queued
                await pipeline.execute()
        with pytest.raises(Person.DoesNotExist):
            await Club.abulk_create([{"owner": ann}, {"owner": "97"}])
        async with database.apipeline() as pipeline:
            await club.members.asadd(ann)
            await Club.acreate(name="queued", owner=ann)
            await pipeline.execute()

    asyncio.run(main())
    assert club.members.smembers() == {ann.pk.get()}
    assert len(Club.collection()) == 2 and len(keys(database)) > len(before)
    _consistent(Person, Club)


@pytest.mark.slow
def test_on_a_cluster_async_writes_and_deletes_across_slots(db):  # noqa: F811
    class Author(RelatedModel):
        database = db
        namespace = "aspread"
        hash_tag = None
        name = fields.InstanceHashField(indexable=True)

    class Book(RelatedModel):
        database = db
        namespace = "aspread"
        hash_tag = None
        author = FKInstanceHashField(Author, related_name="books")
        fans = M2MSetField(Author, related_name="liked")

    slot = db.connection.keyslot
    assert slot(Author._meta.keys.pks) != slot(Book._meta.keys.pks)

    def sync_run():
        ann, bob = Author(name="ann"), Author(name="bob")
        with count_commands(db) as recorder:
            with pytest.raises(Author.DoesNotExist, match="cannot point to Author"):
                Book(author="99")
            book = Book(author=ann, fans=[ann, bob])
            with pytest.raises(Author.DoesNotExist):
                book.fans.sadd("98")
            book.author.hset(bob)
            assert ann.delete() and bob.delete()
        return book, recorder

    async def async_run():
        ann = await Author.acreate(name="ann")
        bob = await Author.acreate(name="bob")
        with count_commands(db) as recorder:
            with pytest.raises(Author.DoesNotExist, match="cannot point to Author"):
                await Book.acreate(author="99")
            book = await Book.acreate(author=ann, fans=[ann, bob])
            with pytest.raises(Author.DoesNotExist):
                await book.fans.asadd("98")
            await book.author.ahset(bob)
            assert await ann.adelete() and await bob.adelete()
        return book, recorder

    book, sync = sync_run()
    abook, recorder = asyncio.run(async_run())
    for made in (book, abook):
        assert made.author.hget() is None and made.fans.smembers() == set()
    assert len(Book.collection()) == 2
    # the same round trips; the sync cluster pipeline's WATCH (of the compare-and-clear
    # transaction) is sent but not seen by the observers, the async one's is
    assert [trip for trip in trips(recorder) if trip != ["WATCH"]] == trips(sync)
    assert trips(recorder).count(["WATCH"]) == 1
    for model in (Author, Book):
        assert consistency_check(model) == []
