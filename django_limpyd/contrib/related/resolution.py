"""Finding the model a related field points to (its ``to``), lazily.

``to`` may be a model class, ``'self'``, a model name (in the namespace of the
field's model, else in the empty namespace), ``'namespace:Name'``, or in Django
apps ``'app_label.Name'``.
A name may designate a model defined later: the field then waits in a list of
*pending* relations, tried again each time a :class:`RelatedModel` class is
created (:func:`class_prepared`), when a related model changes database
(``use_database``), before a related model deletes an instance, and at last
when the field is used (where an unknown target is an ``ImplementationError``
naming both models).

Once the target is known the relation is *bound*: the related collection is
installed on the target and the field is registered as a referrer of the
target (``Options.add_referrer``), so that deleting a target instance removes
it from the field in the same atomic script.
"""

from __future__ import annotations

import contextlib
import keyword
import re
import threading
import weakref
from typing import TYPE_CHECKING, Any

from django_limpyd.exceptions import ImplementationError

if TYPE_CHECKING:
    from django_limpyd.contrib.related.base import RelatedFieldMixin

__all__ = [
    "bind",
    "class_prepared",
    "cross_database_error",
    "database_of",
    "databases_changed",
    "related_name_for",
    "resolve",
    "resolve_pending",
    "same_database",
]

_lock = threading.RLock()
#: concrete related models, in definition order (weak: test suites define hundreds)
_models: list[weakref.ref[type]] = []
#: declared related fields whose target is not known yet
_pending: list[weakref.ref[RelatedFieldMixin]] = []
#: bumped when a pending relation may have become resolvable (a model class, a
#: database change); ``tried``: the value at the last full retry of the pending ones
_generation = {"current": 0, "tried": 0}

DEFAULT_RELATED_NAME = "%(model)s_set"


# -- databases ----------------------------------------------------------------------


def database_of(model: type) -> Any:
    """The database object of ``model`` without registering it on it: the object, the
    database of its alias, or ``None`` when it has none yet."""
    database = getattr(model, "database", None)
    if database is None and model._meta.app_label is not None:
        database = "default"
    if isinstance(database, str):
        try:
            from django_limpyd.connections import databases

            return databases[database]
        except Exception:  # settings not ready, unknown alias: compare the aliases
            return database
    return database


def _same(first: Any, second: Any) -> bool:
    return first is second or (isinstance(first, str) and first == second)


def same_database(first: type, second: type) -> bool:
    """True if both models use the same database (or both none yet)."""
    return _same(database_of(first), database_of(second))


def _describe_database(model: type) -> str:
    database = database_of(model)
    return "no database yet" if database is None else repr(database)


# -- the known models ---------------------------------------------------------------


def _live(refs: list[weakref.ref[Any]]) -> list[Any]:
    alive = [obj for ref in refs if (obj := ref()) is not None]
    if len(alive) != len(refs):
        refs[:] = [weakref.ref(obj) for obj in alive]
    return alive


def _is_current(model: type) -> bool:
    """False for a model of an app that was unregistered (tests defining app models)."""
    meta = model._meta
    if meta.app_label is None:
        return True
    from django_limpyd import registry

    try:
        return registry.get_model(meta.app_label, meta.name) is model
    except LookupError:
        return False


def _named(models: list[type], namespace: str, name: str) -> list[type]:
    """The models called ``namespace:name`` (names compared case-insensitively, as
    limpyd did, when none matches exactly)."""
    found = [m for m in models if (m._meta.namespace, m._meta.name) == (namespace, name)]
    if not found:
        found = [
            m
            for m in models
            if m._meta.namespace == namespace and m._meta.name.lower() == name.lower()
        ]
    return found


def _describe_to(field: RelatedFieldMixin) -> str:
    to = field.to
    return to.__name__ if isinstance(to, type) else repr(to)


def _unknown(field: RelatedFieldMixin, detail: str) -> ImplementationError:
    return ImplementationError(
        f"{field.describe()} points to {_describe_to(field)}, which is not a known model: "
        f"{detail} (models are given as a class, 'self', 'Name' in the namespace of "
        f"{field.model.__name__} (else in the empty namespace), 'namespace:Name', or "
        "'app_label.Name' in Django apps)."
    )


