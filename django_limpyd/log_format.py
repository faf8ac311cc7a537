"""One readable text per command, for the command log (:mod:`django_limpyd.logging`).

A call of a model's function library (``FCALL``/``FCALL_RO``, or ``EVALSHA`` on
Redis 6.2) becomes what it does: ``create demo.Person pk=auto``, ``write
demo.Person.name pk=3 HSET``, ``delete demo.Person pk=3``, ``collection
demo.Person filters=city=Paris sort=birth_year``. The model is found from its key
prefix (:class:`~django_limpyd.storage.keys.ModelKeys`); nothing here builds a key.
Loading code (``FUNCTION LOAD``, ``SCRIPT LOAD``, ``EVAL``) shows its size, never
its source. Other commands are shown as sent, each part cut at 200 characters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

__all__ = ["describe_command", "describe_commands"]

#: commands whose arguments hold code
_CODE = {"FUNCTION": 2, "SCRIPT": 2, "EVAL": 1, "EVAL_RO": 1}


def _shown(part: Any) -> str:
    text = part.decode(errors="replace") if isinstance(part, bytes) else str(part)
    return text if len(text) <= 200 else text[:197] + "..."


def _model_of(key: str) -> Any:
    """The registered model owning ``key`` (``None`` if none)."""
    from django_limpyd import registry

    for model in registry.get_models():
        if model._meta.keys.owns(key):
            return model
    return None


def _label(model: Any, key: str) -> str:
    """The label of ``model``, else the prefix of ``key`` (``{namespace:Model}``)."""
    if model is not None:
        return model._meta.label
    return key[: key.index("}") + 1] if key.startswith("{") and "}" in key else key


def _field_of(meta: Any, key: str) -> tuple[str | None, str | None]:
    """``(field name, pk)`` of a field key or an instance hash of ``meta``'s model."""
    keys = meta.keys
    if key.startswith(keys.instance_hash_prefix):
        return None, key[len(keys.instance_hash_prefix) :]
    marker = keys.prefix + ":f:"
    if key.startswith(marker):
        name, _, pk = key[len(marker) :].partition(":")
        return unquote(name), pk
    return None, None


def _write(model: Any, keys: list[str], args: list[str]) -> str:
    """``write shop.Person.name pk=1 HSET``."""
    label = _label(model, keys[0])
    position = next((i for i, arg in enumerate(args) if arg.isalpha() and arg.isupper()), None)
    command = args[position] if position is not None else "?"
    names: list[str] = []
    pk = None
    if model is not None:
        meta = model._meta
        for key in keys[1:]:
            name, found = _field_of(meta, key)
            pk = pk or found
            if name:
                names.append(name)
        if not names and position:
            by_position = {str(p): n for n, p in meta.field_positions.items()}
            names = [by_position.get(p, p) for p in str(args[position - 1]).split(",")]
    target = f"{label}.{','.join(names)}" if names else label
    return f"write {target} pk={pk or '?'} {command}"


def _filters(model: Any, plan: dict[str, Any]) -> str:
    """``name=Ann,city=Paris`` from a collection plan's filters."""
    shown = []
    prefix = model._meta.keys.prefix + ":x:" if model is not None else None
    for operation in plan.get("filters", ()):
        key = str(operation.get("key", ""))
        if prefix and key.startswith(prefix):
            field, _, rest = key[len(prefix) :].partition(":")
            kind, _, value = rest.partition(":")
            field = unquote(field)
            if operation.get("op") == "set" and kind.startswith("eq"):
                shown.append(f"{field}={value}")
                continue
            bounds = [str(operation[b]) for b in ("min", "max") if b in operation]
            shown.append(
                f"{field}:{operation.get('op', kind)}" + (f"[{','.join(bounds)}]" if bounds else "")
            )
        else:
            shown.append(str(operation.get("op", "?")))
    return ",".join(shown) or "none"


def _collection(model: Any, keys: list[str], args: list[str]) -> str:
    """``collection shop.Person filters=city=Paris sort=name``."""
    text = f"collection {_label(model, keys[0] if keys else '?')}"
    try:
        plan = json.loads(args[0]) if args else {}
    except (ValueError, TypeError):
        return text
    if not isinstance(plan, dict):
        return text
    text += f" filters={_filters(model, plan)}"
    sort = plan.get("sort")
    if isinstance(sort, dict):
        by = sort.get("by") or (sort.get("keys") or [{}])[0].get("name") or "pk"
        by = str(by).rpartition("->")[2] if "->" in str(by) else by
        if model is not None and str(by).startswith(model._meta.keys.prefix):
            by = _field_of(model._meta, str(by))[0] or by
        text += f" sort={'-' if sort.get('desc') else ''}{by}"
    if plan.get("count"):
        text += " count"
    return text


def _library_call(command: tuple[Any, ...]) -> str | None:
    """The text of a call of a model's library, ``None`` for another command."""
    name = str(command[0]).upper()
    if name not in ("FCALL", "FCALL_RO", "EVALSHA", "EVALSHA_RO") or len(command) < 3:
        return None
    try:
        count = int(command[2])
    except (TypeError, ValueError):
        return None
    keys = [str(key) for key in command[3 : 3 + count]]
    args = [str(arg) for arg in command[3 + count :]]
    if name.startswith("FCALL"):
        operation = str(command[1]).rpartition("_")[2]
    elif args:
        operation, args = args[0], args[1:]
    else:
        return None
    model = _model_of(keys[0]) if keys else None
    label = _label(model, keys[0]) if keys else "?"
    if operation == "create":
        auto = model is not None and model._meta.pk_field.auto
        return f"create {label}" + (" pk=auto" if auto else "")
    if operation == "write":
        return _write(model, keys, args)
    if operation == "set" and model is not None and len(args) == 3:  # an HSET of one entry
        by_position = {p: n for n, p in model._meta.field_positions.items()}
        return f"write {label}.{by_position.get(args[1], args[1])} pk={args[0]} HSET"
    if operation == "delete":
        return f"delete {label} pk={args[0] if args else '?'}"
    if operation == "collection":
        return _collection(model, keys, args)
    return f"{operation} {label}"


def describe_command(command: tuple[Any, ...]) -> str:
    """One command as a readable text (see the module docstring)."""
    if not command:
        return ""
    described = _library_call(command)
    if described is not None:
        return described
    name = str(command[0]).upper()
    shown = _CODE.get(name)
    if shown == 2 and (len(command) < 2 or str(command[1]).upper() != "LOAD"):
        shown = None  # FUNCTION LIST, SCRIPT EXISTS...: no code in them
    if shown is not None:
        size = sum(len(_shown(part)) for part in command[shown:])
        head = " ".join(_shown(part) for part in command[:shown])
        return f"{head} ({size} bytes of code)"
    return " ".join(_shown(part) for part in command)


def describe_commands(commands: Sequence[tuple[Any, ...]]) -> str:
    """The commands of one round trip, separated by ``" | "``."""
    return " | ".join(describe_command(command) for command in commands)
