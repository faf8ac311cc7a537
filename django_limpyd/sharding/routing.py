"""Which shard model an instance of a sharded model belongs to (see
:mod:`django_limpyd.sharding.layout`)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from django_limpyd.sharding import reshard
from django_limpyd.sharding.layout import creation_shard, shard_of_pk

__all__ = ["pks_exist", "pks_exist_steps", "shard_model_for"]


def shard_model_for(model: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> type:
    """The shard model of ``model(*args, **kwargs)``: that of the pk given (to connect,
    or to create with it), else the next shard in turn (a new AutoPK instance)."""
    meta = model._meta
    pk_field = meta.pk_field
    raw = args[0] if len(args) == 1 else kwargs.get(pk_field.name, kwargs.get("pk"))
    resharding = bool(meta.previous_shard_models)
    if raw is None:
        if resharding:
            return reshard.creation_model(model, None)
        return meta.shard_models[creation_shard(meta, None)]
    try:
        pk = pk_field.normalize(raw)
    except Exception:  # a bad pk: the shard model's __init__ says what is wrong with it
        return meta.shard_models[0]
    if resharding:
        if len(args) == 1:  # connecting: where the instance is
            return reshard.locate(model, pk) or meta.shard_model_of(pk)
        return reshard.creation_model(model, pk)
    return meta.shard_models[creation_shard(meta, pk)]


def pks_exist(model: type, pks: list[str]) -> list[bool]:
    """Whether each pk is an existing instance of the sharded ``model``: asked of each
    shard model holding some of them (while it is resharded, of the old layout first,
    then of the new one: an instance being moved is found in one or both)."""
    steps = pks_exist_steps(model, pks, _asked_now)
    try:
        next(steps)
    except StopIteration as done:
        return done.value
    raise AssertionError("unreachable: asked at once")  # pragma: no cover


def _asked_now(shard: type, pks: list[str]) -> Generator[Any, Any, list[bool]]:
    return shard._pks_exist(pks)
    yield  # a generator that never yields: the answer is read at once


def pks_exist_steps(
    model: type, pks: list[str], ask: Callable[[type, list[str]], Generator[Any, Any, list[bool]]]
) -> Generator[Any, Any, list[bool]]:
    """:func:`pks_exist` with ``ask(shard, pks)`` (steps, see
    :mod:`django_limpyd.sharding.scatter`) asking each shard model."""
    meta = model._meta
    found = [False] * len(pks)
    layouts = [(meta.shard_models, lambda pk: shard_of_pk(meta, pk))]
    if meta.previous_shard_models:
        layouts.insert(
            0, (meta.previous_shard_models, lambda pk: reshard.old_shard_of_pk(meta, pk))
        )
    for shard_models, shard_of in layouts:
        by_shard: dict[int, list[int]] = {}
        for position, pk in enumerate(pks):
            if not found[position]:
                by_shard.setdefault(shard_of(pk), []).append(position)
        for shard, positions in by_shard.items():
            answers = yield from ask(shard_models[shard], [pks[i] for i in positions])
            for position, answer in zip(positions, answers, strict=True):
                found[position] = answer
    return found
