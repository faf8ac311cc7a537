"""The ``post_command`` hook of models, as in limpyd.

``RedisModel.post_command(sender, name, result, args, kwargs)`` is called after
every command of a field of an instance (``sender``: the field) and after the
model's own hash commands (``hmget``, ``hmset``, ... ``sender``: the instance);
what it returns is the command's result.

It costs nothing to a model that does not override it: the choice is made once,
when the model class is created (:func:`install`). A model overriding it binds its
fields with a subclass of their class whose command methods call the hook
(:func:`hooked_field_class`), and gets its hash commands wrapped the same way; any
other model keeps the plain classes and methods.

The hook runs once per command the caller made: a command implemented with
another one (``lmembers`` reads with ``lrange``, ``proxy_get`` with the field's
getter) calls it for the outer command only. The pk field has no hook (its
``get`` and ``set`` are not Redis commands). Inside a pipeline, a command's
result is the pipeline (the reply comes with ``execute()``), and that is what the
hook receives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = [
    "MODEL_COMMANDS",
    "default_post_command",
    "hooked_field_class",
    "install",
    "overrides_post_command",
]

#: the commands of a model instance that call the hook (with the instance as sender)
MODEL_COMMANDS = ("hmget", "hmset", "hdel", "hgetall", "hkeys", "hvals", "hlen")

#: marks the functions and classes made here
_HOOKED = "_limpyd_post_command"


def default_post_command(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``function`` as the default hook (which only returns the result)."""
    setattr(function, _HOOKED, "default")
    return function


def overrides_post_command(model: type) -> bool:
    """True if ``model`` (or a parent) overrides the default ``post_command``."""
    return getattr(model.post_command, _HOOKED, None) != "default"


def _field_command(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = self.__dict__
        if state.get("_in_command"):
            return method(self, *args, **kwargs)  # a command made with another one
        state["_in_command"] = True
        try:
            result = method(self, *args, **kwargs)
        finally:
            del state["_in_command"]
        instance = state.get("_instance")
        if instance is None:
            return result
        return instance.post_command(self, name, result, args, kwargs)

    setattr(command, _HOOKED, True)
    return command


@functools.cache
def hooked_field_class(field_class: type) -> type:
    """A subclass of ``field_class`` (same name) whose commands (its
    ``available_commands``) call the model's ``post_command``."""
    attrs: dict[str, Any] = {
        "__module__": field_class.__module__,
        "__qualname__": field_class.__qualname__,
        "__doc__": field_class.__doc__,
        _HOOKED: True,
    }
    for name in sorted(field_class.available_commands):
        method = getattr(field_class, name, None)
        if callable(method):
            attrs[name] = _field_command(method, name)
    return type(field_class.__name__, (field_class,), attrs)


def _model_command(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        return self.post_command(self, name, result, args, kwargs)

    setattr(command, _HOOKED, True)
    return command


def install(model: type) -> None:
    """Called once a model class has its fields: if it overrides ``post_command``,
    bind its fields (the pk apart) with hooked classes and wrap its hash commands."""
    if not overrides_post_command(model):
        return
    for name in MODEL_COMMANDS:
        method = getattr(model, name)
        if not getattr(method, _HOOKED, False):
            setattr(model, name, _model_command(method, name))
    meta = model._meta
    for field in meta.data_fields:
        field._bound_class = hooked_field_class(type(field))
