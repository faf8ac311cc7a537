"""``ModelBase``: the thin metaclass building ``_meta`` and attaching fields."""

from __future__ import annotations

from typing import Any

from django_limpyd import registry
from django_limpyd.exceptions import DoesNotExist, ImplementationError, MultipleObjectsReturned
from django_limpyd.fields.base import RedisField
from django_limpyd.fields.pk import AutoPKField, PKField
from django_limpyd.indexes import BaseIndex
from django_limpyd.model import hooks
from django_limpyd.model.options import Options
from django_limpyd.registry import _app_config_for

__all__ = ["ModelBase"]


class _PKAlias:
    """``instance.pk`` is the pk field whatever its name."""

    def __get__(self, instance: Any, owner: type) -> Any:
        name = owner._meta.pk_field.name
        return getattr(owner if instance is None else instance, name)


def _sets_namespace(cls: type) -> bool:
    """True if the model or one of its model parents sets ``namespace`` itself."""
    return (
        any("namespace" in klass.__dict__ and "_meta" in klass.__dict__ for klass in cls.__mro__)
        or "namespace" in cls.__dict__
    )


def _collect_fields(cls: type, own: dict[str, RedisField]) -> dict[str, RedisField]:
    fields: dict[str, RedisField] = {}
    for parent in reversed(cls.__mro__[1:]):
        meta = parent.__dict__.get("_meta")
        if isinstance(meta, Options):
            fields.update(meta.fields)
    fields.update(own)
    pk_fields = [name for name, field in fields.items() if isinstance(field, PKField)]
    own_pk = [name for name in own if isinstance(own[name], PKField)]
    if own_pk:  # a pk declared here replaces an inherited one
        pk_fields = own_pk
        for name in list(fields):
            if isinstance(fields[name], PKField) and name not in own_pk:
                del fields[name]
    if len(pk_fields) > 1:
        raise ImplementationError(f"{cls.__name__} declares several pk fields: {pk_fields}.")
    if not pk_fields:
        if "pk" in fields:
            raise ImplementationError(
                f"{cls.__name__}.pk must be a PKField or AutoPKField, not {fields['pk']!r}."
            )
        fields = {"pk": AutoPKField(), **fields}
    elif "pk" in fields and pk_fields[0] != "pk":
        raise ImplementationError(
            f"{cls.__name__} has a field named 'pk' that is not its pk field ({pk_fields[0]!r})."
        )
    else:  # the pk first (a subclass's own pk replaces its parent's in first place)
        fields = {pk_fields[0]: fields[pk_fields[0]], **fields}
    return fields


def _check_default_indexes(name: str, default_indexes: Any) -> None:
    """A model's ``default_indexes``: ``None`` or a list of index classes."""
    if default_indexes is None:
        return
    if not isinstance(default_indexes, (list, tuple)) or not all(
        isinstance(index_class, type) and issubclass(index_class, BaseIndex)
        for index_class in default_indexes
    ):
        raise ImplementationError(
            f"{name}.default_indexes must be a list of index classes, got {default_indexes!r}."
        )


def _expiry_options(name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> tuple:
    """``(ttl, expirable)`` of a model: its own ``ttl`` (seconds) and ``expirable`` class
    attributes, taken out of the class (``instance.ttl()`` is a method), else its model
    parents'."""
    ttl, expirable = None, False
    for base in bases:
        meta = base.__dict__.get("_meta")
        if meta is not None:
            ttl, expirable = meta.ttl, meta.expirable
            break
    if "ttl" in attrs and not callable(attrs["ttl"]):
        ttl = attrs.pop("ttl")
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0
        ):
            raise ImplementationError(
                f"{name}.ttl must be a positive number of seconds or None, got {ttl!r}."
            )
        expirable = expirable or ttl is not None
    if "expirable" in attrs:
        value = attrs.pop("expirable")
        if not isinstance(value, bool):
            raise ImplementationError(f"{name}.expirable must be True or False, got {value!r}.")
        expirable = value or ttl is not None
        if not value and ttl is not None:
            raise ImplementationError(f"{name}: a ttl needs expirable instances.")
    return ttl, expirable


