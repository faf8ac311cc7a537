"""Atomic writes of instances: create, write a field, delete, each one function call.

The model's compiled library (``Options.library``) checks existence and
uniqueness, computes the index changes and refuses a write *before* writing
anything. When an index has a Python ``transform``, the function answers
``NEED`` with the raw values it met (having written nothing); the transforms are
computed here and the call is sent again, a bounded number of times. This module
turns model-level requests into the plain arguments of
:mod:`django_limpyd.storage.protocol` and the functions' errors into the ORM's
exceptions; signals are sent here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from redis.exceptions import DataError, ResponseError

from django_limpyd import signals
from django_limpyd.exceptions import (
    DoesNotExist,
    ImplementationError,
    InvalidValue,
    Redirected,
    UniquenessError,
)
from django_limpyd.storage import functions, protocol
from django_limpyd.storage.functions import ScriptError
from django_limpyd.storage.protocol import TransformMap
from django_limpyd.storage.state import hash_entry_token

if TYPE_CHECKING:
    from django_limpyd.fields.base import RedisField
    from django_limpyd.model.base import RedisModel
    from django_limpyd.model.options import Options

__all__ = [
    "GENERAL",
    "FunctionCall",
    "create",
    "delete",
    "prefetch_transforms",
    "set_entry",
    "write",
    "write_fields",
]

#: how many times a call is sent again with more transforms before giving up
MAX_TRANSFORM_ROUNDS = 5


def _add_transforms(meta: Options, needed: dict[str, Iterable[str]], tmap: TransformMap) -> None:
    for index_id, raws in needed.items():
        index = meta.index(index_id)
        known = tmap.setdefault(index_id, {})
        for raw in raws:
            known[raw] = index.transform_value(raw)


def _precompute(meta: Options, fields: Iterable[RedisField], raws: Iterable[Any]) -> TransformMap:
    """Transforms of values known in advance (saves the NEED round trip for them)."""
    tmap: TransformMap = {}
    if not meta.has_transforms:
        return tmap
    raws = [raw for raw in raws if isinstance(raw, str)]
    if not raws:
        return tmap
    for field in fields:
        for index in field.indexes:
            if index.has_transform:
                _add_transforms(meta, {index.id: raws}, tmap)
    return tmap


def _send(signal: Any, instance: RedisModel, **kwargs: Any) -> None:
    model = type(instance)
    database = model._meta.database
    # the async API plans with this code and sends signals itself (Signal.asend)
    defer = getattr(database.active_pipeline(), "defer_signal", None)
    if defer is not None:
        defer(signal, dict(sender=model, instance=instance, using=database.alias, **kwargs))
        return
    signal.send(sender=model, instance=instance, using=database.alias, **kwargs)


#: what a shard of a model being resharded answers (see sharding/reshard.py)
_REDIRECTS = {
    "CLOSED": "this shard of the old layout takes no more creates",
    "MOVING": "the instance is being moved to the new layout",
    "NOTREADY": "this shard of the new layout waits for its AutoPK counter",
}


def _error(model: type[RedisModel], error: ScriptError) -> Exception:
    payload = error.payload if isinstance(error.payload, dict) else {}
    name = model.__name__
    if error.code == "MISSING":
        return model.DoesNotExist(
            f"{name} {payload.get('pk')!r} does not exist (deleted?); nothing was written."
        )
    if error.code == "UNIQUE" and payload.get("together"):
        # an index of several fields (EqualIndexWith) words its own conflicts
        index = model._meta.index(payload["index"])
        return UniquenessError(index.conflict_message(payload))
    if error.code == "UNIQUE":
        return UniquenessError(
            f"{name}.{payload.get('field')} value {payload.get('value')!r} already exists "
            f"(for instance {payload.get('pk')}); nothing was written."
        )
    if error.code == "EXISTS":
        return UniquenessError(f"{name} {payload.get('pk')!r} already exists.")
    if error.code == "NOTARGET":
        field = model._meta.get_field(payload.get("field"))
        target = getattr(field, "related_model", None)
        missing = target.DoesNotExist if target is not None else DoesNotExist
        name_of = target.__name__ if target is not None else "instance"
        return missing(
            f"{field.describe()} cannot point to {name_of} {payload.get('pk')!r}: it does "
            "not exist; nothing was written."
        )
    if error.code in _REDIRECTS:
        return Redirected(
            f"{model._meta.label}: {_REDIRECTS[error.code]} (limpyd_reshard); nothing was written.",
            error.code,
            payload,
        )
    if error.code == "INVALID":
        return InvalidValue(
            f"{name}.{payload.get('field')} value {payload.get('value')!r} cannot be indexed "
            "by a text range index (it contains a NUL character); nothing was written."
        )
    return ImplementationError(f"Unexpected script error {error.code}: {error.payload!r}")


class FunctionCall:
    """One call of a write operation of a model's library, with what to do with its reply.

    Run at once, or queued in the database's active pipeline (see
    :mod:`django_limpyd.pipelines`), which calls :meth:`finish` on the reply.
    ``args`` is called with the transform map to give the arguments.
    """

    __slots__ = ("args", "finish", "keys", "library", "model", "operation", "stored", "tmap")

    def __init__(
        self,
        model: type[RedisModel],
        operation: str,
        keys: list[str],
        args: Callable[[TransformMap], list[Any]],
        tmap: TransformMap,
        finish: Callable[[Any], Any],
    ) -> None:
        self.model = model
        #: the model's compiled library
        self.library = model._meta.library
        self.operation = operation
        self.keys = keys
        self.args = args
        self.tmap = tmap
        self.finish = finish
        #: (pk, fields) whose stored values the function may need transforms of
        self.stored: tuple[str, list[RedisField]] | None = None

    def command(self, client: Any) -> tuple[Any, ...]:
        """The FCALL (or EVALSHA) command of this call, for ``client``'s server."""
        return functions.loaded_command(
            client, self.library, self.operation, self.keys, self.args(self.tmap)
        )

    def transform_reads(self) -> list[tuple[Any, Any]]:
        """``(index, owner field)`` pairs whose transforms of STORED values the function
        may ask for (NEED): transaction pipelines read them ahead (see
        :func:`prefetch_transforms`)."""
        if self.stored is None or not self.model._meta.has_transforms:
            return []
        _pk, fields = self.stored
        meta = self.model._meta
        pairs = []
        for field in fields:
            indexes = list(field.indexes) + [
                index
                for other in meta.data_fields
                for index in other.indexes
                if field.name in index.deps
            ]
            pairs += [(index, index.field) for index in indexes if index.has_transform]
        return pairs

    def add_transforms(self, needed: dict[str, Iterable[str]]) -> None:
        """Compute the transforms the function asked for (NEED)."""
        meta = self.model._meta
        for index_id, raws in needed.items():
            known = self.tmap.get(index_id, {})
            if raws and all(raw in known for raw in raws):
                # asked again for what was sent: the function could not match it, which
                # happens when Redis computed a value that is not valid UTF-8
                raise InvalidValue(
                    f"{meta.index(index_id).field.describe()}: the value Redis computed "
                    "is not valid UTF-8 text, so its index entry cannot be made; nothing "
                    "was written."
                )
        _add_transforms(meta, needed, self.tmap)

    def error(self, error: ScriptError) -> Exception:
        """Our exception for a function's error."""
        return _error(self.model, error)

    def run(self, client: Any = None) -> Any:
        """Send now (asking again while transforms are missing); return the raw reply."""
        meta = self.model._meta
        owner = meta.database.connection
        client = client or owner
        for _round in range(MAX_TRANSFORM_ROUNDS):
            try:
                return functions.call(
                    client, self.library, self.operation, self.keys, self.args(self.tmap), owner
                )
            except ScriptError as error:
                if error.code != "NEED":
                    raise self.error(error) from None
                self.add_transforms(error.payload)
            except DataError as error:
                raise InvalidValue(f"{meta.name}: {error}") from None
        raise ImplementationError(
            f"{meta.name}: the values to index kept changing during {MAX_TRANSFORM_ROUNDS} "
            "tries (concurrent writers on a field with transformed indexes); nothing was written."
        )


