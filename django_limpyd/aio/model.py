"""The async twins of the model methods: ``acreate``, ``abulk_create``, ``adelete``,
and the hash commands of an instance (``ahmget``, ``ahmset``...: :func:`arun_method`)."""

from __future__ import annotations

from typing import Any

from django_limpyd.aio.apipeline import active
from django_limpyd.aio.capture import Capture
from django_limpyd.aio.connections import get_client

__all__ = ["abulk_create", "acreate", "adelete", "arun_method"]


async def acreate(model: type, values: dict[str, Any]) -> Any:
    """``Model(**values)`` on the async transport: the instance, created (unsaved when
    there is nothing to write, as the sync constructor). Inside an async pipeline: queued,
    its pk known after ``execute()``."""
    database = model._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        instance = model(**values)
    pipeline = active(database)
    if pipeline is not None:
        await pipeline.queue(capture, (instance,))
    else:
        await capture.run(instance, client, instance)
    return instance


async def adelete(instance: Any) -> bool:
    """``instance.delete()`` on the async transport (inside an async pipeline: queued,
    the pipeline returned)."""
    database = instance._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        result = instance.delete()
    pipeline = active(database)
    if pipeline is not None and capture.operations:
        return await pipeline.queue(capture)
    return await capture.run(result, client, instance)


async def abulk_create(
    model: type, values: list[dict[str, Any]], raise_on_error: bool = True
) -> list[Any]:
    """``Model.bulk_create(values)`` on the async transport: one round trip (``MULTI``/
    ``EXEC``), each create atomic, the failed ones left unsaved. Inside an async
    pipeline: the creates are queued there."""
    from django_limpyd.aio.pipelines import arun_calls

    database = model._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        instances = [model(**item) for item in values]
    pipeline = active(database)
    if pipeline is not None:
        await pipeline.queue(capture, tuple(instances))
        return instances
    try:
        await arun_calls(capture, client, transaction=True, raise_on_error=raise_on_error)
    finally:
        for instance in instances:
            if instance.__dict__.get("_queued_creation"):
                instance._queued_creation = False
    return instances


async def arun_method(instance: Any, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """``instance.<name>(*args, **kwargs)`` (a model method sending one command or
    function call: ``hmget``, ``hmset``...) on the async transport; inside an async
    pipeline: queued, the pipeline returned."""
    database = instance._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        result = getattr(instance, name)(*args, **kwargs)
    pipeline = active(database)
    if pipeline is not None and capture.operations:
        return await pipeline.queue(capture)
    return await capture.run(result, client)
