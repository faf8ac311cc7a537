"""Pipelines and transactions of a database, where every write still works.

Inside ``with database.pipeline() as pipeline:`` the field commands of models on
that database (reads, writes of indexed and unique fields, creates, deletes) are
queued instead of sent, and ``pipeline.execute()`` sends them in one round trip
and returns their results in order, each as the direct call would have returned
it. Each queued write is still one atomic script with its index changes; a
failing one (``UniquenessError``, ``DoesNotExist``) is reported for that
command only: ``execute()`` raises the first error after every command ran, or,
with ``raise_on_error=False``, returns the exceptions in place.

Only the thread that opened a pipeline queues into it, unless
``share_in_threads=True``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from django_limpyd.exceptions import ImplementationError
from django_limpyd.model.writes import MAX_TRANSFORM_ROUNDS, prefetch_transforms
from django_limpyd.storage import functions

if TYPE_CHECKING:
    from django_limpyd.database import RedisDatabase
    from django_limpyd.model.writes import FunctionCall

__all__ = ["Pipeline", "PipelineSlot"]

#: marks a queued write that must be sent again
RETRY = object()
#: marks a reply saying the server lost the write's library (nothing ran)
LIBRARY_LOST = object()


class _ThreadPipeline(threading.local):
    #: a thread's own pipeline (this default until the thread sets one: read with no
    #: AttributeError raised and caught, on every write)
    pipeline: Pipeline | None = None


class PipelineSlot:
    """Where a database keeps its active pipeline: per thread, or shared."""

    def __init__(self) -> None:
        self._local = _ThreadPipeline()
        self._shared: Pipeline | None = None

    def get(self) -> Pipeline | None:
        """The pipeline commands of the current thread go to, if any."""
        pipeline = self._local.pipeline
        return self._shared if pipeline is None else pipeline

    def set(self, pipeline: Pipeline | None, shared: bool) -> None:
        """Make ``pipeline`` active (``None``: none) for this thread or for all."""
        if shared:
            self._shared = pipeline
        else:
            self._local.pipeline = pipeline


class Pipeline:
    """A redis-py pipeline that django_limpyd fields and models queue into."""

    def __init__(
        self, database: RedisDatabase, transaction: bool = True, share_in_threads: bool = False
    ) -> None:
        self.database = database
        self.share_in_threads = share_in_threads
        #: the underlying redis-py pipeline (fields send their commands to it)
        self.connection = database.connection.pipeline(transaction=transaction)
        self._calls: dict[int, FunctionCall] = {}

    def __enter__(self) -> Pipeline:
        if self.database.active_pipeline() is not None:
            raise ImplementationError(f"{self.database!r} already has an active pipeline.")
        self.database._pipelines.set(self, self.share_in_threads)
        return self

    def __exit__(self, *exc: object) -> None:
        self.database._pipelines.set(None, self.share_in_threads)
        self.reset()

    def __len__(self) -> int:
        return self.connection.queued_count()

    # -- watching -------------------------------------------------------------------

    def watch(self, *watches: Any) -> None:
        """WATCH keys, given as strings or as fields of instances."""
        keys = [watch if isinstance(watch, str) else watch.key for watch in watches]
        self.connection.watch(*keys)

    def multi(self) -> None:
        """Start queueing after :meth:`watch` (reads before it are sent at once)."""
        self.connection.multi()

    def reset(self) -> None:
        """Forget queued commands and watches."""
        self._calls.clear()
        self.connection.reset()

    # -- queueing -------------------------------------------------------------------

    def add_function_call(self, call: FunctionCall) -> Any:
        """Queue a write; its result comes from :meth:`execute`.

        Between ``watch()`` and ``multi()`` it is sent at once and its result
        returned, like any command then.
        """
        connection = self.connection
        if connection.sends_at_once():
            return call.finish(call.run(connection))
        self._calls[connection.queued_count()] = call
        connection.execute_command(*call.command(self.database.connection))
        return self

    # -- execution ------------------------------------------------------------------

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one round trip; their results, in order.

        Writes the server could not run yet (transforms of stored values to compute;
        outside a transaction, a library the server lost) wrote nothing; they are sent
        again together in one more round trip.
        """
        calls, self._calls = self._calls, {}
        client = self.database.connection
        transaction = self.connection.transaction
        if transaction and calls:
            # transforms of stored values, read ahead in one round trip: a write that
            # asked for them after EXEC would be sent again outside the transaction
            changed = prefetch_transforms(calls.values())
            if changed:
                for position, call in calls.items():
                    if call in changed:
                        self.connection.replace_queued(position, call.command(client))
            if not self.connection.is_watching():  # a stalled server must fail once, at EXEC
                libraries = {call.library.name: call.library for call in calls.values()}
                functions.ensure_present(client, list(libraries.values()))
        results = self.connection.execute(raise_on_error=False)
        pending = dict(calls)
        for _round in range(MAX_TRANSFORM_ROUNDS + 1):
            retry: dict[int, FunctionCall] = {}
            for position, call in pending.items():
                outcome = self._outcome(call, results[position], transaction)
                if outcome is RETRY:
                    retry[position] = call
                else:
                    results[position] = outcome
            if not retry:
                break
            pending = retry
            pipe = client.pipeline(transaction=False)
            for call in retry.values():
                pipe.execute_command(*call.command(client))
            for position, reply in zip(retry, pipe.execute(raise_on_error=False), strict=True):
                results[position] = reply
        else:
            for position, call in pending.items():
                results[position] = ImplementationError(
                    f"{call.model.__name__}: the values to index kept changing; nothing written."
                )
        if raise_on_error:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    def _outcome(self, call: FunctionCall, reply: Any, transaction: bool) -> Any:
        """The result of a queued write, or ``RETRY`` if it must be sent again."""
        outcome = error_outcome(call, reply, transaction)
        if outcome is LIBRARY_LOST:
            functions.ensure_loaded(self.database.connection, call.library, force=True)
            return library_lost_outcome(call, transaction)
        if outcome is not None:
            return outcome
        try:
            return call.finish(reply)
        except Exception as exc:  # a conversion error stays with its command
            return exc


def error_outcome(call: FunctionCall, reply: Any, transaction: bool) -> Any:
    """What a queued write's error reply means (``None``: not an error): ``LIBRARY_LOST``
    (nothing ran: load the library, then :func:`library_lost_outcome`), ``RETRY`` (its
    transforms were added: send it again), or the exception to put in its place. Shared
    by the sync and async pipelines."""
    if not isinstance(reply, ResponseError):
        return None
    if functions.is_missing_library(reply):
        return LIBRARY_LOST
    error = functions.parse_script_error(reply)
    if error is None:
        return reply
    if error.code != "NEED":
        return call.error(error)
    call.add_transforms(error.payload)
    return RETRY


def library_lost_outcome(call: FunctionCall, transaction: bool) -> Any:
    """After loading the lost library again: send the write again, or, inside a
    transaction (which cannot be resumed), the error saying it was not applied."""
    if not transaction:
        return RETRY
    return ImplementationError(
        f"{call.model.__name__}: the server had lost django_limpyd's functions "
        "(FUNCTION FLUSH?); this write of the transaction was not applied."
    )
