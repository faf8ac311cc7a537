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

from redis.exceptions import NoScriptError, ResponseError

from django_limpyd.exceptions import ImplementationError
from django_limpyd.storage.atomic import MAX_TRANSFORM_ROUNDS, prefetch_transforms
from django_limpyd.storage.scripts import load_all, parse_script_error, script_source, sha_of

if TYPE_CHECKING:
    from django_limpyd.database import RedisDatabase
    from django_limpyd.storage.atomic import ScriptCall

__all__ = ["Pipeline", "PipelineSlot"]

#: marks a queued write that must be sent again
_RETRY = object()


class PipelineSlot:
    """Where a database keeps its active pipeline: per thread, or shared."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._shared: Pipeline | None = None

    def get(self) -> Pipeline | None:
        """The pipeline commands of the current thread go to, if any."""
        pipeline = getattr(self._local, "pipeline", None)
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
        self._calls: dict[int, ScriptCall] = {}

    def __enter__(self) -> Pipeline:
        if self.database.active_pipeline() is not None:
            raise ImplementationError(f"{self.database!r} already has an active pipeline.")
        self.database._pipelines.set(self, self.share_in_threads)
        return self

    def __exit__(self, *exc: object) -> None:
        self.database._pipelines.set(None, self.share_in_threads)
        self.reset()

    def __len__(self) -> int:
        return len(self.connection.command_stack)

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

    @property
    def _immediate(self) -> bool:
        return bool(self.connection.watching and not self.connection.explicit_transaction)

    # -- queueing -------------------------------------------------------------------

    def add_script_call(self, call: ScriptCall) -> Any:
        """Queue a write script; its result comes from :meth:`execute`.

        Between ``watch()`` and ``multi()`` it is sent at once and its result
        returned, like any command then.
        """
        if self._immediate:
            return call.finish(call.run(self.connection))
        self._calls[len(self.connection.command_stack)] = call
        sha = sha_of(call.script)
        self.connection.evalsha(sha, len(call.keys), *call.keys, *call.args)
        return self

    # -- execution ------------------------------------------------------------------

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one round trip; their results, in order.

        Writes the server could not run yet (scripts not loaded after a restart,
        transforms of stored values to compute) wrote nothing; they are sent
        again together in one more round trip.
        """
        calls, self._calls = self._calls, {}
        if self.connection.transaction and calls:
            # transforms of stored values, read ahead in one round trip: a write that
            # asked for them after EXEC would be sent again outside the transaction
            stack = self.connection.command_stack
            before = {position: list(call.args) for position, call in calls.items()}
            prefetch_transforms(calls.values())
            for position, call in calls.items():
                if call.args != before[position]:
                    stack[position] = (self._evalsha_args(call), stack[position][1])
            # scripts the server may have lost (restart, SCRIPT FLUSH) are loaded inside
            # the same MULTI/EXEC, before the writes: no write of the batch can come back
            # NOSCRIPT and be sent again outside it
            scripts = sorted({call.script for call in calls.values()})
            stack[:0] = [(("SCRIPT", "LOAD", script_source(name)), {}) for name in scripts]
            results = self.connection.execute(raise_on_error=False)[len(scripts) :]
        else:
            results = self.connection.execute(raise_on_error=False)
        pending = dict(calls)
        for _round in range(MAX_TRANSFORM_ROUNDS + 1):
            retry: dict[int, ScriptCall] = {}
            for position, call in pending.items():
                outcome = self._outcome(call, results[position])
                if outcome is _RETRY:
                    retry[position] = call
                else:
                    results[position] = outcome
            if not retry:
                break
            pending = retry
            if any(isinstance(results[position], NoScriptError) for position in retry):
                load_all(self.database.connection)
            pipe = self.database.connection.pipeline(transaction=False)
            for call in retry.values():
                pipe.evalsha(sha_of(call.script), len(call.keys), *call.keys, *call.args)
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

    @staticmethod
    def _evalsha_args(call: ScriptCall) -> tuple[Any, ...]:
        return ("EVALSHA", sha_of(call.script), len(call.keys), *call.keys, *call.args)

    def _outcome(self, call: ScriptCall, reply: Any) -> Any:
        """The result of a queued write, or ``_RETRY`` if it must be sent again."""
        if isinstance(reply, NoScriptError):
            return _RETRY
        if isinstance(reply, ResponseError):
            error = parse_script_error(reply)
            if error is None:
                return reply
            if error.code != "NEED":
                return call.error(error)
            call.add_transforms(error.payload)
            return _RETRY
        try:
            return call.finish(reply)
        except Exception as exc:  # a conversion error stays with its command
            return exc
