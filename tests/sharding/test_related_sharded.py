"""Related fields to and from sharded models (``shards = n``) on one server: each shard
has its own hash tag, so they follow the ordered steps of related fields across slots
(``contrib/related/crossslot.py``): the target checked in its shard before the write,
the pointers cleared after a target's delete, the related collections scattered to
the shards of a sharded source."""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MListField,
    M2MSetField,
    M2MSortedSetField,
    RelatedModel,
)
from django_limpyd.contrib.related.integrity import clear_dangling, find_dangling
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.test.commands import assert_num_commands


@pytest.fixture
def models(database):
    """``Person`` (sharded, 4 shards) <- ``Club`` (unsharded) and ``Post`` (sharded, 3
    shards) -> ``Person``, ``Topic`` (unsharded)."""
    attrs = {"database": database, "namespace": "shrel", "__module__": __name__}
    Person = type(
        "Person",
        (RelatedModel,),
        {
            **attrs,
            "shards": 4,
            "name": fields.InstanceHashField(indexable=True),
            "mentor": FKStringField("self", related_name="mentees"),
        },
    )
    Topic = type(
        "Topic", (RelatedModel,), {**attrs, "title": fields.InstanceHashField(indexable=True)}
    )
    Club = type(
        "Club",
        (RelatedModel,),
        {
            **attrs,
            "name": fields.InstanceHashField(indexable=True),
            "owner": FKInstanceHashField(Person, related_name="owned"),
            "members": M2MSetField(Person, related_name="membership"),
            "queue": M2MListField(Person, related_name="queued"),
            "ranking": M2MSortedSetField(Person, related_name="ranked"),
        },
    )
    Post = type(
        "Post",
        (RelatedModel,),
        {
            **attrs,
            "shards": 3,
            "kind": fields.InstanceHashField(indexable=True),
            "author": FKInstanceHashField(Person, related_name="posts"),
            "topic": FKStringField(Topic, related_name="posts"),
            "readers": M2MSetField(Person, related_name="read"),
            "topics": M2MSetField(Topic, related_name="tagged"),
        },
    )
    return Person, Topic, Club, Post


def _pks(instances):
    return sorted((instance.pk.get() for instance in instances), key=int)


def _consistent(*models):
    for model in models:
        assert consistency_check(model) == [], model
        for shard in model._meta.shard_models:
            assert consistency_check(shard) == [], shard


def test_fk_and_m2m_to_a_sharded_model(models):
    Person, _Topic, Club, _Post = models
    people = [Person(name=f"p{number}") for number in range(8)]
    assert len({type(person) for person in people}) == 4  # every shard holds some
    ann, bob, cid = people[:3]
    club = Club(name="chess", owner=ann, members=[ann, bob], queue=[cid, ann])
    club.ranking.zadd({bob: 2, cid: 1})
    assert club.owner.instance().pk.get() == ann.pk.get()
    assert sorted(club.members()) == sorted([ann.pk.get(), bob.pk.get()])
    assert sorted(club.queue()) == sorted([cid.pk.get(), ann.pk.get()])
    assert sorted(club.ranking(name="p1")) == [bob.pk.get()]
    # the reverse collections, on instances of the shard models
    assert list(ann.owned()) == [club.pk.get()]
    assert list(bob.membership(name="chess")) == [club.pk.get()]
    assert list(cid.ranked.collection()) == [club.pk.get()]
    assert list(Person(bob.pk.get()).membership(name="other")) == []
    # filters with instances of a shard model
    assert list(Club.collection(owner=ann)) == [club.pk.get()]
    assert list(Club.collection(members__in=[cid, bob])) == [club.pk.get()]
    _consistent(Person, Club)