def prefetch_transforms(calls: Iterable[FunctionCall]) -> list[FunctionCall]:
    """Read, in one round trip, the stored values whose transforms these calls' functions
    would ask for, and add the transforms to their calls.

    Used by transaction pipelines before EXEC: a second round (NEED) would run outside
    their MULTI/EXEC. A value changed between this read and EXEC still needs one.
    Returns the calls whose arguments changed.
    """
    from django_limpyd.storage.state import indexed_raw_values, queue_read

    wanted = [(call, call.transform_reads()) for call in calls]
    wanted = [(call, pairs) for call, pairs in wanted if pairs]
    if not wanted:
        return []
    pipe = wanted[0][0].model._meta.database.connection.pipeline(transaction=False)
    reads = []
    for call, pairs in wanted:
        pk = call.stored[0]
        for _index, owner in pairs:
            queue_read(pipe, owner, pk)
            reads.append(owner)
    results = iter(zip(reads, pipe.execute(), strict=True))
    for call, pairs in wanted:
        for index, _owner in pairs:
            owner, result = next(results)
            _add_transforms(
                call.model._meta, {index.id: indexed_raw_values(owner, result)}, call.tmap
            )
    return [call for call, _pairs in wanted]


def _execute(call: FunctionCall, creating: RedisModel | None = None) -> Any:
    """Run ``call`` now, or queue it in the active pipeline (which is returned).

    ``creating``: the instance this call creates; while queued its pk is unknown,
    so a second write to it in the same pipeline is refused.
    """
    pipeline = call.model._meta.database.active_pipeline()
    if pipeline is None:
        return call.finish(call.run())
    if creating is not None:
        if getattr(creating, "_queued_creation", False):
            raise ImplementationError(
                f"This {call.model.__name__} is created by a command queued in the pipeline: "
                "its pk is unknown until execute(), so it cannot be written again before."
            )
        creating._queued_creation = True
        finish = call.finish
        if type(finish) is not _Created:  # a create's finish clears the mark itself

            def finished(reply: Any) -> Any:
                creating._queued_creation = False
                return finish(reply)

            call.finish = finished
    return pipeline.add_function_call(call)


