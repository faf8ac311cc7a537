"""How a :class:`Query` runs: one call of the collection script.

``build_plan`` turns a query into the script's plan (or ``None`` when a filter
can match nothing, so no round trip is needed); ``run_plan`` sends it.
"""

from __future__ import annotations

import uuid
from typing import Any

from redis.exceptions import ResponseError

from django_limpyd.collection.query import Query
from django_limpyd.exceptions import ImplementationError
from django_limpyd.model.options import dumps
from django_limpyd.storage.scripts import ScriptError, run_script

__all__ = ["build_plan", "run_plan", "sort_pattern"]


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


def build_plan(model: type, query: Query, *, count: bool, check: bool) -> dict[str, Any] | None:
    """The collection script's plan for ``query`` (``None``: nothing can match)."""
    operations = []
    for lookup in query.lookups:
        operation = lookup.operation()
        if operation is None:
            return None
        operations.append(operation)
    plan: dict[str, Any] = {
        "tmp": model._meta.keys.temporary() + ":",
        "filters": operations,
        "count": count,
        "check": check,
    }
    if query.sort is not None:
        plan["sort"] = {"alpha": query.sort.alpha, "desc": query.sort.desc}
        pattern = sort_pattern(model, query.sort.by)
        if pattern is not None:  # JSON null would reach Lua as a true value
            plan["sort"]["by"] = pattern
    if query.sliced and not count:
        plan["limit"] = [query.offset, -1 if query.limit is None else query.limit]
    return plan


def run_plan(model: type, plan: dict[str, Any], client: Any = None) -> Any:
    """Send ``plan`` in one round trip; return the pks (or the count)."""
    meta = model._meta
    client = client or meta.database.connection
    plan = dict(plan, tmp=plan["tmp"] or uuid.uuid4().hex)
    try:
        return run_script(client, "collection", [meta.keys.pks], [dumps(plan)])
    except ScriptError as error:
        payload = error.payload if isinstance(error.payload, dict) else {}
        if error.code == "NOSTORED":
            raise model.DoesNotExist(
                f"The stored collection {payload.get('key')!r} of {meta.name} does not exist "
                "(expired?)."
            ) from None
        message = payload.get("error", error.payload)
        raise ImplementationError(
            f"Redis could not sort {meta.name}: {message} (use alpha=True to sort text)."
        ) from None
    except ResponseError:
        raise
