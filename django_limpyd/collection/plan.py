"""How a :class:`Query` runs: one call of the collection script.

``build_plan`` turns a query into the script's plan (or ``None`` when a filter
can match nothing, so no round trip is needed); ``run_plan`` sends it.
"""

from __future__ import annotations

import json
from typing import Any

from redis.exceptions import ResponseError

from django_limpyd.client_cluster import is_cluster
from django_limpyd.collection.conditions import EVERY
from django_limpyd.collection.query import Query, Sort
from django_limpyd.exceptions import ImplementationError, ImplementationValueError
from django_limpyd.storage import functions
from django_limpyd.storage.functions import ScriptError

__all__ = ["build_plan", "explain_plan", "run_plan", "sort_pattern", "store_plan"]


def dumps(value: Any) -> str:
    """Compact JSON for the collection function (non-ASCII kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sort_pattern(model: type, by: str | None) -> str | None:
    """The SORT BY pattern for sorting ``model`` by field ``by`` (``None``: by pk)."""
    meta = model._meta
    if by is None or by == "pk" or (meta.has_field(by) and meta.get_field(by) is meta.pk_field):
        return None
    if not meta.has_field(by):
        raise ImplementationError(
            f"Cannot sort {meta.name} by {by!r}: {meta.name} has no field {by!r}."
        )
    field = meta.get_field(by)
    if field.storage_type not in ("string", "hfield"):
        raise ImplementationError(
            f"Cannot sort {meta.name} by {by!r}: {field.describe()} holds several values."
        )
    return meta.keys.sort_pattern(field.name, field.storage_type == "hfield")


def sort_value(model: type, by: str) -> list[str]:
    """Where the collection function reads the value of field ``by`` of a pk: ``[key
    prefix]`` (a string field: the prefix and the pk make its key) or ``[prefix of the
    instance hashes, entry]``."""
    meta = model._meta
    field = meta.get_field(by)
    if field.storage_type == "hfield":
        return [meta.keys.instance_hash_prefix, field.name]
    return [meta.keys.field_prefix(field.name)]


def sort_key(model: type, sort: Sort) -> dict[str, Any]:
    """One of several sorts, as the collection function takes it: ``{name, alpha, desc,
    get}`` (no ``get``: by pk)."""
    key: dict[str, Any] = {"name": sort.by or "pk", "alpha": sort.alpha, "desc": sort.desc}
    if sort_pattern(model, sort.by) is not None:
        key["get"] = sort_value(model, sort.by)
    return key


def walked_index(model: type, by: str, alpha: bool) -> dict[str, str] | None:
    """The range index of field ``by`` whose order is the sort's (a ``TextRangeIndex``
    for ``alpha=True``, a ``NumberRangeIndex`` otherwise; a single-value field, an index
    without transform), as ``{"key", "kind"}`` for the collection function to read in
    order; ``None`` if there is none."""
    field = model._meta.get_field(by)
    if field.multi:
        return None
    wanted = "text" if alpha else "num"
    for index in field.indexes:
        if index.kind == wanted and not index.has_transform:
            return {"key": index.storage_base, "kind": wanted}
    return None


def _bound(text: str) -> tuple[float, bool]:
    """A ZRANGEBYSCORE bound as (number, exclusive)."""
    exclusive = text.startswith("(")
    return float(text[1:] if exclusive else text), exclusive


def _merge_number_ranges(operations: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Several score ranges on one single-value field's sorted set (``age__gte=10,
    age__lt=20``) as one range: one read instead of several (``None``: they cannot
    overlap). Not for multi-value fields: there each range may match another member."""
    merged: dict[tuple[str, bool], dict[str, Any]] = {}
    result: list[dict[str, Any]] = []
    for operation in operations:
        if operation.get("op") != "num" or operation["multi"]:
            result.append(operation)
            continue
        key = (operation["key"], operation["multi"])
        current = merged.get(key)
        if current is None:
            merged[key] = dict(operation)
            result.append(merged[key])
            continue
        low = max(_bound(current["min"]), _bound(operation["min"]))
        high = min(_bound(current["max"]), _bound(operation["max"]), key=lambda b: (b[0], not b[1]))
        if low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1])):
            return None
        current["min"] = ("(" if low[1] else "") + repr(low[0])
        current["max"] = ("(" if high[1] else "") + repr(high[0])
    return result


#: the largest slice bound sent to the collection function
_MAX_BOUND = 2**53 - 1


