"""``RelatedModel``: the base of models using related fields.

Its metaclass binds the relations of each new model class once the class is
complete (and the pending relations pointing to it). Writes refuse values that
are not pks of existing targets (the core scripts check it atomically); deleting
an instance removes it from every related field pointing to it (the core
``delete`` script does it, in the same atomic unit, for every referrer).
"""

from __future__ import annotations

from typing import Any

from django_limpyd import registry
from django_limpyd.contrib.related import resolution
from django_limpyd.model import RedisModel
from django_limpyd.model.metaclass import ModelBase

__all__ = ["RelatedModel", "RelatedModelBase", "convert_filters"]


def _related_fields(model: type) -> dict[str, Any]:
    from django_limpyd.contrib.related.base import RelatedFieldMixin

    return {
        name: field
        for name, field in model._meta.fields.items()
        if isinstance(field, RelatedFieldMixin)
    }


def convert_filters(model: type, filters: dict[str, Any]) -> dict[str, Any]:
    """``filters`` with instances given to related fields replaced by their pks
    (``owner=person``, ``members__in=[a, b]``)."""
    related = _related_fields(model)
    if not related:
        return filters
    converted = {}
    for name, value in filters.items():
        field = related.get(name.split("__", 1)[0])
        if field is not None:
            if isinstance(value, (list, tuple, set, frozenset)):
                value = type(value)(field._pk_of(item) for item in value)
            else:
                value = field._pk_of(value)
        converted[name] = value
    return converted


class RelatedModelBase(ModelBase):
    """The metaclass of related models: binds relations once a class is complete."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any):
        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        # a shard model's relations are those of its sharded model (bound there)
        if "_meta" in cls.__dict__ and cls._meta.shard is None:
            try:
                resolution.class_prepared(cls)
            except Exception:
                _forget(cls)
                raise
        return cls


def _forget(model: type) -> None:
    """Undo the registrations of a model class whose relations are refused."""
    meta = model._meta
    if meta.app_label is not None and not meta.abstract:
        registry.unregister(model)
    elif meta._registered_on is not None:
        meta._registered_on._remove_model(model)
        meta._registered_on = None


class RelatedModel(RedisModel, metaclass=RelatedModelBase):
    """A model that can use related fields (and be the target of some).

    Related collections are installed on it for each related field pointing to
    it; deleting an instance removes it from every related field pointing to it,
    atomically with the delete.
    """

    abstract = True

    def delete(self) -> bool:
        """Delete the instance, its keys and index entries, and remove it from every
        related field pointing to it (atomically)."""
        resolution.resolve_pending()  # every relation to this model is bound first
        return super().delete()

    @classmethod
    def use_database(cls, database: Any) -> None:
        """Use ``database`` for this model and its subclasses (see RedisModel); the
        relations waiting for a database are bound then."""
        super().use_database(database)
        resolution.databases_changed()

    @classmethod
    def collection(cls, manager: Any = None, **filters: Any) -> Any:
        """A lazy collection; related fields may be filtered with instances."""
        return super().collection(manager=manager, **convert_filters(cls, filters))
