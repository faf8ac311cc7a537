"""Redis models of the test app ``blog`` (autodiscovered): the models of docs/django/views.rst
(``Post``) and of the demo project (``Author``, as ``testproject/demo``'s ``Person``)."""

from django_limpyd import fields
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel


class Post(RedisModel):
    title = fields.InstanceHashField(unique=True)
    status = fields.InstanceHashField(indexable=True, indexes=[EqualIndex])
    year = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    tags = fields.SetField()


class Author(RedisModel):
    name = fields.InstanceHashField(unique=True, indexes=[EqualIndex, TextRangeIndex])
    city = fields.InstanceHashField(indexable=True)
    birth_year = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    tags = fields.SetField(indexable=True)
