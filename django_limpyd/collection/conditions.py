"""Conditions: and, or and not of lookups (``exclude(a=1, b=2)``, Django's ``Q``).

A condition is a lookup made of other lookups. Its operation, for the collection
function (``storage/lua/collection.lua``), is a tree of ``{"op": "all", "ops":
[...]}`` (and), ``{"op": "any", "ops": [...]}`` (or) and ``{"op": "not", "ops":
[operation]}`` over the lookups' own operations: union, intersection and difference
of index sets and pk tests, computed in the read-only function (no temporary key).

``{"op": "odd", "ops": [...]}`` is Django's ``^`` (XOR: an odd number of them).
Django's own ``django.db.models.Q`` is the way to write them::

    Post.objects.filter(Q(status="draft") | Q(year__lt=2000), title__startswith="a")
    Post.objects.exclude(~Q(status="draft"))

An operation may be ``None`` (matches nothing, e.g. ``a__in=[]``) or :data:`EVERY`
(matches every pk, e.g. the negation of ``None``); :func:`conjunction`,
:func:`disjunction` and :func:`negation` simplify them away, so the function never
sees them but at the top of a plan, where ``build_plan`` drops :data:`EVERY`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from django_limpyd.exceptions import ImplementationError

__all__ = [
    "EVERY",
    "Condition",
    "Negated",
    "condition_for",
    "conditions_for",
    "conjunction",
    "disjunction",
    "negation",
    "parity",
]

#: the operation matching every pk (an "and" of nothing)
EVERY: dict[str, Any] = {"op": "all", "ops": []}

Operation = dict[str, Any] | None


def conjunction(operations: list[Operation]) -> Operation:
    """The operation matching what each of ``operations`` matches."""
    kept = []
    for operation in operations:
        if operation is None:
            return None
        if operation == EVERY:
            continue
        kept.extend(operation["ops"] if operation["op"] == "all" else [operation])
    if not kept:
        return EVERY
    return kept[0] if len(kept) == 1 else {"op": "all", "ops": kept}


def disjunction(operations: list[Operation]) -> Operation:
    """The operation matching what any of ``operations`` matches."""
    kept: list[dict[str, Any]] = []
    for operation in operations:
        if operation is None:
            continue
        if operation == EVERY:
            return EVERY
        kept.append(operation)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else {"op": "any", "ops": kept}


def parity(operations: list[Operation]) -> Operation:
    """The operation matching what an odd number of ``operations`` match (Django's
    ``^``, XOR)."""
    kept: list[dict[str, Any]] = []
    flip = False
    for operation in operations:
        if operation is None:
            continue
        if operation == EVERY:
            flip = not flip
            continue
        kept.append(operation)
    if not kept:
        result: Operation = None
    else:
        result = kept[0] if len(kept) == 1 else {"op": "odd", "ops": kept}
    return negation(result) if flip else result


def negation(operation: Operation) -> Operation:
    """The operation matching the pks ``operation`` does not match."""
    if operation is None:
        return EVERY
    if operation == EVERY:
        return None
    if operation["op"] == "not":
        return operation["ops"][0]
    return {"op": "not", "ops": [operation]}


class Condition:
    """Lookups (or conditions) and-ed (``connector="AND"``), or-ed (``"OR"``) or
    xor-ed (``"XOR"``: an odd number of them), negated if ``negated``; used as a
    lookup: ``planned()`` gives its operation."""

    def __init__(self, connector: str, children: list[Any], negated: bool = False) -> None:
        if connector not in _COMBINE:
            raise ImplementationError(
                f"Collections combine conditions with AND, OR and XOR (and ~), not {connector}."
            )
        self.connector = connector
        self.children = list(children)
        self.negated = negated
        self.deferred = any(getattr(child, "deferred", False) for child in self.children)

    def __bool__(self) -> bool:
        """False for a condition of nothing (an empty ``Q``), which filters nothing."""
        return bool(self.children)

    def planned(self) -> Operation:
        """The operation of this condition (``None``: matches nothing; :data:`EVERY`,
        also for a condition of nothing, negated or not)."""
        if not self.children:
            return EVERY
        operations = [child.planned() for child in self.children]
        operation = _COMBINE[self.connector](operations)
        return negation(operation) if self.negated else operation

    def __repr__(self) -> str:
        sign = "NOT " if self.negated else ""
        return f"<Condition {sign}{self.connector} {self.children!r}>"


#: connector -> how the operations of its children combine
_COMBINE = {Q.AND: conjunction, Q.OR: disjunction, Q.XOR: parity}


class Negated(Condition):
    """``exclude(...)``: the pks the wrapped lookup (or condition) does not match."""

    def __init__(self, lookup: Any) -> None:
        super().__init__(Q.AND, [lookup], negated=True)
        self.lookup = lookup


def _groups(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """``(name, value)`` pairs as dicts of filters, a new one where a name repeats
    (``Q(a=1) & Q(a=2)`` holds ``a`` twice)."""
    groups: list[dict[str, Any]] = [{}]
    for name, value in pairs:
        if name in groups[-1]:
            groups.append({})
        groups[-1][name] = value
    return [group for group in groups if group]


def condition_for(model: type, q: Any) -> Condition:
    """The condition of a Django ``Q`` on ``model``.

    The filters and-ed in one ``Q`` are taken together, as ``filter(**filters)``
    takes them (an ``EqualIndexWith`` combines its fields); or-ed ones each alone.
    Errors (an unknown field, a suffix no index handles) name model, field and suffix.
    """
    from django_limpyd.collection.filters import lookups_for

    if not isinstance(q, Q):
        raise TypeError(
            f"{model.__name__} collections take Q objects (django.db.models.Q) as "
            f"positional arguments, not {q!r}."
        )
    pairs, nodes = [], []
    for child in q.children:
        if isinstance(child, Q):
            nodes.append(child)
        elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str):
            pairs.append(child)
        else:
            raise ImplementationError(
                f"{model.__name__}: a Q object holds filters (name=value) or other Q "
                f"objects, not {child!r}."
            )
    children: list[Any] = []
    if q.connector == Q.AND:
        for group in _groups(pairs):
            children.extend(lookups_for(model, group))
    else:
        for name, value in pairs:
            children.append(Condition(Q.AND, lookups_for(model, {name: value})))
    # an empty Q is no condition at all, as in Django (where Q(a=1) | Q() is Q(a=1))
    children.extend(condition_for(model, node) for node in nodes if node)
    if q.connector not in _COMBINE:
        raise ImplementationError(
            f"{model.__name__}: collections combine Q objects with &, | and ^ (and ~), not "
            f"{q.connector} ({q!r})."
        )
    return Condition(q.connector, children, q.negated)


def conditions_for(model: type, qs: tuple[Any, ...], filters: dict[str, Any]) -> list[Any]:
    """The lookups of ``filter(*qs, **filters)``: those of ``filters`` (see
    ``lookups_for``), then one condition per ``Q``, all and-ed."""
    from django_limpyd.collection.filters import lookups_for

    conditions = [condition_for(model, q) for q in qs]
    return lookups_for(model, filters) + [condition for condition in conditions if condition]
