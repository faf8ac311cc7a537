"""Async pipelines: ``async with database.apipeline() as pipeline: ...``.

The async twin of :mod:`django_limpyd.pipelines`. Inside the block, the async methods
of fields and models of the database (``await field.a<command>()``, ``acreate``,
``adelete``, ``abulk_create``) plan their operation with the sync code, as always
(:mod:`django_limpyd.aio.capture`), but queue it here instead of sending it, and
return the pipeline (``acreate``: the instance, whose pk is known after
:meth:`AsyncPipeline.execute`). ``await pipeline.execute()`` sends everything in one
round trip (``MULTI``/``EXEC`` with ``transaction=True``, the default) and returns the
results in order, each as the direct call would have returned it; each write stays one
atomic function call, and one that fails is reported for itself
(:func:`django_limpyd.pipelines.error_outcome`, shared with the sync pipeline).

The active pipeline is kept in a ``ContextVar`` and only the task that opened it queues
into it: other tasks of the loop, even those started inside the block (which inherit
the variable), send their commands as usual. Collections (``aget``, ``acount``,
``async for``...) run at once, as in a sync pipeline their planning reads do.

Watching keys (``await pipeline.watch(*keys_or_fields)``, then ``pipeline.multi()``),
and ``await database.atransaction(func, *watches)`` which runs ``func`` again while a
watched key changes: see :mod:`django_limpyd.aio.transaction`.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from django_limpyd.exceptions import ImplementationError

__all__ = ["AsyncPipeline", "active"]

#: the default ``result`` of :meth:`AsyncPipeline.queue`: the reply is the result
_PENDING: Any = object()

#: the async pipelines open in this context, by id of their database
_ACTIVE: contextvars.ContextVar[dict[int, AsyncPipeline] | None] = contextvars.ContextVar(
    "limpyd_async_pipelines", default=None
)


def active(database: Any) -> AsyncPipeline | None:
    """The async pipeline the current task queues the commands of ``database`` into,
    if any."""
    pipelines = _ACTIVE.get()
    if not pipelines:
        return None
    pipeline = pipelines.get(id(database))
    if pipeline is None or pipeline._task is not asyncio.current_task():
        return None
    return pipeline


class AsyncPipeline:
    """Operations of one database queued by one task, sent by :meth:`execute` in one
    round trip. Use ``async with database.apipeline() as pipeline:``."""

    def __init__(self, database: Any, transaction: bool = True) -> None:
        self.database = database
        #: ``MULTI``/``EXEC`` around the queued operations
        self.transaction = transaction
        self._operations: list[Any] = []
        self._created: list[Any] = []
        self._task: asyncio.Task | None = None
        self._token: contextvars.Token | None = None
        #: the connection holding the WATCH (see :meth:`watch`)
        self._held: Any = None
        #: True once :meth:`multi` was called
        self._multi = False

    async def __aenter__(self) -> AsyncPipeline:
        if active(self.database) is not None:
            raise ImplementationError(f"{self.database!r} already has an active async pipeline.")
        self._task = asyncio.current_task()
        self._token = _ACTIVE.set({**(_ACTIVE.get() or {}), id(self.database): self})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        self.reset()
        await self._release()

    async def _release(self) -> None:
        held, self._held = self._held, None
        self._multi = False
        if held is not None:
            await held.release()

    # -- watching -------------------------------------------------------------------

    async def watch(self, *watches: Any) -> None:
        """``WATCH`` keys, given as strings or as fields of instances: until
        :meth:`multi`, the commands of this task are then sent at once (on the
        connection holding the watch), and :meth:`execute` runs the queued ones only if
        no watched key changed (else ``WatchError``, nothing run). See
        :mod:`django_limpyd.aio.transaction`."""
        from redis.exceptions import RedisError

        from django_limpyd.aio.connections import get_client
        from django_limpyd.aio.transaction import HeldConnection, watched_keys

        if self._multi:
            raise RedisError("Cannot issue a WATCH after a MULTI")
        if self._operations:
            raise RedisError("Commands without an initial WATCH have already been issued")
        if not self.transaction:
            raise ImplementationError("Keys are watched in a transaction: apipeline() only.")
        keys = watched_keys(watches)
        if self._held is None:
            self._held = HeldConnection(get_client(self.database))
        await self._held.watch(keys)

    def multi(self) -> None:
        """Start queueing after :meth:`watch` (commands before it are sent at once)."""
        from redis.exceptions import RedisError

        if self._multi:
            raise RedisError("Cannot issue nested calls to MULTI")
        if self._operations:
            raise RedisError("Commands without an initial WATCH have already been issued")
        self._multi = True

    def is_watching(self) -> bool:
        """True between :meth:`watch` and the end of the transaction."""
        return self._held is not None and self._held.watching

    def sends_at_once(self) -> bool:
        """True if a command is sent now rather than queued: keys are watched and
        :meth:`multi` was not called yet."""
        return self._held is not None and not self._multi

    @property
    def connection(self) -> Any:
        """redis-py's command methods (``await pipeline.connection.exists(key)``, or
        ``execute_command``): sent at once while keys are watched before
        :meth:`multi`, queued otherwise (the pipeline returned)."""
        return _Raw(self)

    def __len__(self) -> int:
        return len(self._operations)

    def reset(self) -> None:
        """Forget the queued operations (instances queued for creation stay unsaved)."""
        self._operations.clear()
        self._clear_created()

    def _clear_created(self) -> None:
        for instance in self._created:
            if instance.__dict__.get("_queued_creation"):
                instance._queued_creation = False
        self._created.clear()

    async def queue(
        self, capture: Any, instances: tuple[Any, ...] = (), result: Any = _PENDING
    ) -> Any:
        """Queue what ``capture`` planned (``instances``: those it creates); send the
        signals the sync code sent meanwhile (``pre_save``, ``pre_delete``) now, as a
        sync pipeline does when a write is queued.

        Between :meth:`watch` and :meth:`multi`, the operation is sent at once instead,
        and its result returned (``result``: what the sync method returned, the reply
        in place of :data:`~django_limpyd.aio.capture.PENDING`)."""
        if self.sends_at_once():
            return await self._run_at_once(capture, instances, result)
        # related targets in other slots checked now, as a sync pipeline does; their
        # other steps are left to ``check --repair`` (contrib/related/crossslot.py)
        await capture.run_deferred(True, instances)
        capture.after.clear()
        self._operations.extend(capture.operations)
        self._created.extend(
            instance for instance in instances if instance.__dict__.get("_queued_creation")
        )
        capture.operations = []
        await capture.send_signals()
        return self

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued operation in one round trip; their results, in order.

        ``raise_on_error``: raise the first error once every operation ran; else return
        the exceptions in place of the results. Writes the server could not run yet
        (transforms of stored values to compute; outside a transaction, a library it
        lost) wrote nothing and are sent again together in one more round trip."""
        from django_limpyd.aio.capture import Capture
        from django_limpyd.aio.connections import get_client
        from django_limpyd.aio.pipelines import arun_calls

        operations, self._operations = self._operations, []
        capture = Capture(self.database)
        capture.operations = operations
        held = self._held
        try:
            if held is not None:  # a watched transaction: on the connection of the watch
                from django_limpyd.aio.transaction import _WatchedPipe

                pipe = _WatchedPipe(held)
                if not operations:  # EXEC all the same: it says if a watched key changed
                    return await pipe.execute(raise_on_error)
                return await arun_calls(
                    capture,
                    get_client(self.database),
                    transaction=True,
                    raise_on_error=raise_on_error,
                    pipe=pipe,
                )
            return await arun_calls(
                capture,
                get_client(self.database),
                transaction=self.transaction,
                raise_on_error=raise_on_error,
            )
        finally:
            self._clear_created()
            if held is not None:
                await self._release()

    async def _run_at_once(self, capture: Any, instances: tuple[Any, ...], result: Any) -> Any:
        from django_limpyd.aio.capture import PENDING
        from django_limpyd.aio.transaction import HeldClient, not_while_watching

        if len(capture.operations) > 1:
            for instance in instances:
                if instance.__dict__.get("_queued_creation"):
                    instance._queued_creation = False
            raise not_while_watching(repr(instances[0]) if instances else "This call")
        instance = instances[0] if instances else None
        reply = await capture.run(
            PENDING if result is _PENDING else result, HeldClient(self._held), instance, held=True
        )
        return reply


class _Raw:
    """redis-py's command methods on an :class:`AsyncPipeline` (its ``connection``)."""

    def __init__(self, pipeline: AsyncPipeline) -> None:
        self._pipeline = pipeline

    def __getattr__(self, name: str) -> Any:
        from redis.commands.core import CoreCommands

        method = getattr(CoreCommands, name)
        return method.__get__(self)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        pipeline = self._pipeline
        if pipeline.sends_at_once():
            return await pipeline._held.execute_command(*args, **options)
        from django_limpyd.aio.capture import _Command

        pipeline._operations.append(_Command(args, options))
        return pipeline
