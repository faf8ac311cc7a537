"""Expiring instances (docs/orm/expiry.rst): deadlines kept by the compiled functions,
reads, filters and counts that never see an expired instance, cleanups that keep the
indexes exact."""

import datetime
import random
import time

import pytest

from django_limpyd import fields, signals
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.related import FKInstanceHashField, RelatedModel
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.storage import functions
from django_limpyd.test.commands import count_commands


@pytest.fixture
def Session(database):
    class Session(RedisModel):
        namespace = "expiry"
        ttl = 3600
        token = fields.InstanceHashField(unique=True)
        user = fields.InstanceHashField(indexable=True)
        score = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
        tags = fields.SetField(indexable=True)
        data = fields.StringField()

    Session.use_database(database)
    database.load_scripts()
    return Session


def expire_now(instance):
    """Put the instance's deadline in the past without any cleanup (as when it passes
    between two writes): straight in the deadlines key."""
    meta = instance._meta
    meta.database.connection.zadd(meta.keys.expiry, {instance.pk.get(): 1})


def test_expireat_in_the_past_removes_at_once(Session, database):
    session = Session(token="a", user="ann")
    assert session.expireat(time.time() - 1) is True
    keys = Session._meta.keys
    # what is left: the pk noted for delete_expired() to send its post_delete
    assert sorted(Session.scan_model_keys()) == sorted([keys.max_pk, keys.reaped])
    assert database.connection.lrange(keys.reaped, 0, -1) == [session.pk.get()]


def test_model_default_ttl_and_instance_ttl(Session):
    session = Session(token="a", user="ann")
    assert 3590 <= session.ttl() <= 3600
    assert 3_590_000 < session.pttl() <= 3_600_000
    short = Session(token="b", user="bob", ttl=10)
    assert 9 <= short.ttl() <= 10
    forever = Session(token="c", user="cid", ttl=None)
    assert forever.ttl() == -1
    assert forever.expire(100) is True
    assert 99 <= forever.ttl() <= 100
    assert forever.persist() is True
    assert forever.persist() is False
    assert forever.ttl() == -1


def test_ttl_attribute_is_taken_out_of_the_class(Session):
    assert Session._meta.ttl == 3600 and Session._meta.expirable
    assert callable(Session.ttl)

    class Child(Session):
        namespace = "expiry"

    assert Child._meta.ttl == 3600


def test_definition_errors(database):
    with pytest.raises(ImplementationError, match="ttl must be a positive number"):

        class Bad(RedisModel):
            ttl = -1
            name = fields.StringField()

    class Plain(RedisModel):
        namespace = "expiry"
        name = fields.StringField()

    Plain.use_database(database)
    with pytest.raises(ImplementationError, match="do not expire; give the model"):
        Plain(name="x", ttl=3)
    plain = Plain(name="x")
    with pytest.raises(ImplementationError, match="do not expire"):
        plain.expire(3)


def test_expired_instance_is_gone_for_every_read_before_cleanup(Session, database):
    session = Session(token="a", user="ann", score=5, tags=["x"], data="d")
    keep = Session(token="b", user="ann", score=5, tags=["x"])
    expire_now(session)
    pk = session.pk.get()
    assert database.connection.zscore(Session._meta.keys.pks, pk) is not None  # not cleaned
    with pytest.raises(Session.DoesNotExist):
        Session(pk)
    assert not Session.exists(pk)
    assert list(Session.from_pks([pk, keep.pk.get()])) == [keep]
    with pytest.raises(Session.DoesNotExist):
        session.data.get()
    with pytest.raises(Session.DoesNotExist):
        session.hmget("token")
    with pytest.raises(Session.DoesNotExist):
        session.ttl()
    with pytest.raises(Session.DoesNotExist):
        Session.lazy_connect(pk).token.hget()
    assert list(Session.collection()) == [keep.pk.get()]
    assert list(Session.collection(user="ann")) == [keep.pk.get()]
    assert list(Session.collection(score__gte=1)) == [keep.pk.get()]
    assert list(Session.collection(tags="x")) == [keep.pk.get()]
    assert Session.collection(user="ann").count() == 1
    assert len(Session.collection()) == 1
    assert Session.collection(token="a").count() == 0
    assert list(Session.instances()) == [keep]
    with pytest.raises(Session.DoesNotExist):
        session.data.set("again")
    with pytest.raises(Session.DoesNotExist):
        session.expire(10)