def follow_move(
    instance: RedisModel, error: Exception, retry: Callable[[], Any], creating: str | None = None
) -> Any:
    """``error`` (a refused write of ``instance``) again, unless the instance's model is
    being resharded: then the write is sent again where the instance is
    (:func:`django_limpyd.sharding.reshard.follow`)."""
    if type(instance)._meta.layout is None or not isinstance(error, (Redirected, DoesNotExist)):
        raise error
    from django_limpyd.sharding.reshard import follow

    return follow(instance, error, retry, creating)


def _listened(model: type, first: Any, second: Any) -> bool:
    if not (first.receivers or second.receivers):
        return False  # nobody listens to anything: no lookup by sender
    if model._meta.layout is not None:
        from django_limpyd.sharding.reshard import moving

        if moving():  # limpyd_reshard moving an instance: not a save nor a delete
            return False
    return first.has_listeners(model) or second.has_listeners(model)


def write(
    instance: RedisModel,
    fields: list[RedisField],
    command: tuple[Any, ...],
    options: dict[str, Any],
    new_values: Iterable[Any] = (),
) -> Any:
    """Run ``command`` (as built by redis-py, key included) on the fields of ``instance``.

    An unsaved instance of a model with an AutoPKField is created by this write.
    """
    model = type(instance)
    meta = model._meta
    pk = instance._pk
    if meta.shard is not None and meta.has_unique:  # a sharded model's unique values
        from django_limpyd.sharding import unique

        if not unique.active() and any(field.unique for field in fields):
            return unique.write(instance, fields, command, options, new_values)
    if instance.__dict__.get("_queued_creation"):
        raise ImplementationError(
            f"This {meta.name} is created by a command queued in the pipeline: its pk is "
            "unknown until execute(), so it cannot be written before."
        )
    if pk is None and not meta.pk_field.auto:
        raise ImplementationError(
            f"This {meta.name} has no pk yet: give {meta.pk_field.describe()} a value first."
        )
    names = (fields[0].name,) if len(fields) == 1 else tuple(field.name for field in fields)
    pre_save, post_save = signals.pre_save, signals.post_save
    listened = bool(pre_save.receivers or post_save.receivers) and _listened(
        model, pre_save, post_save
    )
    if listened:
        _send(pre_save, instance, created=pk is None, update_fields=names)
    transforms = meta.has_transforms
    tmap = _precompute(meta, fields, new_values) if transforms else {}
    written = meta.written_header(names)
    tail = command[2:]
    name = str(command[0]).upper()
    callback = functions.reply_callback(name)
    options.pop("keys", None)

    def finish(reply: Any) -> Any:
        result = reply
        if pk is None:
            instance._pk, result = reply
        if listened:
            _send(signals.post_save, instance, created=pk is None, update_fields=names)
        if callback is not None:
            result = callback(result, **options) if options else callback(result)
        return result

    keys = [meta.keys.pks, command[1] if pk else meta.keys.max_pk]
    if transforms:
        args: Callable[[TransformMap], list[Any]] = lambda tmap: [  # noqa: E731
            pk or "",
            *protocol.header(written, tmap),
            name,
            *tail,
        ]
    else:  # no transform: the arguments cannot change, built once
        args = _FixedArgs([pk or "", *protocol.header(written, tmap), name, *tail])
    call = FunctionCall(model, "write", keys, args, tmap, finish)
    if pk is not None and transforms:
        call.stored = (pk, list(fields))
    return _execute(call, creating=instance if pk is None else None)