def test_a_missing_sharded_target_is_refused_and_nothing_is_written(models, database):
    Person, _Topic, Club, _Post = models
    ann = Person(name="ann")
    club = Club(name="chess")
    before = sorted(database.connection.keys("*"))
    with pytest.raises(Person.DoesNotExist, match="cannot point to Person '99'"):
        Club(name="x", owner="99")
    with pytest.raises(Person.DoesNotExist):
        club.members.sadd(ann, "98")
    with pytest.raises(Person.DoesNotExist):
        club.owner.hset("97")
    with pytest.raises(Person.DoesNotExist):
        club.hmset(owner="96")
    assert sorted(database.connection.keys("*")) == before
    assert len(Club.collection()) == 1
    _consistent(Person, Club)


def test_deleting_a_sharded_target_clears_its_pointers(models):
    Person, _Topic, Club, Post = models
    ann, bob = Person(name="ann"), Person(name="bob")
    club = Club(owner=ann, members=[ann, bob], queue=[ann, bob, ann])
    club.ranking.zadd({ann: 1, bob: 2})
    post = Post(author=ann, readers=[ann, bob])
    mentee = Person(name="cid", mentor=ann)
    ann.delete()
    assert club.owner.hget() is None
    assert club.members.smembers() == {bob.pk.get()}
    assert club.queue.lrange(0, -1) == [bob.pk.get()]
    assert club.ranking.zrange(0, -1) == [bob.pk.get()]
    assert post.author.hget() is None and post.readers.smembers() == {bob.pk.get()}
    assert mentee.mentor.get() is None
    assert list(Club.collection(owner=ann.pk.get())) == []
    _consistent(Person, Club, Post)


def test_related_fields_on_a_sharded_model(models):
    Person, Topic, _Club, Post = models
    ann = Person(name="ann")
    news, art = Topic(title="news"), Topic(title="art")
    posts = [Post(kind="a" if n % 2 else "b", author=ann, topic=news) for n in range(7)]
    assert len({type(post) for post in posts}) == 3
    posts[0].topics.sadd(news, art)
    posts[1].topics.sadd(art)
    # reverse collections of a sharded source: scattered to its shards
    assert sorted(news.posts(), key=int) == _pks(posts)
    assert len(news.posts(kind="a")) == 3
    assert sorted(ann.posts.collection(kind="b"), key=int) == _pks(posts[::2])
    assert sorted(art.tagged(), key=int) == _pks(posts[:2])
    assert list(news.posts().sort(by="-pk")[:2]) == _pks(posts)[::-1][:2]
    assert list(posts[0].topics(title="art")) == [art.pk.get()]
    assert posts[3].topic.instance().pk.get() == news.pk.get()
    assert sorted(Post.collection(topic=news, kind="a"), key=int) == _pks(posts[1::2])
    # missing targets are refused, whatever the shard of the writer
    with pytest.raises(Topic.DoesNotExist):
        Post(kind="c", topic="42")
    with pytest.raises(Person.DoesNotExist):
        posts[2].readers.sadd("42")
    with pytest.raises(Person.DoesNotExist):
        posts[2].author.hset("42")
    assert len(Post.collection()) == 7 and posts[2].author.hget() == ann.pk.get()
    # deleting an unsharded target clears the pointers of every shard of the source
    news.delete()
    assert all(Post(post.pk.get()).topic.get() is None for post in posts)
    assert posts[0].topics.smembers() == {art.pk.get()}
    assert list(Post.collection(topic=news.pk.get())) == []
    # and a sharded one (Person -> Post, sharded to sharded)
    ann.delete()
    assert all(Post(post.pk.get()).author.hget() is None for post in posts)
    _consistent(Person, Topic, Post)


def test_instances_of_another_model_and_dangling_pointers(models, database):
    Person, Topic, Club, Post = models
    ann = Person(name="ann")
    with pytest.raises(InvalidValue, match="points to Person instances"):
        Club(owner=Topic(title="t"))
    club = Club(owner=ann)
    # a pointer left by a process stopped between the steps: found, then repaired
    database.connection.zrem(type(ann)._meta.keys.pks, ann.pk.get())
    problems = consistency_check(Club)
    assert len(problems) == 1 and "dangling" in problems[0]
    for pointer in find_dangling(Club):
        assert clear_dangling(pointer)
    assert club.owner.hget() is None
    post = Post(kind="a")
    database.connection.hset(post._meta.keys.instance_hash_prefix + post.pk.get(), "author", "5")
    assert [pointer.pk for pointer in find_dangling(Post)] == [post.pk.get()]


