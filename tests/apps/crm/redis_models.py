"""Redis models of the test app ``crm`` (autodiscovered)."""

from django_limpyd import fields
from django_limpyd.model import RedisModel


class Person(RedisModel):
    email = fields.StringField(unique=True)
    visits = fields.StringField()


class Contact(RedisModel):
    namespace = "contacts"
    database = "other"
    person = fields.StringField(indexable=True)
