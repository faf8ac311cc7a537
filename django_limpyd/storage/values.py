"""Checking and converting Python values to what Redis stores, before any write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise

from django_limpyd.exceptions import InvalidValue

__all__ = ["to_member_list", "to_redis_string", "to_score", "to_score_pairs", "to_string_pairs"]


def to_redis_string(value: Any, where: str) -> str:
    """``value`` as the string Redis will store (as redis-py would encode it).

    ``where`` names the model and field for the error message.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue(f"{where} cannot store {value!r}: not valid Unicode.") from None
        return value
    if isinstance(value, bool) or value is None:
        raise InvalidValue(f"{where} cannot store {value!r}: give a string or a number.")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidValue(
                f"{where} cannot store bytes that are not UTF-8: {value!r}."
            ) from None
    raise InvalidValue(
        f"{where} cannot store a value of type {type(value).__name__} ({value!r}): "
        "give a string or a number."
    )


def to_member_list(values: Any, where: str) -> list[str]:
    """An iterable of members (set or list field) as strings."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidValue(f"{where} needs an iterable of members, got {values!r}.")
    return [to_redis_string(value, where) for value in values]


def to_score(score: Any, where: str) -> str:
    """A sorted-set score as the string Redis parses."""
    if isinstance(score, bool) or not isinstance(score, (int, float, Decimal, str)):
        raise InvalidValue(f"{where} needs a number as score, got {score!r}.")
    try:
        number = float(score)
    except ValueError:
        raise InvalidValue(f"{where} needs a number as score, got {score!r}.") from None
    if number != number:
        raise InvalidValue(f"{where} cannot use NaN as a score.")
    return repr(number) if isinstance(score, float) else str(score)


def to_score_pairs(mapping: Any, where: str) -> list[list[str]]:
    """A ``{member: score}`` mapping as ``[[member, score], ...]`` strings."""
    if not isinstance(mapping, Mapping):
        raise InvalidValue(f"{where} needs a mapping of member to score, got {mapping!r}.")
    return [
        [to_redis_string(member, where), to_score(score, where)]
        for member, score in mapping.items()
    ]


def to_string_pairs(mapping: Any, where: str) -> list[list[str]]:
    """A ``{key: value}`` mapping (HashField) as ``[[key, value], ...]`` strings."""
    if not isinstance(mapping, Mapping):
        raise InvalidValue(f"{where} needs a mapping, got {mapping!r}.")
    return [[to_redis_string(k, where), to_redis_string(v, where)] for k, v in mapping.items()]