def build_plan(model: type, query: Query, *, count: bool, check: bool) -> dict[str, Any] | None:
    """The collection script's plan for ``query`` (``None``: nothing can match)."""
    operations = []
    for lookup in query.lookups:
        operation = lookup.planned()
        if operation is None:
            return None
        if operation == EVERY:
            continue  # e.g. excluding what matches nothing
        operations.append(operation)
    operations = _merge_number_ranges(operations)
    if operations is None:
        return None
    plan: dict[str, Any] = {
        "filters": operations,
        "count": count,
        "check": check,
        **({"auto": True} if model._meta.pk_field.auto else {}),
        **({"expiring": True} if model._meta.expirable else {}),
        **({"cluster": True} if is_cluster(model._meta.database.connection) else {}),
    }
    if query.sort is not None and query.sort.then:
        plan["sort"] = {"keys": [sort_key(model, sort) for sort in query.sort.keys]}
        if sort_pattern(model, query.sort.by) is not None:
            walk = walked_index(model, query.sort.by, query.sort.alpha)
            if walk is not None:  # the first value's range index, read in order
                plan["sort"]["walk"] = walk
    elif query.sort is not None:
        plan["sort"] = {"alpha": query.sort.alpha, "desc": query.sort.desc}
        pattern = sort_pattern(model, query.sort.by)
        if pattern is not None:  # JSON null would reach Lua as a true value
            plan["sort"]["by"] = pattern
            plan["sort"]["get"] = sort_value(model, query.sort.by)
            walk = walked_index(model, query.sort.by, query.sort.alpha)
            if walk is not None:
                plan["sort"]["walk"] = walk
    if query.sliced and not count:
        # bounds beyond 2**53 (which Lua numbers hold exactly) select the same pks
        offset = min(query.offset, _MAX_BOUND)
        plan["limit"] = [offset, -1 if query.limit is None else min(query.limit, _MAX_BOUND)]
    return plan


#: what a plan may hold that the direct reads below do not do
#: (``expiring``: a model with expiry, whose index entries may hold expired pks, which only
#: the collection function drops)
_NOT_DIRECT = ("sort", "limit", "values", "source", "score", "store", "total", "check", "expiring")


def _text_bounds(op: dict[str, Any]) -> tuple[str, str | bytes]:
    # as text_range in lua/collection.lua
    value, cmp = op["value"], op["cmp"]
    low, high = _TEXT_BOUNDS[cmp](value)
    prefix = op.get("prefix")
    if prefix is not None:  # the entries of one key of a HashField
        low = "[" + prefix if low == "-" else low
        high = ("(" + prefix).encode() + b"\xff" if high == "+" else high
    return low, high


#: comparison -> the ZRANGEBYLEX bounds of a value (in a text index, members are
#: ``value\0pk``)
_TEXT_BOUNDS: dict[str, Any] = {
    "eq": lambda value: ("[" + value + "\0", "(" + value + "\1"),
    "gt": lambda value: ("[" + value + "\1", "+"),
    "gte": lambda value: ("[" + value + "\0", "+"),
    "lt": lambda value: ("-", "(" + value + "\0"),
    "lte": lambda value: ("-", "(" + value + "\1"),
    # the byte 0xFF, above every UTF-8 byte (as '\255' in Lua)
    "startswith": lambda value: ("[" + value, ("(" + value).encode() + b"\xff"),
}


def direct_read(plan: dict[str, Any], client: Any) -> tuple[list[tuple], Any] | None:
    """The read-only commands answering ``plan`` straight from its index (sent together,
    in one round trip), with the function combining their replies, when there are such
    commands: a single filter on a set, on sorted set of a single-value field, or on
    several sets that never share a pk (``__in`` of an equal index of a single-value
    field), nothing else asked. ``None`` otherwise."""
    filters = plan["filters"]
    if len(filters) != 1:
        return None
    for name in _NOT_DIRECT:
        if plan.get(name):
            return None
    op = filters[0]
    kind = op["op"]
    count = plan["count"]
    if kind == "set" or (kind == "any" and op.get("disjoint")):
        keys = [op["key"]] if kind == "set" else [child["key"] for child in op["ops"]]
        if count:
            return [("SCARD", key) for key in keys], sum
        if functions.uses_functions(client):
            # in pk order: by number for an AutoPK model, else by bytes
            order = () if plan.get("auto") else ("ALPHA",)
            return [("SORT_RO", key, *order) for key in keys], _concatenated
        # Redis 6.2: no read-only SORT (SORT is refused on a read-only replica)
        combine = _members_by_number if plan.get("auto") else _members_by_bytes
        return [("SMEMBERS", key) for key in keys], combine
    if op.get("multi") or kind not in ("num", "text"):
        return None
    if kind == "num":
        if count:
            return [("ZCOUNT", op["key"], op["min"], op["max"])], _first
        return [("ZRANGEBYSCORE", op["key"], op["min"], op["max"])], _first
    low, high = _text_bounds(op)
    if count:
        return [("ZLEXCOUNT", op["key"], low, high)], _first
    return [("ZRANGEBYLEX", op["key"], low, high)], _stripped


def _first(replies: list[Any]) -> Any:
    return replies[0]


def _concatenated(replies: list[list[str]]) -> list[str]:
    return replies[0] if len(replies) == 1 else [pk for reply in replies for pk in reply]


