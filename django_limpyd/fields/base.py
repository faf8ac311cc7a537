"""``RedisField`` and its two families, ``SingleValueField`` and ``MultiValuesField``.

A field object declared on a model describes the field; reading it on an
instance (``person.name``) gives a copy bound to that instance, whose command
methods act on the instance's key. Nothing is cached but the binding.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.html import conditional_escape
from redis.connection import Encoder
from redis.exceptions import DataError, ResponseError

from django_limpyd.exceptions import DoesNotExist, ImplementationError, InvalidValue, Redirected
from django_limpyd.fields.commands import async_twin, build_command, install_commands
from django_limpyd.indexes import BaseIndex, EqualIndex
from django_limpyd.storage.values import to_member_list, to_redis_string

if TYPE_CHECKING:
    from django_limpyd.client import LimpydRedis
    from django_limpyd.model.base import RedisModel

__all__ = ["NOT_PROVIDED", "NOT_SET", "MultiValuesField", "RedisField", "SingleValueField"]

#: checks command arguments as redis-py will encode them
_ENCODER = Encoder("utf-8", "strict", False)

_WRITES: Any = None


def _writes_module() -> Any:
    """``django_limpyd.model.writes`` (imported on first use: it imports this module)."""
    global _WRITES
    if _WRITES is None:
        from django_limpyd.model import writes

        _WRITES = writes
    return _WRITES


#: marks "no default"
NOT_SET: Any = type("NotSet", (), {"__repr__": lambda self: "NOT_SET"})()

#: marks an argument of get_index() that was not given (``None`` is a value to match)
NOT_PROVIDED: Any = type("NotProvided", (), {"__repr__": lambda self: "NOT_PROVIDED"})()

EXPIRY_READ = ("ttl", "pttl")
EXPIRY_WRITE = ("expire", "pexpire", "expireat", "pexpireat", "persist")


def _expiry_command(name: str, write: bool) -> Any:
    """An expiry command: refused on fields that cannot expire (indexable ones...)."""

    def command(self: RedisField, *args: Any, **kwargs: Any) -> Any:
        self._check_expiry_allowed()
        return (self._write if write else self._read)(name, *args, **kwargs)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = f"Redis ``{name.upper()}`` on this field (refused on indexable fields)."
    return command


class _CommandNames:
    """``available_getters`` / ``available_modifiers`` / ``available_commands`` of a
    field class: the names of its commands, computed from what the class installs."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __get__(self, instance: Any, owner: type[RedisField]) -> frozenset[str]:
        return owner._command_names(self.kind)


