"""Installing Redis commands as methods of field classes.

A field class lists its commands by name; each becomes a method that sends the
command to the field's key, with the arguments and return value of redis-py's
method of the same name. Write commands go through the atomic write script
(existence check and index changes included); read commands are sent as is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

from redis.commands.core import CoreCommands

__all__ = ["async_twin", "build_command", "install_commands"]


class _CommandCapture(CoreCommands):
    """redis-py's command methods, capturing (args, options) instead of sending."""

    def execute_command(self, *args: Any, **options: Any) -> tuple[tuple[Any, ...], dict]:
        return args, options


_CAPTURE = _CommandCapture()


#: redis-py methods that warn they are deprecated (fields keep them, as limpyd did)
_DEPRECATED = frozenset(["setex", "hmset", "psetex"])


def build_command(name: str, *args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict]:
    """The (args, options) redis-py would send for ``client.<name>(*args, **kwargs)``."""
    if name not in _DEPRECATED:
        return getattr(_CAPTURE, name)(*args, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(_CAPTURE, name)(*args, **kwargs)


def _reader(name: str) -> Callable[..., Any]:
    def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._read(name, *args, **kwargs)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = f"Redis ``{name.upper()}`` on this field (arguments and result as redis-py)."
    return command


def _writer(name: str) -> Callable[..., Any]:
    def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._write(name, *args, **kwargs)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = (
        f"Redis ``{name.upper()}`` on this field, atomically with its index changes "
        "(arguments and result as redis-py)."
    )
    return command


def async_twin(name: str) -> Callable[..., Any]:
    """The async twin ``a<name>`` of the command method ``name``: the sync method plans
    the command, the async transport sends it (see :mod:`django_limpyd.aio.capture`)."""

    async def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        from django_limpyd.aio.capture import run_field_command

        return await run_field_command(self, name, args, kwargs)

    command.__name__ = command.__qualname__ = "a" + name
    command.__doc__ = f"``await field.a{name}(...)``: :meth:`{name}` on the async transport."
    return command


def install_commands(read: Iterable[str] = (), write: Iterable[str] = ()) -> Callable[[type], type]:
    """Class decorator adding the named read and write commands (unless defined), and
    their async twins (``a<name>``)."""
    read, write = tuple(read), tuple(write)

    def decorate(cls: type) -> type:
        for name in read:
            if name not in cls.__dict__:
                setattr(cls, name, _reader(name))
        for name in write:
            if name not in cls.__dict__:
                setattr(cls, name, _writer(name))
        for name in read + write:
            if "a" + name not in cls.__dict__:
                setattr(cls, "a" + name, async_twin(name))
        cls.read_commands = tuple(getattr(cls, "read_commands", ())) + read
        cls.write_commands = tuple(getattr(cls, "write_commands", ())) + write
        return cls

    return decorate