#: what :func:`set_entry` answers when the write must take the general path
GENERAL = object()


def set_entry(field: RedisField, value: Any) -> Any:
    """``HSET`` of an InstanceHashField's entry to ``value`` (prepared), sent at once in
    the usual case: an existing instance (pk known), no active pipeline, no signal
    receiver, no transform, not a shard model, a plain ASCII value. The same result
    and errors as ``field._write("hset", value)`` (:func:`write`), without building
    the redis-py command, the call object and its reply handler: one call of the
    model's ``set`` (compiled straight, see :mod:`django_limpyd.storage.straight`), or
    of its ``write`` for a library without ``set``; :data:`GENERAL` in any other case
    (nothing sent)."""
    instance = field._instance
    if instance is None or type(value) is not str or not value.isascii():
        return GENERAL
    pk = instance._pk
    model = type(instance)
    meta = model._meta
    database = meta.database
    if (
        pk is None
        or meta.has_transforms
        or meta.shard is not None
        or signals.pre_save.receivers
        or signals.post_save.receivers
        or instance.__dict__.get("_queued_creation")
        or database.active_pipeline() is not None
    ):
        return GENERAL
    name = field.name
    library = meta.library
    keys = [meta.keys.pks, field.model._meta.keys.instance_hash(pk)]
    if "set" in library.calls:  # the model's set (storage/straight.py): 3 arguments
        operation, args = "set", [pk, meta.field_positions[name], value]
    else:
        operation, args = "write", [pk, meta.written_header((name,)), "HSET", name, value]
    try:
        try:
            reply = functions.call(database.connection, library, operation, keys, args)
        except ScriptError as error:
            raise _error(model, error) from None
        except DataError as error:
            raise InvalidValue(f"{meta.name}: {error}") from None
    except ResponseError as exc:  # a command Redis refused (nothing was written)
        message = str(exc).split(" script: ")[0]
        raise type(exc)(f"{field.describe()}.hset(): {message}") from None
    callback = functions.reply_callback("HSET")
    return reply if callback is None else callback(reply)


def write_fields(
    instance: RedisModel, fields: list[RedisField], name: str, *args: Any, **kwargs: Any
) -> Any:
    """Build the redis-py command ``name`` on the first field's target, then :func:`write`."""
    first = fields[0]
    key = first._target_for(instance._pk or "")[:1]
    command, options = first._capture(name, args, kwargs, key)
    values = list(args) + [v for v in kwargs.get("mapping", {}).values()]
    try:
        return write(instance, fields, command, options, values)
    except (Redirected, DoesNotExist) as error:
        return follow_move(
            instance,
            error,
            lambda: write_fields(
                instance, [instance._meta.get_field(f.name) for f in fields], name, *args, **kwargs
            ),
        )


def _flat_items(storage_type: str, value: Any) -> list[str]:
    """A prepared constructor value as the flat items ``create`` reads."""
    if storage_type in ("string", "hfield"):
        return [value]
    if storage_type in ("zset", "hash"):
        return [item for pair in value for item in pair]
    return list(value)


class _FixedArgs(list):
    """Arguments no transform can change (a call's ``args``, called with the transform
    map like the others, gives itself)."""

    __slots__ = ()

    def __call__(self, tmap: TransformMap) -> list[Any]:
        return self


class _Created:
    """What a create does with its reply (its call's ``finish``): the instance gets its
    pk (and is no longer queued), then cross-slot related values, ``post_save``."""

    __slots__ = ("crossing", "instance", "listened")

    def __init__(self, instance: RedisModel, crossing: dict[str, list[str]], listened: bool):
        self.instance = instance
        self.crossing = crossing
        self.listened = listened

    def __call__(self, reply: Any) -> str:
        instance = self.instance
        instance._queued_creation = False
        instance._pk = reply
        if self.crossing:  # related values in another slot of a Redis Cluster: step 3
            settle_cross_slot(instance, self.crossing)
        if self.listened:
            _send(signals.post_save, instance, created=True, update_fields=None)
        return reply