def test_a_write_cleans_up_expired_instances(Session, database):
    doomed = [Session(token=f"t{i}", user="ann", score=i, tags=["x"]) for i in range(5)]
    for session in doomed:
        expire_now(session)
    other = Session(token="other", user="bob")
    assert database.connection.zcard(Session._meta.keys.pks) == 1
    assert database.connection.zcard(Session._meta.keys.expiry) == 1
    assert consistency_check(Session) == []
    assert other.user.hget() == "bob"


def test_unique_value_free_from_the_deadline(Session, database):
    first = Session(token="same", user="ann", tags=["x"])
    with pytest.raises(UniquenessError):
        Session(token="same", user="bob")
    expire_now(first)
    second = Session(token="same", user="bob")
    assert list(Session.collection(token="same")) == [second.pk.get()]
    assert consistency_check(Session) == []
    third = Session(token="other", user="cid")
    expire_now(second)
    assert third.token.hset("same") == 0  # the field existed: replaced
    assert list(Session.collection(token="same")) == [third.pk.get()]
    assert consistency_check(Session) == []


def test_pk_of_an_expired_instance_is_free(database):
    class Named(RedisModel):
        namespace = "expiry"
        expirable = True
        name = fields.PKField()
        color = fields.StringField(indexable=True)

    Named.use_database(database)
    first = Named(name="x", color="red")
    assert first.ttl() == -1
    expire_now(first)
    second = Named(name="x", color="blue")
    assert second.color.get() == "blue"
    assert list(Named.collection(color="red")) == []
    assert consistency_check(Named) == []


def test_delete_expired_sends_signals(Session, database):
    sessions = [Session(token=f"t{i}", user="ann") for i in range(3)]
    received = []

    def receiver(sender, instance, expired=False, **kwargs):
        received.append((instance.pk.get(), expired))

    signals.post_delete.connect(receiver, sender=Session)
    try:
        for session in sessions[:2]:
            expire_now(session)
        assert Session.delete_expired() == 2
    finally:
        signals.post_delete.disconnect(receiver, sender=Session)
    assert sorted(received) == [("1", True), ("2", True)]
    assert database.connection.zcard(Session._meta.keys.pks) == 1
    assert consistency_check(Session) == []


def test_delete_of_an_expired_instance_answers_false(Session):
    session = Session(token="a")
    expire_now(session)
    assert session.delete() is False
    keys = Session._meta.keys
    assert sorted(Session.scan_model_keys()) == sorted([keys.max_pk, keys.reaped])
    assert Session.delete_expired() == 0  # its post_delete (none listens): the list emptied
    assert list(Session.scan_model_keys()) == [keys.max_pk]


def test_related_target_that_expired_is_missing(database):
    class Owner(RelatedModel):
        namespace = "expiry"
        expirable = True
        name = fields.InstanceHashField()

    class Pet(RelatedModel):
        namespace = "expiry"
        owner = FKInstanceHashField(Owner)

    Owner.use_database(database)
    Pet.use_database(database)
    owner = Owner(name="ann")
    pet = Pet(owner=owner.pk.get())
    expire_now(owner)
    with pytest.raises(Owner.DoesNotExist):
        Pet(owner=owner.pk.get())
    assert Owner.delete_expired() == 1
    assert pet.owner.hget() is None
    assert consistency_check(Pet) == [] and consistency_check(Owner) == []


def test_in_a_pipeline(Session, database):
    with database.pipeline() as pipeline:
        session = Session(token="a", user="ann", ttl=50)
        other = Session(token="b", user="bob")
        pipeline.execute()
    with database.pipeline() as pipeline:
        session.expire(20)
        session.pttl()
        other.persist()
        other.ttl()
        assert pipeline.execute() == [True, pytest.approx(20_000, abs=1_000), True, -1]
    expire_now(other)
    with database.pipeline(transaction=False) as pipeline:
        other.pttl()
        session.user.hget()
        results = pipeline.execute(raise_on_error=False)
    assert isinstance(results[0], Session.DoesNotExist) and results[1] == "ann"


def test_invalid_times(Session):
    session = Session(token="a")
    with pytest.raises(InvalidValue):
        session.expire(0)
    with pytest.raises(InvalidValue):
        session.expire("10")
    with pytest.raises(InvalidValue):
        Session(token="b", ttl=-3)


def test_models_without_expiry_compile_without_it(database):
    class Plain(RedisModel):
        namespace = "expiry"
        name = fields.StringField(unique=True)

    Plain.use_database(database)
    assert "expiry" not in Plain._meta.program()
    assert "expire" not in Plain._meta.library.calls
    with count_commands(database) as recorder:
        Plain(name="x")
    assert recorder.num_round_trips == 1


