"""``RelatedFieldMixin``: what every related field adds to its core field type.

The target (``to``) and the related name; the EqualIndex every related field
has (its set for a target pk lists the instances pointing to it: related
collections and deletions use it); instances given as values (their pk is
used); writes checked to point only to existing targets (the write scripts do it,
atomically, through :meth:`RelatedFieldMixin.pointer_target`); the
``m2m_changed`` signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django_limpyd import signals
from django_limpyd.contrib.related import resolution
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.indexes import BaseIndex, EqualIndex
from django_limpyd.storage.values import to_redis_string

__all__ = ["RelatedFieldMixin", "all_args", "first_arg", "mapping_keys", "second_arg"]


def first_arg(args: tuple, kwargs: dict) -> list[Any]:
    return [args[0]] if args else []


def all_args(args: tuple, kwargs: dict) -> list[Any]:
    return list(args)


def second_arg(args: tuple, kwargs: dict) -> list[Any]:
    return [args[1]] if len(args) > 1 else []


def mapping_keys(args: tuple, kwargs: dict) -> list[Any]:
    return list(args[0]) if args and isinstance(args[0], Mapping) else []


def sharded_model_of(model: type) -> type:
    """The sharded model of a shard model (see :mod:`django_limpyd.sharding.layout`);
    any other model itself."""
    while model._meta.shard is not None:
        model = model.__bases__[0]
    return model


class _BoundInstance:
    """``field.instance``: the model instance a field is bound to, as for every field;
    on foreign keys, ``field.instance()`` is limpyd's method returning the target
    instance, so there it gives that method (the model instance stays reachable as
    ``field.bound_instance``)."""

    def __get__(self, field: Any, owner: type) -> Any:
        if field is None:
            return self
        bound = field.__dict__.get("_instance")
        if bound is None or not field.foreign_key:
            return bound
        return field.related_instance

    def __set__(self, field: Any, value: Any) -> None:
        field.__dict__["_instance"] = value


class RelatedFieldMixin:
    """What every related field adds to its core field type.

    ``to``: the target model (class, name, ``'namespace:Name'``, ``'self'``,
    ``'app_label.Name'``); ``related_name``: the name of the related collection
    installed on the target (``%(namespace)s`` and ``%(model)s`` replaced;
    default ``'%(model)s_set'``, as in limpyd: ``group_set``).
    """

    #: write commands and the values each makes the field point to (checked to exist)
    pointing_commands: ClassVar[dict[str, Any]] = {}
    #: write commands that only remove values (or the whole field)
    removing_commands: ClassVar[tuple[str, ...]] = ("delete",)
    #: commands and the pks each names, for the ``pk_set`` of ``m2m_changed``
    signal_values: ClassVar[dict[str, Any]] = {}
    #: True for many-to-many fields (``m2m_changed`` is sent around their writes)
    many: ClassVar[bool] = False
    #: True for foreign keys (``instance()`` gives the target instance)
    foreign_key: ClassVar[bool] = False
    #: the command of ``delete()``
    delete_command: ClassVar[str] = "delete"

    instance = _BoundInstance()

    def __init__(
        self,
        to: Any,
        *,
        related_name: str | None = None,
        indexes: list[type[BaseIndex]] | None = None,
        indexable: bool = True,
        **kwargs: Any,
    ) -> None:
        if not (isinstance(to, str) and to) and not isinstance(to, type):
            raise ImplementationError(
                f"{type(self).__name__}: `to` must be a model class, a model name, "
                f"'namespace:Name', 'app_label.Name' or 'self'; got {to!r}."
            )
        if related_name is not None and not (isinstance(related_name, str) and related_name):
            raise ImplementationError(
                f"{type(self).__name__}: related_name must be a non-empty string, "
                f"got {related_name!r}."
            )
        if not indexable:
            raise ImplementationError(
                f"{type(self).__name__} is always indexable (the related collections and "
                "the propagation of deletions use its index)."
            )
        classes = list(indexes or ())
        if not any(
            isinstance(index_class, type)
            and issubclass(index_class, BaseIndex)
            and index_class.kind == "eq"
            for index_class in classes
        ):
            classes.append(EqualIndex)
        super().__init__(indexable=True, indexes=classes, **kwargs)
        self.to = to
        self.related_name = related_name
        self._related_target: type | None = None
        self._related_name: str | None = None

    # -- declaration ----------------------------------------------------------------

    def clone(self) -> Any:
        field = super().clone()
        field._related_target = None
        field._related_name = None
        return field

    def contribute_to_class(self, model: type, name: str) -> None:
        from django_limpyd.contrib.related.model import RelatedModel

        if not issubclass(model, RelatedModel):
            raise ImplementationError(
                f"{model.__name__}.{name}: related fields can only be used on subclasses of "
                "django_limpyd.contrib.related.RelatedModel."
            )
        super().contribute_to_class(model, name)
        transformed = [index for index in self.indexes if index.has_transform]
        if transformed:
            # deleting a target makes the script ask Python for the transforms of the
            # referring fields' indexes, which it cannot compute yet (see the docs)
            raise ImplementationError(
                f"{self.describe()}: the indexes of a related field cannot have a transform "
                f"({', '.join(repr(index) for index in transformed)}): it holds pks."
            )
        # the relation is bound once the class is complete (RelatedModelBase)

    def _declared(self) -> Any:
        return self.model._meta.get_field(self.name)

    def _relation(self) -> Any:
        """The declared field holding the relation (target, related name): on a shard
        model, the field of its sharded model (the shard's own field holds its pointer
        index)."""
        model = self.model
        if model._meta.shard is not None:
            model = sharded_model_of(model)
        return model._meta.get_field(self.name)

    @property
    def related_model(self) -> type:
        """The target model (resolved now if it was not yet; ``ImplementationError`` for
        an unknown target or one on another database)."""
        declared = self._relation()
        target = resolution.resolve(declared)
        if not resolution.same_database(self.model, target):
            raise resolution.cross_database_error(declared, target)
        return target

    @property
    def related_to(self) -> str:
        """As in limpyd: the target model as ``'namespace:modelname'`` (its ``_name``),
        resolved now if it was not yet (``to`` keeps what was given)."""
        return self.related_model._name

    @property
    def related_collection_name(self) -> str:
        """The name of the related collection installed on the target."""
        self.related_model  # noqa: B018 - resolves
        return self._relation()._related_name

    def pointer_target(self, index: BaseIndex) -> str | None:
        """The target model's set of pks, for the pointer index: the write scripts
        refuse (``LIMPYD_NOTARGET``) a value that is not the pk of an existing
        instance, in the same atomic call as the write."""
        if index is not self.pointer_index():
            return None
        try:
            keys = self.related_model._meta.keys
        except ImplementationError:
            return None  # unknown target yet: writes to this field are refused anyway
        if self.crosses_slots():
            return None  # checked by ordered steps (contrib/related/crossslot.py)
        return keys.pks

    def crosses_slots(self) -> bool:
        """True if this field's model and its target are in different slots of a Redis
        Cluster: its target checks and the clearing of its pointers then run as ordered
        steps (see :mod:`django_limpyd.contrib.related.crossslot`)."""
        from django_limpyd.contrib.related.crossslot import crosses_slots

        try:
            target = self.related_model
        except ImplementationError:
            return False
        return crosses_slots(self.model, target)

    def cross_slot_targets(self, prepared: Any) -> list[str] | None:
        """The pks a prepared constructor value points to, when they are in another slot
        (checked before and after the create); ``None`` otherwise."""
        return self.referenced_pks(prepared) if self.crosses_slots() else None

    def after_target_deleted(self, pk: str) -> None:
        """The target instance ``pk`` was deleted: clear the pointers to it when its
        delete function could not (another slot)."""
        if self.crosses_slots():
            from django_limpyd.contrib.related.crossslot import clear_sources

            clear_sources(self, pk)

    def pointer_target_expiry(self, index: BaseIndex) -> str | None:
        """The target model's deadlines key when it has expiry (see docs/orm/expiry.rst)."""
        if self.pointer_target(index) is None:
            return None
        meta = self.related_model._meta
        return meta.keys.expiry if meta.expirable else None

    def pointer_index(self) -> BaseIndex:
        """The EqualIndex whose set for a target pk holds the instances pointing to it."""
        for index in self._declared().indexes:
            if index.kind == "eq":
                return index
        raise ImplementationError(f"{self.describe()} has no plain EqualIndex.")  # pragma: no cover

    def check(self, **kwargs: Any) -> list[Any]:
        """System check ``limpyd.E006``: the target must be a known model (of the same
        database)."""
        from django.core import checks

        try:
            self.related_model  # noqa: B018
        except ImplementationError as error:
            return [checks.Error(str(error), obj=self.model, id="limpyd.E006")]
        return []

    # -- values ---------------------------------------------------------------------

    def _pk_of(self, value: Any) -> Any:
        """The pk of an instance of the target model; any other value as is."""
        from django_limpyd.model import RedisModel

        if not isinstance(value, RedisModel):
            return value
        target = self.related_model
        if sharded_model_of(type(value))._meta is not target._meta:
            raise InvalidValue(
                f"{self.describe()} points to {target.__name__} instances, not to "
                f"{type(value).__name__} ({value!r})."
            )
        if value._pk is None:
            raise InvalidValue(
                f"{self.describe()}: this {target.__name__} is not saved yet (it has no pk)."
            )
        return value._pk

    def _pks_of(self, values: tuple) -> tuple:
        return tuple(self._pk_of(value) for value in values)

    def prepare_value(self, value: Any) -> Any:
        """Constructor values: instances become their pks (the target must be known and
        on the same database: ``ImplementationError`` otherwise, before any write)."""
        self.related_model  # noqa: B018 - resolves, or raises naming both models
        if isinstance(value, Mapping):
            value = {self._pk_of(key): score for key, score in value.items()}
        elif self.multi and isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
            value = [self._pk_of(item) for item in value]
        else:
            value = self._pk_of(value)
        return super().prepare_value(value)

    def referenced_pks(self, prepared: Any) -> list[str]:
        """The pks a prepared constructor value makes the field point to."""
        if self.storage_type in ("string", "hfield"):
            return [prepared]
        if self.storage_type == "zset":
            return [pair[0] for pair in prepared]
        return list(prepared)

    def _referenced(self, name: str, args: tuple, kwargs: dict) -> list[str] | None:
        """The pks the write ``name`` would make the field point to (``None``: refused)."""
        if name in self.removing_commands:
            return []
        values = self.pointing_commands.get(name)
        if values is None:
            return None
        where = self.describe()
        return list(dict.fromkeys(to_redis_string(value, where) for value in values(args, kwargs)))

    # -- commands -------------------------------------------------------------------

    @property
    def bound_instance(self) -> Any:
        """The model instance this field is bound to (``None`` on the class)."""
        return self.__dict__.get("_instance")

    def _pk(self) -> str:
        instance = self.bound_instance
        if instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        return instance._meta_pk

    def delete(self) -> Any:
        """Delete the value of this field (and its index entries)."""
        instance = self.bound_instance
        if instance is not None and instance._pk is None:
            return 0
        return self._write(self.delete_command)

    def _read(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return super()._read(name, *self._pks_of(args), **kwargs)

    def _read_now(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return super()._read_now(name, *self._pks_of(args), **kwargs)

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        instance = self.bound_instance
        if instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        target_model = self.related_model
        args = self._pks_of(args)
        referenced = self._referenced(name, args, kwargs)
        if referenced is None:
            raise ImplementationError(
                f"{self.describe()}.{name}() is refused: a related field only holds pks of "
                f"{target_model.__name__} (use "
                + ", ".join(sorted(self.pointing_commands))
                + " to point to instances, "
                + ", ".join(self.removing_commands)
                + " to remove them)."
            )
        if self.many and signals.m2m_changed.has_listeners(type(instance)):
            return self._write_with_signals(name, args, kwargs, referenced, target_model)
        return self._checked_write(name, args, kwargs, referenced, target_model)

    def _checked_write(
        self, name: str, args: tuple, kwargs: dict, referenced: list[str], target_model: type
    ) -> Any:
        """The core write: the script itself refuses values that are not pks of existing
        ``target_model`` instances (see :meth:`pointer_target`), or, across slots of a
        Redis Cluster, the ordered steps of ``contrib/related/crossslot.py``."""
        if not referenced or not self.crosses_slots():
            return super()._write(name, *args, **kwargs)
        from django_limpyd.contrib.related.crossslot import precheck, settle

        precheck(self, referenced)
        result = super()._write(name, *args, **kwargs)
        settle(self.bound_instance, self.name, referenced)
        return result

    def _write_with_signals(
        self, name: str, args: tuple, kwargs: dict, referenced: list[str], target_model: type
    ) -> Any:
        model = type(self.bound_instance)
        pk_set = self._signal_pks(name, args, kwargs)
        common = {
            "sender": model,
            "instance": self.bound_instance,
            "field": self.name,
            "model": target_model,
            "command": name,
            "pk_set": pk_set,
        }
        using = self.model._meta.database.alias
        signals.m2m_changed.send(action="pre_change", using=using, **common)
        result = self._checked_write(name, args, kwargs, referenced, target_model)
        signals.m2m_changed.send(action="post_change", using=using, **common)
        return result

    def _signal_pks(self, name: str, args: tuple, kwargs: dict) -> set[str] | None:
        """The pks a many-to-many write names (added or removed); ``None`` when the
        command does not name them (pops, trims, delete)."""
        named = self.signal_values.get(name)
        if named is None:
            return None
        where = self.describe()
        return {to_redis_string(value, where) for value in named(args, kwargs)}
