"""Instances as JSON-ready dicts and back, for ``limpyd_dump``, ``limpyd_load`` and
the ``limpyd_fixtures`` of :class:`~django_limpyd.test.TestCase`.

The shape is that of Django's ``dumpdata``: a list of
``{"model": "app_label.modelname", "pk": "1", "fields": {...}}``. Field values:
a string (``StringField``, ``InstanceHashField``), a list (``ListField``), a
sorted list (``SetField``), ``[[member, score], ...]`` (``SortedSetField``), a
dict (``HashField``); absent fields are omitted.

Reads go one pipeline per chunk of pks (ZSCAN of the model's pks); loads create
each instance through the model's ``create`` script (index entries and
uniqueness checks written by the write itself), one pipeline per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django_limpyd import registry
from django_limpyd.model import writes
from django_limpyd.storage.state import iter_pk_chunks, queue_key_read

__all__ = ["LoadError", "dump_model", "load_objects", "parse_objects"]


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
    parsed = []
    for position, item in enumerate(data):
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
        parsed.append((model, pk, values))
    return parsed


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _by_model(parsed: Iterable[tuple[type, str, dict[str, Any]]]) -> dict[type, list[Any]]:
    grouped: dict[type, list[Any]] = {}
    for model, pk, values in parsed:
        grouped.setdefault(model, []).append((pk, values))
    return grouped


def load_objects(
    parsed: list[tuple[type, str, dict[str, Any]]], chunk_size: int, progress: Any = None
) -> dict[type, int]:
    """Create the parsed instances with their pks; instances created per model.

    Refuses (``LoadError``, before any write) a pk that exists or is given twice.
    The AutoPK counter of a model is raised to its greatest loaded pk first, so
    later creates never take a loaded pk.
    """
    grouped = _by_model(parsed)
    for model, items in grouped.items():  # every refusal before the first write
        meta = model._meta
        seen: set[str] = set()
        for pk, _values in items:
            if pk in seen:
                raise LoadError(f"{meta.label} {pk!r} is given twice")
            seen.add(pk)
        connection = meta.database.connection
        for chunk in _chunks([pk for pk, _values in items], chunk_size):
            for pk, score in zip(chunk, connection.zmscore(meta.keys.pks, chunk), strict=True):
                if score is not None:
                    raise LoadError(f"{meta.label} {pk!r} already exists; nothing was loaded")
    created: dict[type, int] = {}
    for model, items in grouped.items():
        meta = model._meta
        database = meta.database
        if meta.pk_field.auto and items:
            top = max(int(pk) for pk, _values in items)
            current = database.connection.get(meta.keys.max_pk)
            if current is None or int(current) < top:
                database.connection.set(meta.keys.max_pk, top)
        created[model] = 0
        for chunk in _chunks(items, chunk_size):
            with database.pipeline(transaction=False) as pipeline:
                for pk, values in chunk:
                    writes.create(model(), pk, values)
                results = pipeline.execute(raise_on_error=False)
            for (pk, _values), result in zip(chunk, results, strict=True):
                if isinstance(result, Exception):
                    raise LoadError(f"{meta.label} {pk!r}: {result}")
            created[model] += len(chunk)
            if progress is not None:
                progress(model, created[model])
    return created
