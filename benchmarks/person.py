"""The ``Person`` model of the benchmark suite and the data both sides store.

``Person`` has six data fields (plus its ``AutoPKField``), all entries of the
instance's hash:

* ``email``: ``unique=True`` (an ``EqualIndex`` enforcing uniqueness);
* ``city``: ``indexes=[EqualIndex, TextRangeIndex]`` (equality and ``__in``
  through the sets, ``startswith`` through the sorted set);
* ``age``: ``indexes=[NumberRangeIndex]`` (ranges);
* ``name``, ``phone``, ``note``: plain hash entries (``name`` sorts pages).

The model is built on first use by :func:`person_model` (Django must be
configured first; worker processes of W7 call it too), bound to
:data:`DATABASE`, a ``PipelineDatabase`` pointed at the private server with
``DATABASE.connect(...)``.
"""

from __future__ import annotations

import functools
from typing import Any

from benchmarks.common import configure_django

__all__ = [
    "CITIES",
    "DATABASE",
    "NOTE",
    "city_prefix",
    "database",
    "new_value",
    "person_model",
    "values_of",
]

#: 50 cities: 1/50 of the instances each; ``c1`` is the prefix of 10 of them
CITIES = [f"c{k:02d}" for k in range(50)]

NOTE = "Met at the 2024 meetup; prefers e-mail; lorem ipsum."

DATABASE: Any = None


def values_of(n: int) -> dict[str, str]:
    """The field values of the n-th instance (n from 1), in declaration order."""
    return {
        "email": f"person{n}@example.org",
        "city": CITIES[n % len(CITIES)],
        "age": str(18 + n % 63),
        "name": f"n{(n * 7919) % 100003:06d}",  # distinct for n < 100003, not in pk order
        "phone": f"+33 6 {n:08d}",
        "note": NOTE,
    }


def new_value(field: str, n: int, version: str) -> str:
    """A value of ``field`` for instance ``n`` differing from :func:`values_of`'s
    (and from other versions': e-mails stay unique)."""
    if field == "email":
        return f"person{n}.{version}@example.org"
    if field == "city":
        return CITIES[(n + 7 + len(version)) % len(CITIES)]
    if field == "age":
        return str(18 + (n + 11 + len(version)) % 63)
    raise ValueError(field)


def city_prefix(k: int) -> str:
    """A ``startswith`` prefix matching 10 of the 50 cities."""
    return f"c{k % 5}"


@functools.cache
def person_model() -> type:
    """The ``Person`` model (built once; configures Django first)."""
    global DATABASE
    configure_django()
    from django_limpyd.contrib.collection import ExtendedCollectionManager
    from django_limpyd.contrib.database import PipelineDatabase
    from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
    from django_limpyd.model import InstanceHashField, RedisModel

    DATABASE = PipelineDatabase()

    class Person(RedisModel):
        database = DATABASE
        namespace = "bench"
        collection_manager = ExtendedCollectionManager

        email = InstanceHashField(unique=True)
        city = InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
        age = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        name = InstanceHashField()
        phone = InstanceHashField()
        note = InstanceHashField()

    return Person


def database() -> Any:
    """The ``PipelineDatabase`` of ``Person``."""
    person_model()
    return DATABASE
