"""Expiring instances: deadlines kept by the model's library (see docs/orm/expiry.rst).

A model with ``ttl = <seconds>`` or ``expirable = True`` keeps the deadline of each
expiring instance in one sorted set (``ModelKeys.expiry``), scored by unix time in
ms, set and compared by its compiled functions with the server's clock: an instance
whose deadline passed is missing for every read, filter, count and write, before
any cleanup. Its writes then remove a bounded batch of expired instances (noting
their pks in ``ModelKeys.reaped``); :func:`delete_expired` (``manage.py
limpyd_expire``) sends their ``post_delete`` and removes the rest, sending
``pre_delete`` and ``post_delete`` with ``expired=True``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django_limpyd import signals
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.model.writes import FunctionCall, _execute, _listened, _send
from django_limpyd.storage import functions, protocol

if TYPE_CHECKING:
    from django_limpyd.model.base import RedisModel

__all__ = [
    "alive",
    "census",
    "count_label",
    "delete_expired",
    "grouped_counts",
    "milliseconds",
    "queue_count",
    "remaining",
    "require_expirable",
    "send_reaped",
    "set_deadline",
]

#: pks per call of ``deadlines`` (one round trip each)
CHUNK = 1000


def require_expirable(model: type[RedisModel], what: str) -> None:
    """Refuse ``what`` on a model without expiry, saying how to give it one."""
    if not model._meta.expirable:
        raise ImplementationError(
            f"{model.__name__}.{what}: {model.__name__} instances do not expire; give the "
            "model a default `ttl = <seconds>` or `expirable = True` (see docs/orm/expiry.rst)."
        )


def milliseconds(seconds: Any, what: str) -> int:
    """A time to live in seconds (a number or a timedelta) as whole ms, > 0."""
    if isinstance(seconds, datetime.timedelta):
        seconds = seconds.total_seconds()
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise InvalidValue(
            f"{what}: a time to live is a positive number of seconds, got {seconds!r}."
        )
    return max(1, round(seconds * 1000))


def _unix_ms(when: Any, what: str) -> int:
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            raise InvalidValue(f"{what}: give an aware datetime (with its tzinfo), got {when!r}.")
        return round(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise InvalidValue(f"{what}: give a datetime or a unix timestamp, got {when!r}.")
    return round(when * 1000)


def set_deadline(instance: RedisModel, mode: str, when: Any = None) -> Any:
    """``expire`` (``mode`` "in": ``when`` seconds from now), ``expireat`` ("at": a
    datetime or unix time) or ``persist`` of ``instance``, atomically."""
    model = type(instance)
    names = {"in": "expire()", "at": "expireat()", "persist": "persist()"}
    require_expirable(model, names[mode])
    pk = instance._meta_pk
    value = ""
    if mode == "in":
        value = str(milliseconds(when, f"{model.__name__}.expire()"))
    elif mode == "at":
        value = str(_unix_ms(when, f"{model.__name__}.expireat()"))

    def finish(reply: Any) -> bool:
        return bool(reply)

    args = [pk, mode, value] if value else [pk, mode]
    call = FunctionCall(model, "expire", [model._meta.keys.pks], lambda tmap: args, {}, finish)
    return _execute(call)


def _deadlines(model: type[RedisModel], pks: list[str], client: Any = None) -> list[int]:
    meta = model._meta
    database = meta.database
    left: list[int] = []
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        args = [meta.keys.pks]
        if client is not None:
            reply = functions.call(client, meta.library, "deadlines", args, chunk)
        else:
            reply = functions.call_read_only(
                database.read_connection,
                database.connection,
                meta.library,
                "deadlines",
                args,
                chunk,
            )
        left += [int(ms) for ms in reply]
    return left


def remaining(instance: RedisModel) -> int:
    """The ms left before ``instance``'s deadline: -1 without one; ``DoesNotExist`` when
    it is gone (deleted or expired). Queued in an active pipeline."""
    from django_limpyd.model.reads import ReadCall

    model = type(instance)
    require_expirable(model, "ttl()")
    pk = instance._meta_pk

    def finish(reply: Any) -> int:
        ms = int(reply[0])
        if ms == -2:
            raise model.DoesNotExist(f"{model.__name__} {pk!r} does not exist (expired?).")
        return ms

    call = ReadCall(model, "deadlines", [model._meta.keys.pks], lambda tmap: [pk], {}, finish)
    pipeline = model._meta.database.active_pipeline()
    if pipeline is None:
        return finish(call.run())
    return pipeline.add_function_call(call)


def alive(model: type[RedisModel], pks: list[str]) -> list[bool]:
    """Whether each pk is an instance whose deadline has not passed."""
    if not pks:
        return []
    return [ms != -2 for ms in _deadlines(model, pks)]


def census(model: type[RedisModel], reply: Any = None) -> tuple[int, int]:
    """``(instances, expired)`` of a model with expiry: the live instances, and those
    whose deadline passed that await their cleanup (read only, one call). ``reply``:
    that of a ``census`` call queued by :func:`queue_census`, read instead."""
    if reply is None:
        meta = model._meta
        database = meta.database
        reply = functions.call_read_only(
            database.read_connection,
            database.connection,
            meta.library,
            "census",
            [meta.keys.pks],
            [],
        )
    stored, expired = (int(value) for value in reply)
    expired = min(expired, stored)
    return stored - expired, expired


def queue_count(pipe: Any, model: type[RedisModel]) -> None:
    """Queue on a redis-py pipeline of ``model``'s database connection what
    :func:`count_label` reads: the ``ZCARD`` of its pks, or, for a model with expiry,
    its ``census``; for a sharded model, those of each shard model (see
    :func:`grouped_counts`)."""
    for stored in model._meta.stored_models:
        meta = stored._meta
        if meta.expirable:
            functions.queue(
                pipe, meta.database.connection, meta.library, "census", [meta.keys.pks], []
            )
        else:
            pipe.zcard(meta.keys.pks)


def grouped_counts(models: list[type[RedisModel]], replies: list[Any]) -> list[Any]:
    """The replies of :func:`queue_count` for each of ``models`` (queued in this
    order): one reply, or the list of its shards' replies for a sharded model."""
    grouped, position = [], 0
    for model in models:
        size = len(model._meta.stored_models)
        part = replies[position : position + size]
        grouped.append(part if model._meta.shard_models else part[0])
        position += size
    return grouped


