"""Related fields: every example of the seeds' "Related fields" chapter (2.6.1), and
the ScoredEqualIndex-with-related-models example of the contrib indexes chapter.

Imports are adapted (``from django_limpyd.contrib import related``). Where an
example of the seeds cannot run as printed (typos, a filter on a field that is
not indexed, results that contradict the data), the adaptation is noted next
to it. Results of unsorted collections come in no particular order: they are
compared sorted.
"""

import pytest

from django_limpyd import fields
from django_limpyd.contrib import related
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MListField,
    M2MSetField,
    M2MSortedSetField,
)
from django_limpyd.fields import PKField, StringField


@pytest.fixture
def main_database(database):
    """The seeds' ``main_database``."""
    return database


def test_public_names():
    assert set(related.__all__) == {
        "RelatedModel",
        "FKStringField",
        "FKInstanceHashField",
        "M2MSetField",
        "M2MListField",
        "M2MSortedSetField",
    }


# -- 2.6.1: the introduction --------------------------------------------------------


def test_seed_intro_example(main_database):
    class Person(related.RelatedModel):
        database = main_database
        name = fields.PKField()  # redefine a PK just for the example

    class Group(related.RelatedModel):
        database = main_database
        name = fields.PKField()
        # adapted: indexable, as the example filters on it (`group_set(private=0)`)
        private = fields.StringField(indexable=True)
        owner = related.FKInstanceHashField("Person")
        members = related.M2MSetField("Person", related_name="membership")

    core_devs = Group(name="limpyd core devs", private=0)
    ybon = Person(name="ybon")
    twidi = Person(name="twidi")
    assert core_devs.owner.hset(ybon) == 1
    assert core_devs.members.sadd(twidi, ybon._pk) == 2  # a limpyd object, or a pk
    assert core_devs.members.smembers() == {"ybon", "twidi"}
    collection = ybon.group_set(private=0)  # it's a collection, the limpyd way !
    assert isinstance(collection, ExtendedCollectionManager)
    assert list(collection) == ["limpyd core devs"]
    assert list(twidi.membership()) == ["limpyd core devs"]  # it's a collection too


# -- 2.6.1.2: the field types -------------------------------------------------------


def test_seed_field_types_are_indexable_and_take_instances(main_database):
    """All five types are indexable; everywhere a value is stored, an instance can be
    given (its pk is used)."""

    class Person(related.RelatedModel):
        database = main_database
        name = PKField()

    class Group(related.RelatedModel):
        database = main_database
        fk_string = FKStringField(Person, related_name="a")
        fk_hash = FKInstanceHashField(Person, related_name="b")
        m2m_set = M2MSetField(Person, related_name="c")
        m2m_list = M2MListField(Person, related_name="d")
        m2m_zset = M2MSortedSetField(Person, related_name="e")

    for name in ("fk_string", "fk_hash", "m2m_set", "m2m_list", "m2m_zset"):
        assert Group.get_field(name).indexable
    ybon, twidi = Person(name="ybon"), Person(name="twidi")
    group = Group(
        fk_string=ybon, fk_hash=twidi, m2m_set=[ybon, "twidi"], m2m_list=[twidi, ybon, twidi],
        m2m_zset={ybon: 2, twidi: 1},
    )  # fmt: skip
    assert group.fk_string.get() == "ybon"
    assert group.fk_hash.hget() == "twidi"
    assert group.m2m_set.smembers() == {"ybon", "twidi"}
    assert group.m2m_list.lrange(0, -1) == ["twidi", "ybon", "twidi"]
    assert group.m2m_zset.zrange(0, -1) == ["twidi", "ybon"]
    group.fk_string.set(twidi)
    group.m2m_set.srem(ybon)
    group.m2m_list.lrem(0, twidi)
    group.m2m_zset.zadd({twidi: 5})
    assert group.fk_string.get() == "twidi"
    assert group.m2m_set.smembers() == {"twidi"}
    assert group.m2m_list.lrange(0, -1) == ["ybon"]
    assert group.m2m_zset.zrange(0, -1) == ["ybon", "twidi"]
    assert group.m2m_set.sismember(twidi)
    assert group.m2m_zset.zscore(twidi) == 5.0


