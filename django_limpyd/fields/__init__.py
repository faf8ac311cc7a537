"""Field types: ``django_limpyd.fields``."""

from django_limpyd.fields.base import MultiValuesField, RedisField, SingleValueField
from django_limpyd.fields.hash import HashField
from django_limpyd.fields.instancehash import InstanceHashField
from django_limpyd.fields.list import ListField
from django_limpyd.fields.pk import AutoPKField, PKField
from django_limpyd.fields.set import SetField
from django_limpyd.fields.sortedset import SortedSetField
from django_limpyd.fields.string import StringField

__all__ = [
    "AutoPKField",
    "HashField",
    "InstanceHashField",
    "ListField",
    "MultiValuesField",
    "PKField",
    "RedisField",
    "SetField",
    "SingleValueField",
    "SortedSetField",
    "StringField",
]
