"""Models with a field of every Redis type and every kind of index.

``Reference`` and ``ReferenceSet`` stand for the related fields of
``django_limpyd.contrib.related``: fields with a ``to`` model, that the pages
link to the instance they point to.
"""

from typing import Any

from django_limpyd import fields
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel


class Reference(fields.InstanceHashField):
    """The pk of an instance of ``to``."""

    def __init__(self, to: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to = to


class ReferenceSet(fields.SetField):
    """The pks of instances of ``to``."""

    def __init__(self, to: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to = to


class Author(RedisModel):
    """Pks given by hand (any text: glob characters, slashes...)."""

    pk = fields.PKField()
    name = fields.InstanceHashField(indexable=True)


class Book(RedisModel):
    title = fields.InstanceHashField(unique=True, indexes=[EqualIndex, TextRangeIndex])
    genre = fields.InstanceHashField(indexable=True)
    year = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
    isbn = fields.StringField(unique=True)
    summary = fields.StringField()
    author = Reference("library.Author")
    coauthors = ReferenceSet("library.Author")
    tags = fields.SetField(indexable=True)
    chapters = fields.ListField()
    ratings = fields.SortedSetField()
    details = fields.HashField(indexable=True)


class Shelf(RedisModel):
    """On the ``other`` database; a prefixed text index."""

    database = "other"
    code = fields.StringField(
        indexable=True, indexes=[EqualIndex, TextRangeIndex.configure(prefix="lex")]
    )


MODELS = [Author, Book, Shelf]