def cross_database_error(field: RelatedFieldMixin, target: type) -> ImplementationError:
    return ImplementationError(
        f"{field.describe()} points to {target.__name__}, which is on another database "
        f"({field.model.__name__}: {_describe_database(field.model)}, {target.__name__}: "
        f"{_describe_database(target)}): relations across databases are refused, both "
        "models must use the same database."
    )


def _check_target(field: RelatedFieldMixin, target: Any) -> type:
    from django_limpyd.contrib.related.model import RelatedModel

    if not (isinstance(target, type) and issubclass(target, RelatedModel)):
        raise ImplementationError(
            f"{field.describe()} points to {_describe_to(field)}, which is not a RelatedModel: "
            "related fields link RelatedModel subclasses (they install the related "
            "collections and propagate deletions)."
        )
    if target._meta.abstract:
        raise ImplementationError(
            f"{field.describe()} points to {target.__name__}, which is abstract (it has no "
            "instances): point to a concrete model."
        )
    return target


def find_target(field: RelatedFieldMixin) -> type:
    """The model ``field.to`` designates, or ``ImplementationError`` (unknown model,
    model on another database, not a RelatedModel)."""
    source = field.model
    to = field.to
    if isinstance(to, type):
        target = _check_target(field, to)
        source_db, target_db = database_of(source), database_of(target)
        if source_db is not None and target_db is not None and not _same(source_db, target_db):
            raise cross_database_error(field, target)
        return target
    if to == "self":
        return source
    if ":" in to:
        namespace, name = to.rsplit(":", 1)
    elif "." in to:
        from django_limpyd import registry

        try:
            return _check_target(field, registry.get_model(to))
        except LookupError:
            raise _unknown(field, f"no model {to!r} in the Django apps") from None
    else:
        namespace, name = source._meta.namespace, to
        if namespace:
            # a bare name: the model of the field's namespace, else the one without
            try:
                return _find_named(field, namespace, name)
            except ImplementationError as error:
                try:
                    return _find_named(field, "", name)
                except ImplementationError:
                    raise error from None
    return _find_named(field, namespace, name)


def _find_named(field: RelatedFieldMixin, namespace: str, name: str) -> type:
    """The model ``namespace:name`` on the database of the field's model."""
    source = field.model
    database = database_of(source)
    if database is not None and not isinstance(database, str):
        hosted = _named(list(database.models.values()), namespace, name)
        if hosted:  # the model the database hosts under that name
            return _check_target(field, hosted[-1])
    if database is None:
        # without a database, a name could designate models of any database: wait
        # (resolved again by use_database, or when the field is used)
        raise _unknown(field, f"{source.__name__} has no database yet")
    with _lock:
        candidates = _named([m for m in _live(_models) if _is_current(m)], namespace, name)
    same = [model for model in candidates if _same(database_of(model), database)]
    if same:
        return _check_target(field, same[-1])
    if candidates:
        raise cross_database_error(field, candidates[-1])
    raise _unknown(field, f"no model named {name!r} in namespace {namespace!r}")


# -- related names ------------------------------------------------------------------


def related_name_for(field: RelatedFieldMixin) -> str:
    """The name of the related collection of ``field`` on its target: ``related_name``
    (default ``'%(model)s_set'``, as in limpyd and Django: ``group_set``) with the
    namespace (non-word characters as ``_``) and the lowercased name of the field's
    model; a template starting with ``%(namespace)s`` drops the leading ``_`` it
    leaves without a namespace."""
    meta = field.model._meta
    namespace = re.sub(r"\W", "_", meta.namespace)
    template = field.related_name or DEFAULT_RELATED_NAME
    try:
        name = template % {"namespace": namespace, "model": meta.name.lower()}
    except (KeyError, ValueError, TypeError) as error:
        raise ImplementationError(
            f"{field.describe()}: related_name {template!r} is not a valid template (only "
            f"%(namespace)s and %(model)s are replaced): {error}."
        ) from None
    if not namespace and name.startswith("_") and template.startswith("%(namespace)s"):
        name = name[1:]
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ImplementationError(
            f"{field.describe()}: the related name {name!r} (from {template!r}) must be a "
            "Python identifier not starting with '_'."
        )
    return name


# -- binding ------------------------------------------------------------------------


