"""``RedisField`` and its two families, ``SingleValueField`` and ``MultiValuesField``.

A field object declared on a model describes the field; reading it on an
instance (``person.name``) gives a copy bound to that instance, whose command
methods act on the instance's key. Nothing is cached but the binding.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from redis.connection import Encoder
from redis.exceptions import DataError, ResponseError

from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields.commands import build_command, install_commands
from django_limpyd.indexes import BaseIndex, EqualIndex
from django_limpyd.storage.values import to_member_list, to_redis_string

if TYPE_CHECKING:
    from django_limpyd.client import LimpydRedis
    from django_limpyd.model.base import RedisModel

__all__ = ["NOT_SET", "MultiValuesField", "RedisField", "SingleValueField"]

#: checks command arguments as redis-py will encode them
_ENCODER = Encoder("utf-8", "strict", False)

#: marks "no default"
NOT_SET: Any = type("NotSet", (), {"__repr__": lambda self: "NOT_SET"})()

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
    read_commands: ClassVar[tuple[str, ...]]
    write_commands: ClassVar[tuple[str, ...]]

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
        self.indexable = bool(indexable or unique or indexes)
        self.index_classes: list[type[BaseIndex]] = list(indexes or ())
        self.lockable = lockable
        self.name: str = ""
        self.model: type[RedisModel] | None = None
        self._instance: RedisModel | None = None
        self.indexes: list[BaseIndex] = []

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
        if self.indexable:
            classes = self.index_classes or [EqualIndex]
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

    def describe(self) -> str:
        """``Model.field``, for messages."""
        model = self.model.__name__ if self.model else "<unattached>"
        return f"{model}.{self.name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def __get__(self, instance: RedisModel | None, owner: type) -> RedisField:
        if instance is None:
            return self
        # bound to the instance: the field's attributes and the instance (cached on it)
        bound = object.__new__(type(self))
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
        """The arguments that come before the command's own (the key, ...)."""
        return self._target_for(self._pk())

    def _read(self, name: str, *args: Any, **kwargs: Any) -> Any:
        instance = self._instance
        if instance is not None and not instance.__dict__.get("_exists_checked", True):
            # a lazily connected instance: check and read in one call
            from django_limpyd.model.reads import checked_read

            try:
                return checked_read(instance, self._target(), name, args, kwargs)
            except DataError as exc:
                raise InvalidValue(f"{self.describe()}.{name}(): {exc}") from None
        return self._send_read(self.connection, name, args, kwargs)

    def _read_now(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Send a read at once, even while a pipeline is active (its result is needed
        here: scans, derived reads)."""
        return self._send_read(self.model._meta.database.connection, name, args, kwargs)

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
        from django_limpyd.model import writes

        instance = self._instance
        if instance is None:
            raise ImplementationError(f"{self.describe()} is not bound to an instance.")
        target = self._target_for(instance._pk or "")
        if any(isinstance(arg, Decimal) for arg in args):
            args = tuple(str(arg) if isinstance(arg, Decimal) else arg for arg in args)
        command, options = self._capture(name, args, kwargs, target)
        new_values = self._new_values(name, args, kwargs) if self.model._meta.has_transforms else ()
        try:
            return writes.write(instance, [self], command, options, new_values)
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
        if not self.allows_expiry:
            raise ImplementationError(f"{self.describe()} does not support expiry commands.")
        if self.indexable:
            raise ImplementationError(
                f"{self.describe()} is indexable: an expiring value would leave its index "
                "entries behind, so expiry commands are refused."
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

    # -- indexes --------------------------------------------------------------------

    def pointer_target(self, index: BaseIndex) -> str | None:
        """For a field pointing to instances of another model (related fields): the
        key of that model's set of pks if ``index`` holds the pointers, so that
        writes refuse values that are not pks of existing instances. ``None`` here."""
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

    def get_index(
        self,
        index_class: type[BaseIndex] | None = None,
        key: str | None = None,
        prefix: str | None = None,
    ) -> BaseIndex:
        """The index of this field matching the criteria (the first one by default)."""
        for index in self._declared().indexes:
            if index_class is not None and not isinstance(index, index_class):
                continue
            if key is not None and index.key != key:
                continue
            if prefix is not None and index.prefix != prefix:
                continue
            return index
        raise ImplementationError(
            f"{self.describe()} has no index matching class={index_class!r}, key={key!r}, "
            f"prefix={prefix!r}."
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
