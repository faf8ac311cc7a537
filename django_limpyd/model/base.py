"""``RedisModel``: instances stored in Redis, read and written field by field."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from django_limpyd.collection.filters import pk_value
from django_limpyd.exceptions import (
    DoesNotExist,
    ImplementationError,
    ImplementationValueError,
    InvalidValue,
    Redirected,
)
from django_limpyd.model import hooks, writes
from django_limpyd.model.metaclass import ModelBase

__all__ = ["RedisModel"]


def _split_conditions(model: type, args: tuple) -> tuple[tuple, tuple]:
    """``(Q objects, other arguments)`` of the positional arguments of ``get()`` and
    ``exists()``; a pk given with ``Q`` objects is refused, as with filters."""
    from django.db.models import Q

    conditions = tuple(arg for arg in args if isinstance(arg, Q))
    others = tuple(arg for arg in args if not isinstance(arg, Q))
    if conditions and others:
        raise ImplementationValueError(
            f"{model.__name__}: give one pk, or filters and Q objects, not both."
        )
    return conditions, others


#: ``Model(...)`` without ``ttl=``: the model's default time to live
_NO_TTL = object()


class _ClassOrInstanceMethod:
    """A method receiving the class when called on it, the instance otherwise."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Any:
        target = owner if instance is None else instance
        return self.function.__get__(target, owner)


class _Objects:
    """``Model.objects`` (and ``Model._default_manager``, what Django's shortcuts such
    as ``get_object_or_404`` look for): a collection of every instance of the model
    (its ``collection_manager`` class, an ``ExtendedCollectionManager`` for a model
    without one, for ``values()``), giving instances (connected without a round trip:
    indexes are written with the instance, so their pks exist)."""

    def __get__(self, instance: Any, owner: type) -> Any:
        from django_limpyd.collection import CollectionManager
        from django_limpyd.contrib.collection import ExtendedCollectionManager

        manager = owner.collection_manager
        if manager is None or manager is CollectionManager:
            # a QuerySet has values() and values_list(): so does objects
            manager = ExtendedCollectionManager
        return owner.collection(manager=manager).instances(lazy=True)