def test_seed_fkinstancehashfield_read_with_hmget(main_database):
    """2.6.1.2.2: an FKInstanceHashField can be retrieved with other fields via hmget."""

    class Person(related.RelatedModel):
        database = main_database
        name = PKField()

    class Group(related.RelatedModel):
        database = main_database
        name = fields.InstanceHashField()
        owner = FKInstanceHashField(Person)

    ybon = Person(name="ybon")
    group = Group(name="core", owner=ybon)
    assert group.hmget("name", "owner") == ["core", "ybon"]
    group.hmset(name="devs", owner=Person(name="twidi"))
    assert group.hmget("name", "owner") == ["devs", "twidi"]
    assert list(ybon.group_set()) == []


def test_seed_m2mlistfield_ordered_with_duplicates(main_database):
    """2.6.1.2.4: the list of foreign keys is ordered, and may hold a key many times."""

    class Person(related.RelatedModel):
        database = main_database
        name = PKField()

    class Playlist(related.RelatedModel):
        database = main_database
        people = M2MListField(Person, related_name="playlists")

    a, b = Person(name="a"), Person(name="b")
    playlist = Playlist()
    playlist.people.rpush(a, b, a)
    assert playlist.people.lrange(0, -1) == ["a", "b", "a"]
    assert sorted(playlist.people()) == ["a", "b"]
    assert list(a.playlists()) == [playlist.pk.get()]


def test_seed_m2msortedsetfield_sorted_by_score(main_database):
    """2.6.1.2.5: unique AND sorted, e.g. members in the order they joined."""

    class Person(related.RelatedModel):
        database = main_database
        name = PKField()

    class Group(related.RelatedModel):
        database = main_database
        members = M2MSortedSetField(Person, related_name="membership")

    first, second, third = Person(name="first"), Person(name="second"), Person(name="third")
    group = Group()
    group.members.zadd({second: 1700000002, first: 1700000001})
    group.members.zadd({third: 1700000003, first: 1700000001})  # unique: first once
    assert group.members.zrange(0, -1) == ["first", "second", "third"]
    by_join = group.members().sort(by_score=group.members)
    assert list(by_join) == ["first", "second", "third"]
    assert list(group.members().sort(by_score=group.members, desc=True)[:2]) == [
        "third",
        "second",
    ]


# -- 2.6.1.3.1: to ------------------------------------------------------------------


def test_seed_to_a_model_class(main_database):
    class Person(related.RelatedModel):
        database = main_database
        name = StringField()

    class Group(related.RelatedModel):
        database = main_database
        name = StringField()
        owner = FKStringField(Person)

    assert Group.get_field("owner").related_model is Person
    person = Person(name="ybon")
    group = Group(name="core", owner=person)
    assert list(person.group_set()) == [group.pk.get()]


def test_seed_to_a_model_name(main_database):
    class Group(related.RelatedModel):
        database = main_database
        owner = FKStringField("Person")  # Person is defined later

    class Person(related.RelatedModel):
        database = main_database
        name = StringField()

    assert Group.get_field("owner").related_model is Person
    person = Person(name="ybon")
    group = Group(owner=person)
    assert list(person.group_set()) == [group.pk.get()]


def test_seed_to_a_namespaced_model_name(main_database):
    class Person(related.RelatedModel):
        database = main_database
        namespace = "my_namespace"
        name = StringField()

    class Group(related.RelatedModel):
        database = main_database
        owner = FKStringField("my_namespace:Person")

    assert Group.get_field("owner").related_model is Person
    person = Person(name="ybon")
    group = Group(owner=person)
    assert list(person.group_set()) == [group.pk.get()]


def test_seed_to_self(main_database):
    class Group(related.RelatedModel):
        database = main_database
        name = StringField()
        parent = FKStringField("self")

    assert Group.get_field("parent").related_model is Group
    root = Group(name="root")
    child = Group(name="child", parent=root)
    assert list(root.group_set()) == [child.pk.get()]
    assert child.parent.instance() == root


# -- 2.6.1.3.2: related_name --------------------------------------------------------


