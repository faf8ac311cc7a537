"""Instances as JSON-ready dicts and back, for ``limpyd_dump``, ``limpyd_load`` and
the ``limpyd_fixtures`` of :class:`~django_limpyd.test.TestCase`.

The shape is that of Django's ``dumpdata``: a list of
``{"model": "app_label.modelname", "pk": "1", "fields": {...}}``. Field values:
a string (``StringField``, ``InstanceHashField``), a list (``ListField``), a
sorted list (``SetField``), ``[[member, score], ...]`` (``SortedSetField``), a
dict (``HashField``); absent fields are omitted.

An object of a model with expiry (docs/orm/expiry.rst) also has ``"expires_at"``:
its deadline as a unix time in milliseconds (the server's clock), or ``null``
without one. An instance whose deadline passed is not dumped; at load, an object
whose ``expires_at`` passed is skipped, the others get that deadline back (to
within the load's round trip); an object without ``"expires_at"`` (a file written
by hand, or before) gets the model's default time to live.

Reads go one pipeline per chunk of pks (ZSCAN of the model's pks); loads check
every object first (:func:`check_objects`, which reads objects one at a time, so a
file can be streamed through it and read again to write), then create each
instance through the model's ``create`` script (index entries and uniqueness checks
written by the write itself), one pipeline per chunk (:func:`write_objects`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django_limpyd import registry
from django_limpyd.model import writes
from django_limpyd.storage.state import iter_pk_chunks, queue_key_read

__all__ = [
    "DEFAULT_DEADLINE",
    "LoadError",
    "Parsed",
    "check_objects",
    "dump_model",
    "load_objects",
    "parse_object",
    "parse_objects",
    "raise_counters",
    "write_objects",
]


#: the ``expires_at`` of a parsed object that does not give one: the model's default
DEFAULT_DEADLINE = ""

#: a parsed object: model, pk, prepared values, deadline (unix time in ms, ``None`` for
#: none, :data:`DEFAULT_DEADLINE` for the model's default)
Parsed = tuple[type, str, dict[str, Any], Any]


class LoadError(ValueError):
    """Data that cannot be loaded; the message names the object, model and pk."""


def _queue_read(pipe: Any, field: Any, pk: str) -> None:
    key = field.model._meta.keys.field(field.name, pk)
    queue_key_read(pipe, field.storage_type, key, scores=True)


def _as_json(kind: str, value: Any) -> Any:
    if kind == "set":
        return sorted(value)
    if kind == "zset":
        return [[member, score] for member, score in value]
    return value


def dump_model(
    model: type, chunk_size: int, label: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The instances of ``model`` as dicts, a chunk (one round trip) at a time; for a
    model with expiry, with their ``expires_at``, those whose deadline passed left out.
    A sharded model's instances come shard after shard (their label is the model's)."""
    meta = model._meta
    if meta.shard_models:
        for shard in meta.stored_models:
            yield from dump_model(shard, chunk_size, meta.label_lower)
        return
    for pks in iter_pk_chunks(model, chunk_size):
        yield read_instances(model, pks, label or meta.label_lower)


def read_instances(model: type, pks: list[str], label: str) -> list[dict[str, Any]]:
    """Instances ``pks`` of ``model`` as :func:`dump_model` gives them (one round trip);
    those missing or whose deadline passed left out."""
    meta = model._meta
    hfields = [f.name for f in meta.data_fields if f.storage_type == "hfield"]
    others = [f for f in meta.data_fields if f.storage_type != "hfield"]
    pipe = meta.database.connection.pipeline(transaction=False)
    if meta.expirable:
        pipe.time()
        pipe.zmscore(meta.keys.expiry, pks)
    pipe.zmscore(meta.keys.pks, pks)
    for pk in pks:
        if hfields:
            pipe.hmget(meta.keys.instance_hash(pk), hfields)
        for field in others:
            _queue_read(pipe, field, pk)
    results = iter(pipe.execute())
    deadlines: list[Any] = []
    if meta.expirable:
        seconds, microseconds = next(results)
        now = seconds * 1000 + microseconds // 1000
        deadlines = [None if at is None else int(at) for at in next(results)]
    present = next(results)
    objects = []
    for position, pk in enumerate(pks):
        values: dict[str, Any] = {}
        if hfields:
            for name, value in zip(hfields, next(results), strict=True):
                if value is not None:
                    values[name] = value
        for field in others:
            value = next(results)
            if value:  # an empty multi-value field has no key: absent
                values[field.name] = _as_json(field.storage_type, value)
            elif value == "" and field.storage_type == "string":
                values[field.name] = value
        if present[position] is None:
            continue  # deleted since its pk was read
        item = {"model": label, "pk": pk, "fields": values}
        if meta.expirable:
            deadline = deadlines[position]
            if deadline is not None and deadline <= now:
                continue  # expired: gone for every read, not dumped
            item["expires_at"] = deadline
        objects.append(item)
    return objects


