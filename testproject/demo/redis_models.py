"""The Redis models of the demo app (imported at startup by django_limpyd).

A Django app declares its django_limpyd models in a ``redis_models`` module,
as it declares its SQL models in ``models``. These use the ``default``
database of ``LIMPYD_DATABASES`` and the namespace ``demo`` (the app label).
"""

from django_limpyd import fields
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel


class Page(RedisModel):
    """A page of the demo site and its visit counter."""

    path = fields.InstanceHashField(unique=True)
    visits = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])


class Person(RedisModel):
    """A person: unique name (searchable by prefix), city, birth year and tags."""

    name = fields.InstanceHashField(unique=True, indexes=[EqualIndex, TextRangeIndex])
    city = fields.InstanceHashField(indexable=True)
    birth_year = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    tags = fields.SetField(indexable=True)
