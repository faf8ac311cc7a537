"""Redis models of the test app ``shop`` (autodiscovered)."""

from django_limpyd import fields
from django_limpyd.model import RedisModel


class Person(RedisModel):
    name = fields.InstanceHashField(unique=True)
    city = fields.InstanceHashField(indexable=True)


class Foo(RedisModel):
    value = fields.StringField(indexable=True)


class FooBar(RedisModel):
    value = fields.StringField(indexable=True)