def parse_objects(data: Any) -> list[Parsed]:
    """``(model, pk, prepared values, deadline)`` of each object of loaded JSON ``data``, every
    one checked (model, pk, field names and values) before anything is written."""
    if not isinstance(data, list):
        raise LoadError(
            f"expected a list of objects (as written by limpyd_dump), got {type(data).__name__}"
        )
    return [parse_object(position, item) for position, item in enumerate(data)]


def parse_object(position: int, item: Any, model: type | None = None) -> Parsed:
    """``(model, pk, prepared values, deadline)`` of the object at ``position`` of a
    file, checked (model, pk, field names and values, ``expires_at``); ``LoadError``
    naming it otherwise. ``model``: the model of the object, known (not looked up)."""
    where = f"object #{position}"
    if not isinstance(item, dict) or not {"model", "pk"} <= set(item):
        raise LoadError(f"{where}: expected {{'model': ..., 'pk': ..., 'fields': {{...}}}}")
    try:
        model = model or registry.get_model(item["model"])
    except LookupError as exc:
        raise LoadError(f"{where}: {exc}") from None
    meta = model._meta
    try:
        pk = meta.pk_field.normalize(item["pk"])
    except Exception as exc:
        raise LoadError(f"{where} ({meta.label}): bad pk {item['pk']!r}: {exc}") from None
    if meta.pk_field.auto and not (pk.isdigit() and int(pk) > 0):
        raise LoadError(f"{meta.label} {pk!r}: an AutoPKField pk must be a positive integer")
    fields = item.get("fields", {})
    if not isinstance(fields, dict):
        raise LoadError(f"{meta.label} {pk!r}: 'fields' must be an object")
    values = {}
    for name, value in fields.items():
        if name == "pk" or not meta.has_field(name) or meta.get_field(name) is meta.pk_field:
            raise LoadError(f"{meta.label} {pk!r}: unknown field {name!r}")
        field = meta.get_field(name)
        if field.storage_type == "zset" and isinstance(value, list):
            value = {pair[0]: pair[1] for pair in value if isinstance(pair, list | tuple)}
        try:
            values[field.name] = field.prepare_value(value)
        except Exception as exc:
            raise LoadError(f"{meta.label} {pk!r}: field {name!r}: {exc}") from None
    return model, pk, values, _deadline(meta, pk, item)


def _deadline(meta: Any, pk: str, item: dict[str, Any]) -> Any:
    if "expires_at" not in item:
        return DEFAULT_DEADLINE
    deadline = item["expires_at"]
    if not meta.expirable:
        raise LoadError(f"{meta.label} {pk!r}: 'expires_at' given, but the model has no expiry")
    if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, int)):
        raise LoadError(
            f"{meta.label} {pk!r}: 'expires_at' must be a unix time in ms or null, got {deadline!r}"
        )
    return deadline


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_objects(
    objects: Iterable[Parsed],
    chunk_size: int,
    check_model: Any = None,
) -> dict[type, int]:
    """Go through ``objects`` (parsed, possibly streamed) without writing: refuse
    (``LoadError``) a pk given twice or that exists (asked ``chunk_size`` pks at a time,
    ``ZMSCORE``), call ``check_model(model)`` for each model when first met. Returns
    the greatest pk of each AutoPK model (0 for other models). Keeps the pks seen (to
    find one given twice), not the objects."""
    seen: dict[type, set[str]] = {}
    pending: dict[type, list[str]] = {}
    tops: dict[type, int] = {}

    def ask(model: type) -> None:
        meta, pks = model._meta, pending.pop(model, [])
        if pks:
            # an expired instance is replaced by the load; a sharded model asks its shards
            found = model._pks_exist(pks)
            for pk, exists in zip(pks, found, strict=True):
                if exists:
                    raise LoadError(f"{meta.label} {pk!r} already exists; nothing was loaded")

    uniques: dict[tuple[type, str], set[str]] = {}
    for model, pk, values, _deadline in objects:
        if model._meta.shard_models and model._meta.has_unique:
            _check_reservations(model, pk, values, uniques)
        if model not in seen:
            if check_model is not None:
                check_model(model)
            seen[model], tops[model] = set(), 0
        if pk in seen[model]:
            raise LoadError(f"{model._meta.label} {pk!r} is given twice")
        seen[model].add(pk)
        if model._meta.pk_field.auto:
            tops[model] = max(tops[model], int(pk))
        pending.setdefault(model, []).append(pk)
        if len(pending[model]) >= chunk_size:
            ask(model)
    for model in list(pending):
        ask(model)
    return tops


