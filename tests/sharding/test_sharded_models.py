"""Sharded models (``shards = n``) on one server: instances spread over the shard models,
pks unique across shards, writes in one call, collections scattered and gathered in one
round trip; the same answers as an unsharded model."""

from __future__ import annotations

import itertools
import random

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import ImplementationError
from django_limpyd.indexes import NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.pk_counter import counter_problem
from django_limpyd.test.commands import assert_num_commands


def _event_fields() -> dict:
    return {
        "kind": fields.InstanceHashField(indexable=True),
        "name": fields.InstanceHashField(indexable=True, indexes=[TextRangeIndex]),
        "score": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
        "tags": fields.SetField(indexable=True),
    }


@pytest.fixture
def models(database):
    attrs = {"database": database, "namespace": "shards", "__module__": __name__}
    Event = type("Event", (RedisModel,), {**attrs, "shards": 4, **_event_fields()})
    Plain = type("Plain", (RedisModel,), {**attrs, **_event_fields()})
    Event.collection_manager = Plain.collection_manager = ExtendedCollectionManager
    return Event, Plain


def _fill(Event, Plain, count=60, seed=3):
    """The same instances in both models, with the same pks (the shards in order)."""
    Event._meta._shard_turns = itertools.cycle(range(Event._meta.shards)).__next__
    rng = random.Random(seed)
    for _number in range(count):
        values = {
            "kind": rng.choice(["a", "b", "c"]),
            "name": f"n{rng.randrange(1000):03d}",
            "score": str(rng.randrange(-50, 50)),
            "tags": {rng.choice(["x", "y", "z"])},
        }
        Event(**values)
        Plain(**values)


def test_instances_spread_over_the_shards_with_pks_unique_across_them(models, database):
    Event, _Plain = models
    created = [Event(kind="a") for _ in range(40)]
    pks = [instance.pk.get() for instance in created]
    assert len(set(pks)) == 40
    shards = Event._meta.shard_models
    assert len(shards) == 4
    for instance in created:
        assert isinstance(instance, Event)
        number = (int(instance.pk.get()) - 1) % 4
        assert type(instance) is shards[number]
    per_shard = [len(list(shard.collection())) for shard in shards]
    assert per_shard == [10, 10, 10, 10]
    # each shard's keys carry its own hash tag; none of the sharded model's own prefix
    prefixes = {shard._meta.keys.prefix for shard in shards}
    assert len(prefixes) == 4
    for key in Event.scan_model_keys():
        assert any(key.startswith(prefix + ":") for prefix in prefixes)
    assert not list(database.connection.scan_iter(match=Event._meta.keys.scan_pattern))
    assert Event.__name__ == "Event" and repr(created[0]).startswith("<Event pk=")
    for shard in shards:
        assert counter_problem(shard) is None
    assert all(consistency_check(shard) == [] for shard in shards)


def test_connect_read_update_delete_go_to_the_right_shard(models):
    Event, _Plain = models
    created = [Event(kind="a", score="5") for _ in range(8)]
    pk = created[5].pk.get()
    again = Event(pk)
    assert again == created[5] and type(again) is type(created[5])
    assert again.kind.hget() == "a"
    again.kind.hset("b")
    assert list(Event.collection(kind="b")) == [pk]
    assert Event.exists(pk) and Event.lazy_connect(pk).score.get() == "5"
    with pytest.raises(Event.DoesNotExist):
        Event("999")
    assert [i.pk.get() for i in Event.from_pks([pk, "999", created[0].pk.get()])] == [
        pk,
        created[0].pk.get(),
    ]
    again.delete()
    assert not Event.exists(pk)
    assert len(Event.collection()) == 7


def test_collections_answer_as_an_unsharded_model(models):
    Event, Plain = models
    _fill(Event, Plain)
    queries = [
        lambda M: M.collection(),
        lambda M: M.collection(kind="a"),
        lambda M: M.collection(kind="b", tags="x"),
        lambda M: M.collection(score__gte=0),
        lambda M: M.collection(name__startswith="n1"),
        lambda M: M.collection().exclude(kind="a"),
        lambda M: M.collection().sort(by="score"),
        lambda M: M.collection(kind="c").sort(by="-name", alpha=True),
        lambda M: M.collection().order_by("kind", "-score"),
        lambda M: M.collection().sort(by="-pk"),
    ]
    for query in queries:
        ours, theirs = query(Event), query(Plain)
        expected = list(theirs)
        if not ours.ordered:
            # an unsorted collection of one model comes in the order of what it read
            # (an index, a set); over shards, in pk order
            expected.sort(key=int)
            theirs = Plain.collection(pk__in=expected).sort(by="pk")
        assert list(ours) == expected
        assert len(ours) == len(expected)
        for start, stop in [(0, 5), (3, 9), (10, 30), (55, 70)]:
            assert list(ours[start:stop]) == expected[start:stop]
        assert ours.count_and_slice(2, 7) == (len(expected), expected[2:7])
        assert list(ours.values("kind", "score")[:7]) == list(theirs.values("kind", "score")[:7])
        assert list(ours.values_list("name", flat=True)[4:8]) == list(
            theirs.values_list("name", flat=True)[4:8]
        )
    assert Event.collection().first() == Plain.collection().first()
    assert Event.collection().sort(by="score").last() == Plain.collection().sort(by="score").last()
    instance = Event.collection(kind="a").instances()[0]
    assert isinstance(instance, Event) and instance.kind.hget() == "a"
    assert Event.get(pk=instance.pk.get()) == instance
    with pytest.raises(Event.MultipleObjectsReturned):
        Event.collection(kind="a").get()


def test_a_page_or_a_count_is_one_round_trip(models, database):
    Event, Plain = models
    _fill(Event, Plain, count=20)
    collection = Event.collection(kind="a").sort(by="score")
    # one collection call per shard (4), all in one pipeline: one round trip
    with assert_num_commands(4, database, round_trips=1):
        page = list(collection[2:6])
    assert page == list(Plain.collection(kind="a").sort(by="score")[2:6])
    expected = len(Plain.collection(kind="a"))
    with assert_num_commands(4, database, round_trips=1):
        assert len(Event.collection(kind="a")) == expected
    with assert_num_commands(4, database, round_trips=1):
        Event.collection().count_and_slice(0, 5)


def test_bad_input_fails_where_it_is_written(models, database):
    Event, _Plain = models
    with pytest.raises(ImplementationError, match="no field"):
        Event.collection(nope=1)
    with pytest.raises(ImplementationError, match="shards must be"):
        type("Bad", (RedisModel,), {"database": database, "namespace": "s", "shards": 1})
    with pytest.raises(ImplementationError, match="unique field holds one value"):
        type(
            "Uniq",
            (RedisModel,),
            {
                "database": database,
                "namespace": "s",
                "shards": 2,
                "codes": fields.SetField(unique=True),
            },
        )
    with pytest.raises(ImplementationError, match="not available"):
        Event.collection().intersect("somekey")


def test_a_model_with_given_pks_spreads_them_by_hash(database):
    class Sess(RedisModel):
        database_ = None
        namespace = "shards"
        shards = 3
        pk = fields.PKField()
        user = fields.InstanceHashField(indexable=True)

    Sess.use_database(database)
    for number in range(30):
        Sess(pk=f"token-{number}", user=str(number % 2))
    assert sorted(Sess.collection(), key=str) == sorted(f"token-{n}" for n in range(30))
    assert Sess("token-7").user.hget() == "1"
    assert len(Sess.collection(user="0")) == 15
    assert all(len(list(shard.collection())) > 3 for shard in Sess._meta.shard_models)