def test_seed_related_name_placeholders(main_database):
    class Person(related.RelatedModel):
        database = main_database
        name = StringField()

    class BaseGroup(related.RelatedModel):
        database = main_database
        namespace = "groups"
        abstract = True

        name = StringField()
        owner = FKStringField("Person", related_name="%(namespace)s_%(model)s_set")

    class PublicGroup(BaseGroup):
        pass

    class PrivateGroup(BaseGroup):
        pass

    # no groups:Person: the bare name designates the Person without namespace
    assert PublicGroup.get_field("owner").related_model is Person
    person = Person(name="ybon")
    public = PublicGroup(name="public", owner=person)
    private = PrivateGroup(name="private", owner=person)
    # a person has two related collections
    assert list(person.groups_publicgroup_set()) == [public.pk.get()]
    assert list(person.groups_privategroup_set()) == [private.pk.get()]
    assert PublicGroup.get_field("owner").related_collection_name == "groups_publicgroup_set"
    assert PrivateGroup.get_field("owner").related_collection_name == "groups_privategroup_set"
    assert not hasattr(Person, "groups_basegroup_set")  # abstract: no relation of its own


def test_seed_related_name_namespace_converted(main_database):
    """Except for the namespace, converted if needed, related names are identifiers."""

    class Person(related.RelatedModel):
        database = main_database
        name = StringField()

    class Group(related.RelatedModel):
        database = main_database
        namespace = "my-app.groups"
        owner = FKStringField(":Person", related_name="%(namespace)s_%(model)s_set")

    assert Group.get_field("owner").related_collection_name == "my_app_groups_group_set"
    person = Person(name="ybon")
    group = Group(owner=person)
    assert list(person.my_app_groups_group_set()) == [group.pk.get()]


# -- 2.6.1.4: related collections ---------------------------------------------------


@pytest.fixture
def owned_groups_models(main_database):
    class Person(related.RelatedModel):
        database = main_database
        name = PKField()  # the seeds' PKStringField

    class Group(related.RelatedModel):
        database = main_database
        name = PKField()
        # adapted: `default=0` (the seeds' "defaut"), and indexable to be filtered on
        private = fields.StringField(default=0, indexable=True)
        owner = FKStringField("Person", related_name="owned_groups")

    return Person, Group


def test_seed_related_collection(owned_groups_models):
    Person, Group = owned_groups_models
    group1 = Group(name="group 1")
    group2 = Group(name="group 2", private=1)  # the seeds name it 'group 1' twice
    person1 = Person(name="person 1")
    group1.owner.set(person1)
    group2.owner.set(person1)
    # the standard way
    assert sorted(Group.collection(owner=person1.pk.get())) == ["group 1", "group 2"]
    # the related collection: exactly the same, a lazy collection
    owned = person1.owned_groups()
    assert sorted(owned) == ["group 1", "group 2"]
    assert list(person1.owned_groups(private=1)) == ["group 2"]
    # the collection manager of related collections is the ExtendedCollectionManager
    assert isinstance(owned, ExtendedCollectionManager)
    assert list(owned.filter(private=1)) == ["group 2"]
    assert list(owned.sort(by="name", alpha=True).values_list("name", flat=True)) == [
        "group 1",
        "group 2",
    ]
    assert list(owned.sort(by="name", alpha=True, desc=True)[:1]) == ["group 2"]


# -- 2.6.1.5: retrieving the other side ---------------------------------------------


def test_seed_foreign_key_instance(main_database):
    class Person(related.RelatedModel):
        database = main_database
        name = StringField()

    class Group(related.RelatedModel):
        database = main_database
        name = StringField()
        owner = FKStringField(Person)

    # adapted: the seeds give `private=0` (no such field here) and call `owner.hset`,
    # which is the FKInstanceHashField's command: an FKStringField uses `set`
    core_devs = Group(name="limpyd core devs")
    ybon = Person(name="ybon")
    core_devs.owner.set(ybon)
    owner_pk = core_devs.owner.get()
    assert Person(owner_pk) == ybon
    owner = core_devs.owner.instance()
    assert owner == ybon
    assert owner.name.get() == "ybon"