def count_label(model: type[RedisModel], reply: Any) -> tuple[int, str]:
    """How many instances a count shows: the ``ZCARD`` of the pks of a model without
    expiry, or the ``census`` reply of one with (a sharded model: the list of its
    shards' replies, added); and the suffix to show after the number
    (`` (+M expired, awaiting cleanup)`` or "")."""
    if model._meta.shard_models:
        live = expired = 0
        for stored, part in zip(model._meta.stored_models, reply, strict=True):
            if stored._meta.expirable:
                alive, gone = census(stored, part)
                live, expired = live + alive, expired + gone
            else:
                live += int(part)
    elif not model._meta.expirable:
        return int(reply), ""
    else:
        live, expired = census(model, reply)
    return live, f" (+{expired} expired, awaiting cleanup)" if expired else ""


def send_reaped(model: type[RedisModel], batch: int = 500) -> int:
    """Send ``post_delete`` with ``expired=True`` for the expired instances the writes
    of ``model`` removed since the last call (``ModelKeys.reaped``, emptied), oldest
    first; returns how many. Without a ``post_delete`` receiver, only empties it."""
    meta = model._meta
    connection = meta.database.connection
    key = meta.keys.reaped
    if not _listened(model, signals.post_delete, signals.post_delete):
        connection.delete(key)
        return 0
    sent = 0
    while True:
        pks = connection.lpop(key, batch)
        if not pks:
            return sent
        for pk in pks:
            _send(signals.post_delete, model._connected(pk, checked=True), expired=True)
        sent += len(pks)


def delete_expired(model: type[RedisModel], limit: int | None = None, batch: int = 500) -> int:
    """Remove the instances of ``model`` whose deadline passed (at most ``limit``), each
    atomically with its index entries and the references to it, sending ``pre_delete``
    and ``post_delete`` with ``expired=True``; an instance whose deadline moved meanwhile
    is kept. First sends the ``post_delete`` of the expired instances writes removed
    since (:func:`send_reaped`). Returns how many it removed itself."""
    require_expirable(model, "delete_expired()")
    meta = model._meta
    database = meta.database
    send_reaped(model, batch)
    listened = _listened(model, signals.pre_delete, signals.post_delete)
    removed = 0
    while limit is None or removed < limit:
        wanted = batch if limit is None else min(batch, limit - removed)
        due = functions.call(database.connection, meta.library, "due", [meta.keys.pks], [wanted])
        if not due:
            break
        for pk in due:
            instance = model._connected(pk, checked=True)
            if listened:
                _send(signals.pre_delete, instance, expired=True)
            call = FunctionCall(
                model, "reap", [meta.keys.pks], _reap_args(pk), {}, lambda reply: bool(reply)
            )
            if meta.has_transforms:
                call.stored = (pk, meta.data_fields)
            if call.finish(call.run()):
                removed += 1
                if listened:
                    _send(signals.post_delete, instance, expired=True)
    return removed


def _reap_args(pk: str) -> Any:
    return lambda tmap: protocol.delete_args(pk, tmap)