def _check_reservations(
    model: type, pk: str, values: dict[str, Any], uniques: dict[tuple[type, str], set[str]]
) -> None:
    """Refuse a unique value of a sharded model given twice or held already."""
    from django_limpyd.sharding import unique

    wanted = {}
    for field in unique.unique_fields(model._meta):
        value = values.get(field.name)
        if value is None:
            continue
        given = uniques.setdefault((model, field.name), set())
        if str(value) in given:
            raise LoadError(
                f"{model._meta.label} {pk!r}: {field.name} {value!r} is given twice; "
                "nothing was loaded"
            )
        given.add(str(value))
        wanted[field.name] = value
    problems = unique.held(model, wanted)
    if problems:
        raise LoadError(f"{model._meta.label} {pk!r}: {problems[0]}; nothing was loaded")


def reserve_loaded(part: list[tuple[type, str, dict[str, Any]]]) -> None:
    """The unique values of loaded instances of sharded models, reserved for them (see
    :mod:`django_limpyd.sharding.unique`; the load checked that none was held)."""
    from django_limpyd.sharding import unique

    for model, pk, values in part:
        if model._meta.shard_models and model._meta.has_unique:
            unique.reserve_loaded(model, pk, values)


def raise_counters(tops: dict[type, int]) -> None:
    """Raise the AutoPK counter of each model to its greatest loaded pk, so that later
    creates never take a loaded pk."""
    from django_limpyd.pk_counter import raise_counter

    for model, top in tops.items():
        if model._meta.shard_models:  # each shard's counter, from its own pks
            for shard in model._meta.shard_models:
                raise_counter(shard)
            continue
        if not (model._meta.pk_field.auto and top):
            continue
        connection = model._meta.database.connection
        current = connection.get(model._meta.keys.max_pk)
        if current is None or int(current) < top:
            connection.set(model._meta.keys.max_pk, top)


def write_objects(
    objects: Iterable[Parsed], chunk_size: int, progress: Any = None
) -> dict[type, int]:
    """Create ``objects`` (checked by :func:`check_objects`) in their order, each with
    the model's ``create`` function, one pipeline per chunk (and per database);
    ``progress(model, created)`` after each chunk. An object whose deadline passed is
    skipped. Returns the instances created per model."""
    created: dict[type, int] = {}
    for chunk in _batches(objects, chunk_size):
        start = 0
        while start < len(chunk):
            database = chunk[start][0]._meta.database
            stop = start
            while stop < len(chunk) and chunk[stop][0]._meta.database is database:
                stop += 1
            part = _times_to_live(database, chunk[start:stop])
            with database.pipeline(transaction=False) as pipeline:
                for model, pk, values, ttl in part:
                    stored = model._meta.shard_model_of(pk) if model._meta.shard_models else model
                    writes.create(stored(), pk, values, ttl)
                results = pipeline.execute(raise_on_error=False) if part else []
            reserve_loaded([(m, pk, values) for m, pk, values, _ttl in part])
            for (model, pk, _values, _ttl), result in zip(part, results, strict=True):
                if isinstance(result, Exception):
                    raise LoadError(f"{model._meta.label} {pk!r}: {result}")
                created[model] = created.get(model, 0) + 1
            start = stop
        if progress is not None:
            for model in dict.fromkeys(model for model, _pk, _values, _deadline in chunk):
                progress(model, created.get(model, 0))
    return created


def _times_to_live(database: Any, part: list[Parsed]) -> list[Parsed]:
    """``part`` with each deadline as what ``writes.create`` takes: the seconds left by
    the server's clock (read once), ``None`` (none) or "" (the model's default); the
    objects whose deadline passed left out."""
    if not any(type(deadline) is int for *_rest, deadline in part):
        return part
    seconds, microseconds = database.connection.time()
    now = seconds * 1000 + microseconds // 1000
    kept = []
    for model, pk, values, deadline in part:
        if type(deadline) is int:
            if deadline <= now:
                continue
            deadline = (deadline - now) / 1000
        kept.append((model, pk, values, deadline))
    return kept


def load_objects(parsed: list[Parsed], chunk_size: int, progress: Any = None) -> dict[type, int]:
    """Create the parsed instances with their pks; instances created per model.

    Refuses (``LoadError``, before any write) a pk that exists or is given twice.
    The AutoPK counter of a model is raised to its greatest loaded pk first, so
    later creates never take a loaded pk.
    """
    raise_counters(check_objects(parsed, chunk_size))
    return write_objects(parsed, chunk_size, progress)