def _members_by_bytes(replies: list[set[str]]) -> list[str]:
    return [pk for reply in replies for pk in sorted(reply, key=str.encode)]


def _members_by_number(replies: list[set[str]]) -> list[str]:
    return [pk for reply in replies for pk in sorted(reply, key=int)]


def _stripped(replies: list[list[str]]) -> list[str]:
    # "value\0pk" members of a text index: their pks
    return [member.rpartition("\0")[2] for member in replies[0]]


def _clients(model: type, client: Any) -> tuple[Any, Any]:
    """The client a collection reads with (``client``, else a replica when the
    database has some, see :doc:`/replicas`) and the primary. The library is loaded on
    the primary (once per client, unobserved): what it learns (functions or scripts)
    decides SORT_RO or SMEMBERS for direct reads, on the same Redis version."""
    database = model._meta.database
    primary = database.connection
    functions.ensure_loaded(primary, model._meta.library)
    return client or database.read_connection, primary


def run_plan(model: type, plan: dict[str, Any], client: Any = None) -> Any:
    """Send ``plan`` in one round trip (to a replica when the database has some); return
    the pks (or the count)."""
    client, primary = _clients(model, client)
    direct = direct_read(plan, primary)
    if direct is not None:
        commands, combine = direct
        if len(commands) == 1:
            return combine([client.execute_command(*commands[0])])
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return combine(pipe.execute())
    return _call(model, client, primary, "collection", [dumps(plan)])


def store_plan(model: type, plan: dict[str, Any], key: str, ttl: int | None) -> int:
    """Run ``plan`` and keep its pks in the list ``key`` (expiring after ``ttl``
    seconds unless ``None``); returns how many (the only collection call that writes:
    on the primary)."""
    client = model._meta.database.connection
    args = [dumps(plan), key] + ([] if ttl is None else [int(ttl)])
    return _call(model, client, client, "store", args)


def explain_plan(model: type, plan: dict[str, Any], client: Any = None) -> dict[str, Any]:
    """How ``plan`` runs: ``{"strategy": ..., "commands": [...], "cost": n}`` (the
    direct reads, or what the collection function chose, asked to it without reading
    the pks); ``cost`` estimates how many members Redis reads or tests (``None`` for
    direct reads: what they read is the answer)."""
    client, primary = _clients(model, client)
    direct = direct_read(plan, primary)
    if direct is not None:
        commands, _combine = direct
        return {
            "strategy": "index read",
            "commands": [" ".join(str(part) for part in command) for command in commands],
            "cost": None,
        }
    explained = _call(model, client, primary, "collection", [dumps(dict(plan, explain=True))])
    strategy, steps, cost = explained
    return {"strategy": strategy, "commands": list(steps), "cost": cost}


def _call(model: type, client: Any, primary: Any, operation: str, args: list[Any]) -> Any:
    meta = model._meta
    try:
        if operation == "store":
            return functions.call(primary, meta.library, operation, [meta.keys.pks], args)
        return functions.call_read_only(
            client, primary, meta.library, operation, [meta.keys.pks], args
        )
    except (ScriptError, ResponseError) as error:
        raise collection_error(model, error) from None


def collection_error(model: type, error: Exception) -> Exception:
    """The error to raise for ``error``, a failed call of ``model``'s collection
    function (``error`` itself when it is none of ours)."""
    meta = model._meta
    if isinstance(error, ResponseError):
        parsed = functions.parse_script_error(error)
        if parsed is not None:
            error = parsed
    if isinstance(error, ScriptError):
        payload = error.payload if isinstance(error.payload, dict) else {}
        if error.code == "KEYTYPE":  # intersect() with the key of a string, a hash...
            return ImplementationValueError(
                f"intersect() cannot use the key {payload.get('key')!r} of {meta.name}: "
                f"a {payload.get('type')}, not a set, sorted set or list."
            )
        if error.code == "NOSTORED":
            return model.DoesNotExist(
                f"The stored collection {payload.get('key')!r} of {meta.name} does not exist "
                "(expired?)."
            )
        message = payload.get("error", error.payload)
        field = payload.get("field")
        if field:  # one of several sorts (order_by)
            return ImplementationError(
                f"Redis could not sort {meta.name} by {field!r}: {message} (a field "
                "without a NumberRangeIndex sorts as text; sort(by=..., alpha=True) too)."
            )
        return ImplementationError(
            f"Redis could not sort {meta.name}: {message} (use alpha=True to sort text)."
        )
    if isinstance(error, ResponseError):
        text = str(error)
        if "hash to the same slot" in text or "non local key" in text:
            return ImplementationValueError(
                f"A collection of {meta.name} on a Redis Cluster reads only keys of its slot "
                f"(hash tag {meta.keys.prefix.split('}')[0]}}}): a key given to intersect() "
                "or sort(by_score=...) lives in another slot. Name such keys with the "
                "model's hash tag, or store them in a field of the model."
            )
    return error
