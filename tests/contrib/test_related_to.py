"""Related fields: ``to`` in every form, lazy resolution, unknown targets, related
names and their clashes, databases, and the system check ``limpyd.E006``."""

import pytest

from django_limpyd import fields, registry
from django_limpyd.checks import check_models
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MSetField,
    RelatedModel,
)
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError
from django_limpyd.model import RedisModel


@pytest.fixture
def main_database(database):
    return database


@pytest.fixture
def other_database(redis_server):
    db = RedisDatabase(**redis_server.connection_kwargs(), db=1)
    yield db
    db.close()


@pytest.fixture
def in_app():
    """Define related models in the test apps for one test only."""
    made = []

    def define(app, model_name, /, **attrs):
        attrs.setdefault("__module__", f"tests.apps.{app}.redis_models")
        model = type(model_name, (RelatedModel,), attrs)
        made.append(model)
        return model

    yield define
    for model in made:
        registry.unregister(model)


# -- to -----------------------------------------------------------------------------


def test_to_a_class_a_name_a_namespaced_name_and_self(main_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    class Robot(RelatedModel):
        database = main_database
        namespace = "machines"
        name = fields.PKField()

    class Group(RelatedModel):
        database = main_database
        by_class = FKStringField(Person, related_name="by_class")
        by_name = FKStringField("Person", related_name="by_name")
        by_lowercase_name = FKStringField("person", related_name="by_lowercase_name")
        by_namespace = M2MSetField("machines:Robot", related_name="by_namespace")
        empty_namespace = FKStringField(":Person", related_name="empty_namespace")
        parent = FKInstanceHashField("self", related_name="children")

    for name, model in (
        ("by_class", Person), ("by_name", Person), ("by_lowercase_name", Person),
        ("by_namespace", Robot), ("empty_namespace", Person), ("parent", Group),
    ):  # fmt: skip
        assert Group.get_field(name).related_model is model
        assert Group.get_field(name) in model._meta.referrers
    ann, r2 = Person(name="ann"), Robot(name="r2")
    group = Group(by_class=ann, by_name=ann, by_namespace=[r2])
    child = Group(parent=group)
    assert list(ann.by_class()) == [group.pk.get()]
    assert list(ann.by_name()) == [group.pk.get()]
    assert list(r2.by_namespace()) == [group.pk.get()]
    assert list(group.children()) == [child.pk.get()]


def test_a_bare_name_prefers_the_namespace_of_the_field(main_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    class GroupsPerson(RelatedModel):
        database = main_database
        namespace = "groups"
        name = fields.PKField()

    class Group(RelatedModel):
        database = main_database
        namespace = "groups"
        owner = FKStringField("GroupsPerson")
        plain = FKStringField("Person")

    assert Group.get_field("owner").related_model is GroupsPerson
    assert Group.get_field("plain").related_model is Person  # none in "groups"


def test_to_a_model_defined_later_is_bound_when_it_is_created(main_database):
    class Group(RelatedModel):
        database = main_database
        owner = FKStringField("Person")
        members = M2MSetField("Person", related_name="membership")

    field = Group.get_field("owner")
    assert field._related_target is None  # pending

    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    # bound as soon as Person exists: collections installed, deletions propagated
    assert field._related_target is Person
    assert field in Person._meta.referrers
    assert Group.get_field("members") in Person._meta.referrers
    assert hasattr(Person, "group_set") and hasattr(Person, "membership")


def test_models_without_database_are_bound_by_use_database(database):
    class Group(RelatedModel):
        owner = FKStringField("Person")

    class Person(RelatedModel):
        name = fields.PKField()

    Person.use_database(database)
    Group.use_database(database)
    assert Group.get_field("owner") in Person._meta.referrers
    ann = Person(name="ann")
    group = Group(owner=ann)
    ann.delete()
    assert group.owner.get() is None


def test_to_an_app_label_and_name(in_app):
    Target = in_app("shop", "RelTarget", name=fields.PKField())
    Source = in_app(
        "crm",
        "RelSource",
        owner=FKStringField("shop.RelTarget", related_name="crm_sources"),
        same_app=FKStringField("RelSource", related_name="peers"),
    )
    assert Target._meta.namespace == "shop" and Source._meta.namespace == "crm"
    assert Source.get_field("owner").related_model is Target
    assert Source.get_field("same_app").related_model is Source
    assert check_models() == []
    target = Target(name="t")
    source = Source(owner=target)
    assert list(target.crm_sources()) == [source.pk.get()]
    target.delete()
    assert source.owner.get() is None


def test_to_an_app_model_defined_later(in_app):
    Source = in_app("crm", "RelLateSource", owner=FKStringField("shop.RelLateTarget"))
    assert Source.get_field("owner")._related_target is None
    Target = in_app("shop", "RelLateTarget", name=fields.PKField())
    assert Source.get_field("owner")._related_target is Target
    assert Target.__dict__["rellatesource_set"].field is Source.get_field("owner")


# -- unknown and invalid targets ----------------------------------------------------


def test_unknown_target_fails_when_used_naming_both_models(main_database):
    class Group(RelatedModel):
        database = main_database
        name = fields.StringField()
        owner = FKStringField("Nobody")
        members = M2MSetField("elsewhere:Nobody")

    group = Group(name="g")  # the field is not used: fine
    message = r"Group.owner points to 'Nobody', which is not a known model"
    for use in (
        lambda: Group.get_field("owner").related_model,
        lambda: group.owner.set("1"),
        lambda: group.owner.instance(),
        lambda: Group(owner="1"),
        lambda: Group.collection(owner=group),
    ):
        with pytest.raises(ImplementationError, match=message):
            use()
    with pytest.raises(ImplementationError, match="Group.members points to 'elsewhere:Nobody'"):
        group.members()
    with pytest.raises(ImplementationError, match="no model named 'Nobody' in namespace ''"):
        group.owner.set("1")


def test_unknown_app_model(in_app):
    Source = in_app("crm", "RelOrphan", owner=FKStringField("shop.NoSuchModel"))
    with pytest.raises(ImplementationError, match="no model 'shop.NoSuchModel' in the Django"):
        _ = Source.get_field("owner").related_model


@pytest.mark.parametrize(
    ("to", "message"),
    [
        (None, "`to` must be a model class, a model name"),
        ("", "`to` must be a model class, a model name"),
        (int, "int, which is not a RelatedModel"),
    ],
)
def test_invalid_to(main_database, to, message):
    with pytest.raises(ImplementationError, match=message):

        class Group(RelatedModel):
            database = main_database
            owner = FKStringField(to)


def test_target_must_be_a_concrete_related_model(main_database):
    class Plain(RedisModel):
        database = main_database
        name = fields.PKField()

    class Abstract(RelatedModel):
        abstract = True

    with pytest.raises(ImplementationError, match="Group.owner points to Plain, which is not a"):

        class Group(RelatedModel):
            database = main_database
            owner = FKStringField(Plain)

    with pytest.raises(ImplementationError, match="points to Abstract, which is abstract"):

        class Team(RelatedModel):
            database = main_database
            owner = FKStringField(Abstract)

    class Club(RelatedModel):
        database = main_database
        owner = FKStringField("Plain")  # a name: checked when used

    with pytest.raises(ImplementationError, match="Club.owner points to 'Plain', which is not a"):
        _ = Club.get_field("owner").related_model
    # the refused models were not left registered on the database
    assert ("", "Group") not in main_database.models
    assert ("", "Club") in main_database.models


def test_related_fields_need_a_related_model():
    with pytest.raises(ImplementationError, match="Group.owner: related fields can only be used"):

        class Group(RedisModel):
            owner = FKStringField("self")


def test_related_fields_are_always_indexable():
    with pytest.raises(ImplementationError, match="always indexable"):
        FKStringField("self", indexable=False)


def test_abstract_models_bind_their_subclasses(main_database):
    class Base(RelatedModel):
        abstract = True
        database = main_database
        name = fields.StringField()
        parent = FKStringField("self", related_name="%(model)s_children")

    class Folder(Base):
        pass

    class Tag(Base):
        pass

    assert Folder.get_field("parent").related_model is Folder
    assert Tag.get_field("parent").related_model is Tag
    with pytest.raises(ImplementationError, match="declared on an abstract model"):
        _ = Base.get_field("parent").related_model
    root = Folder(name="root")
    sub = Folder(name="sub", parent=root)
    assert list(root.folder_children()) == [sub.pk.get()]
    top = Tag(name="top")
    assert list(top.tag_children()) == []
    with pytest.raises(Tag.DoesNotExist, match="Tag.parent cannot point to Tag '20'"):
        Tag(name="bad", parent=sub.pk.get() + "0")  # a Folder pk, not a Tag one


# -- related names ------------------------------------------------------------------


def test_default_related_names(main_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    class Group(RelatedModel):
        database = main_database
        owner = FKStringField(Person)

    class Team(RelatedModel):
        database = main_database
        namespace = "sport"
        owner = FKStringField(":Person")

    # '%(model)s_set', as in limpyd (and Django), whatever the namespace
    assert Group.get_field("owner").related_collection_name == "group_set"
    assert Team.get_field("owner").related_collection_name == "team_set"


def test_clashing_related_names_name_both_models(main_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    class Group(RelatedModel):
        database = main_database
        owner = FKStringField(Person, related_name="groups")

    with pytest.raises(ImplementationError) as raised:

        class Team(RelatedModel):
            database = main_database
            owner = FKStringField(Person, related_name="groups")

    message = str(raised.value)
    assert "Team.owner" in message and "Group.owner" in message and "Person.groups" in message
    assert ("", "Team") not in main_database.models  # not left half-registered
    with pytest.raises(ImplementationError, match="The related name 'name' of Club.owner"):

        class Club(RelatedModel):
            database = main_database
            owner = FKStringField(Person, related_name="name")  # a field of Person

    with pytest.raises(ImplementationError, match="clashes with Person.delete"):

        class Band(RelatedModel):
            database = main_database
            owner = FKStringField(Person, related_name="delete")  # a method of Person

    with pytest.raises(ImplementationError, match="clashes"):

        class Crew(RelatedModel):  # two fields of one model
            database = main_database
            first = FKStringField(Person)
            second = FKStringField(Person)


def test_clash_found_when_the_target_comes_later(main_database):
    class Group(RelatedModel):
        database = main_database
        owner = FKStringField("Person", related_name="groups")

    class Team(RelatedModel):
        database = main_database
        owner = FKStringField("Person", related_name="groups")

    # Group's relation is bound, Team's clashes: an error of Person's definition
    with pytest.raises(ImplementationError, match="Team.owner clashes with the one of Group"):

        class Person(RelatedModel):
            database = main_database
            name = fields.PKField()

    assert ("", "Person") not in main_database.models  # not left half-registered


@pytest.mark.parametrize(
    ("related_name", "message"),
    [
        ("has space", "must be a Python identifier"),
        ("class", "must be a Python identifier"),
        ("_private", "must be a Python identifier"),
        ("%(unknown)s_set", "not a valid template"),
        ("", "related_name must be a non-empty string"),
    ],
)
def test_invalid_related_names(main_database, related_name, message):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    with pytest.raises(ImplementationError, match=message):

        class Group(RelatedModel):
            database = main_database
            owner = FKStringField(Person, related_name=related_name)


def test_related_collection_belongs_to_its_model_only(main_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.StringField()

    class Employee(Person):
        pass

    class Group(RelatedModel):
        database = main_database
        owner = FKStringField(Person)

    person, employee = Person(name="p"), Employee(name="e")
    assert list(person.group_set()) == []
    with pytest.raises(AttributeError, match="Employee has no related collection 'group_set'"):
        employee.group_set()
    with pytest.raises(AttributeError, match="read only"):
        person.group_set = None
    with pytest.raises(Exception, match="points to Person instances, not to Employee"):
        Group(owner=employee)


# -- databases ----------------------------------------------------------------------


def test_relations_across_databases_are_refused(main_database, other_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    with pytest.raises(ImplementationError) as raised:

        class Group(RelatedModel):
            database = other_database
            owner = FKStringField(Person)

    message = str(raised.value)
    assert "Group.owner points to Person, which is on another database" in message
    assert "relations across databases are refused" in message

    class Team(RelatedModel):  # by name: Person is not a model of this database
        database = other_database
        owner = FKStringField("Person")

    with pytest.raises(ImplementationError, match="Team.owner points to Person, which is on an"):
        Team(owner="p")


def test_moving_a_model_to_another_database_breaks_its_relations(main_database, other_database):
    class Person(RelatedModel):
        database = main_database
        name = fields.PKField()

    class Group(RelatedModel):
        database = main_database
        owner = FKStringField(Person)

    person = Person(name="p")
    group = Group(owner=person)
    Group.use_database(other_database)
    with pytest.raises(ImplementationError, match="on another database"):
        group.owner.set(person)
    with pytest.raises(ImplementationError, match="on another database"):
        person.group_set()
    Group.use_database(main_database)
    assert list(person.group_set()) == [group.pk.get()]


# -- system check -------------------------------------------------------------------


def test_e006_related_field_to_an_unknown_model(in_app):
    in_app("shop", "RelFine", name=fields.PKField())
    in_app("shop", "RelLost", owner=FKStringField("shop.Nowhere"), peer=FKStringField("RelFine"))
    messages = check_models()
    assert [message.id for message in messages] == ["limpyd.E006"]
    assert "RelLost.owner points to 'shop.Nowhere'" in messages[0].msg
    assert messages[0].obj.__name__ == "RelLost"
