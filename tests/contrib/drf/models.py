"""Redis models of the DRF tests: a field of every type, related fields, and a model
of InstanceHashFields only (whose pages are one round trip)."""

from django_limpyd import fields
from django_limpyd.contrib.related import FKInstanceHashField, M2MSetField, RelatedModel
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex


class Base(RelatedModel):
    abstract = True
    database = "default"
    namespace = "drf"


class Author(Base):
    """Pks given by hand."""

    pk = fields.PKField()
    name = fields.InstanceHashField(indexable=True)
    email = fields.InstanceHashField(unique=True)


class Book(Base):
    title = fields.InstanceHashField(unique=True, indexes=[EqualIndex, TextRangeIndex])
    year = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    genre = fields.InstanceHashField(indexable=True)
    isbn = fields.StringField(unique=True)
    summary = fields.StringField()
    tags = fields.SetField(indexable=True)
    chapters = fields.ListField()
    ratings = fields.SortedSetField()
    details = fields.HashField()
    author = FKInstanceHashField(Author, related_name="books")
    coauthors = M2MSetField(Author, related_name="coauthored")


class Note(Base):
    """InstanceHashFields only: a page of notes is one round trip."""

    text = fields.InstanceHashField(indexable=True)
    rank = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex], default="0")


class Tag(Base):
    """A pk field named ``id``; unique members."""

    id = fields.AutoPKField()
    name = fields.InstanceHashField(unique=True)
    aliases = fields.SetField(unique=True)