def bind(field: RelatedFieldMixin, target: type) -> None:
    """Install the relation of ``field`` (declared on a concrete model) to ``target``:
    the related collection on the target, the field as a referrer of the target."""
    from django_limpyd.contrib.related.collections import RelatedCollection

    name = related_name_for(field)
    with _lock:
        existing = None
        for klass in target.__mro__:
            if name in klass.__dict__:
                existing = klass.__dict__[name]
                break
        if isinstance(existing, RelatedCollection):
            if existing.same_relation(field):
                existing.field = field
            elif existing.target is target:
                other = existing.field
                raise ImplementationError(
                    f"The related name {name!r} of {field.describe()} clashes with the one of "
                    f"{other.describe()}: both would install {target.__name__}.{name} "
                    f"({field.model.__name__} and {other.model.__name__} point to "
                    f"{target.__name__}); give one of them another related_name."
                )
        elif existing is not None or target._meta.has_field(name):
            raise ImplementationError(
                f"The related name {name!r} of {field.describe()} clashes with "
                f"{target.__name__}.{name}, which already exists; give {field.describe()} "
                "another related_name."
            )
        if not (isinstance(existing, RelatedCollection) and existing.target is target):
            setattr(target, name, RelatedCollection(field, target, name))
        field._related_target = target
        field._related_name = name
        target._meta.add_referrer(field)
        field.model._meta.invalidate_specs()  # its writes now check the target
        _pending[:] = [ref for ref in _pending if ref() not in (field, None)]


def resolve(field: RelatedFieldMixin) -> type:
    """The target of the declared ``field``, binding it now if needed (errors raised)."""
    target = field._related_target
    if target is not None:
        return target
    with _lock:
        if field._related_target is None:
            if field.model._meta.abstract:
                raise ImplementationError(
                    f"{field.describe()} is declared on an abstract model: use it on the "
                    "concrete models inheriting it."
                )
            bind(field, find_target(field))
    return field._related_target


def _try(field: RelatedFieldMixin) -> None:
    """Bind ``field`` if its target can be found now; errors are left for its use
    (and its system check) to report."""
    with contextlib.suppress(ImplementationError):
        resolve(field)


def resolve_pending() -> None:
    """Bind every pending relation whose target can now be found (silently). Cheap
    when nothing changed since the last time (no new model, no database change)."""
    with _lock:
        if _generation["tried"] == _generation["current"]:
            return
        _generation["tried"] = _generation["current"]
        for field in _live(_pending):
            if field.model is not None and _is_current(field.model):
                _try(field)


def databases_changed() -> None:
    """A related model changed database: retry the pending relations."""
    with _lock:
        _generation["current"] += 1
    resolve_pending()


def add_pending(field: RelatedFieldMixin) -> None:
    """Record a declared field of a concrete model as waiting for its target."""
    with _lock:
        if field not in _live(_pending):
            _pending.append(weakref.ref(field))


def class_prepared(model: type) -> None:
    """Called once a related model class is fully built: bind its own relations
    (errors raised), then the pending relations of other models: those pointing to
    this model are bound with their errors raised (a clash of related names is an
    error of this definition, as when the target was known first), the others are
    tried silently (an error is raised when that field is used, and reported by its
    system check)."""
    meta = model._meta
    if meta.abstract:
        return
    from django_limpyd.contrib.related.base import RelatedFieldMixin

    own = [field for field in meta.fields.values() if isinstance(field, RelatedFieldMixin)]
    for field in own:
        dependents = [
            index
            for other in meta.data_fields
            for index in other.indexes
            if field.name in index.deps and index.has_transform
        ]
        if dependents:
            # deleting a target would need their transforms, which the core delete
            # script cannot ask for (see RelatedFieldMixin.contribute_to_class)
            raise ImplementationError(
                f"{field.describe()}: indexes of other fields made with its value cannot have "
                f"a transform ({', '.join(repr(index) for index in dependents)})."
            )
    with _lock:
        _generation["current"] += 1
        _models.append(weakref.ref(model))
        for field in own:
            add_pending(field)
        for field in own:
            target = None
            try:
                target = find_target(field)
            except ImplementationError:
                if isinstance(field.to, type) or field.to == "self":
                    raise  # nothing later can make it right
                continue  # a name: the target may come later
            bind(field, target)
        _generation["tried"] = _generation["current"]
        for field in _live(_pending):
            if field.model is not model and field.model is not None and _is_current(field.model):
                try:
                    target = find_target(field)
                except ImplementationError:
                    continue  # its error is for its use (and its system check)
                if target is model:
                    bind(field, target)  # a clash of related names: raised now
                else:
                    _try(field)