class RedisModel(metaclass=ModelBase):
    """Base class of Redis models.

    ``Model(**values)`` creates and saves an instance, ``Model(pk)`` connects to
    an existing one (``DoesNotExist`` otherwise), ``Model()`` without values nor
    defaults is an unsaved instance that its first write creates.
    """

    abstract: ClassVar[bool] = True
    #: a RedisDatabase, or the alias of one in LIMPYD_DATABASES
    database: ClassVar[Any] = None
    namespace: ClassVar[str] = ""
    #: Redis Cluster: models with the same ``hash_tag`` keep every key in one slot, so
    #: that writes touching several of them (related fields) stay atomic; ``None``:
    #: the model's own slot (see docs/scaling.rst)
    hash_tag: ClassVar[str | None] = None
    #: accepted for compatibility with limpyd: writes never take a lock here
    lockable: ClassVar[bool] = True
    collection_manager: ClassVar[Any] = None
    objects = _Objects()
    _default_manager = _Objects()
    #: as in limpyd: the names of the fields, the pk first, in declaration order
    _fields: ClassVar[list[str]] = []
    #: as in limpyd: ``"namespace:modelname"`` (the class name lowercased)
    _name: ClassVar[str] = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> RedisModel:
        if cls._meta.shard_models:  # a sharded model: the instance is one of a shard model
            from django_limpyd.sharding.routing import shard_model_for

            cls = shard_model_for(cls, args, kwargs)
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.abstract:
            raise ImplementationError(f"{type(self).__name__} is abstract: it has no instances.")
        self._pk: str | None = None
        if args:
            if len(args) > 1 or kwargs:
                raise ImplementationError(
                    f"{type(self).__name__}(pk) takes one pk and nothing else; "
                    "create with keyword arguments only."
                )
            pk = self._meta.pk_field.normalize(args[0])
            if not type(self)._pks_exist([pk])[0]:
                raise self.DoesNotExist(f"{type(self).__name__} {pk!r} does not exist.")
            self._pk = pk
            return
        values = kwargs
        ttl = _NO_TTL
        if "ttl" in kwargs and "ttl" not in self._meta.fields:
            from django_limpyd.model.expiry import require_expirable

            require_expirable(type(self), "create with ttl=")
            values = dict(kwargs)
            ttl = values.pop("ttl")
        defaults = self._meta.defaults
        if defaults:
            values = {**defaults, **values}
        if values:
            self._create(values, ttl)
        elif ttl is not _NO_TTL:
            raise InvalidValue(f"{type(self).__name__}(ttl=...) needs values to create with.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pk={self._pk!r}>"

    def __str__(self) -> str:
        """How templates show the instance (``{{ post }}``): ``"Post 1"``, or
        ``"Post (unsaved)"``; override it to show a field's value instead."""
        if self._pk is None:
            return f"{type(self).__name__} (unsaved)"
        return f"{type(self).__name__} {self._pk}"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._pk is not None and other._pk == self._pk

    def __hash__(self) -> int:
        return hash((type(self), self._pk))

    # -- creation -------------------------------------------------------------------

    def _create(self, values: dict[str, Any], ttl: Any = _NO_TTL) -> None:
        if self._pk is not None:
            raise ImplementationError(f"{self!r} already exists.")
        meta = self._meta
        pk_field = meta.pk_field
        pk = ""
        pk_name = None
        prepared: dict[str, Any] = {}
        fields = meta.fields
        for name, value in values.items():
            field = fields.get(name) or meta.get_field(name)  # "pk", or a clear error
            if field is pk_field:
                if pk_field.auto:
                    raise ImplementationValueError(
                        f"{pk_field.describe()} is an AutoPKField: its value is given by the "
                        "database, not assigned."
                    )
                if pk_name is not None:
                    raise ImplementationValueError(
                        f"{meta.name}: two values for the pk ({pk_name} and {name})."
                    )
                pk_name = name
                pk = pk_field.normalize(value)
            else:
                prepared[field.name] = field.prepare_value(value)
        if not pk and not pk_field.auto:
            raise InvalidValue(f"{pk_field.describe()} needs a value to create a {meta.name}.")
        try:
            if meta.shard is not None and meta.has_unique:  # a sharded model's unique values
                from django_limpyd.sharding import unique

                if not unique.active():
                    unique.create(self, pk, prepared, ttl)
                    return
            writes.create(self, pk, prepared, ttl)
        except (Redirected, DoesNotExist) as error:  # a model being resharded
            writes.follow_move(self, error, lambda: self._create(values, ttl), pk or None)

    # -- class methods --------------------------------------------------------------

    @classmethod
    def bulk_create(
        cls, values: Iterable[dict[str, Any]], raise_on_error: bool = True
    ) -> list[RedisModel]:
        """Create one instance per dict of values, in one pipeline (one round trip).

        Each create stays atomic with its index entries and uniqueness checks; one
        that fails leaves no trace and does not stop the others. With
        ``raise_on_error`` the first error is raised after all ran; without, the
        failed instances are left unsaved (``pk.get()`` is ``None``). Inside an
        active pipeline the creates are queued there (pks known after
        ``execute()``).
        """
        database = cls._meta.database
        active = database.active_pipeline()
        if cls._meta.shard_models and cls._meta.has_unique:
            from django_limpyd.sharding import unique

            return unique.bulk_create(cls, list(values), raise_on_error)
        if cls._meta.previous_shard_models:  # being resharded: which layout creates?
            from django_limpyd.sharding.reshard import refresh_closed

            refresh_closed(cls)
        if active is not None:
            return [cls(**item) for item in values]
        # a sharded model's creates go to several slots: not one transaction
        with database.pipeline(transaction=not cls._meta.shard_models) as pipeline:
            instances = [cls(**item) for item in values]
            pipeline.execute(raise_on_error=raise_on_error)
        return instances

    @classmethod
    def _pks_exist(cls, pks: list[str]) -> list[bool]:
        """Whether each (normalized) pk is an existing instance (one round trip): in the
        model's pks, and, for a model with expiry, before its deadline."""
        meta = cls._meta
        if meta.shard_models:
            from django_limpyd.sharding.routing import pks_exist

            return pks_exist(cls, pks)
        if meta.expirable:
            from django_limpyd.model import expiry

            return expiry.alive(cls, pks)
        connection = meta.database.read_connection
        if len(pks) == 1:
            return [connection.zscore(meta.keys.pks, pks[0]) is not None]
        return [score is not None for score in connection.zmscore(meta.keys.pks, pks)]

    @classmethod
    def delete_expired(cls, limit: int | None = None) -> int:
        """Remove the instances whose deadline passed (at most ``limit``), sending
        ``post_delete`` with ``expired=True``; how many (see docs/orm/expiry.rst)."""
        from django_limpyd.model import expiry

        if cls._meta.shard_models:  # each shard in turn, up to ``limit`` in all
            removed = 0
            for shard in cls._meta.stored_models:  # while resharded: the old layout too
                left = None if limit is None else limit - removed
                if left is not None and left <= 0:
                    break
                removed += expiry.delete_expired(shard, left)
            return removed
        return expiry.delete_expired(cls, limit)

    @classmethod
    async def acreate(cls, **values: Any) -> RedisModel:
        """``await Model.acreate(**values)``: ``Model(**values)`` from async code, on the
        async transport (see :doc:`/orm/async`)."""
        from django_limpyd.aio.model import acreate

        return await acreate(cls, values)

    @classmethod
    async def abulk_create(
        cls, values: Iterable[dict[str, Any]], raise_on_error: bool = True
    ) -> list[RedisModel]:
        """``await Model.abulk_create(values)``: :meth:`bulk_create` from async code, on the
        async transport (one round trip)."""
        from django_limpyd.aio.model import abulk_create

        return await abulk_create(cls, list(values), raise_on_error)

    @classmethod
    def lazy_connect(cls, pk: Any) -> RedisModel:
        """An instance for ``pk`` without checking now that it exists: its first read
        checks (``DoesNotExist``), and every write checks atomically."""
        return cls._connected(cls._meta.pk_field.normalize(pk), checked=False)

    @classmethod
    def _connected(cls, pk: str, checked: bool) -> RedisModel:
        """An instance for the normalized ``pk``; ``checked``: known to exist."""
        if cls._meta.shard_models:
            if cls._meta.previous_shard_models:  # being resharded: found on first read
                from django_limpyd.sharding.reshard import connected

                return connected(cls, pk)
            cls = cls._meta.shard_model_of(pk)
        instance = object.__new__(cls)
        instance._pk = pk
        instance._exists_checked = checked
        return instance

    def _ensure_exists(self) -> None:
        """Raise ``DoesNotExist`` if this lazily connected instance is not in Redis
        (checked once, on its first read)."""
        if self.__dict__.get("_exists_checked", True):
            return
        if self._meta.layout is not None:  # a model being resharded: find the instance
            from django_limpyd.sharding.reshard import find

            find(self)
        elif not type(self)._pks_exist([self._pk])[0]:
            raise self.DoesNotExist(f"{type(self).__name__} {self._pk!r} does not exist.")
        self._exists_checked = True

    @_ClassOrInstanceMethod
    def get_field(self_or_cls: Any, name: str) -> Any:
        """The field called ``name`` (``pk`` included): on the class, the declared
        field; on an instance, the field bound to that instance."""
        field = self_or_cls._meta.get_field(name)
        if isinstance(self_or_cls, type):
            return field
        return getattr(self_or_cls, field.name)

    @classmethod
    def has_field(cls, name: str) -> bool:
        """True if the model has a field called ``name``."""
        return cls._meta.has_field(name)

    @classmethod
    def exists(cls, *args: Any, **filters: Any) -> bool:
        """True if an instance with this pk (or matching these filters and Django ``Q``
        objects) exists."""
        conditions, args = _split_conditions(cls, args)
        if conditions:
            return cls._filtered(filters).filter(*conditions).exists()
        pk = cls._single_pk(args, filters)
        if pk is not None:
            return cls._pks_exist([pk])[0]
        return cls._filtered(filters).exists()

    @classmethod
    def get(cls, *args: Any, **filters: Any) -> RedisModel:
        """The one instance with this pk, or matching these filters and Django ``Q``
        objects (``Post.get(Q(slug=x) | Q(pk=x))``, as ``Post.objects.get``).

        ``DoesNotExist`` if none, ``MultipleObjectsReturned`` (also a ``ValueError``) if
        several match.
        """
        conditions, args = _split_conditions(cls, args)
        if conditions:
            return cls._filtered({}).get(*conditions, **filters)
        pk = cls._single_pk(args, filters)
        if pk is not None:
            return cls(pk)
        pks = list(cls._filtered(filters)[:2])
        if not pks:
            raise cls.DoesNotExist(f"No {cls.__name__} matches {filters!r}.")
        if len(pks) > 1:
            raise cls.MultipleObjectsReturned(f"More than one {cls.__name__} matches {filters!r}.")
        return cls._connected(pks[0], checked=True)

    @classmethod
    def get_or_connect(cls, **filters: Any) -> tuple[RedisModel, bool]:
        """``(instance, created)``: the instance matching ``filters``, created if none."""
        try:
            return cls.get(**filters), False
        except cls.DoesNotExist:
            try:
                return cls(**filters), True
            except Exception:
                # a concurrent creator may have won a unique value meanwhile
                try:
                    return cls.get(**filters), False
                except cls.DoesNotExist:
                    pass
                raise

    @classmethod
    def _single_pk(cls, args: tuple, filters: dict[str, Any]) -> str | None:
        if args:
            if len(args) > 1 or filters:
                raise ImplementationValueError(
                    f"{cls.__name__}: give one pk, or filters, not both."
                )
            return cls._meta.pk_field.normalize(pk_value(args[0]))
        pk_name = cls._meta.pk_field.name
        for name in ("pk", pk_name):
            if name in filters and len(filters) == 1:
                return cls._meta.pk_field.normalize(pk_value(filters[name]))
        if not filters:
            raise ImplementationValueError(f"{cls.__name__}: give a pk or filters.")
        return None

    @classmethod
    def _filtered(cls, filters: dict[str, Any]) -> Any:
        return cls.collection(**filters)

    @classmethod
    def collection(cls, manager: Any = None, **filters: Any) -> Any:
        """A lazy collection of the pks matching ``filters``."""
        from django_limpyd.collection import CollectionManager

        manager_class = manager or cls.collection_manager or CollectionManager
        if cls._meta.shard_models:
            from django_limpyd.sharding.collection import ShardedCollection

            return ShardedCollection(cls, manager_class)(**filters)
        return manager_class(cls)(**filters)

    @classmethod
    def from_pks(cls, pks: Iterable[Any], lazy: bool = False) -> Iterator[RedisModel]:
        """Instances for ``pks`` (one round trip; missing ones skipped unless ``lazy``)."""
        normalize = cls._meta.pk_field.normalize
        pks = [normalize(pk) for pk in pks]
        if not lazy and pks:
            pks = [pk for pk, found in zip(pks, cls._pks_exist(pks), strict=True) if found]
        return (cls._connected(pk, checked=not lazy) for pk in pks)

    @classmethod
    def instances(cls, lazy: bool = False, **filters: Any) -> Iterator[RedisModel]:
        """Instances matching ``filters`` (every instance without filters)."""
        if not filters and not cls._meta.expirable and not cls._meta.shard_models:
            pairs = cls._meta.database.read_connection.zscan_iter(cls._meta.keys.pks)
            return (cls._connected(pk, checked=True) for pk, _score in pairs)
        return iter(cls.collection(**filters).instances(lazy=lazy))

    @classmethod
    def scan_model_keys(cls) -> Iterator[str]:
        """Every key of the model (SCAN on the model's own prefix; of every shard of a
        sharded model)."""
        if cls._meta.shard_models:
            return (key for shard in cls._meta.stored_models for key in shard.scan_model_keys())
        return cls._meta.database.scan_keys(match=cls._meta.keys.scan_pattern)

    @classmethod
    def get_connection(cls) -> Any:
        """The redis-py client of the model's database (the active pipeline's while
        one is, as the fields send their commands there)."""
        return cls._meta.database.command_connection

    @property
    def connection(self) -> Any:
        """The redis-py client of the instance's database (see :meth:`get_connection`)."""
        return self.get_connection()

    @hooks.default_post_command
    def post_command(
        self, sender: Any, name: str, result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Called after every command of a field of this instance (``sender``: the
        field, ``name``: the command, with its ``args`` and ``kwargs`` as given) and
        after the hash commands of the instance (``hmget``, ``hmset``, ``hdel``,
        ``hgetall``, ``hkeys``, ``hvals``, ``hlen``; ``sender``: the instance). What it
        returns is the command's result. Override it in a model to change results or
        to act after commands; a model that does not pays nothing for it (see
        :mod:`django_limpyd.model.hooks`)."""
        return result

    @classmethod
    def use_database(cls, database: Any) -> None:
        """Use ``database`` for this model and its subclasses that set none of their own."""
        cls.database = database
        pending = [cls]
        while pending:
            model = pending.pop()
            pending.extend(model.__subclasses__())
            if model is not cls and "database" in model.__dict__:
                continue
            if not model.abstract:
                model._meta.database  # noqa: B018 - registers on the new database

    # -- instance methods -----------------------------------------------------------

    @property
    def _meta_pk(self) -> str:
        if self._pk is None:
            raise self.DoesNotExist(
                f"This {type(self).__name__} is not saved yet: write a field or pass values "
                "to the constructor first."
            )
        return self._pk

    def delete(self) -> bool:
        """Delete the instance: every key, every index entry, its pk."""
        try:
            deleted = writes.delete(self)
        except Redirected as error:  # a model being resharded: where the instance is
            return writes.follow_move(self, error, self.delete)
        if not deleted and self._meta.layout is not None and self._pk is not None:
            from django_limpyd.sharding.reshard import facade_of, locate

            where = locate(facade_of(type(self)), self._pk)  # moved meanwhile?
            if where is not None and where is not type(self):
                from django_limpyd.sharding.reshard import rehome

                rehome(self, where)
                return self.delete()
        return deleted

    # -- expiry (a model with ``ttl`` or ``expirable = True``: docs/orm/expiry.rst) -----

    def expire(self, seconds: Any) -> bool:
        """Make the whole instance (data, index entries, pk) disappear in ``seconds``
        (a number or a timedelta); ``DoesNotExist`` if it is gone."""
        from django_limpyd.model import expiry

        return expiry.set_deadline(self, "in", seconds)

    def expireat(self, when: Any) -> bool:
        """Make the instance disappear at ``when`` (an aware datetime or a unix time)."""
        from django_limpyd.model import expiry

        return expiry.set_deadline(self, "at", when)

    def persist(self) -> bool:
        """Remove the instance's deadline; True if it had one."""
        from django_limpyd.model import expiry

        return expiry.set_deadline(self, "persist")

    def pttl(self) -> int:
        """Milliseconds before the instance's deadline; -1 without one; ``DoesNotExist``
        if it is gone."""
        from django_limpyd.model import expiry

        return expiry.remaining(self)

    def ttl(self) -> Any:
        """Seconds (rounded up, as Redis's TTL) before the instance's deadline; -1 without
        one; ``DoesNotExist`` if it is gone."""
        from django_limpyd.model import expiry

        left = expiry.remaining(self)
        if isinstance(left, int):
            return left if left < 0 else -(-left // 1000)
        return left  # queued in a pipeline: the reply is the ms (see pttl)

    async def adelete(self) -> bool:
        """``await instance.adelete()``: :meth:`delete` on the async transport."""
        from django_limpyd.aio.model import adelete

        return await adelete(self)

    def scan_keys(self) -> Iterator[str]:
        """The keys holding data of this instance (one round trip)."""
        keys = self._meta.keys
        pk = self._meta_pk
        candidates = [keys.instance_hash(pk)] + [
            keys.field(field.name, pk)
            for field in self._meta.data_fields
            if field.storage_type != "hfield"
        ]
        pipe = self._meta.database.connection.pipeline(transaction=False)
        for key in candidates:
            pipe.exists(key)
        return (key for key, found in zip(candidates, pipe.execute(), strict=True) if found)

    def _hash_field_names(self, names: Iterable[str], method: str) -> list[str]:
        checked = []
        for name in names:
            field = self._meta.get_field(name)
            if field.storage_type != "hfield":
                raise ImplementationError(
                    f"{type(self).__name__}.{method}(): {name!r} is not an InstanceHashField."
                )
            checked.append(field.name)
        return checked

    def _hash_read(self, command: str, *args: Any) -> Any:
        """A read of the instance's hash (queued while a pipeline is active)."""
        # not saved yet: the hash of pk "", never written (reads answer empty)
        key = self._meta.keys.instance_hash(self._pk or "")
        if not self.__dict__.get("_exists_checked", True) or (
            self._meta.expirable and self._pk is not None
        ):
            from django_limpyd.model.reads import checked_read

            try:
                return checked_read(self, (key,), command, args, {})
            except DoesNotExist:
                if self._meta.layout is None or self.__dict__.get("_exists_checked", True):
                    raise
                from django_limpyd.sharding.reshard import find

                find(self)  # a lazily connected instance of a model being resharded
                return self._hash_read(command, *args)
        return getattr(self._meta.database.read_command_connection, command)(key, *args)

    def hmget(self, *names: str) -> list[Any]:
        """Values of the named InstanceHashFields, in order (one round trip)."""
        names = self._hash_field_names(names, "hmget")
        return self._hash_read("hmget", names) if names else []

    def hmset(self, **values: Any) -> bool:
        """Set several InstanceHashFields at once, atomically with their indexes."""
        names = self._hash_field_names(values, "hmset")
        if not names:
            raise InvalidValue(f"{type(self).__name__}.hmset() needs at least one field.")
        fields = [self._meta.get_field(name) for name in names]
        mapping = {field.name: field.prepare_value(values[field.name]) for field in fields}
        crossing = writes.cross_slot_targets(self._meta, mapping)
        writes.write_fields(self, fields, "hset", mapping=mapping)
        if crossing:
            writes.settle_cross_slot(self, crossing)
        return True

    def hdel(self, *names: str) -> int:
        """Delete the named InstanceHashFields; the number actually deleted."""
        names = self._hash_field_names(names, "hdel")
        if not names or self._pk is None:
            return 0
        fields = [self._meta.get_field(name) for name in names]
        return writes.write_fields(self, fields, "hdel", *names)

    def hgetall(self) -> dict[str, str]:
        """``{name: value}`` of the InstanceHashFields holding a value."""
        return self._hash_read("hgetall")

    def hkeys(self) -> list[str]:
        """Names of the InstanceHashFields holding a value."""
        return self._hash_read("hkeys")

    def hvals(self) -> list[str]:
        """Values of the InstanceHashFields holding one."""
        return self._hash_read("hvals")

    def hlen(self) -> int:
        """How many InstanceHashFields hold a value."""
        return self._hash_read("hlen")

    # async twins of the hash commands (django_limpyd.aio.model.arun_method)

    async def ahmget(self, *names: str) -> list[Any]:
        """:meth:`hmget` from async code."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hmget", names, {})

    async def ahmset(self, **values: Any) -> bool:
        """:meth:`hmset` from async code (one atomic call with the indexes)."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hmset", (), values)

    async def ahdel(self, *names: str) -> int:
        """:meth:`hdel` from async code."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hdel", names, {})

    async def ahgetall(self) -> dict[str, str]:
        """:meth:`hgetall` from async code."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hgetall", (), {})

    async def ahkeys(self) -> list[str]:
        """:meth:`hkeys` from async code."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hkeys", (), {})

    async def ahvals(self) -> list[str]:
        """:meth:`hvals` from async code."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hvals", (), {})

    async def ahlen(self) -> int:
        """:meth:`hlen` from async code."""
        from django_limpyd.aio.model import arun_method

        return await arun_method(self, "hlen", (), {})
