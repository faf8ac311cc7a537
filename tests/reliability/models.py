"""Models of the reliability suite.

Worker processes are spawned: they import this module afresh, so every model,
and every index transform, is defined here at module level. Every model but
:class:`Stalled` lives on :data:`DATABASE`, a hand-built ``RedisDatabase`` that
each process points at the server a test uses (``DATABASE.connect(**kwargs)``):
a private AOF server that gets SIGKILLed, a fault proxy, or the session's
private server.
"""

from __future__ import annotations

from django_limpyd.database import RedisDatabase
from django_limpyd.fields import (
    HashField,
    InstanceHashField,
    ListField,
    PKField,
    SetField,
    SortedSetField,
    StringField,
)
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

#: never contacted before ``connect(**kwargs)`` points it at a server
DATABASE = RedisDatabase()

#: the LIMPYD_DATABASES alias of the stalled-server test
STALLED_ALIAS = "reliability_stalled"


def initial(value: str) -> str | None:
    """Index transform: the first character (module level, for spawn)."""
    return value[:1] or None


InitialIndex = EqualIndex.configure(transform=initial, name="InitialIndex")


class ReliabilityModel(RedisModel):
    abstract = True
    database = DATABASE
    namespace = "reliability"


# -- server killed during writes ------------------------------------------------------


class Item(ReliabilityModel):
    """Written by the writers of the SIGKILL test.

    Invariants a half-applied write would break: ``shade == color.upper()``
    (always written together by ``hmset``), ``code`` starts with ``name``, and
    the balances of one owner's instances add up to 100 per create (transfers
    and deletes move balance inside one MULTI/EXEC).
    """

    owner = InstanceHashField(indexable=True)
    name = InstanceHashField(unique=True)
    color = InstanceHashField(indexable=True)
    shade = InstanceHashField(indexable=True)
    code = StringField(unique=True)
    size = StringField(indexable=True, indexes=[NumberRangeIndex])
    balance = StringField(indexable=True, indexes=[NumberRangeIndex])
    tags = SetField(indexable=True)


# -- connection cut at every command --------------------------------------------------


class Fault(ReliabilityModel):
    name = InstanceHashField(unique=True)
    color = InstanceHashField(indexable=True)
    score = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    code = StringField(unique=True)
    hits = StringField(indexable=True, indexes=[NumberRangeIndex])
    tags = SetField(indexable=True)


class Initialed(ReliabilityModel):
    """Indexed through a Python transform: a write whose old value has no transform
    yet costs a NEED round trip."""

    name = StringField(indexable=True, indexes=[InitialIndex])
    word = InstanceHashField(unique=True, indexes=[InitialIndex])


# -- concurrency --------------------------------------------------------------------


class Claim(ReliabilityModel):
    """``get_or_connect(code=...)`` races."""

    code = InstanceHashField(unique=True)
    label = InstanceHashField(indexable=True)


class Person(ReliabilityModel):
    """The load test's model (QUALITY.md's Person: 6 fields, 3 indexed, one unique,
    one range-indexed number, plain hash entries)."""

    email = InstanceHashField(unique=True)
    city = InstanceHashField(indexable=True)
    age = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    first_name = InstanceHashField()
    last_name = InstanceHashField()
    bio = InstanceHashField()


# -- bad input ------------------------------------------------------------------------


class Sample(ReliabilityModel):
    """Every field type and index kind (AutoPK)."""

    name = InstanceHashField(unique=True)
    city = InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
    age = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    note = InstanceHashField()
    title = StringField(indexable=True)
    body = StringField()
    tags = SetField(indexable=True)
    items = ListField(indexable=True)
    ranks = SortedSetField(indexable=True)
    attrs = HashField(indexable=True)


class Keyed(ReliabilityModel):
    """Pks given by the caller (any string)."""

    id = PKField()
    value = InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
    text = StringField(indexable=True)
    tags = SetField(indexable=True)
    rank = InstanceHashField()


# -- stalled server -------------------------------------------------------------------


class Stalled(RedisModel):
    """On a settings alias (with SOCKET_TIMEOUT) that the test defines."""

    database = STALLED_ALIAS
    namespace = "reliability"
    name = InstanceHashField(unique=True)
    color = InstanceHashField(indexable=True)