def test_field_expiry_errors_say_why(Session):
    session = Session(token="a", user="ann", data="d")
    assert session.data.expire(100) is True  # a field without index keeps its own TTL
    assert 99 <= session.data.ttl() <= 100
    with pytest.raises(ImplementationError, match="one entry of the instance's hash.*ttl"):
        session.get_field("token").expire(10)
    with pytest.raises(ImplementationError, match="leave its index entries behind.*expirable"):
        session.score.expire(10)


@pytest.mark.parametrize("expired", [3, 2500])
def test_collections_skip_expired_instances_exactly(database, expired):
    """Pages, counts, filters and sorts with a few expired instances (listed and
    skipped) and with many (tested on the candidates) answer as the same model without
    expiry from which those instances were deleted."""

    def model(name, **options):
        attrs = {
            "__module__": __name__,
            "namespace": "expiry",
            "color": fields.InstanceHashField(indexable=True),
            "size": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
            **options,
        }
        created = type(name, (RedisModel,), attrs)
        created.use_database(database)
        return created

    Item, Twin = model("Item", expirable=True), model("Twin")
    total = 3000
    values = [{"color": ("red", "blue", "green")[n % 3], "size": n % 100} for n in range(total)]
    Item.bulk_create(values)
    Twin.bulk_create(values)
    dead = [str(pk) for pk in random.Random(expired).sample(range(1, total + 1), expired)]
    database.connection.zadd(Item._meta.keys.expiry, dict.fromkeys(dead, 1))
    for pk in dead:
        Twin(pk).delete()
    alive = len(Twin.collection())
    assert alive == total - expired
    queries = [
        lambda m: len(m.collection()),
        lambda m: list(m.collection()),
        lambda m: list(m.collection()[0:50]),
        lambda m: list(m.collection()[1:7]),
        lambda m: list(m.collection()[alive - 10 : alive + 5]),
        lambda m: m.collection(manager=ExtendedCollectionManager).count_and_slice(10, 30),
        lambda m: m.collection(color="red").count(),
        lambda m: list(m.collection(color="red")),
        lambda m: m.collection(color="red", size__lt=10).count(),
        lambda m: list(m.collection(color="red", size__lt=10)),
        lambda m: list(m.collection(color="red").sort(by="-size")[:5]),
        lambda m: list(m.collection(size__gte=95).sort(by="size")[3:9]),
    ]
    for number, query in enumerate(queries):
        assert query(Item) == query(Twin), number


def test_first_write_of_an_empty_instance_takes_the_default_ttl(Session):
    session = Session()
    session.data.set("x")
    assert 3590 <= session.ttl() <= 3600


def test_model_with_transforms_takes_expired_unique_values_too(database):
    class Slugged(RedisModel):
        namespace = "expiry"
        expirable = True
        slug = fields.StringField(unique=True, indexes=[EqualIndex.configure(transform=str.lower)])

    Slugged.use_database(database)
    assert Slugged._meta.program()["sweep"] == 0  # cleaned up from Python only
    first = Slugged(slug="Hello")
    with pytest.raises(UniquenessError):
        Slugged(slug="HELLO")
    expire_now(first)
    second = Slugged(slug="HELLO")  # the holder's entry needs its transform: NEED, then ok
    assert list(Slugged.collection(slug="hello")) == [second.pk.get()]
    third = Slugged(slug="other")
    expire_now(third)
    Slugged(slug="x").slug.set("y")  # no cleanup in writes: needs a transform
    assert database.connection.zscore(Slugged._meta.keys.pks, third.pk.get()) is not None
    assert Slugged.delete_expired() == 1
    assert consistency_check(Slugged) == []


def test_expireat_takes_aware_datetimes(Session):
    session = Session(token="a")
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=50)
    assert session.expireat(when) is True
    assert 49 <= session.ttl() <= 51
    with pytest.raises(InvalidValue, match="aware datetime"):
        session.expireat(datetime.datetime.now())
    assert session.expire(datetime.timedelta(minutes=2)) is True
    assert 119 <= session.ttl() <= 121


def test_delete_expired_keeps_what_was_renewed_and_reports_orphan_deadlines(Session, database):
    kept, gone = Session(token="a"), Session(token="b")
    expire_now(kept)
    expire_now(gone)
    meta = Session._meta
    assert functions.call(database.connection, meta.library, "due", [meta.keys.pks], [10]) == [
        kept.pk.get(),
        gone.pk.get(),
    ]
    # renewed by another client after the listing: its removal is refused
    database.connection.zadd(meta.keys.expiry, {kept.pk.get(): 2**52})
    reap = [meta.keys.pks], [kept.pk.get()]
    assert functions.call(database.connection, meta.library, "reap", *reap) == 0
    assert Session.delete_expired() == 1
    assert Session.exists(kept.pk.get()) and not Session.exists(gone.pk.get())
    database.connection.zadd(meta.keys.expiry, {"nobody": 2**52})
    assert consistency_check(Session) == [
        "Session: orphan deadline of pk 'nobody' in '{expiry:Session}:ttl'"
    ]


