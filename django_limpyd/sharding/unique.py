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
A unique write costs 4 more round trips than an unsharded one (reserve, watch, the
fence's check, confirm), an update 2 reads more.
Each operation is written once, as steps (see "the steps" below), sent by the sync
client (:func:`run_steps`) or the async one (:mod:`django_limpyd.aio.unique`: ``acreate``,
``await field.ahset()``..., ``adelete``, ``abulk_create``): the same round trips.
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
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, NamedTuple

from django_limpyd.exceptions import ImplementationError, Redirected, UniquenessError

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

#: _RESERVE in a bucket of the old layout of a model being resharded (KEYS[2]: the
#: shard's moves): "closed" once the command closed the old layout
_RESERVE_OLD = "if redis.call('HEXISTS', KEYS[2], '') == 1 then return 'closed' end\n" + _RESERVE

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


#: the reservations of value ``v`` of field ``f`` (``model``: the sharded model or a
#: shard model): the hash ``P:u:<f>`` of the new layout's bucket shard
reservation_key = _reservations


def _old_bucket(model: type, value: str) -> type | None:
    """While the model is resharded: the old layout's bucket of ``value`` (its
    reservations move to the new layout's once the command closed the old layout)."""
    facade = model if model._meta.shard_models else _facade(model)
    olds = facade._meta.previous_shard_models
    if not olds:
        return None
    return olds[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(olds)]


def _both(model: type, field_name: str, value: str) -> list[str]:
    """The reservation keys a value may be in: the new bucket's, and while the model is
    resharded the old one's."""
    keys = [_reservations(model, field_name, value)]
    old = _old_bucket(model, value)
    if old is not None:
        keys.append(old._meta.keys.reservations(field_name))
    return keys


def _closed(model: type) -> bool:
    facade = model if model._meta.shard_models else _facade(model)
    return bool(facade._meta.__dict__.get("_reshard_closed"))


def _mark_closed(model: type) -> None:
    facade = model if model._meta.shard_models else _facade(model)
    facade._meta._reshard_closed = True


def _index_entry(shard: type, field_name: str, value: str) -> str:
    field = shard._meta.get_field(field_name)
    index = next(index for index in field.indexes if index.handles_uniqueness)
    return index.storage_base + value


# -- the steps ---------------------------------------------------------------------------
#
# Each operation is written once, as *steps* (as the reads of sharded collections are:
# :mod:`django_limpyd.sharding.scatter`): a generator that yields what to send and is
# sent its reply. It yields a list of commands (one pipeline, no transaction; sent their
# replies), a :class:`Fenced` write or a :class:`Direct` one (sent the write's result,
# or thrown its error). :func:`run_steps` sends them on the sync client,
# :func:`django_limpyd.aio.unique.arun_steps` on the async one: the same commands in the
# same round trips, the same crash points, errors and outcomes.

#: yields batches of commands, :class:`Fenced` and :class:`Direct` writes; is sent each
#: one's reply; returns the operation's result
Steps = Generator[Any, Any, Any]


class Fenced(NamedTuple):
    """Step 2 of a write: ``run()``, which queues the write, in a ``WATCH``/``MULTI``/
    ``EXEC`` transaction watching the fence of the token of ``reserved``; refused
    (nothing written) if the fence is set. ``instances``: those the write creates
    (a bulk create fills them in while ``run()`` runs; ``None`` for the others)."""

    reserved: _Reserved
    run: Callable[[], Any]
    instances: Sequence[Any] = ()


class Direct(NamedTuple):
    """A write sent as it is (a delete of ``instance``), the unique steps of its own
    calls skipped (:func:`active`)."""

    run: Callable[[], Any]
    instance: Any = None


def run_steps(steps: Steps, connection: Any) -> Any:
    """The result of ``steps``, each one sent on the sync ``connection``."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        try:
            if isinstance(step, Fenced):
                reply = step.reserved.fenced(step.run)
            elif isinstance(step, Direct):
                token = _ACTIVE.set(True)
                try:
                    reply = step.run()
                finally:
                    _ACTIVE.reset(token)
            else:
                pipe = connection.pipeline(transaction=False)
                for command in step:
                    pipe.execute_command(*command)
                reply = pipe.execute()
        except BaseException as exc:  # thrown into the steps: a failed write is settled
            error = exc


def revoked(model: type) -> UniquenessError:
    """The error of a write whose token was fenced off (a repair revoked it)."""
    return UniquenessError(
        f"{model.__name__}: the reservation of this write was revoked "
        "(a repair found it interrupted); nothing was written."
    )


class _Reserved:
    """The reservations one write took: (field name, value) -> reservations key."""

    def __init__(self, model: type) -> None:
        self.model = model
        self.shard = self.model._meta.shard
        self.token = uuid.uuid4().hex
        # a shard of the layout a model is resharded from is named "o<number>"
        layout = "o" if self.model._meta.layout == "old" else ""
        self.pending = f"p:{layout}{self.shard}:{self.token}"
        self.taken: dict[tuple[str, str], str] = {}

    def reserve(self, connection: Any, wanted: dict[str, str], pk: str | None) -> None:
        """:meth:`reserve_steps`, sent on the sync ``connection``."""
        run_steps(self.reserve_steps(wanted, pk), connection)

    def reserve_steps(self, wanted: dict[str, str], pk: str | None) -> Steps:
        """Step 1 for every ``{field name: value}`` (one pipeline); UniquenessError,
        with every reservation of this write released, if one is held."""
        own = f"c:{pk}" if pk else ""
        items = list(wanted.items())
        resharding = _old_bucket(self.model, "") is not None
        if resharding and not _closed(self.model):  # the old layout's buckets, still
            refused = yield from self._take(items, own, old=True)
            if refused is not None and refused[2] == "closed":
                _mark_closed(self.model)
                yield from self.release()
                self.taken.clear()
            else:
                yield from self._refuse(refused)
                return
        refused = yield from self._take(items, own, old=False)
        if refused is None and resharding:  # not yet moved from the old buckets?
            states = yield [
                ("HGET", _both(self.model, name, value)[1], value) for name, value in items
            ]
            for (name, value), state in zip(items, states, strict=True):
                if state is not None and state != own and refused is None:
                    refused = (name, value, state)
        yield from self._refuse(refused)

    def _take(self, items: list[tuple[str, str]], own: str, old: bool) -> Steps:
        """Step 1 in the new layout's buckets (or the old one's): the first value held."""
        batch, keys = [], []
        for name, value in items:
            if old:
                bucket = _old_bucket(self.model, value)
                key = bucket._meta.keys.reservations(name)
                moves = bucket._meta.keys.moves
                batch.append(("EVAL", _RESERVE_OLD, 2, key, moves, value, self.pending, own))
            else:
                key = _reservations(self.model, name, value)
                batch.append(("EVAL", _RESERVE, 1, key, value, self.pending, own))
            keys.append(key)
        refused = None
        replies = yield batch
        for (name, value), key, reply in zip(items, keys, replies, strict=True):
            if reply == 1:
                self.taken[(name, value)] = key
            elif refused is None or reply == "closed":
                refused = (name, value, reply)
        return refused

    def _refuse(self, refused: tuple[str, str, Any] | None) -> Steps:
        if refused is not None:
            yield from self.release()
            self.taken.clear()
            name, value, state = refused
            holder = state[2:] if state.startswith("c:") else "a write in progress"
            raise UniquenessError(
                f"{self.model.__name__}.{name} is unique: {value!r} is already held by {holder}."
            )

    def release(self) -> Steps:
        """Undo step 1 (the write was refused or failed: nothing was written)."""
        yield from self._swap_all(self.pending, "")

    def settle(self) -> Steps:
        """Step 3 when the write's outcome is not known (it failed, or ran several
        creates): each value confirmed to the instance of the shard that holds it (its
        own index entry), or released. Only once no write of this token can run."""
        if not self.taken:
            return
        items = list(self.taken.items())
        holders = yield [
            ("SRANDMEMBER", _index_entry(self.model, name, value)) for (name, value), _key in items
        ]
        yield [
            ("EVAL", _SWAP, 1, key, value, self.pending, f"c:{holder}" if holder else "")
            for ((_name, value), key), holder in zip(items, holders, strict=True)
        ]

    def confirm(self, pk: str, released: dict[str, str]) -> Steps:
        """Step 3: this write's values confirmed to ``pk``, the values it replaced
        (``released``: field name -> old value) released."""
        batch = [
            ("EVAL", _SWAP, 1, key, value, self.pending, f"c:{pk}")
            for (_name, value), key in self.taken.items()
        ]
        for name, value in released.items():
            if (name, value) not in self.taken:
                for key in _both(self.model, name, value):
                    batch.append(("EVAL", _SWAP, 1, key, value, f"c:{pk}", ""))
        yield batch

    def _swap_all(self, expected: str, new: str) -> Steps:
        if not self.taken:
            return
        yield [
            ("EVAL", _SWAP, 1, key, value, expected, new)
            for (_name, value), key in self.taken.items()
        ]

    def written(self, run: Callable[[], Any], instances: tuple[Any, ...] = ()) -> Steps:
        """Step 2 of one write (:class:`Fenced`); if it fails, its values settled (it
        may have run: a reply lost); its result."""
        crash_point("after_reserve")
        try:
            result = yield Fenced(self, run, instances)
        except BaseException:
            yield from self.settle()
            raise
        if isinstance(result, Exception):
            yield from self.settle()
            raise result
        crash_point("after_write")
        return result

    def fenced(self, run: Any) -> Any:
        """Step 2 on the sync client: ``run()`` (the write, queued in a transaction)
        unless the token was revoked; its result."""
        database = self.model._meta.database
        fence = self.model._meta.keys.fence(self.token)

        def body(pipeline: Any) -> None:
            if pipeline.connection.execute_command("EXISTS", fence):
                raise revoked(self.model)
            pipeline.multi()
            run()

        token = _ACTIVE.set(True)
        try:
            return database.transaction(body, fence)[0]
        finally:
            _ACTIVE.reset(token)


def _send(model: type, steps: Steps) -> Any:
    """Run ``steps`` now on the sync client; or, when an async call is being planned
    (:class:`~django_limpyd.aio.capture.Capture`), hand them to it (it sends them on the
    async client). Inside a pipeline, sync or async: ImplementationError."""
    database = model._meta.database
    active = database.active_pipeline()
    if active is None:
        return run_steps(steps, database.connection)
    if getattr(active, "plans_steps", False):
        from django_limpyd.aio.apipeline import active as active_async

        if active_async(database) is None:
            return active.add_steps(steps)
    steps.close()
    raise in_pipeline(model)


def in_pipeline(model: type) -> ImplementationError:
    """The error of a write of a unique field of ``model`` inside a pipeline."""
    return ImplementationError(
        f"{model.__name__} has shards and unique fields: a write of a unique field "
        "runs in several steps, so it cannot be queued in a pipeline."
    )


def _connection(model: type) -> Any:
    database = model._meta.database
    if database.active_pipeline() is not None:
        raise in_pipeline(model)
    return database.connection


def create(instance: Any, pk: str, values: dict[str, Any], ttl: Any) -> Any:
    """``writes.create`` of an instance of a shard model with unique fields."""
    from django_limpyd.model import writes

    model = type(instance)
    wanted = {
        field.name: str(values[field.name])
        for field in unique_fields(model._meta)
        if values.get(field.name) is not None
    }
    if not wanted:
        return writes.create(instance, pk, values, ttl)
    return _send(model, _create_steps(instance, pk, values, ttl, wanted))


def _create_steps(
    instance: Any, pk: str, values: dict[str, Any], ttl: Any, wanted: dict[str, str]
) -> Steps:
    from django_limpyd.model import writes

    model = type(instance)
    reserved = _Reserved(model)
    yield from reserved.reserve_steps(wanted, None)
    if model._meta.layout == "old" and _closed(model):  # found closed while reserving
        yield from reserved.release()
        raise Redirected(f"{model._meta.label} takes no more creates", "CLOSED")
    result = yield from reserved.written(
        lambda: writes.create(instance, pk, values, ttl), (instance,)
    )
    yield from reserved.confirm(instance._pk, {})
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

    news = _new_values(command, fields)
    if not news:
        return writes.write(instance, fields, command, options, new_values)
    steps = _write_steps(
        instance, news, lambda: writes.write(instance, fields, command, options, new_values)
    )
    return _send(type(instance), steps)


def _write_steps(instance: Any, news: dict[str, str | None], run: Callable[[], Any]) -> Steps:
    pk = instance._pk
    olds: dict[str, str] = {}
    if pk is not None:
        current = yield _read(instance, news)
        olds = {name: value for name, value in zip(news, current, strict=True) if value}
    wanted = {name: value for name, value in news.items() if value and value != olds.get(name)}
    reserved = _Reserved(type(instance))
    yield from reserved.reserve_steps(wanted, pk)
    result = yield from reserved.written(run, (instance,))
    now = yield _read(instance, news)
    held = dict(zip(news, now, strict=True))
    released = {name: value for name, value in olds.items() if held.get(name) != value}
    yield from reserved.confirm(instance._pk, released)
    return result


def _read(instance: Any, names: Any) -> list[tuple[str, ...]]:
    """The commands reading the current values of the fields ``names`` of ``instance``
    (one round trip)."""
    meta = type(instance)._meta
    batch: list[tuple[str, ...]] = []
    for name in names:
        field = meta.get_field(name)
        if field.storage_type == "hfield":
            batch.append(("HGET", meta.keys.instance_hash(instance._pk), name))
        else:
            batch.append(("GET", meta.keys.field(name, instance._pk)))
    return batch


def delete(instance: Any) -> bool:
    """``writes.delete`` of an instance of a shard model with unique fields, then the
    release of its values."""
    from django_limpyd.model import writes

    model = type(instance)
    names = [field.name for field in unique_fields(model._meta)]
    if instance._pk is None or not names:
        return writes.delete(instance)
    return _send(model, _delete_steps(instance, names))


def _delete_steps(instance: Any, names: list[str]) -> Steps:
    from django_limpyd.model import writes

    model = type(instance)
    current = yield _read(instance, names)
    olds = {name: value for name, value in zip(names, current, strict=True) if value}
    deleted = yield Direct(lambda: writes.delete(instance), instance)
    crash_point("after_delete")
    yield [
        ("EVAL", _SWAP, 1, key, value, f"c:{instance._pk}", "")
        for name, value in olds.items()
        for key in _both(model, name, value)
    ]
    return deleted


# -- checks and repairs ------------------------------------------------------------------


def _entries(model: type) -> Iterator[tuple[Any, str, str, str, str]]:
    """Every reservation of the sharded ``model``: (shard holding it, its key, field
    name, value, state)."""
    connection = model._meta.database.connection
    for field in unique_fields(model._meta):
        for bucket in model._meta.stored_models:  # while resharded: the old buckets too
            key = bucket._meta.keys.reservations(field.name)
            for value, state in connection.hscan_iter(key):
                yield bucket, key, field.name, value, state


def _holds(model: type, pk: str, name: str, value: str) -> bool:
    """True if instance ``pk`` of the sharded ``model`` holds ``value`` in ``name``."""
    meta = model._meta
    shards = [meta.shard_model_of(pk)]
    if meta.previous_shard_models:  # being resharded: or where it was
        from django_limpyd.sharding.reshard import old_shard_of_pk

        shards.insert(0, meta.previous_shard_models[old_shard_of_pk(meta, pk)])
    pipe = meta.database.connection.pipeline(transaction=False)
    for shard in shards:
        pipe.sismember(_index_entry(shard, name, value), pk)
    return any(pipe.execute())


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
    for bucket, key, name, value, state in _entries(model):
        if state.startswith("p:"):
            old = bucket._meta.layout == "old"
            before = state
            state = settle_entry(model, key, name, value, state, old)
            fixed += state != before
        elif state.startswith("c:") and not _holds(model, state[2:], name, value):
            fixed += _eval(connection, _SWAP, 1, key, value, state, "")
    return fixed


def _pending_shard(model: type, state: str, in_old_bucket: bool) -> tuple[type | None, str]:
    """The shard model that wrote the pending reservation ``state`` (None when its layout
    is gone: a model resharded since), and its token."""
    _kind, shard_id, token = state.split(":", 2)
    meta = model._meta
    old = shard_id.startswith("o") or in_old_bucket  # "o<n>", or a plain number written
    number = int(shard_id.lstrip("o"))  # in an old bucket before the reshard started
    shards = meta.previous_shard_models if old else meta.shard_models
    return (shards[number] if number < len(shards) else None), token


def settle_entry(model: type, key: str, name: str, value: str, state: str, old: bool) -> str:
    """Resolve the pending reservation ``state`` of ``value`` in ``key`` (``old``: a
    bucket of the layout the model is resharded from): confirmed to the instance holding
    the value, else removed, its write fenced off first; the new state ("" if removed)."""
    connection = model._meta.database.connection
    shard, token = _pending_shard(model, state, old)
    if shard is not None:
        holder = _eval(
            connection,
            _SETTLE,
            2,
            _index_entry(shard, name, value),
            shard._meta.keys.fence(token),
            FENCE_SECONDS,
        )
    else:  # its layout is gone: no write of it can run any more; who holds the value?
        pipe = connection.pipeline(transaction=False)
        for candidate in model._meta.shard_models:
            pipe.srandmember(_index_entry(candidate, name, value))
        holder = next((pk for pk in pipe.execute() if pk), None)
    new = f"c:{holder}" if holder else ""
    if _eval(connection, _SWAP, 1, key, value, state, new):
        return new
    return connection.hget(key, value) or ""


def bulk_create(model: type, items: list[dict[str, Any]], raise_on_error: bool) -> list[Any]:
    """``Model.bulk_create`` of a sharded model with unique fields: every value reserved
    in one pipeline, then each shard's creates in one fenced transaction, then its
    reservations settled. An instance whose value is held (or given twice in ``items``)
    is left unsaved and its error raised at the end (with ``raise_on_error``)."""
    meta = model._meta
    if meta.previous_shard_models:  # being resharded: one create after the other
        _connection(model)
        return _one_by_one(model, items, raise_on_error)
    return _send(model, _bulk_create_steps(model, items, raise_on_error))


def _bulk_create_steps(model: type, items: list[dict[str, Any]], raise_on_error: bool) -> Steps:
    from django_limpyd.sharding.layout import creation_shard

    meta = model._meta
    names = [field.name for field in unique_fields(meta)]
    groups: dict[type, list[tuple[int, dict[str, Any]]]] = {}
    for position, item in enumerate(items):
        pk = item.get(meta.pk_field.name, item.get("pk"))
        normalized = meta.pk_field.normalize(pk) if pk is not None else None
        shard = meta.shard_models[creation_shard(meta, normalized)]
        groups.setdefault(shard, []).append((position, item))
    reserved = {shard: _Reserved(shard) for shard in groups}
    asked, batch = [], []
    for shard, group in groups.items():
        for position, item in group:
            for name in names:
                if item.get(name) is not None:
                    value = str(item[name])
                    key = _reservations(model, name, value)
                    batch.append(("EVAL", _RESERVE, 1, key, value, reserved[shard].pending, ""))
                    asked.append((shard, position, name, value, key))
    replies = yield batch
    refused: dict[int, Exception] = {}
    for (shard, position, name, value, key), reply in zip(asked, replies, strict=True):
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
                yield Fenced(reserved[shard], run, instances)
        except Exception as error:
            errors.append(error)
        # what each value's reservation becomes: its holder in the shard, or nothing
        yield from reserved[shard].settle()
    for position, item in enumerate(items):
        if instances[position] is None or instances[position]._pk is None:
            instances[position] = unsaved(model, item)  # refused: left unsaved
    if errors and raise_on_error:
        raise errors[0]
    return instances


def _one_by_one(model: type, items: list[dict[str, Any]], raise_on_error: bool) -> list[Any]:
    """``bulk_create`` of a model being resharded: each create on its own (each finds
    the layout it goes to); a refused one left unsaved, the first error raised at the end
    with ``raise_on_error``."""
    instances, errors = [], []
    for item in items:
        try:
            instances.append(model(**item))
        except (UniquenessError, ImplementationError) as error:
            errors.append(error)
            instances.append(unsaved(model, item))
    if errors and raise_on_error:
        raise errors[0]
    return instances


def unsaved(model: type, item: dict[str, Any]) -> Any:
    """An instance of ``model`` with the values ``item`` that a bulk create refused:
    left unsaved (``pk.get()`` is ``None``)."""
    instance = model.__new__(model, **item)
    instance._pk = None
    return instance


def held(model: type, values: dict[str, Any]) -> list[str]:
    """Which of ``{field name: value}`` are reserved already, as messages."""
    connection = model._meta.database.connection
    items = [(name, str(value)) for name, value in values.items() if value is not None]
    pipe = connection.pipeline(transaction=False)
    asked = [(name, value) for name, value in items for _key in _both(model, name, value)]
    for name, value in items:
        for key in _both(model, name, value):
            pipe.hget(key, value)
    return list(
        dict.fromkeys(
            f"{model.__name__}.{name} {value!r} is held ({state})"
            for (name, value), state in zip(asked, pipe.execute(), strict=True)
            if state is not None
        )
    )


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
