"""Unique fields of a sharded model: one value, one instance, across every shard.

Each shard's unique index only sees the shard's instances. A value is therefore also
*reserved*, in the slot of the value: the reservations of a field live in hashes
``P:u:<field>`` of the shard models, the bucket of value ``v`` being shard
``crc32(v) % shards`` (:meth:`~django_limpyd.storage.keys.ModelKeys.reservations`). A
reservation's state is ``p:<shard>:<token>`` (*pending*: a write of shard ``<shard>``,
named by a random token, is taking the value) or ``c:<pk>`` (*confirmed*: instance
``<pk>`` holds it).

A write that gives a unique field a value (a create, ``hset``/``set``/``hmset``) runs as
ordered steps, each idempotent, each one atomic call::

    1 reserve    value's slot   absent, or c:<this pk>  ->  p:<shard>:<token>
                                held by another          ->  UniquenessError (nothing written)
    2 write      shard's slot   WATCH fence(token); fence set -> refused (nothing written)
                                MULTI, the write's own function call, EXEC
    3 confirm    value's slot   p:<shard>:<token>  ->  c:<pk>
                 old value's    c:<pk>  ->  (removed)          (an update, a removal)

A delete deletes the instance, then releases its values (``c:<pk>`` -> removed).

A process stopped between two steps leaves a reservation that
:func:`reservation_problems` reports (``consistency_check``) and :func:`repair` resolves
(``limpyd_index check --repair``):

* ``p:<shard>:<token>``: in the shard's slot, atomically, the value's own index entry
  is read; an instance holding it means step 2 ran (confirmed to it), none means it did
  not, and the fence of the token is set (so step 2 can never run later: a write still
  on its way is refused); the reservation is then removed.
* ``c:<pk>`` whose instance does not hold the value (a delete or an update stopped
  before its release): removed, if still ``c:<pk>`` (a write of that instance taking
  the value again first turns it into its own ``p:...``).

At no point do two instances hold one value: a value is written only by the holder of
its pending reservation, and a reservation is removed only when no write can follow.
A unique write costs 3 more round trips than an unsharded one (reserve, watch, confirm).
Unique fields of sharded models take single values (``InstanceHashField``,
``StringField``) written by ``set``/``hset``/``hmset``/``setnx``/``hsetnx``/``delete``/
``hdel``; other commands on them are refused.
"""

from __future__ import annotations

import contextvars
import os
import signal
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

from django_limpyd.exceptions import ImplementationError, UniquenessError

__all__ = ["active", "create", "delete", "repair", "reservation_problems", "write"]

#: how long the fence of a revoked token stays (seconds): far longer than any write
FENCE_SECONDS = 7 * 24 * 3600

_RESERVE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or (ARGV[3] ~= '' and current == ARGV[3]) then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    return 1
end
return current
"""

#: KEYS[1] the reservations; ARGV: value, expected state, new state ("" removes)
_SWAP = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
"""

#: KEYS[1] the value's entry of the shard's unique index, KEYS[2] the token's fence
_SETTLE = """
local holder = redis.call('SRANDMEMBER', KEYS[1])
if holder then return holder end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return false
"""

_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar("limpyd_reserving", default=False)

#: redis-py commands that give a unique field a value, and where the values are
_SETTERS = {"SET", "SETNX", "GETSET", "HSET", "HSETNX", "HMSET"}
_REMOVERS = {"DEL", "HDEL", "UNLINK"}


def _eval(client: Any, script: str, numkeys: int, *args: Any) -> Any:
    """``EVAL`` on a client or pipeline (a cluster pipeline has no ``eval()``)."""
    return client.execute_command("EVAL", script, numkeys, *args)


def active() -> bool:
    """True inside a reserved write (its own steps pass through unreserved)."""
    return _ACTIVE.get()


