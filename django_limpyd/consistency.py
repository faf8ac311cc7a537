"""``consistency_check(model)``: every difference between a model's data and its indexes.

Reads the data of every instance, computes the entries each index should hold
(transforms included) and compares them with what Redis holds. Also reports
keys of instances that are not in the model's set of pks (orphans). Used by
tests after concurrent writes, and by the ``limpyd_index check`` command.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

__all__ = ["consistency_check"]


def _stored_values(field: Any, pk: str, connection: Any) -> list[str]:
    """The raw values the field's indexes see for instance ``pk``."""
    keys = field.model._meta.keys
    kind = field.storage_type
    if kind == "hfield":
        value = connection.hget(keys.instance_hash(pk), field.name)
        return [] if value is None else [value]
    key = keys.field(field.name, pk)
    if kind == "string":
        value = connection.get(key)
        return [] if value is None else [value]
    if kind == "set":
        return list(connection.smembers(key))
    if kind == "list":
        return list(dict.fromkeys(connection.lrange(key, 0, -1)))
    if kind == "zset":
        return connection.zrange(key, 0, -1)
    if kind == "hash":
        return [f"{len(k)}:{k}:{v}" for k, v in connection.hgetall(key).items()]
    return []


def _number(value: str) -> float:
    text = value.strip().lower()
    if text.lstrip("+-").startswith("0x"):
        return 0.0
    try:
        number = float(value)
    except ValueError:
        return 0.0
    return 0.0 if number != number or number in (float("inf"), float("-inf")) else number


def _expected(index: Any, pks: list[str], connection: Any) -> dict[str, Any]:
    """Expected entries: eq -> {value: {pks}}; text/num -> {member: score}."""
    field = index.field
    entries: dict[str, Any] = defaultdict(set) if index.kind == "eq" else {}
    for pk in pks:
        for raw in _stored_values(field, pk, connection):
            value = index.transform_value(raw)
            if value is None:
                continue
            if index.kind == "eq":
                entries[value].add(pk)
            elif index.kind == "text":
                entries[f"{value}\0{pk}"] = 0.0
            else:
                member = f"{value}\0{pk}" if field.multi else pk
                entries[member] = _number(value)
    return entries


def _actual(index: Any, connection: Any) -> dict[str, Any]:
    base = index.storage_base
    if index.kind != "eq":
        return dict(connection.zrange(base, 0, -1, withscores=True))
    keys = index.field.model._meta.keys
    entries = {}
    for key in connection.scan_iter(match=keys.pattern_after(base), count=1000):
        entries[key[len(base) :]] = set(connection.smembers(key))
    return entries


def consistency_check(model: type) -> list[str]:
    """Every mismatch between ``model``'s data and its index entries (empty: consistent)."""
    meta = model._meta
    connection = meta.database.connection
    pks = sorted(connection.smembers(meta.keys.pks))
    known = set(pks)
    problems: list[str] = []
    for field in meta.data_fields:
        for index in field.indexes:
            expected = _expected(index, pks, connection)
            actual = _actual(index, connection)
            where = f"{meta.name}.{field.name} {type(index).__name__}"
            for entry in sorted(set(expected) | set(actual)):
                want, have = expected.get(entry), actual.get(entry)
                if index.kind == "eq":
                    want, have = want or set(), have or set()
                    for pk in sorted(want - have):
                        problems.append(f"{where}: pk {pk} missing under {entry!r}")
                    for pk in sorted(have - want):
                        problems.append(f"{where}: pk {pk} wrongly under {entry!r}")
                elif want != have:
                    problems.append(f"{where}: entry {entry!r} is {have!r}, expected {want!r}")
    prefixes = [meta.keys.instance_hash_prefix] + [
        meta.keys.field_prefix(field.name)
        for field in meta.data_fields
        if field.storage_type != "hfield"
    ]
    for prefix in prefixes:
        for key in connection.scan_iter(match=meta.keys.pattern_after(prefix), count=1000):
            if key[len(prefix) :] not in known:
                problems.append(f"{meta.name}: orphan key {key!r} (its pk is not in the model)")
    return problems
