"""The async twins of the model methods that write: ``acreate``, ``abulk_create``,
``adelete``."""

from __future__ import annotations

from typing import Any

from django_limpyd.aio.capture import Capture
from django_limpyd.aio.connections import get_client

__all__ = ["abulk_create", "acreate", "adelete"]


async def acreate(model: type, values: dict[str, Any]) -> Any:
    """``Model(**values)`` on the async transport: the instance, created (unsaved when
    there is nothing to write, as the sync constructor)."""
    database = model._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        instance = model(**values)
    await capture.run(instance, client, instance)
    return instance


async def adelete(instance: Any) -> bool:
    """``instance.delete()`` on the async transport."""
    database = instance._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        result = instance.delete()
    return await capture.run(result, client, instance)


async def abulk_create(
    model: type, values: list[dict[str, Any]], raise_on_error: bool = True
) -> list[Any]:
    """``Model.bulk_create(values)`` on the async transport: one round trip (``MULTI``/
    ``EXEC``), each create atomic, the failed ones left unsaved."""
    from django_limpyd.aio.pipelines import arun_calls

    database = model._meta.database
    client = get_client(database)
    with Capture(database) as capture:
        instances = [model(**item) for item in values]
    try:
        await arun_calls(capture, client, transaction=True, raise_on_error=raise_on_error)
    finally:
        for instance in instances:
            if instance.__dict__.get("_queued_creation"):
                instance._queued_creation = False
    return instances