def _shards_option(name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> int | None:
    """A model's ``shards`` (taken out of the class), else its model parents'."""
    from django_limpyd.sharding.layout import check_shards

    if "shards" in attrs and not isinstance(attrs["shards"], RedisField):
        return check_shards(name, attrs.pop("shards"))
    for base in bases:
        meta = base.__dict__.get("_meta")
        if meta is not None:
            return meta.shards
    return None


def _resharding_option(name: str, attrs: dict[str, Any], shards: int | None) -> int | None:
    """A sharded model's ``resharding_from`` (taken out of the class): the number of
    shards of the layout it is being resharded from (1: it was not sharded)."""
    if "resharding_from" not in attrs or isinstance(attrs["resharding_from"], RedisField):
        return None
    previous = attrs.pop("resharding_from")
    if previous is None:
        return None
    if not shards:
        raise ImplementationError(
            f"{name}.resharding_from needs shards: it names the layout a sharded model is "
            "being resharded from."
        )
    if isinstance(previous, bool) or not isinstance(previous, int) or not 1 <= previous <= 256:
        raise ImplementationError(
            f"{name}.resharding_from must be the number of shards the model had (1 if it "
            f"was not sharded, up to 256), got {previous!r}."
        )
    if previous == shards:
        raise ImplementationError(
            f"{name}.resharding_from is {previous}, its number of shards: nothing to reshard."
        )
    return previous


def _shard_model(
    mcs: type, cls: type, number: int, count: int, layout: str | None, tag: str | None
) -> type:
    suffix = f"shard {number}" if layout != "old" else f"shard {number} of {count}, old"
    return mcs(
        cls.__name__,
        (cls,),
        {
            "__module__": cls.__module__,
            "__qualname__": f"{cls.__qualname__}[{suffix}]",
            "_limpyd_shard": (number, count, layout),
            "hash_tag": tag,
        },
    )


def _make_shard_models(mcs: type, cls: type, previous: int | None = None) -> None:
    """The shard models of the sharded model ``cls`` (see sharding/layout.py), and those
    of the layout it is being resharded from (``previous`` shards; sharding/reshard.py)."""
    from django_limpyd.sharding.layout import shard_tag

    meta = cls._meta
    if cls.__dict__.get("hash_tag") is not None:
        raise ImplementationError(
            f"{cls.__name__} has shards: each shard has its own hash tag, so it cannot "
            f"have a hash_tag ({cls.hash_tag!r})."
        )
    for field in meta.data_fields:
        if field.unique and (
            field.storage_type not in ("hfield", "string")
            or any(index.has_transform for index in field.indexes)
        ):
            raise ImplementationError(
                f"{field.describe()} is unique: on a sharded model, a unique field holds one "
                "value (InstanceHashField, StringField), indexed as it is (no transform)."
            )
    if meta.has_related and previous:
        raise ImplementationError(
            f"{cls.__name__} has related fields and is being resharded (resharding_from): "
            "related fields to or from a model being resharded are not supported; add "
            "them once the resharding is finished."
        )
    if previous == 1 and meta.has_unique:
        raise ImplementationError(
            f"{cls.__name__} has unique fields: sharding a model that was not sharded "
            "(resharding_from = 1) is not supported for unique fields yet (their values "
            "are not reserved across shards); load a dump into the sharded model instead."
        )
    layout = "new" if previous else None
    meta.previous_shards = previous
    meta.shard_models = [
        _shard_model(
            mcs,
            cls,
            number,
            meta.shards,
            layout,
            shard_tag(meta.namespace, cls.__name__, number, meta.shards),
        )
        for number in range(meta.shards)
    ]
    meta.previous_shard_models = [
        _shard_model(
            mcs,
            cls,
            number,
            previous,
            "old",
            shard_tag(meta.namespace, cls.__name__, number, previous) if previous > 1 else None,
        )
        for number in range(previous or 0)
    ]


def _model_exception(cls: type, bases: tuple[type, ...], name: str, default: type) -> type:
    """The model's own ``name`` exception (``DoesNotExist``...), a subclass of its model
    parents' (or of ``default``)."""
    parents = tuple(
        getattr(base, name)
        for base in bases
        if isinstance(base, ModelBase) and "_meta" in base.__dict__
    ) or (default,)
    return type(
        name,
        parents,
        {"__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.{name}"},
    )


class ModelBase(type):
    """Builds ``_meta``, attaches fields, gives each model its ``DoesNotExist`` and
    ``MultipleObjectsReturned``."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any):
        if not any(isinstance(base, ModelBase) for base in bases):
            return super().__new__(mcs, name, bases, attrs, **kwargs)  # RedisModel itself
        abstract = bool(attrs.pop("abstract", False))
        shard = attrs.pop("_limpyd_shard", None)  # a shard model (sharding/layout.py)
        shards = _shards_option(name, bases, attrs)
        previous = _resharding_option(name, attrs, shards) if shard is None else None
        expiry = _expiry_options(name, bases, attrs)
        _check_default_indexes(name, attrs.get("default_indexes"))
        own = {k: v for k, v in attrs.items() if isinstance(v, RedisField)}
        for field_name in own:
            del attrs[field_name]
        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        cls.abstract = abstract
        app_config = _app_config_for(cls.__module__)
        namespace = cls.namespace
        if shard is not None:
            namespace = bases[0]._meta.namespace
        elif app_config is not None and not _sets_namespace(cls):
            namespace = app_config.label
        cls._meta = Options(
            cls, namespace=namespace, abstract=abstract, hash_tag=getattr(cls, "hash_tag", None)
        )
        cls._meta.ttl, cls._meta.expirable = expiry
        cls._meta.shards, cls._meta.shard = shards, shard
        if shard is not None:  # (number, shards of its layout, "old"/"new"/None)
            cls._meta.shard, cls._meta.shards, cls._meta.layout = shard
        if app_config is not None:
            cls._meta.app_label = app_config.label
        for field_name, field in _collect_fields(cls, own).items():
            if field_name.startswith("_"):
                raise ImplementationError(
                    f"{name}.{field_name}: field names cannot start with '_'."
                )
            (field.clone() if field.model is not None else field).contribute_to_class(
                cls, field_name
            )
        if cls._meta.pk_field.name != "pk":
            cls.pk = _PKAlias()
        if not abstract:  # an abstract model may leave fields to its subclasses
            for field in cls._meta.data_fields:
                for index in field.indexes:
                    index.check_definition()
        cls._fields = list(cls._meta.fields)
        cls._name = f"{namespace}:{name.lower()}"
        hooks.install(cls)
        cls.DoesNotExist = _model_exception(cls, bases, "DoesNotExist", DoesNotExist)
        cls.MultipleObjectsReturned = _model_exception(
            cls, bases, "MultipleObjectsReturned", MultipleObjectsReturned
        )
        database = cls.__dict__.get("database", getattr(cls, "database", None))
        if not abstract and database is not None and not isinstance(database, str):
            cls._meta.register(database)
        if not abstract and app_config is not None and shard is None:
            registry.register(cls)
        if shards and shard is None and not abstract:
            _make_shard_models(mcs, cls, previous)
        return cls
