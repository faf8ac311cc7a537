"""Where the instances of a sharded model live.

A model with ``shards = n`` gets ``n`` *shard models*: subclasses of it, one per shard,
each with its own hash tag (so its own Redis Cluster slot), holding the instances of
that shard and their index entries. A write stays one atomic call in one slot.

* The hash tag of shard ``s`` of ``n`` is ``"<namespace>.<model>.<s>of<n>.<j>"`` (two
  layouts of a model being resharded never share a key) with the smallest
  ``j`` whose slot falls in the middle half of the ``s``-th ``1/n`` of the 16384 slots:
  the shards spread evenly over the slot space, hence over the masters of a cluster
  whose masters hold even slot ranges (what ``redis-cli --cluster create`` gives).
* The shard of an AutoPK is ``(pk - 1) % n``: shard ``s`` hands out ``s + 1``,
  ``s + 1 + n``, ... (its counter counts its own pks), so pks never meet across shards.
  A new instance goes to the shards in turn.
* The shard of any other pk is ``crc32(pk) % n``.
"""

from __future__ import annotations

import itertools
import random
import zlib
from typing import Any

from redis.crc import key_slot

from django_limpyd.exceptions import ImplementationError
from django_limpyd.storage.keys import escape

__all__ = ["SLOTS", "check_shards", "creation_shard", "shard_of_pk", "shard_tag"]

#: slots of a Redis Cluster
SLOTS = 16384


def check_shards(name: str, shards: Any) -> int | None:
    """The ``shards`` class attribute of model ``name``: ``None`` or an int >= 2."""
    if shards is None:
        return None
    if isinstance(shards, bool) or not isinstance(shards, int) or not 2 <= shards <= 256:
        raise ImplementationError(
            f"{name}.shards must be None or a number of shards from 2 to 256, got {shards!r}."
        )
    return shards


def shard_tag(namespace: str, name: str, shard: int, shards: int) -> str:
    """The hash tag of shard ``shard`` of ``shards`` (see the module's docstring)."""
    low, high = shard * SLOTS // shards, (shard + 1) * SLOTS // shards
    quarter = (high - low) // 4
    low, high = low + quarter, high - quarter
    for attempt in itertools.count():
        tag = f"{namespace}.{name}.{shard}of{shards}.{attempt}"
        if low <= key_slot(escape(tag).encode()) < high:
            return tag
    raise AssertionError("unreachable")  # pragma: no cover


def shard_of_pk(meta: Any, pk: str, shards: int | None = None) -> int:
    """The shard holding (or that would hold) the instance ``pk`` of a sharded model (in
    a layout of ``shards`` shards: by default the model's)."""
    count = shards or meta.shards
    if meta.pk_field.auto:
        try:
            number = int(pk)
        except ValueError:
            number = 0
        if number > 0:
            return (number - 1) % count
    return zlib.crc32(pk.encode("utf-8", "surrogatepass")) % count


class _Turns:
    """The shards in turn, from a random one (each process starts elsewhere)."""

    def __init__(self, shards: int) -> None:
        self._next = itertools.count(random.randrange(shards))
        self.shards = shards

    def __call__(self) -> int:
        return next(self._next) % self.shards


def creation_shard(meta: Any, pk: str | None) -> int:
    """The shard of a new instance: that of its pk, or the next in turn (AutoPK)."""
    if pk:
        return shard_of_pk(meta, pk)
    turns = meta.__dict__.get("_shard_turns")
    if turns is None:
        turns = meta.__dict__.setdefault("_shard_turns", _Turns(meta.shards))
    return turns()
