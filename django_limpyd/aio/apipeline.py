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
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from django_limpyd.exceptions import ImplementationError

__all__ = ["AsyncPipeline", "active"]

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

    async def queue(self, capture: Any, instances: tuple[Any, ...] = ()) -> AsyncPipeline:
        """Queue what ``capture`` planned (``instances``: those it creates); send the
        signals the sync code sent meanwhile (``pre_save``, ``pre_delete``) now, as a
        sync pipeline does when a write is queued."""
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
        try:
            return await arun_calls(
                capture,
                get_client(self.database),
                transaction=self.transaction,
                raise_on_error=raise_on_error,
            )
        finally:
            self._clear_created()
