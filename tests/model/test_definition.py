"""Model classes: options, inheritance, pk fields, DoesNotExist, databases and registry."""

import pytest
from django.core.exceptions import ObjectDoesNotExist

import django_limpyd
from django_limpyd import exceptions, fields
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError
from django_limpyd.model import RedisModel


def test_abstract_is_not_inherited_and_fields_are(database):
    class Content(RedisModel):
        namespace = "content"
        abstract = True
        title = fields.InstanceHashField()

    Content.database = database

    class Article(Content):
        body = fields.StringField()

    assert Content.abstract and not Article.abstract
    assert list(Article._meta.fields) == ["pk", "title", "body"]
    assert Article._meta.namespace == "content"
    assert Article.get_field("title").model is Article
    assert Content._meta.fields["title"].model is Content
    with pytest.raises(ImplementationError, match="abstract"):
        Content()


def test_concrete_inheritance_gets_its_own_keys(database):
    class Parent(RedisModel):
        namespace = "inherit"
        name = fields.StringField()

    Parent.use_database(database)

    class Child(Parent):
        extra = fields.StringField()

    child = Child(name="c", extra="e")
    parent = Parent(name="p")
    assert child.name.get() == "c"
    assert Child._meta.keys.prefix != Parent._meta.keys.prefix
    assert list(Parent._meta.fields) == ["pk", "name"]
    assert parent.pk.get() == "1" and child.pk.get() == "1"


def test_default_pk_is_an_autopk_named_pk(database):
    class Auto(RedisModel):
        database = None
        namespace = "pks"

    assert isinstance(Auto._meta.pk_field, fields.AutoPKField)
    assert Auto._meta.pk_field.name == "pk"


def test_custom_pk_name_is_reachable_as_pk(database):
    class Named(RedisModel):
        namespace = "pks"
        id = fields.AutoPKField()
        name = fields.StringField()

    Named.use_database(database)
    instance = Named(name="x")
    assert instance.pk.get() == instance.id.get() == "1"
    assert Named.get_field("pk") is Named.get_field("id")
    assert Named.has_field("pk") and Named.has_field("id") and not Named.has_field("nope")


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"a": fields.PKField(), "b": fields.AutoPKField()}, "several pk fields"),
        ({"pk": fields.StringField()}, "must be a PKField"),
        ({"_hidden": fields.StringField()}, "cannot start with '_'"),
        ({"pk": fields.StringField(), "id": fields.PKField()}, "not its pk field"),
    ],
)
def test_bad_pk_and_field_declarations(attrs, message):
    with pytest.raises(ImplementationError, match=message):
        type("Bad", (RedisModel,), {"namespace": "bad", **attrs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default": 1}, "does not accept a default"),
        ({"indexes": ["nope"]}, "list of index classes"),
    ],
)
def test_bad_field_options(kwargs, message):
    with pytest.raises(ImplementationError, match=message):
        fields.SetField(**kwargs)


def test_each_model_has_its_own_does_not_exist(database):
    class First(RedisModel):
        database = None
        namespace = "dne"

    class Second(First):
        pass

    assert issubclass(First.DoesNotExist, exceptions.DoesNotExist)
    assert issubclass(First.DoesNotExist, ObjectDoesNotExist)
    assert issubclass(Second.DoesNotExist, First.DoesNotExist)
    assert First.DoesNotExist is not Second.DoesNotExist
    First.use_database(database)
    with pytest.raises(First.DoesNotExist, match="First '42' does not exist"):
        First(42)


def test_models_with_same_name_and_namespace_collide_on_one_database(database):
    class Person(RedisModel):
        namespace = "collide"

    Person.use_database(database)

    def other_person():
        class Person(RedisModel):
            namespace = "collide"

        return Person

    with pytest.raises(ImplementationError, match="already hosts a model named 'Person'"):
        other_person().use_database(database)


def test_same_name_in_other_namespace_or_database_is_fine(database, redis_server):
    class Person(RedisModel):
        namespace = "ns1"

    def make(namespace):
        return type("Person", (RedisModel,), {"namespace": namespace, "__module__": "x"})

    Person.use_database(database)
    make("ns2").use_database(database)
    other_db = RedisDatabase(**redis_server.connection_kwargs(), db=3)
    make("ns1").use_database(other_db)
    assert ("ns1", "Person") in database.models and ("ns2", "Person") in database.models


def test_model_without_database_fails_clearly_on_use():
    class Lost(RedisModel):
        namespace = "lost"
        name = fields.StringField()

    with pytest.raises(ImplementationError, match="Lost has no database"):
        Lost(name="x")


def test_alias_database_is_resolved_on_use():
    class ByAlias(RedisModel):
        database = "default"
        namespace = "alias"
        name = fields.StringField()

    instance = ByAlias(name="x")
    db = django_limpyd.databases["default"]
    assert ByAlias._meta.database is db
    assert ("alias", "ByAlias") in db.models
    assert db.connection.get(ByAlias._meta.keys.field("name", instance.pk.get())) == "x"


def test_use_database_applies_to_subclasses_without_their_own(database, redis_server):
    class Base(RedisModel):
        abstract = True
        namespace = "switch"

    class Foo(Base):
        name = fields.StringField()

    own = RedisDatabase(**redis_server.connection_kwargs(), db=4)

    class Bar(Base):
        database = own
        name = fields.StringField()

    Base.use_database(database)
    assert Foo._meta.database is database
    assert Bar._meta.database is own
    Foo(name="x")
    assert database.connection.exists(Foo._meta.keys.pks)
    other = RedisDatabase(**redis_server.connection_kwargs(), db=5)
    Base.use_database(other)
    assert Foo._meta.database is other
    assert ("switch", "Foo") in other.models and ("switch", "Foo") not in database.models
