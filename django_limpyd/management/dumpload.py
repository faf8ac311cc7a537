"""Instances as JSON-ready dicts and back, for ``limpyd_dump``, ``limpyd_load`` and
the ``limpyd_fixtures`` of :class:`~django_limpyd.test.TestCase`.

The shape is that of Django's ``dumpdata``: a list of
``{"model": "app_label.modelname", "pk": "1", "fields": {...}}``. Field values:
a string (``StringField``, ``InstanceHashField``), a list (``ListField``), a
sorted list (``SetField``), ``[[member, score], ...]`` (``SortedSetField``), a
dict (``HashField``); absent fields are omitted.

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
    "LoadError",
    "check_objects",
    "dump_model",
    "load_objects",
    "parse_object",
    "parse_objects",
    "raise_counters",
    "write_objects",
]


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


def dump_model(model: type, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
    """The instances of ``model`` as dicts, a chunk (one round trip) at a time."""
    meta = model._meta
    label = meta.label_lower
    hfields = [f.name for f in meta.data_fields if f.storage_type == "hfield"]
    others = [f for f in meta.data_fields if f.storage_type != "hfield"]
    connection = meta.database.connection
    for pks in iter_pk_chunks(model, chunk_size):
        pipe = connection.pipeline(transaction=False)
        for pk in pks:
            if hfields:
                pipe.hmget(meta.keys.instance_hash(pk), hfields)
            for field in others:
                _queue_read(pipe, field, pk)
        results = iter(pipe.execute())
        objects = []
        for pk in pks:
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
            objects.append({"model": label, "pk": pk, "fields": values})
        yield objects


def parse_objects(data: Any) -> list[tuple[type, str, dict[str, Any]]]:
    """``(model, pk, prepared values)`` of each object of loaded JSON ``data``, every
    one checked (model, pk, field names and values) before anything is written."""
    if not isinstance(data, list):
        raise LoadError(
            f"expected a list of objects (as written by limpyd_dump), got {type(data).__name__}"
        )
    return [parse_object(position, item) for position, item in enumerate(data)]


def parse_object(position: int, item: Any) -> tuple[type, str, dict[str, Any]]:
    """``(model, pk, prepared values)`` of the object at ``position`` of a file, checked
    (model, pk, field names and values); ``LoadError`` naming it otherwise."""
    where = f"object #{position}"
    if not isinstance(item, dict) or not {"model", "pk"} <= set(item):
        raise LoadError(f"{where}: expected {{'model': ..., 'pk': ..., 'fields': {{...}}}}")
    try:
        model = registry.get_model(item["model"])
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
    return model, pk, values


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
    objects: Iterable[tuple[type, str, dict[str, Any]]],
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
            scores = meta.database.connection.zmscore(meta.keys.pks, pks)
            for pk, score in zip(pks, scores, strict=True):
                if score is not None:
                    raise LoadError(f"{meta.label} {pk!r} already exists; nothing was loaded")

    for model, pk, _values in objects:
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


def raise_counters(tops: dict[type, int]) -> None:
    """Raise the AutoPK counter of each model to its greatest loaded pk, so that later
    creates never take a loaded pk."""
    for model, top in tops.items():
        if not (model._meta.pk_field.auto and top):
            continue
        connection = model._meta.database.connection
        current = connection.get(model._meta.keys.max_pk)
        if current is None or int(current) < top:
            connection.set(model._meta.keys.max_pk, top)


def write_objects(
    objects: Iterable[tuple[type, str, dict[str, Any]]], chunk_size: int, progress: Any = None
) -> dict[type, int]:
    """Create ``objects`` (checked by :func:`check_objects`) in their order, each with
    the model's ``create`` function, one pipeline per chunk (and per database);
    ``progress(model, created)`` after each chunk. Returns the instances created per
    model."""
    created: dict[type, int] = {}
    for chunk in _batches(objects, chunk_size):
        start = 0
        while start < len(chunk):
            database = chunk[start][0]._meta.database
            stop = start
            while stop < len(chunk) and chunk[stop][0]._meta.database is database:
                stop += 1
            part = chunk[start:stop]
            with database.pipeline(transaction=False) as pipeline:
                for model, pk, values in part:
                    writes.create(model(), pk, values)
                results = pipeline.execute(raise_on_error=False)
            for (model, pk, _values), result in zip(part, results, strict=True):
                if isinstance(result, Exception):
                    raise LoadError(f"{model._meta.label} {pk!r}: {result}")
                created[model] = created.get(model, 0) + 1
            start = stop
        if progress is not None:
            for model in dict.fromkeys(model for model, _pk, _values in chunk):
                progress(model, created[model])
    return created


def load_objects(
    parsed: list[tuple[type, str, dict[str, Any]]], chunk_size: int, progress: Any = None
) -> dict[type, int]:
    """Create the parsed instances with their pks; instances created per model.

    Refuses (``LoadError``, before any write) a pk that exists or is given twice.
    The AutoPK counter of a model is raised to its greatest loaded pk first, so
    later creates never take a loaded pk.
    """
    raise_counters(check_objects(parsed, chunk_size))
    return write_objects(parsed, chunk_size, progress)