def _create_args(
    meta: Options, pk: str, values: dict[str, Any], expiry: list[str], tmap: TransformMap
) -> Callable[[TransformMap], list[Any]]:
    """The arguments of a create of any fields, as a function of the transform map (the
    transforms of the given values added to ``tmap``)."""
    positions = meta.field_positions
    given: list[str] = []
    items: list[str] = []
    for name, value in values.items():
        field = meta.fields[name]
        kind = field.storage_type
        if kind in ("string", "hfield"):
            given.append(positions[name])
            items.append(value)
        else:
            flat = _flat_items(kind, value)
            given.append(positions[name] + "*")
            items.append(str(len(flat)))
            items += flat
        if meta.has_transforms and any(index.has_transform for index in field.indexes):
            if kind in ("string", "hfield"):
                raws = [value]
            elif kind == "hash":
                raws = [hash_entry_token(k, v) for k, v in value]
            elif kind == "zset":
                raws = [item[0] for item in value]
            else:
                raws = list(value)
            for index in field.indexes:
                if index.has_transform:
                    _add_transforms(meta, {index.id: raws}, tmap)
    header = ",".join(given)
    return lambda tmap: protocol.create_args(pk, tmap, header, items, expiry)


def create(instance: RedisModel, pk: str, values: dict[str, Any], ttl: Any = "") -> str:
    """Create ``instance`` with prepared ``values``; return its pk. ``ttl`` (a model
    with expiry): its time to live in seconds (or a timedelta), ``None`` for none,
    anything else (or not given) for the model's default."""
    model = type(instance)
    meta = model._meta
    expiry: list[str] = []
    if meta.expirable:
        from django_limpyd.model.expiry import milliseconds

        if ttl is None:
            expiry = ["0"]
        elif isinstance(ttl, (int, float)) or hasattr(ttl, "total_seconds"):
            expiry = [str(milliseconds(ttl, f"{meta.name}(ttl=...)"))]
        else:
            expiry = [""]
    pre_save, post_save = signals.pre_save, signals.post_save
    listened = bool(pre_save.receivers or post_save.receivers) and _listened(
        model, pre_save, post_save
    )
    if listened:
        _send(pre_save, instance, created=True, update_fields=None)
    tmap: TransformMap = {}
    args: Callable[[TransformMap], list[Any]] | None = None
    if not meta.has_transforms:
        # the usual create: single values only, no transform; its arguments built once
        fields = meta.fields
        items: list[str] = []
        for name, value in values.items():
            kind = fields[name].storage_type
            if kind != "hfield" and kind != "string":
                break
            items.append(value)
        else:
            header = meta.written_header(tuple(values))
            args = _FixedArgs(protocol.create_args(pk, tmap, header, items, expiry))
    if args is None:
        args = _create_args(meta, pk, values, expiry, tmap)
    crossing = cross_slot_targets(meta, values) if meta.has_related else {}
    keys = [meta.keys.pks, meta.keys.max_pk]
    call = FunctionCall(model, "create", keys, args, tmap, _Created(instance, crossing, listened))
    return _execute(call, creating=instance)


def settle_cross_slot(instance: RedisModel, crossing: dict[str, list[str]]) -> None:
    """Step 3 of ``contrib/related/crossslot.py`` for the fields of ``crossing``."""
    from django_limpyd.contrib.related.crossslot import settle

    for name, pks in crossing.items():
        settle(instance, name, pks)


def cross_slot_targets(meta: Any, values: dict[str, Any]) -> dict[str, list[str]]:
    """The related values of a create whose targets are in another slot of a Redis
    Cluster, checked now (step 1 of ``contrib/related/crossslot.py``)."""
    if not meta.has_related:
        return {}
    crossing = {}
    for name, value in values.items():
        targets = getattr(meta.fields[name], "cross_slot_targets", None)
        pks = targets(value) if targets is not None else None
        if pks:
            from django_limpyd.contrib.related.crossslot import precheck

            precheck(meta.fields[name], pks)
            crossing[name] = pks
    return crossing


def delete(instance: RedisModel) -> bool:
    """Delete ``instance`` with all its keys and index entries; False if it was gone."""
    model = type(instance)
    meta = model._meta
    pk = instance._pk
    if pk is None:
        return False
    if meta.shard is not None and meta.has_unique:  # a sharded model's unique values
        from django_limpyd.sharding import unique

        if not unique.active():
            return unique.delete(instance)
    listened = _listened(model, signals.pre_delete, signals.post_delete)
    if listened:
        _send(signals.pre_delete, instance)

    def finish(reply: Any) -> bool:
        deleted = bool(reply)
        if deleted and meta.referrers:  # pointers in other slots of a Redis Cluster
            for field in meta.referrers:
                field.after_target_deleted(pk)
        if listened and deleted:
            _send(signals.post_delete, instance)
        return deleted

    call = FunctionCall(
        model, "delete", [meta.keys.pks], lambda tmap: protocol.delete_args(pk, tmap), {}, finish
    )
    if meta.has_transforms:
        call.stored = (pk, meta.data_fields)
    return _execute(call)
