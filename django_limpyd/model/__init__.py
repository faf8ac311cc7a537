"""Models: ``django_limpyd.model`` (also re-exports the fields and ``RedisDatabase``,
as limpyd's ``model.StringField`` / ``model.RedisDatabase`` examples use them)."""

from django_limpyd.database import RedisDatabase
from django_limpyd.fields import (
    AutoPKField,
    HashField,
    InstanceHashField,
    ListField,
    MultiValuesField,
    PKField,
    RedisField,
    SetField,
    SingleValueField,
    SortedSetField,
    StringField,
)
from django_limpyd.model.base import RedisModel

__all__ = [
    "AutoPKField",
    "HashField",
    "InstanceHashField",
    "ListField",
    "MultiValuesField",
    "PKField",
    "RedisDatabase",
    "RedisField",
    "RedisModel",
    "SetField",
    "SingleValueField",
    "SortedSetField",
    "StringField",
]