def test_seed_many_to_many_callable(main_database):
    class Person(related.RelatedModel):
        database = main_database
        # adapted: the seeds' comments give pks 1, 2, 3, so the name is not the pk here
        name = fields.InstanceHashField()
        following = M2MSetField("self", related_name="followers")

    foo = Person(name="Foo")  # pk=1
    bar = Person(name="Bar")  # pk=2
    baz = Person(name="Baz")  # pk=3
    assert (foo.pk.get(), bar.pk.get(), baz.pk.get()) == ("1", "2", "3")
    foo.following.sadd(bar, baz)
    baz.following.sadd(bar)

    assert sorted(bar.followers()) == ["1", "3"]
    # the seeds print ['foo', 'baz'] here; only Foo follows Baz
    assert list(baz.followers().values_list("name", flat=True)) == ["Foo"]
    assert foo.following.smembers() == {"2", "3"}
    following = foo.following()  # return a collection
    assert isinstance(following, ExtendedCollectionManager)
    assert sorted(following) == ["2", "3"]  # the seeds print ['1', '3']
    assert sorted(foo.following().values_list("name", flat=True)) == ["Bar", "Baz"]
    assert sorted(foo.following.collection()) == sorted(foo.following())
    assert list(foo.following().sort(by="name", alpha=True).instances()) == [bar, baz]


# -- 2.6.1.6: update and deletion ---------------------------------------------------


def test_seed_update_and_deletion(owned_groups_models):
    Person, Group = owned_groups_models
    group1, group2 = Group(name="group 1"), Group(name="group 2", private=1)
    person1, person2 = Person(name="person 1"), Person(name="person 2")
    group1.owner.set(person1)
    group2.owner.set(person1)
    # the owner of a group is updated: the previous owner does not have it any more
    group2.owner.set(person2)
    assert list(person1.owned_groups()) == ["group 1"]
    assert list(person2.owned_groups()) == ["group 2"]
    # the owner is deleted: the value of the group's owner field is deleted too
    person2.delete()
    assert group2.owner.get() is None
    assert list(Group.collection(owner="person 2")) == []
    # a group is deleted: it leaves the related collections
    group1.delete()
    assert list(person1.owned_groups()) == []


def test_seed_update_and_deletion_many_to_many(main_database):
    class Person(related.RelatedModel):
        database = main_database
        name = PKField()

    class Group(related.RelatedModel):
        database = main_database
        name = PKField()
        members = M2MSetField(Person, related_name="membership")

    ybon, twidi = Person(name="ybon"), Person(name="twidi")
    core, docs = Group(name="core"), Group(name="docs")
    core.members.sadd(ybon, twidi)
    docs.members.sadd(twidi)
    assert sorted(twidi.membership()) == ["core", "docs"]
    twidi.delete()
    assert core.members.smembers() == {"ybon"}
    assert docs.members.smembers() == set()
    docs.members.sadd(ybon)
    core.delete()
    assert list(ybon.membership()) == ["docs"]


# -- seed 000: ScoredEqualIndex with related models ---------------------------------


def test_seed_scored_equal_index_with_related_models(main_database):
    from django_limpyd.contrib.indexes import ScoredEqualIndex

    class Queue(related.RelatedModel):
        database = main_database
        name = fields.InstanceHashField(unique=True)

    class Job(related.RelatedModel):
        database = main_database
        priority = fields.InstanceHashField()
        queue = FKInstanceHashField(
            Queue,
            related_name="jobs",
            indexes=[ScoredEqualIndex.configure(score_field="priority")],
        )

    queue = Queue(name="foo")
    job1 = Job(queue=queue, priority=2)
    job2 = Job(queue=queue, priority=1)
    # we can retrieve the related object like with the default EqualIndex
    assert job1.queue.instance() == queue
    # retrieving using the related collection get the objects sorted by score
    assert list(queue.jobs().instances()) == [job2, job1]
    # without score, we can access the related object, but the reverse is not True
    job1.priority.delete()
    assert job1.queue.instance() == queue
    assert list(queue.jobs().instances()) == [job2]
    # the key used to store the data (one key by value of the indexed field)
    key = Job.get_field("queue").get_index().get_storage_key(queue)
    assert main_database.connection.zrange(key, 0, -1) == [job2.pk.get()]
    # deleting the queue still reaches job1 (through the field's plain EqualIndex)
    queue.delete()
    assert job1.queue.hget() is None
    assert job2.queue.hget() is None
    assert main_database.connection.exists(key) == 0
