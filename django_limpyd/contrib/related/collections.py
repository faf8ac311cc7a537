"""The other side of a relation: related collections, installed on the target model.

``person.membership(**filters)`` is ``Group.collection(members=person.pk,
**filters)`` with the :class:`ExtendedCollectionManager` (filters, ``sort``,
slices, ``values``/``values_list``, ``intersect``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.related.base import sharded_model_of

if TYPE_CHECKING:
    from django_limpyd.contrib.related.base import RelatedFieldMixin

__all__ = ["BoundRelatedCollection", "RelatedCollection", "manager_for"]


def manager_for(model: type) -> type[ExtendedCollectionManager]:
    """The collection class of a related collection of ``model``: the model's own
    ``collection_manager`` if it extends ExtendedCollectionManager, else that one."""
    manager = getattr(model, "collection_manager", None)
    if isinstance(manager, type) and issubclass(manager, ExtendedCollectionManager):
        return manager
    return ExtendedCollectionManager


def filter_name(field: RelatedFieldMixin) -> str:
    """The filter selecting the instances whose ``field`` holds a pk: through the first
    index of the field taking equality filters (a ScoredEqualIndex orders by its
    scores), with its prefix."""
    for index in field.indexes:
        if "eq" in index.lookups:
            return f"{field.name}__{index.prefix}" if index.prefix else field.name
    return field.name  # pragma: no cover - related fields always have an EqualIndex


class RelatedCollection:
    """Descriptor installed on the target model under the related name."""

    def __init__(self, field: RelatedFieldMixin, target: type, name: str) -> None:
        #: the related field (declared on the source model)
        self.field = field
        #: the model this collection is installed on
        self.target = target
        self.name = name

    def same_relation(self, field: RelatedFieldMixin) -> bool:
        """True if ``field`` is the field of this relation (or a new definition of it:
        a module reloaded, the same class in the same namespace)."""
        mine = self.field
        return mine is field or (
            mine.name == field.name
            and mine.model.__module__ == field.model.__module__
            and mine.model.__qualname__ == field.model.__qualname__
            and mine.model._meta.namespace == field.model._meta.namespace
        )

    def __repr__(self) -> str:
        return f"<RelatedCollection {self.target.__name__}.{self.name} ({self.field.describe()})>"

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        if sharded_model_of(type(instance))._meta is not self.target._meta:
            raise AttributeError(
                f"{type(instance).__name__} has no related collection {self.name!r}: it is "
                f"the one of {self.target.__name__} (pointed to by {self.field.describe()})."
            )
        return BoundRelatedCollection(self, instance)

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(
            f"{self.target.__name__}.{self.name} is a related collection (read only)."
        )


class BoundRelatedCollection:
    """A related collection of one instance: call it (with filters) to get the
    collection of the source model's instances pointing to it."""

    def __init__(self, descriptor: RelatedCollection, instance: Any) -> None:
        self.descriptor = descriptor
        self.instance = instance

    @property
    def field(self) -> RelatedFieldMixin:
        """The related field of the source model."""
        return self.descriptor.field

    @property
    def model(self) -> type:
        """The source model (the model of the collection's instances)."""
        return self.descriptor.field.model

    def __repr__(self) -> str:
        return f"<BoundRelatedCollection {self.descriptor.name} of {self.instance!r}>"

    def __call__(self, **filters: Any) -> ExtendedCollectionManager:
        """The source instances whose related field holds this instance, and-ed with
        ``filters``."""
        return self.collection(**filters)

    def collection(self, **filters: Any) -> ExtendedCollectionManager:
        """Same as calling the related collection."""
        from django_limpyd.contrib.related.model import convert_filters

        field = self.descriptor.field
        field.related_model  # noqa: B018 - same database, relation still valid
        model = field.model
        pk = self.instance._meta_pk
        if model._meta.shard_models:  # a sharded source: scattered to its shards
            from django_limpyd.sharding.collection import ShardedCollection

            collection = ShardedCollection(model, manager_for(model))(**{filter_name(field): pk})
        else:
            collection = manager_for(model)(model)(**{filter_name(field): pk})
        return collection.filter(**convert_filters(model, filters))