def crash_point(name: str) -> None:
    """Stop this process here, at once (SIGKILL), if ``LIMPYD_SHARD_CRASH_AT`` names this
    step: how the tests interrupt the protocol between two steps."""
    if os.environ.get("LIMPYD_SHARD_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# -- where things live -------------------------------------------------------------------


def unique_fields(meta: Any) -> list[Any]:
    """The unique fields of a (shard) model."""
    return [field for field in meta.data_fields if field.unique]


def _bucket(model: type, value: str) -> type:
    facade = model if model._meta.shard_models else _facade(model)
    shards = facade._meta.shard_models
    return shards[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(shards)]


def _facade(model: type) -> type:
    """The sharded model of a shard model."""
    return model.__mro__[1]


def _reservations(model: type, field_name: str, value: str) -> str:
    return _bucket(model, value)._meta.keys.reservations(field_name)


def _index_entry(shard: type, field_name: str, value: str) -> str:
    field = shard._meta.get_field(field_name)
    index = next(index for index in field.indexes if index.handles_uniqueness)
    return index.storage_base + value


# -- the steps ---------------------------------------------------------------------------


class _Reserved:
    """The reservations one write took: (field name, value) -> reservations key."""

    def __init__(self, model: type) -> None:
        self.model = model
        self.shard = self.model._meta.shard
        self.token = uuid.uuid4().hex
        self.pending = f"p:{self.shard}:{self.token}"
        self.taken: dict[tuple[str, str], str] = {}

    def reserve(self, connection: Any, wanted: dict[str, str], pk: str | None) -> None:
        """Step 1 for every ``{field name: value}`` (one pipeline); UniquenessError,
        with every reservation of this write released, if one is held."""
        own = f"c:{pk}" if pk else ""
        pipe = connection.pipeline(transaction=False)
        items = list(wanted.items())
        for name, value in items:
            key = _reservations(self.model, name, value)
            _eval(pipe, _RESERVE, 1, key, value, self.pending, own)
        refused = None
        for (name, value), reply in zip(items, pipe.execute(), strict=True):
            if reply == 1:
                self.taken[(name, value)] = _reservations(self.model, name, value)
            elif refused is None:
                refused = (name, value, reply)
        if refused is not None:
            self.release(connection)
            name, value, state = refused
            holder = state[2:] if state.startswith("c:") else "a write in progress"
            raise UniquenessError(
                f"{self.model.__name__}.{name} is unique: {value!r} is already held by {holder}."
            )

    def release(self, connection: Any) -> None:
        """Undo step 1 (the write was refused or failed: nothing was written)."""
        self._swap_all(connection, self.pending, "")

    def settle(self, connection: Any) -> None:
        """Step 3 when the write's outcome is not known (it failed, or ran several
        creates): each value confirmed to the instance of the shard that holds it (its
        own index entry), or released. Only once no write of this token can run."""
        if not self.taken:
            return
        items = list(self.taken.items())
        pipe = connection.pipeline(transaction=False)
        for (name, value), _key in items:
            pipe.srandmember(_index_entry(self.model, name, value))
        holders = pipe.execute()
        pipe = connection.pipeline(transaction=False)
        for ((_name, value), key), holder in zip(items, holders, strict=True):
            _eval(pipe, _SWAP, 1, key, value, self.pending, f"c:{holder}" if holder else "")
        pipe.execute()

    def confirm(self, connection: Any, pk: str, released: dict[str, str]) -> None:
        """Step 3: this write's values confirmed to ``pk``, the values it replaced
        (``released``: field name -> old value) released."""
        pipe = connection.pipeline(transaction=False)
        for (_name, value), key in self.taken.items():
            _eval(pipe, _SWAP, 1, key, value, self.pending, f"c:{pk}")
        for name, value in released.items():
            if (name, value) not in self.taken:
                key = _reservations(self.model, name, value)
                _eval(pipe, _SWAP, 1, key, value, f"c:{pk}", "")
        pipe.execute()

    def _swap_all(self, connection: Any, expected: str, new: str) -> None:
        if not self.taken:
            return
        pipe = connection.pipeline(transaction=False)
        for (_name, value), key in self.taken.items():
            _eval(pipe, _SWAP, 1, key, value, expected, new)
        pipe.execute()

    def written(self, connection: Any, run: Any) -> Any:
        """Step 2 of one write, :meth:`fenced`; if it fails, its values settled (it may
        have run: a reply lost); its result."""
        crash_point("after_reserve")
        try:
            result = self.fenced(run)
        except BaseException:
            self.settle(connection)
            raise
        if isinstance(result, Exception):
            self.settle(connection)
            raise result
        crash_point("after_write")
        return result

    def fenced(self, run: Any) -> Any:
        """Step 2: ``run()`` (the write, queued in a transaction) unless the token was
        revoked; its result."""
        database = self.model._meta.database
        fence = self.model._meta.keys.fence(self.token)

        def body(pipeline: Any) -> None:
            if pipeline.connection.execute_command("EXISTS", fence):
                raise UniquenessError(
                    f"{self.model.__name__}: the reservation of this write was revoked "
                    "(a repair found it interrupted); nothing was written."
                )
            pipeline.multi()
            run()

        token = _ACTIVE.set(True)
        try:
            return database.transaction(body, fence)[0]
        finally:
            _ACTIVE.reset(token)


def _connection(model: type) -> Any:
    database = model._meta.database
    if database.active_pipeline() is not None:
        raise ImplementationError(
            f"{model.__name__} has shards and unique fields: a write of a unique field "
            "runs in several steps, so it cannot be queued in a pipeline."
        )
    return database.connection


def create(instance: Any, pk: str, values: dict[str, Any], ttl: Any) -> Any:
    """``writes.create`` of an instance of a shard model with unique fields."""
    from django_limpyd.model import writes

    model = type(instance)
    wanted = {
        field.name: values[field.name]
        for field in unique_fields(model._meta)
        if values.get(field.name) is not None
    }
    if not wanted:
        return writes.create(instance, pk, values, ttl)
    connection = _connection(model)
    reserved = _Reserved(type(instance))
    reserved.reserve(connection, {k: str(v) for k, v in wanted.items()}, None)
    result = reserved.written(connection, lambda: writes.create(instance, pk, values, ttl))
    reserved.confirm(connection, instance._pk, {})
    return result


def _new_values(command: tuple[Any, ...], fields: list[Any]) -> dict[str, str | None]:
    """The values ``command`` gives the unique ``fields`` it writes (None: removed)."""
    name = str(command[0]).upper()
    unique = [field for field in fields if field.unique]
    if name in _REMOVERS:
        if name == "HDEL":
            gone = {str(part) for part in command[2:]}
            return {field.name: None for field in unique if field.name in gone}
        return {field.name: None for field in unique}
    if name in ("SET", "SETNX", "GETSET") and len(unique) == 1:
        return {unique[0].name: str(command[2])}
    if name in ("HSET", "HSETNX", "HMSET"):
        pairs = dict(zip(command[2::2], command[3::2], strict=False))
        return {field.name: str(pairs[field.name]) for field in unique if field.name in pairs}
    raise ImplementationError(
        f"{unique[0].describe()} is a unique field of a sharded model: it is written by "
        f"set, hset, hmset, setnx, hsetnx, delete or hdel, not {name.lower()}."
    )


def write(
    instance: Any, fields: list[Any], command: tuple[Any, ...], options: dict, new_values: Any
) -> Any:
    """``writes.write`` of unique fields of an instance of a shard model."""
    from django_limpyd.model import writes

    model = type(instance)
    news = _new_values(command, fields)
    if not news:
        return writes.write(instance, fields, command, options, new_values)
    connection = _connection(model)
    pk = instance._pk
    olds: dict[str, str] = {}
    if pk is not None:
        current = _read(instance, news)
        olds = {name: value for name, value in zip(news, current, strict=True) if value}
    wanted = {name: value for name, value in news.items() if value and value != olds.get(name)}
    reserved = _Reserved(type(instance))
    reserved.reserve(connection, wanted, pk)
    result = reserved.written(
        connection, lambda: writes.write(instance, fields, command, options, new_values)
    )
    now = _read(instance, news)
    held = dict(zip(news, now, strict=True))
    released = {name: value for name, value in olds.items() if held.get(name) != value}
    reserved.confirm(connection, instance._pk, released)
    return result


def _read(instance: Any, names: Any) -> list[str | None]:
    """The current values of the fields ``names`` of ``instance`` (one round trip)."""
    meta = type(instance)._meta
    pipe = meta.database.connection.pipeline(transaction=False)
    for name in names:
        field = meta.get_field(name)
        if field.storage_type == "hfield":
            pipe.hget(meta.keys.instance_hash(instance._pk), name)
        else:
            pipe.get(meta.keys.field(name, instance._pk))
    return pipe.execute()


def delete(instance: Any) -> bool:
    """``writes.delete`` of an instance of a shard model with unique fields, then the
    release of its values."""
    from django_limpyd.model import writes

    model = type(instance)
    names = [field.name for field in unique_fields(model._meta)]
    if instance._pk is None or not names:
        return writes.delete(instance)
    connection = _connection(model)
    olds = {n: v for n, v in zip(names, _read(instance, names), strict=True) if v}
    token = _ACTIVE.set(True)
    try:
        deleted = writes.delete(instance)
    finally:
        _ACTIVE.reset(token)
    crash_point("after_delete")
    pipe = connection.pipeline(transaction=False)
    for name, value in olds.items():
        _eval(pipe, _SWAP, 1, _reservations(model, name, value), value, f"c:{instance._pk}", "")
    pipe.execute()
    return deleted


# -- checks and repairs ------------------------------------------------------------------


def _entries(model: type) -> Iterator[tuple[Any, str, str, str, str]]:
    """Every reservation of the sharded ``model``: (shard holding it, its key, field
    name, value, state)."""
    connection = model._meta.database.connection
    for field in unique_fields(model._meta):
        for bucket in model._meta.shard_models:
            key = bucket._meta.keys.reservations(field.name)
            for value, state in connection.hscan_iter(key):
                yield bucket, key, field.name, value, state


def _holds(model: type, pk: str, name: str, value: str) -> bool:
    """True if instance ``pk`` of the sharded ``model`` holds ``value`` in ``name``."""
    shard = model._meta.shard_model_of(pk)
    connection = model._meta.database.connection
    return bool(connection.sismember(_index_entry(shard, name, value), pk))


def reservation_problems(model: type) -> list[str]:
    """The reservations of the sharded ``model`` that no finished write explains:
    pending ones (a write in progress, or interrupted) and confirmed ones whose instance
    does not hold the value (a delete or update interrupted before its release)."""
    problems = []
    for _bucket_model, _key, name, value, state in _entries(model):
        if state.startswith("p:"):
            problems.append(
                f"{model.__name__}.{name}: pending reservation of {value!r} ({state}): a "
                "write in progress or interrupted (repair: limpyd_index check --repair)"
            )
        elif state.startswith("c:") and not _holds(model, state[2:], name, value):
            problems.append(
                f"{model.__name__}.{name}: {value!r} is reserved for instance {state[2:]!r}, "
                "which does not hold it (repair: limpyd_index check --repair)"
            )
    return problems


def repair(model: type) -> int:
    """Resolve every reservation :func:`reservation_problems` reports; how many."""
    connection = model._meta.database.connection
    fixed = 0
    for _bucket_model, key, name, value, state in _entries(model):
        if state.startswith("p:"):
            _kind, shard_number, token = state.split(":", 2)
            shard = model._meta.shard_models[int(shard_number)]
            holder = _eval(
                connection,
                _SETTLE,
                2,
                _index_entry(shard, name, value),
                shard._meta.keys.fence(token),
                FENCE_SECONDS,
            )
            new = f"c:{holder}" if holder else ""
            fixed += _eval(connection, _SWAP, 1, key, value, state, new)
        elif state.startswith("c:") and not _holds(model, state[2:], name, value):
            fixed += _eval(connection, _SWAP, 1, key, value, state, "")
    return fixed


def bulk_create(model: type, items: list[dict[str, Any]], raise_on_error: bool) -> list[Any]:
    """``Model.bulk_create`` of a sharded model with unique fields: every value reserved
    in one pipeline, then each shard's creates in one fenced transaction, then its
    reservations settled. An instance whose value is held (or given twice in ``items``)
    is left unsaved and its error raised at the end (with ``raise_on_error``)."""
    from django_limpyd.sharding.layout import creation_shard

    meta = model._meta
    connection = _connection(model)
    names = [field.name for field in unique_fields(meta)]
    groups: dict[type, list[tuple[int, dict[str, Any]]]] = {}
    for position, item in enumerate(items):
        pk = item.get(meta.pk_field.name, item.get("pk"))
        normalized = meta.pk_field.normalize(pk) if pk is not None else None
        shard = meta.shard_models[creation_shard(meta, normalized)]
        groups.setdefault(shard, []).append((position, item))
    reserved = {shard: _Reserved(shard) for shard in groups}
    asked = []
    pipe = connection.pipeline(transaction=False)
    for shard, group in groups.items():
        for position, item in group:
            for name in names:
                if item.get(name) is not None:
                    value = str(item[name])
                    key = _reservations(model, name, value)
                    _eval(pipe, _RESERVE, 1, key, value, reserved[shard].pending, "")
                    asked.append((shard, position, name, value, key))
    refused: dict[int, Exception] = {}
    for (shard, position, name, value, key), reply in zip(asked, pipe.execute(), strict=True):
        if reply == 1:
            reserved[shard].taken[(name, value)] = key
        else:
            refused.setdefault(
                position,
                UniquenessError(f"{model.__name__}.{name} is unique: {value!r} is already held."),
            )
    instances: list[Any] = [None] * len(items)
    errors: list[Exception] = list(refused.values())
    for shard, group in groups.items():
        wanted = [(position, item) for position, item in group if position not in refused]

        def run(wanted: list[tuple[int, dict[str, Any]]] = wanted, shard: type = shard) -> None:
            for position, item in wanted:
                instances[position] = shard(**item)

        try:
            if wanted:
                reserved[shard].fenced(run)
        except Exception as error:
            errors.append(error)
        # what each value's reservation becomes: its holder in the shard, or nothing
        reserved[shard].settle(connection)
    for position, item in enumerate(items):
        if instances[position] is None or instances[position]._pk is None:
            instance = model.__new__(model, **item)  # refused: left unsaved
            instance._pk = None
            instances[position] = instance
    if errors and raise_on_error:
        raise errors[0]
    return instances


def held(model: type, values: dict[str, Any]) -> list[str]:
    """Which of ``{field name: value}`` are reserved already, as messages."""
    connection = model._meta.database.connection
    items = [(name, str(value)) for name, value in values.items() if value is not None]
    pipe = connection.pipeline(transaction=False)
    for name, value in items:
        pipe.hget(_reservations(model, name, value), value)
    return [
        f"{model.__name__}.{name} {value!r} is held ({state})"
        for (name, value), state in zip(items, pipe.execute(), strict=True)
        if state is not None
    ]


def reserve_loaded(model: type, pk: str, values: dict[str, Any]) -> None:
    """Reserve the unique values of instance ``pk``, created by a load, for it."""
    connection = model._meta.database.connection
    pipe = connection.pipeline(transaction=False)
    for field in unique_fields(model._meta):
        value = values.get(field.name)
        if value is not None:
            key = _reservations(model, field.name, str(value))
            pipe.hsetnx(key, str(value), f"c:{pk}")
    pipe.execute()