def test_pk_set_on_an_empty_instance_takes_the_default_ttl(database):
    class Named(RedisModel):
        namespace = "expiry"
        ttl = 60
        name = fields.PKField()
        color = fields.StringField()

    Named.use_database(database)
    named = Named()
    named.name.set("x")
    assert 59 <= named.ttl() <= 60


def test_reads_sent_at_once_skip_expired_instances(database):
    """``_read_now`` reads (scans, LPOS, current values: sent at once, even in a
    pipeline) check the deadline too."""

    class Bag(RedisModel):
        namespace = "expiry"
        ttl = 3600
        name = fields.InstanceHashField()
        items = fields.ListField()
        tags = fields.SetField()
        scores = fields.SortedSetField()
        attrs = fields.HashField()

    Bag.use_database(database)
    bag = Bag(name="b", items=["a", "b", "a"], tags=["x"], scores={"m": 1}, attrs={"k": "v"})
    assert bag.items.lcount("a") == 2 and bag.items.lrank("b") == 1
    assert list(bag.tags.sscan()) == ["x"] and list(bag.attrs.hscan()) == [("k", "v")]
    assert bag.name.current_value() == "b"
    with database.pipeline():
        assert bag.items.lcontains("a")  # sent at once in a pipeline too
    expire_now(bag)
    reads = [
        lambda: bag.items.lcontains("a"),
        lambda: bag.items.lrank("a"),
        lambda: bag.items.lcount("a"),
        lambda: list(bag.tags.sscan()),
        lambda: list(bag.scores.zscan()),
        lambda: list(bag.attrs.hscan()),
        lambda: bag.name.current_value(),
    ]
    for read in reads:
        with pytest.raises(Bag.DoesNotExist):
            read()
        with database.pipeline(), pytest.raises(Bag.DoesNotExist):
            read()


def test_instances_removed_by_writes_get_their_post_delete_from_delete_expired(Session, database):
    """Writes remove expired instances inside Redis (their bounded cleanup, a unique value
    taken, delete() of an expired one): their pks are noted, and delete_expired() sends
    their post_delete (expired=True), without a pre_delete."""
    swept = [Session(token=f"s{i}", user="ann") for i in range(3)]
    holder = Session(token="taken", user="ann")
    deleted = Session(token="deleted", user="ann")
    kept = Session(token="kept", user="ann")
    received = []

    def post(sender, instance, expired=False, **kwargs):
        received.append(("post", instance.pk.get(), expired))

    def pre(sender, instance, expired=False, **kwargs):
        received.append(("pre", instance.pk.get(), expired))

    signals.post_delete.connect(post, sender=Session)
    signals.pre_delete.connect(pre, sender=Session)
    try:
        for session in swept:
            expire_now(session)
        kept.user.hset("bob")  # its cleanup removes the 3 expired instances
        expire_now(holder)
        Session(token="taken", user="cid")  # the holder of "taken" is removed first
        expire_now(deleted)
        assert deleted.delete() is False
        assert received == [("pre", deleted.pk.get(), False)]  # sent by delete() itself
        received.clear()
        reaped = database.connection.lrange(Session._meta.keys.reaped, 0, -1)
        assert reaped == [s.pk.get() for s in (*swept, holder, deleted)]
        assert Session.delete_expired() == 0  # nothing left to remove: all were
        assert received == [("post", pk, True) for pk in reaped]
        received.clear()
        assert Session.delete_expired() == 0 and received == []  # sent once
    finally:
        signals.post_delete.disconnect(post, sender=Session)
        signals.pre_delete.disconnect(pre, sender=Session)
    assert not database.connection.exists(Session._meta.keys.reaped)
    assert consistency_check(Session) == []


def test_noted_pks_are_bounded(Session, database, monkeypatch):
    from django_limpyd.model import options

    monkeypatch.setattr(options, "EXPIRY_REAPED_MAX", 2)

    class Short(RedisModel):
        namespace = "expiry"
        ttl = 3600
        name = fields.InstanceHashField()

    Short.use_database(database)
    doomed = [Short(name=str(i)) for i in range(4)]
    for instance in doomed:
        expire_now(instance)
    Short(name="writer")
    reaped = database.connection.lrange(Short._meta.keys.reaped, 0, -1)
    assert reaped == [doomed[2].pk.get(), doomed[3].pk.get()]  # the oldest dropped
