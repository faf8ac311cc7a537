"""Issue 19, bullet "Related fields": what limpyd 2.1.2 code does with related fields runs
unchanged.

The default related name is ``'%(model)s_set'``; ``related_to`` holds the target as
``'namespace:modelname'``; two related fields giving one model the same related name
are an ImplementationError when the second relation is defined.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MSetField,
    RelatedModel,
)
from django_limpyd.exceptions import ImplementationError


def declare(db, class_name, namespace="", **attrs):
    attrs = {"__module__": __name__, "database": db, "namespace": namespace, **attrs}
    return type(class_name, (RelatedModel,), attrs)


# -- the default related name -------------------------------------------------------


def test_parity_related_default_related_name_is_model_set(database):
    Person = declare(database, "Person", name=fields.PKField())
    Group = declare(database, "Group", owner=FKStringField(Person))
    Team = declare(database, "Team", namespace="sport", members=M2MSetField(":Person"))
    assert Group.get_field("owner").related_collection_name == "group_set"
    assert Team.get_field("members").related_collection_name == "team_set"  # no namespace
    ann = Person(name="ann")
    group = Group(owner=ann)
    team = Team(members=[ann])
    assert list(ann.group_set()) == [group.pk.get()]
    assert list(ann.team_set()) == [team.pk.get()]


def test_parity_related_placeholders_still_replaced(database):
    Person = declare(database, "Person", name=fields.PKField())
    Group = declare(
        database,
        "Group",
        namespace="groups",
        owner=FKStringField(":Person", related_name="%(namespace)s_%(model)s_set"),
    )
    assert Group.get_field("owner").related_collection_name == "groups_group_set"
    assert hasattr(Person, "groups_group_set")


# -- related_to -------------------------------------------------------------------


def test_parity_related_related_to_is_the_resolved_model_name(database):
    Person = declare(database, "Person", namespace="people", name=fields.PKField())
    Group = declare(
        database,
        "Group",
        namespace="people",
        by_class=FKStringField(Person, related_name="by_class"),
        by_name=FKInstanceHashField("Person", related_name="by_name"),
        by_full_name=M2MSetField("people:Person", related_name="by_full_name"),
        parent=FKStringField("self", related_name="children"),
    )
    assert Person._name == "people:person"
    for name in ("by_class", "by_name", "by_full_name"):
        field = Group.get_field(name)
        assert field.related_to == "people:person"
        assert field.related_model is Person
    assert Group.get_field("parent").related_to == "people:group"
    assert Group.get_field("by_name").to == "Person"  # what was given stays in `to`


def test_parity_related_related_to_of_a_target_defined_later(database):
    Group = declare(database, "Group", owner=FKStringField("Person"))
    Person = declare(database, "Person", name=fields.PKField())
    assert Group.get_field("owner").related_to == ":person" == Person._name


# -- clashes of related names --------------------------------------------------------


def test_parity_related_same_name_from_two_fields_of_one_model(database):
    Person = declare(database, "Person", name=fields.PKField())
    with pytest.raises(ImplementationError, match="'group_set'.*clashes"):
        declare(database, "Group", owner=FKStringField(Person), creator=FKStringField(Person))
    assert ("", "Group") not in database.models


def test_parity_related_same_name_from_two_models(database):
    Person = declare(database, "Person", name=fields.PKField())
    declare(database, "Group", owner=FKStringField(Person))
    with pytest.raises(ImplementationError) as raised:
        declare(database, "Group", namespace="other", owner=FKStringField(Person))
    message = str(raised.value)
    assert "'group_set'" in message and "Group.owner" in message and "Person" in message
    assert ("other", "Group") not in database.models


def test_parity_related_same_name_found_when_the_target_is_defined(database):
    declare(database, "Group", owner=FKStringField("Person", related_name="groups"))
    declare(database, "Team", owner=FKStringField("Person", related_name="groups"))
    with pytest.raises(ImplementationError, match="Team.owner clashes with the one of Group"):
        declare(database, "Person", name=fields.PKField())
    assert ("", "Person") not in database.models
