"""The async twins of the model methods: ``acreate``, ``abulk_create``, ``adelete``,
and the hash commands of an instance (``ahmget``, ``ahmset``...: :func:`arun_method`)."""

from __future__ import annotations

from typing import Any

from django_limpyd.aio.apipeline import active
from django_limpyd.aio.capture import Capture
from django_limpyd.aio.connections import get_client
from django_limpyd.aio.reshard import afollow, alocate, follows
from django_limpyd.exceptions import DoesNotExist, Redirected

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
        return instance
    try:
        await capture.run(instance, client, instance)
    except (Redirected, DoesNotExist) as error:  # a model being resharded
        if not follows(instance, error):
            raise

        async def again() -> None:  # created again where the model creates now
            with Capture(database) as retry:
                instance.__init__(**values)
            await retry.run(instance, client, instance)

        pk_field = model._meta.pk_field
        given = None if pk_field.auto else values.get(pk_field.name, values.get("pk"))
        await afollow(instance, error, again, None if given is None else pk_field.normalize(given))
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
        return await pipeline.queue(capture, (instance,), result=result)
    try:
        deleted = await capture.run(result, client, instance)
    except Redirected as error:  # a model being resharded: where the instance is
        if not follows(instance, error):
            raise
        return await afollow(instance, error, lambda: adelete(instance))
    if not deleted and type(instance)._meta.layout is not None and instance._pk is not None:
        from django_limpyd.sharding.reshard import facade_of, rehome

        where = await alocate(facade_of(type(instance)), instance._pk)  # moved meanwhile?
        if where is not None and where is not type(instance):
            rehome(instance, where)
            return await adelete(instance)
    return deleted


async def abulk_create(
    model: type, values: list[dict[str, Any]], raise_on_error: bool = True
) -> list[Any]:
    """``Model.bulk_create(values)`` on the async transport: one round trip (``MULTI``/
    ``EXEC``), each create atomic, the failed ones left unsaved. Inside an async
    pipeline: the creates are queued there."""
    from django_limpyd.aio.pipelines import arun_calls

    database = model._meta.database
    client = get_client(database)
    if model._meta.shard_models and model._meta.has_unique:  # in several steps
        return await _abulk_create_unique(model, list(values), raise_on_error)
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


async def _abulk_create_unique(
    model: type, items: list[dict[str, Any]], raise_on_error: bool
) -> list[Any]:
    """``abulk_create`` of a sharded model with unique fields: the steps of
    :func:`django_limpyd.sharding.unique.bulk_create` on the async transport (while the
    model is resharded, as there: one ``acreate`` after the other)."""
    from django_limpyd.exceptions import ImplementationError, UniquenessError
    from django_limpyd.sharding import unique

    database = model._meta.database
    if not model._meta.previous_shard_models:
        with Capture(database) as capture:
            planned = unique.bulk_create(model, items, raise_on_error)
        return await capture.run(planned, get_client(database))
    if active(database) is not None:
        raise unique.in_pipeline(model)
    instances, errors = [], []
    for item in items:
        try:
            instances.append(await acreate(model, item))
        except (UniquenessError, ImplementationError) as error:
            errors.append(error)
            instances.append(unique.unsaved(model, item))
    if errors and raise_on_error:
        raise errors[0]
    return instances


async def arun_method(instance: Any, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """``instance.<name>(*args, **kwargs)`` (a model method sending one command or
    function call: ``hmget``, ``hmset``...) on the async transport; inside an async
    pipeline: queued, the pipeline returned."""
    database = instance._meta.database
    client = get_client(database)
    method = getattr(type(instance), name)
    # a model overriding post_command wraps its hash commands: the hook is called below
    # with the reply (in a pipeline: the pipeline, as in sync code), not with PENDING
    hooked = getattr(method, "_limpyd_post_command", None) is True
    if hooked:
        method = method.__wrapped__
    with Capture(database) as capture:
        result = method(instance, *args, **kwargs)
    pipeline = active(database)
    if pipeline is not None and capture.operations:
        reply = await pipeline.queue(capture, result=result)
    else:
        try:
            reply = await capture.run(result, client)
        except (Redirected, DoesNotExist) as error:
            if not follows(instance, error):
                raise

            async def again() -> Any:  # planned again where the instance is now
                with Capture(database) as retry:
                    planned = method(instance, *args, **kwargs)
                return await retry.run(planned, client)

            reply = await afollow(instance, error, again)
    if hooked:
        return instance.post_command(instance, name, reply, args, kwargs)
    return reply