def test_unsharded_related_models_keep_their_single_call(database):
    attrs = {"database": database, "namespace": "shrel", "__module__": __name__}
    Writer = type("Writer", (RelatedModel,), {**attrs, "name": fields.InstanceHashField()})
    Novel = type("Novel", (RelatedModel,), {**attrs, "author": FKInstanceHashField(Writer)})
    writer = Writer(name="ann")
    with assert_num_commands(1, database):
        Novel(author=writer)
    with assert_num_commands(1, database):
        writer.delete()


def test_a_model_being_resharded_refuses_related_fields(database, models):
    Person, *_ = models
    attrs = {"database": database, "namespace": "shrel2", "__module__": __name__}
    with pytest.raises(ImplementationError, match="being resharded"):
        type(
            "Moving",
            (RelatedModel,),
            {**attrs, "shards": 4, "resharding_from": 2, "owner": FKStringField(Person)},
        )
    with pytest.raises(ImplementationError, match="being resharded"):
        Target = type(
            "Target",
            (RelatedModel,),
            {**attrs, "shards": 4, "resharding_from": 2, "name": fields.InstanceHashField()},
        )
        type("Pointing", (RelatedModel,), {**attrs, "target": FKStringField(Target)})


def test_bulk_creates_and_pipelines_check_sharded_targets(models, database):
    Person, _Topic, Club, Post = models
    ann, bob = Person(name="ann"), Person(name="bob")
    clubs = Club.bulk_create([{"owner": ann}, {"owner": bob, "members": [ann, bob]}])
    assert sorted(ann.owned(), key=int) == [clubs[0].pk.get()]
    assert list(bob.owned()) == [clubs[1].pk.get()]
    with pytest.raises(Person.DoesNotExist):
        Club.bulk_create([{"owner": ann}, {"owner": "99"}])
    posts = Post.bulk_create([{"author": ann, "kind": "a"} for _ in range(5)])
    assert sorted(ann.posts(), key=int) == _pks(posts)
    with database.pipeline() as pipeline:
        queued = Club(owner=bob)
        pipeline.execute()
    assert sorted(bob.owned(), key=int) == _pks([clubs[1], queued])
    _consistent(Person, Club, Post)


def test_clearing_the_pointers_of_a_sharded_source_before_a_flush(models):
    from django_limpyd.contrib.related.integrity import clear_pointers, pointing_fields

    Person, Topic, Club, Post = models
    news = Topic(title="news")
    posts = [Post(kind="a", topic=news) for _ in range(5)]
    assert len({type(post) for post in posts}) == 3
    assert [field.describe() for field in pointing_fields([Topic])] == [
        Post._meta.get_field("topic").describe(),
        Post._meta.get_field("topics").describe(),
    ]
    assert {field.model for field in pointing_fields([Person])} == {Club, Post}
    assert clear_pointers(Post._meta.get_field("topic")) == 5
    assert all(Post(post.pk.get()).topic.get() is None for post in posts)
    assert list(news.posts()) == []
    _consistent(Topic, Post)


def test_a_sharded_target_with_a_unique_field(database):
    attrs = {"database": database, "namespace": "shrel3", "__module__": __name__}
    Badge = type(
        "Badge",
        (RelatedModel,),
        {**attrs, "shards": 2, "code": fields.InstanceHashField(unique=True)},
    )
    Holder = type(
        "Holder",
        (RelatedModel,),
        {**attrs, "shards": 2, "badge": FKStringField(Badge, related_name="holders")},
    )
    badge = Badge(code="gold")
    holders = [Holder(badge=badge) for _ in range(4)]
    assert sorted(badge.holders(), key=int) == _pks(holders)
    badge.delete()
    assert all(Holder(holder.pk.get()).badge.get() is None for holder in holders)
    assert Badge(code="gold").code.hget() == "gold"  # the value was released
    _consistent(Badge, Holder)
