"""Issue 19, bullet "Errors of the same kind", its definition errors: what limpyd refuses
with an ImplementationError when a model is defined is refused when the class is
defined here too (not at its first write): a unique HashField, a second PKField,
ScoredEqualIndex / EqualIndexWith naming a missing, multi-valued, hash or self field,
a ScoredEqualIndex without ExtendedCollectionManager, unique together on a ListField.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.indexes import EqualIndexWith, ScoredEqualIndex
from django_limpyd.contrib.related import FKInstanceHashField, RelatedModel
from django_limpyd.exceptions import ImplementationError
from django_limpyd.model import RedisModel

NAMESPACE = "t_parity_def"


def define(db, base=RedisModel, **attrs):
    """Define a model ``Job`` with these attributes (and a few fields to name)."""
    attrs = {
        "__module__": __name__,  # not the metaclass's module
        "database": db,
        "namespace": NAMESPACE,
        "collection_manager": ExtendedCollectionManager,
        "priority": fields.InstanceHashField(),
        "tags": fields.SetField(),
        "lines": fields.ListField(),
        "scores": fields.SortedSetField(),
        "headers": fields.HashField(),
        **attrs,
    }
    return type("Job", (base,), attrs)


def assert_refused(database, match, **attrs):
    with pytest.raises(ImplementationError, match=match):
        define(database, **attrs)
    assert (NAMESPACE, "Job") not in database.models  # not registered


def test_parity_definition_error_unique_hashfield(database):
    with pytest.raises(ImplementationError, match="A HashField cannot be unique"):

        class Email(RedisModel):
            database = None
            headers = fields.HashField(unique=True)

    define(database, more=fields.HashField(indexable=True))  # indexable is fine


def test_parity_definition_error_second_pk_field(database):
    assert_refused(
        database, "several pk fields", ident=fields.PKField(), other=fields.AutoPKField()
    )


SCORE_FIELDS = [
    ("missing", "'missing' is not a field of Job"),
    ("tags", "Job.tags holds several values"),
    ("lines", "Job.lines holds several values"),
    ("scores", "Job.scores holds several values"),
    ("headers", "Job.headers holds several values"),
    ("name", "cannot be the indexed field itself"),
    ("pk", "'pk' is not a field of Job"),
]


@pytest.mark.parametrize(("score_field", "match"), SCORE_FIELDS)
def test_parity_definition_error_scored_equal_index_score_field(database, score_field, match):
    index = ScoredEqualIndex.configure(score_field=score_field)
    assert_refused(database, match, name=fields.InstanceHashField(indexable=True, indexes=[index]))


@pytest.mark.parametrize(("other_field", "match"), SCORE_FIELDS)
def test_parity_definition_error_equal_index_with_other_field(database, other_field, match):
    if other_field == "name":
        match = "cannot name the field itself"
    index = EqualIndexWith.configure(other_fields=["priority", other_field])
    assert_refused(database, match, name=fields.InstanceHashField(indexable=True, indexes=[index]))


def test_parity_definition_error_scored_equal_index_without_extended_manager(database):
    index = ScoredEqualIndex.configure(score_field="priority")
    assert_refused(
        database,
        "needs the ExtendedCollectionManager",
        collection_manager=None,
        name=fields.InstanceHashField(indexable=True, indexes=[index]),
    )
    Job = define(database, name=fields.InstanceHashField(indexable=True, indexes=[index]))
    assert Job.get_field("name").get_index(ScoredEqualIndex)


def test_parity_definition_error_scored_related_field_needs_no_extended_manager(database):
    """The seeds' Job/Queue example: related collections always use the
    ExtendedCollectionManager, so a related field needs nothing more."""

    db = database

    class Queue(RelatedModel):
        database = db
        namespace = NAMESPACE
        name = fields.InstanceHashField(unique=True)

    index = ScoredEqualIndex.configure(score_field="priority")
    define(
        database, base=RelatedModel, collection_manager=None, queue=FKInstanceHashField(
            Queue, related_name="jobs", indexes=[index]
        )
    )  # fmt: skip


def test_parity_definition_error_unique_together_on_a_list_field(database):
    unique = EqualIndexWith.configure(other_fields=["priority"], unique=True)
    assert_refused(
        database,
        "a ListField cannot be unique together",
        items=fields.ListField(indexable=True, indexes=[unique]),
    )
    together = EqualIndexWith.configure(other_fields=["priority"])
    define(database, items=fields.ListField(indexable=True, indexes=[together]))  # not unique
    define(database, members=fields.SetField(indexable=True, indexes=[unique]))  # a set


def test_parity_definition_error_abstract_models_leave_fields_to_subclasses(database):
    """An abstract model may name a field its subclasses declare."""
    index = ScoredEqualIndex.configure(score_field="rank")
    Base = type(
        "Base",
        (RedisModel,),
        {
            "__module__": __name__,
            "abstract": True,
            "database": database,
            "namespace": NAMESPACE,
            "collection_manager": ExtendedCollectionManager,
            "name": fields.InstanceHashField(indexable=True, indexes=[index]),
        },
    )
    Concrete = type(
        "Concrete", (Base,), {"__module__": __name__, "rank": fields.InstanceHashField()}
    )
    assert Concrete.get_field("name").get_index().score_field == "rank"
    with pytest.raises(ImplementationError, match="'rank' is not a field of Other"):
        type("Other", (Base,), {"__module__": __name__})