@install_commands(read=EXPIRY_READ, write=EXPIRY_WRITE)
class RedisField:
    """Base of every field: options, binding to an instance, command plumbing."""

    #: the storage type the scripts know ("string", "hfield", "hash", "set", "list", "zset")
    storage_type: ClassVar[str] = ""
    #: True for fields holding several values (each member is indexed)
    multi: ClassVar[bool] = False
    #: whether ``default=`` is accepted
    accepts_default: ClassVar[bool] = False
    #: whether the expiry commands are available
    allows_expiry: ClassVar[bool] = True
    #: why a field without expiry commands has none (in the error)
    expiry_refusal: ClassVar[str] = ""
    read_commands: ClassVar[tuple[str, ...]]
    write_commands: ClassVar[tuple[str, ...]]
    #: commands written as methods (not installed by ``install_commands``), listed in
    #: ``available_getters`` / ``available_modifiers`` (each class adds its own)
    extra_getters: ClassVar[tuple[str, ...]] = ()
    extra_modifiers: ClassVar[tuple[str, ...]] = ("delete",)
    #: as in limpyd: the names of the commands reading the field
    available_getters: ClassVar[frozenset[str]] = _CommandNames("getters")  # type: ignore[assignment]
    #: the names of the commands writing the field
    available_modifiers: ClassVar[frozenset[str]] = _CommandNames("modifiers")  # type: ignore[assignment]
    #: every command name (getters and modifiers)
    available_commands: ClassVar[frozenset[str]] = _CommandNames("commands")  # type: ignore[assignment]
    #: the command reading the whole value (see :meth:`proxy_get`)
    proxy_getter: ClassVar[str | None] = None
    #: the command writing a whole value (see :meth:`proxy_set`)
    proxy_setter: ClassVar[str | None] = None
    #: the index classes of indexable fields of this class declared without
    #: ``indexes=`` (``None``: the model's, else the database's)
    default_indexes: ClassVar[list[type[BaseIndex]] | None] = None

    def __init__(
        self,
        *,
        default: Any = NOT_SET,
        indexable: bool = False,
        unique: bool = False,
        indexes: list[type[BaseIndex]] | None = None,
        lockable: bool = True,
    ) -> None:
        if default is not NOT_SET and not self.accepts_default:
            raise ImplementationError(f"{type(self).__name__} does not accept a default.")
        for index_class in indexes or ():
            if not (isinstance(index_class, type) and issubclass(index_class, BaseIndex)):
                raise ImplementationError(
                    f"indexes must be a list of index classes, got {index_class!r}."
                )
        self.default = default
        self.unique = bool(unique)
        self.indexable = bool(indexable or unique)
        if indexes and not self.indexable:
            raise ImplementationError(
                f"{type(self).__name__}: indexes= given to a field that is not indexable "
                "(add indexable=True)."
            )
        #: the index classes given with ``indexes=`` (see :meth:`get_default_indexes`)
        self.declared_index_classes: list[type[BaseIndex]] = list(indexes or ())
        #: the index classes used (the declared ones, else the default ones once attached)
        self.index_classes: list[type[BaseIndex]] = list(self.declared_index_classes)
        self.lockable = lockable
        self.name: str = ""
        self.model: type[RedisModel] | None = None
        self._instance: RedisModel | None = None
        self.indexes: list[BaseIndex] = []
        #: the class of the copies bound to instances (see ``model/hooks.py``)
        self._bound_class: type[RedisField] = type(self)

    @classmethod
    def _command_names(cls, kind: str) -> frozenset[str]:
        if kind == "commands":
            return cls.available_getters | cls.available_modifiers
        listed, extra = (
            ("read_commands", "extra_getters")
            if kind == "getters"
            else ("write_commands", "extra_modifiers")
        )
        names = set(getattr(cls, listed, ()))
        for klass in cls.__mro__:
            names.update(klass.__dict__.get(extra, ()))
        if not cls.allows_expiry:
            names.difference_update(EXPIRY_READ + EXPIRY_WRITE)
        return frozenset(names)

    # -- declaration ----------------------------------------------------------------

    def clone(self) -> RedisField:
        """An unattached copy (for subclasses of the model declaring it)."""
        field = copy.copy(self)
        field.model = field._instance = None
        field.indexes = []
        return field

    def contribute_to_class(self, model: type[RedisModel], name: str) -> None:
        """Attach to ``model`` under ``name`` (called by the metaclass)."""
        self.name = name
        self.model = model
        self._bound_class = type(self)
        if self.indexable:
            classes = self.declared_index_classes or self.get_default_indexes()
            if not classes:
                raise ImplementationError(
                    f"{self.describe()} is indexable but has no index classes: pass "
                    "indexes=[...], or set default_indexes on the field class, the model "
                    "or the database."
                )
            for index_class in classes:
                if not (isinstance(index_class, type) and issubclass(index_class, BaseIndex)):
                    raise ImplementationError(
                        f"{self.describe()}: default_indexes must be a list of index "
                        f"classes, got {index_class!r}."
                    )
            self.index_classes = classes = list(classes)
            self.indexes = [
                index
                for position, index_class in enumerate(classes)
                for index in index_class.expand(self, position)
            ]
            bases = [index.storage_base for index in self.indexes]
            for position, base in enumerate(bases):
                if base in bases[:position]:
                    raise ImplementationError(
                        f"{self.describe()}: indexes {self.indexes[bases.index(base)]!r} and "
                        f"{self.indexes[position]!r} would share their storage; configure one "
                        "with another key= (or prefix=)."
                    )
        model._meta.add_field(self)
        setattr(model, name, self)

    def get_default_indexes(self) -> list[type[BaseIndex]]:
        """The index classes of an indexable field declared without ``indexes=``: the
        ``default_indexes`` of the field class, else of the model (its class or a
        parent's), else of the model's database, else ``[EqualIndex]``."""
        if type(self).default_indexes is not None:
            return list(type(self).default_indexes)
        if self.model is not None:
            return self.model._meta.get_default_indexes()
        return [EqualIndex]

    def describe(self) -> str:
        """``Model.field``, for messages."""
        model = self.model.__name__ if self.model else "<unattached>"
        return f"{model}.{self.name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    # -- templates ------------------------------------------------------------------

    #: Django's template engine calls callables it meets (a many-to-many field is
    #: callable): this keeps ``{{ post.tags.smembers }}`` reading the field itself
    do_not_call_in_templates: ClassVar[bool] = True

    def display_value(self) -> str:
        """The value as text, read once: ``""`` for no value, several values joined
        with ``", "`` (a set's sorted)."""
        value = self.proxy_get()
        if value is None:
            return ""
        if isinstance(value, (set, frozenset)):
            value = sorted(value)
        if isinstance(value, (list, tuple)):
            return ", ".join(str(item) for item in value)
        return str(value)

    def __str__(self) -> str:
        """A bound field: its value (``{{ post.title }}``); the declared field: its repr."""
        if self._instance is None:
            return repr(self)
        return self.display_value()

    def __html__(self) -> str:
        """The value escaped, as Django's templates expect of ``__html__``."""
        if self._instance is None:
            return conditional_escape(repr(self))
        return conditional_escape(self.display_value())

    def __get__(self, instance: RedisModel | None, owner: type) -> RedisField:
        if instance is None:
            return self
        # bound to the instance: the field's attributes and the instance (cached on it)
        bound = object.__new__(self._bound_class)
        bound.__dict__ = {**self.__dict__, "_instance": instance}
        instance.__dict__[self.name] = bound
        return bound

    # -- instance plumbing ----------------------------------------------------------

    @property
    def instance(self) -> RedisModel | None:
        """The model instance this field is bound to (``None`` on the class)."""
        return self._instance

    @property
    def database(self) -> Any:
        """The database of the field's model."""
        return self.model._meta.database

    @property
    def connection(self) -> LimpydRedis:
        """The redis-py client to send commands to (a pipeline's while one is active)."""
        return self.model._meta.database.command_connection

    def _pk(self) -> str:
        if self._instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        return self._instance._meta_pk

    @property
    def key(self) -> str:
        """The Redis key of this field for the bound instance."""
        return self.model._meta.keys.field(self.name, self._pk())

    def _target(self) -> tuple[str, ...]:
        """The arguments that come before a read command's own (the key, ...). For an
        instance not saved yet, those of the key of pk ``""``, which is never written
        (a pk is never empty): its reads answer what Redis answers for a missing key
        (``None``, ``[]``, ``set()``, ``0``...), as limpyd's did."""
        instance = self._instance
        if instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        return self._target_for(instance._pk or "")

    def _read(self, name: str, *args: Any, **kwargs: Any) -> Any:
        instance = self._instance
        if instance is not None and (
            not instance.__dict__.get("_exists_checked", True)
            or (self.model._meta.expirable and instance._pk is not None)
        ):
            # a lazily connected instance, or one that may expire: check and read in
            # one call
            from django_limpyd.model.reads import checked_read

            try:
                return checked_read(instance, self._target(), name, args, kwargs)
            except DataError as exc:
                raise InvalidValue(f"{self.describe()}.{name}(): {exc}") from None
            except DoesNotExist:
                if self.model._meta.layout is None or instance.__dict__.get(
                    "_exists_checked", True
                ):
                    raise
                from django_limpyd.sharding.reshard import find

                find(instance)  # a lazily connected instance of a model being resharded
                return getattr(instance, self.name)._read(name, *args, **kwargs)
        database = self.model._meta.database
        return self._send_read(database.read_command_connection, name, args, kwargs)

    def _read_now(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Send a read at once, even while a pipeline is active (its result is needed
        here: scans, derived reads); to a replica only outside pipelines.

        For a model with expiry, an instance whose deadline passed is ``DoesNotExist``:
        a command is checked in the same call (``read``), a scan (``*_iter``, several
        round trips) once before its first page."""
        instance = self._instance
        if instance is not None and self.model._meta.expirable and instance._pk is not None:
            from django_limpyd.model.reads import checked_read

            if not name.endswith("_iter"):
                try:
                    return checked_read(instance, self._target(), name, args, kwargs, now=True)
                except DataError as exc:
                    raise InvalidValue(f"{self.describe()}.{name}(): {exc}") from None
            from django_limpyd.model.expiry import alive

            if not alive(self.model, [instance._pk])[0]:
                raise instance.DoesNotExist(
                    f"{self.model.__name__} {instance._pk!r} does not exist (expired?)."
                )
            instance._exists_checked = True
        return self._send_read(self.model._meta.database.read_connection, name, args, kwargs)

    def _send_read(self, client: Any, name: str, args: tuple, kwargs: dict) -> Any:
        target = self._target()
        self._instance._ensure_exists()
        try:
            return getattr(client, name)(*target, *args, **kwargs)
        except DataError as exc:
            raise InvalidValue(f"{self.describe()}.{name}(): {exc}") from None

    def _capture(self, name: str, args: tuple, kwargs: dict, target: tuple) -> tuple:
        try:
            command, options = build_command(name, *target, *args, **kwargs)
            for part in command[1:]:
                if type(part) is str and part.isascii():
                    continue  # valid as it is
                _ENCODER.encode(part)  # refuses None, bool, containers... before sending
                if isinstance(part, bytes):
                    part.decode("utf-8")  # values are read back as str: UTF-8 only
        except (DataError, UnicodeError) as exc:
            raise InvalidValue(f"{self.describe()}.{name}(): {exc}") from None
        return command, options

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        writes = _writes_module()
        instance = self._instance
        if instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        target = self._target_for(instance._pk or "")
        for arg in args:
            if isinstance(arg, Decimal):
                args = tuple(str(arg) if isinstance(arg, Decimal) else arg for arg in args)
                break
        command, options = self._capture(name, args, kwargs, target)
        new_values = self._new_values(name, args, kwargs) if self.model._meta.has_transforms else ()
        try:
            return writes.write(instance, [self], command, options, new_values)
        except (Redirected, DoesNotExist) as error:  # a model being resharded: follow it
            return writes.follow_move(
                instance, error, lambda: getattr(instance, self.name)._write(name, *args, **kwargs)
            )
        except ResponseError as exc:
            # a command Redis refused (nothing was written): say which field
            message = str(exc).split(" script: ")[0]
            raise type(exc)(f"{self.describe()}.{name}(): {message}") from None

    def _target_for(self, pk: str) -> tuple[str, ...]:
        """The leading arguments of a command for instance ``pk``."""
        return (self.model._meta.keys.field(self.name, pk),)

    def _new_values(self, name: str, args: tuple, kwargs: dict) -> list[Any]:
        """Raw values this command may bring (lets scripts find transforms in one go)."""
        return [value for value in args if isinstance(value, (str, int, float))]

    def _check_expiry_allowed(self) -> None:
        whole = (
            " To make whole instances expire (data, index entries and pk together), give "
            "the model a `ttl` or `expirable = True` and use instance.expire() "
            "(docs/orm/expiry.rst)."
        )
        if not self.allows_expiry:
            raise ImplementationError(
                f"{self.describe()} does not support expiry commands: {self.expiry_refusal}{whole}"
            )
        if self.indexable:
            raise ImplementationError(
                f"{self.describe()} is indexable: an expiring value would leave its index "
                "entries behind (Redis deletes the key alone, so filters would still find "
                f"the old value), so expiry commands are refused.{whole}"
            )

    expire = _expiry_command("expire", write=True)
    pexpire = _expiry_command("pexpire", write=True)
    expireat = _expiry_command("expireat", write=True)
    pexpireat = _expiry_command("pexpireat", write=True)
    persist = _expiry_command("persist", write=True)
    ttl = _expiry_command("ttl", write=False)
    pttl = _expiry_command("pttl", write=False)

    def delete(self) -> Any:
        """Delete the value of this field (and its index entries)."""
        if self._instance is not None and self._instance._pk is None:
            return 0
        return self._write("delete")

    #: async twins of :meth:`delete`, :meth:`proxy_get` and :meth:`proxy_set`
    adelete = async_twin("delete")
    aproxy_get = async_twin("proxy_get")
    aproxy_set = async_twin("proxy_set")

    def exists(self) -> bool:
        """True if the field has a value in Redis (its key exists); ``False`` for an
        instance not saved yet or deleted. Sent at once, even inside a pipeline (to a
        replica only outside pipelines)."""
        if self._instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        if self._instance._pk is None:
            return False
        return bool(self.model._meta.database.read_connection.exists(self.key))

    # -- limpyd's proxy getter and setter ----------------------------------------------

    def proxy_get(self) -> Any:
        """The whole value, read with the field's ``proxy_getter`` command (``get`` for a
        StringField, ``hget`` for an InstanceHashField, ``smembers`` for a SetField...)."""
        if self.proxy_getter is None:
            raise ImplementationError(f"{type(self).__name__} has no proxy_getter.")
        return getattr(self, self.proxy_getter)()

    def proxy_set(self, value: Any) -> Any:
        """Write ``value`` with the field's ``proxy_setter`` command (``set``, ``hset``,
        ``sadd``, ``rpush``, ``zadd``, ``hmset``...): a list, tuple or set is passed as
        several arguments, a dict as one mapping, anything else as one argument."""
        if self.proxy_setter is None:
            raise ImplementationError(f"{type(self).__name__} has no proxy_setter.")
        setter = getattr(self, self.proxy_setter)
        if isinstance(value, (list, tuple, set, frozenset)):
            return setter(*value)
        return setter(value)

    # -- indexes --------------------------------------------------------------------

    def pointer_target(self, index: BaseIndex) -> str | None:
        """For a field pointing to instances of another model (related fields): the
        key of that model's set of pks if ``index`` holds the pointers, so that
        writes refuse values that are not pks of existing instances. ``None`` here."""
        return None

    def pointer_target_expiry(self, index: BaseIndex) -> str | None:
        """The deadlines key of the model :meth:`pointer_target` names, when that model
        has expiry (an expired target is missing). ``None`` here."""
        return None

    def clear_indexes(self, chunk_size: int = 1000, aggressive: bool = False) -> int:
        """Delete every entry of every index of this field; keys deleted.

        Index keys are always found with SCAN (``aggressive`` is accepted for
        compatibility with limpyd, where it chose SCAN over the stored values).
        """
        return sum(index.clear(chunk_size) for index in self._declared().indexes)

    def rebuild_indexes(self, chunk_size: int = 1000) -> int:
        """Clear and rebuild every index of this field; instances read."""
        return sum(index.rebuild(chunk_size) for index in self._declared().indexes)

    def _declared(self) -> RedisField:
        return self.model._meta.get_field(self.name)

    def implicit_indexes(self) -> list[BaseIndex]:
        """Indexes the field adds for its own use, that limpyd did not have: a related
        field's pointer index (see ``pointer_target``). :meth:`get_index` leaves them
        out when another index matches too."""
        pointer_index = getattr(self, "pointer_index", None)
        return [pointer_index()] if pointer_index is not None and self.indexes else []

    def get_index(
        self,
        index_class: type[BaseIndex] | None = NOT_PROVIDED,
        key: str | None = NOT_PROVIDED,
        prefix: str | None = NOT_PROVIDED,
    ) -> BaseIndex:
        """The only index of this field matching the given criteria, as in limpyd.

        ``index_class`` keeps the indexes that are instances of it, ``key`` and
        ``prefix`` the ones with this key / prefix (``None`` matches the indexes
        without one); an argument not given does not filter. Raises ``ValueError``
        when no index, or more than one, matches.
        """
        indexes = self._declared().indexes
        if index_class is not NOT_PROVIDED and index_class is not None:
            indexes = [index for index in indexes if isinstance(index, index_class)]
        if key is not NOT_PROVIDED:
            indexes = [index for index in indexes if index.key == key]
        if prefix is not NOT_PROVIDED:
            indexes = [index for index in indexes if index.prefix == prefix]
        if len(indexes) > 1:
            # an index the field adds for its own use does not make a choice ambiguous
            implicit = self._declared().implicit_indexes()
            declared = [index for index in indexes if index not in implicit]
            if len(declared) == 1:
                return declared[0]
        if len(indexes) == 1:
            return indexes[0]
        criteria = ", ".join(
            f"{name}={value!r}"
            for name, value in (("index_class", index_class), ("key", key), ("prefix", prefix))
            if value is not NOT_PROVIDED
        )
        if not indexes:
            raise ValueError(
                f"{self.describe()} has no index matching ({criteria or 'no criteria'})."
            )
        raise ValueError(
            f"{self.describe()} has {len(indexes)} indexes matching "
            f"({criteria or 'no criteria'}): {indexes!r}; give index_class=, key= or "
            "prefix= to choose one."
        )


class SingleValueField(RedisField):
    """A field holding one value per instance (StringField, InstanceHashField, pk)."""

    accepts_default = True
    #: the command reading the value
    read_command: ClassVar[str] = "get"

    def current_value(self) -> Any:
        """The stored value of the bound instance, read at once (even in a pipeline)."""
        return self._read_now(self.read_command)

    def prepare_value(self, value: Any) -> str:
        """``value`` as stored, or :class:`InvalidValue` naming the field."""
        kind = type(value)
        if kind is str and value.isascii():
            return value  # the common cases, valid as they are
        if kind is int:
            return str(value)
        if value is None:
            raise InvalidValue(f"{self.describe()} cannot store None (delete the field instead).")
        return to_redis_string(value, self.describe())


class MultiValuesField(RedisField):
    """A field holding several values (HashField, SetField, ListField, SortedSetField)."""

    multi = True

    def prepare_value(self, value: Any) -> Any:
        """Values given to the constructor, as stored (overridden per type)."""
        return to_member_list(value, self.describe())
