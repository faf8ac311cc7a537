"""Changing the number of shards of a sharded model, online.

A model declares the change: ``shards = 12`` with ``resharding_from = 4`` (``1``: the
model was not sharded). It then has two layouts, each with its shard models: the *old*
one (``_meta.previous_shard_models``, the keys the data is in) and the *new* one
(``_meta.shard_models``). ``manage.py limpyd_reshard app.Model`` moves every instance
from the old layout to the new one while the application keeps reading and writing;
once it reports that the old layout is empty, the model is deployed without
``resharding_from``.

Where an instance is: in the old layout until it is moved, then in the new one, never
written in both. Every writing call of an old shard runs ``lua/reshard.lua``'s check
first, in the same atomic call, against the shard's ``moves`` hash:

* ``"" -> closed``: nothing may be created in this shard any more (``LIMPYD_CLOSED``):
  the create goes to the new layout. Until the command closes the old layout, creates go
  to the old one, so that an AutoPK of the new layout never meets an old pk.
* ``pk -> moving``: the instance is being copied; a write waits (``LIMPYD_MOVING``),
  then finds it again.

A shard of the new layout of an AutoPK model answers ``LIMPYD_NOTREADY`` to a create
until its counter is set past every old pk (``ready``).

Moving one batch of an old shard (each step idempotent, so the command resumes
anywhere)::

    1 fence    old shard's slot   HSET moves pk moving (for each pk of the batch)
    2 settle   wait SETTLE        (counts: see below)
    3 copy     new shards' slots  each instance created with its pk, values and deadline
                                  (skipped if it is there: a resumed move)
    4 drop     old shard's slot   MULTI, HDEL moves pk, the delete function, EXEC

Reads go to both layouts, the old one first: a collection is read from the old shards,
then from the new ones, and an instance found in both (between steps 3 and 4) is kept
once. A count subtracts the instances it found in both: those fenced when it read the
old layout, and present in the new one when it read that; an instance fenced after the
first read and copied before the second would count twice, which takes more than
``SETTLE`` between the two reads, so a count that took longer runs again.

An instance object keeps its class (old or new shard model) until a write finds it
moved, then follows it; a lazily connected one finds its layout on its first read.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from django_limpyd.exceptions import DoesNotExist, ImplementationError, Redirected, UniquenessError
from django_limpyd.sharding.layout import creation_shard, shard_of_pk

__all__ = [
    "SETTLE",
    "WAIT",
    "connected",
    "creation_model",
    "follow",
    "locate",
    "moving",
    "old_shard_of_pk",
    "refresh_closed",
    "rehome",
    "resharding",
]

#: seconds between fencing a batch and copying it; a count must read in less
SETTLE = 0.1
#: seconds a write waits for an instance being moved, or for the new counters
WAIT = 10.0
_POLL = 0.01

_MOVING: contextvars.ContextVar[bool] = contextvars.ContextVar("limpyd_moving", default=False)


def moving() -> bool:
    """True while ``limpyd_reshard`` copies or drops instances (no signal is sent)."""
    return _MOVING.get()


def resharding(model: type) -> bool:
    """True if ``model`` (a sharded model or one of its shard models) is being resharded."""
    return model._meta.layout is not None or bool(model._meta.previous_shard_models)


def facade_of(model: type) -> type:
    """The sharded model of a shard model (itself for the sharded model)."""
    return model if model._meta.shard_models else model.__mro__[1]


def old_shard_of_pk(meta: Any, pk: str) -> int:
    """The shard of the old layout holding (or that would hold) instance ``pk``."""
    return shard_of_pk(meta, pk, meta.previous_shards)


def _old_turn(meta: Any) -> int:
    turns = meta.__dict__.get("_old_turns")
    if turns is None:
        turns = meta.__dict__.setdefault("_old_turns", [0])
    turns[0] += 1
    return turns[0] % meta.previous_shards


def locate(facade: type, pk: str) -> type | None:
    """The shard model holding instance ``pk`` now (the old layout's, if the instance is
    in both), or None (one round trip; two for a model with expiry)."""
    meta = facade._meta
    old = meta.previous_shard_models[old_shard_of_pk(meta, pk)]
    new = meta.shard_model_of(pk)
    if meta.expirable:
        for shard in (old, new):
            if shard._pks_exist([pk])[0]:
                return shard
        return None
    connection = meta.database.connection
    pipe = connection.pipeline(transaction=False)
    pipe.zscore(old._meta.keys.pks, pk)
    pipe.zscore(new._meta.keys.pks, pk)
    in_old, in_new = pipe.execute()
    if in_old is not None:
        return old
    if in_new is not None:
        return new
    # found nowhere: on a Redis Cluster the two reads may have crossed the move (read
    # in parallel); read again in order, the old layout first
    if connection.zscore(old._meta.keys.pks, pk) is not None:
        return old
    return new if connection.zscore(new._meta.keys.pks, pk) is not None else None


def _closed(meta: Any) -> bool:
    return bool(meta.__dict__.get("_reshard_closed"))


def refresh_closed(facade: type) -> bool:
    """Whether the old layout is closed to creates (asked of the server until it is:
    then known for good, in this process)."""
    meta = facade._meta
    if not _closed(meta):
        old = meta.previous_shard_models[0]
        if meta.database.connection.hexists(old._meta.keys.moves, ""):
            meta._reshard_closed = True
    return _closed(meta)


def creation_model(facade: type, pk: str | None) -> type:
    """The shard model a new instance is created in: the old layout's until the command
    closed it (then the new one's; a pk given must not be in the old layout)."""
    meta = facade._meta
    if not _closed(meta):
        if pk is None:
            return meta.previous_shard_models[_old_turn(meta)]
        return meta.previous_shard_models[old_shard_of_pk(meta, pk)]
    if pk is not None:
        old = meta.previous_shard_models[old_shard_of_pk(meta, pk)]
        if old._pks_exist([pk])[0]:
            raise UniquenessError(f"{facade.__name__} {pk!r} already exists.")
    return meta.shard_models[creation_shard(meta, pk)]


def connected(facade: type, pk: str) -> Any:
    """An instance ``pk`` of the sharded ``facade`` whose layout is not known: of its new
    shard model, finding where it is on its first read."""
    instance = object.__new__(facade._meta.shard_model_of(pk))
    instance._pk = pk
    instance._exists_checked = False
    return instance


def rehome(instance: Any, shard: type) -> None:
    """Make ``instance`` one of the shard model ``shard`` (its fields bound again)."""
    if type(instance) is shard:
        return
    instance.__class__ = shard
    for name in shard._meta.fields:
        instance.__dict__.pop(name, None)
    instance.__dict__.pop("_queued_creation", None)  # a refused create: nothing queued


def find(instance: Any) -> None:
    """Give the lazily connected ``instance`` the class of the shard model holding it;
    ``DoesNotExist`` if none does."""
    where = locate(facade_of(type(instance)), instance._pk)
    if where is None:
        raise instance.DoesNotExist(f"{type(instance).__name__} {instance._pk!r} does not exist.")
    rehome(instance, where)


def _wait_unfenced(shard: type, pk: str, deadline: float) -> None:
    connection = shard._meta.database.connection
    while connection.hexists(shard._meta.keys.moves, pk):
        if time.monotonic() > deadline:
            raise ImplementationError(
                f"{shard._meta.label} {pk!r} has been being moved to the new layout for more "
                f"than {WAIT:g} s (an interrupted limpyd_reshard? run it again to finish); "
                "nothing was written."
            )
        time.sleep(_POLL)


def follow(
    instance: Any, error: Exception, retry: Callable[[], Any], creating: str | None = None
) -> Any:
    """After a write of ``instance`` of a model being resharded was refused by the move
    (``error``: :class:`Redirected`, or ``DoesNotExist`` for an instance no longer in
    the shard its class says), give the instance the class of where it is (waiting for a
    move in progress), then run ``retry()``; its result. The write ran nowhere before.
    ``creating``: the pk given to a create refused by a closed shard."""
    facade = facade_of(type(instance))
    meta = facade._meta
    deadline = time.monotonic() + WAIT
    while True:
        code = error.code if isinstance(error, Redirected) else "MISSING"
        pk = instance._pk
        if code == "CLOSED":
            meta._reshard_closed = True
            rehome(instance, creation_model(facade, creating))
        elif code == "NOTREADY":
            if time.monotonic() > deadline:
                raise ImplementationError(
                    f"{facade.__name__}: the new layout's AutoPK counters are not set yet "
                    f"after {WAIT:g} s (limpyd_reshard interrupted? run it again); nothing "
                    "was written."
                ) from None
            time.sleep(_POLL)
        else:
            if pk is None:
                raise error
            if code == "MOVING":
                _wait_unfenced(type(instance), pk, deadline)
            where = locate(facade, pk)
            if where is None or (code == "MISSING" and where is type(instance)):
                raise error
            rehome(instance, where)
        instance.__dict__.pop("_queued_creation", None)  # a refused create: nothing queued
        try:
            return retry()
        except (Redirected, DoesNotExist) as again:
            error = again
            if time.monotonic() > deadline:
                raise
