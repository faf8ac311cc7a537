"""Indexes of fields: ``django_limpyd.indexes``."""

from django_limpyd.indexes.base import BaseIndex
from django_limpyd.indexes.equal import EqualIndex
from django_limpyd.indexes.range import NumberRangeIndex, TextRangeIndex

__all__ = ["BaseIndex", "EqualIndex", "NumberRangeIndex", "TextRangeIndex"]
