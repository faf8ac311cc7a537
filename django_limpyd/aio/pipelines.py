"""Several captured operations in one async round trip (``abulk_create``, async
pipelines).

The async twin of what :meth:`django_limpyd.pipelines.Pipeline.execute` does with the
commands queued in it: plain commands are sent as they are, their replies (or error
replies) returned in place; each write stays one atomic function call; one that fails
is reported for itself (the first error raised after all ran, or the errors returned in
place); calls the server could not run yet (transforms to compute, ``NEED``; outside a
transaction, a library it lost) wrote nothing and are sent again together, in one more
round trip. In a transaction the stored values whose transforms the calls would ask
for are read ahead (:func:`aprefetch_transforms`), as the sync pipeline does.
"""

from __future__ import annotations

from typing import Any

from django_limpyd.aio.capture import Capture, _Command
from django_limpyd.aio.functions import aensure_loaded
from django_limpyd.exceptions import ImplementationError
from django_limpyd.pipelines import (
    LIBRARY_LOST,
    RETRY,
    error_outcome,
    library_lost_outcome,
)
from django_limpyd.storage import functions

__all__ = ["aprefetch_transforms", "arun_calls"]


async def arun_calls(
    capture: Capture,
    client: Any,
    transaction: bool = True,
    raise_on_error: bool = True,
    pipe: Any = None,
) -> list[Any]:
    """Send the operations of ``capture`` (function calls, plain commands) in one round
    trip (``MULTI``/``EXEC`` with ``transaction``); their results, in order.

    ``pipe``: what to queue them in and execute (default: a pipeline of ``client``); a
    watched transaction gives its own (:mod:`django_limpyd.aio.transaction`)."""
    from django_limpyd.model.writes import MAX_TRANSFORM_ROUNDS

    operations = list(capture.operations)
    if not operations:
        return []
    calls = {
        position: operation
        for position, operation in enumerate(operations)
        if not isinstance(operation, _Command)
    }
    for library in {call.library.name: call.library for call in calls.values()}.values():
        await aensure_loaded(client, library)
    if transaction and calls:
        await aprefetch_transforms(client, list(calls.values()))
    await capture.send_signals()  # pre_save
    await capture.run_deferred(True)  # related targets in other slots (abulk_create)
    capture.after.clear()  # as in a sync pipeline: left to check --repair
    if pipe is None:
        pipe = client.pipeline(transaction=transaction)
    for operation in operations:
        if isinstance(operation, _Command):
            pipe.execute_command(*operation.args, **operation.options)
        else:
            pipe.execute_command(*_command(client, operation))
    results = await pipe.execute(raise_on_error=False)
    pending = calls
    for _round in range(MAX_TRANSFORM_ROUNDS + 1):
        retry: dict[int, Any] = {}
        for position, call in pending.items():
            outcome = await _outcome(capture, client, call, results[position], transaction)
            if outcome is RETRY:
                retry[position] = call
            else:
                results[position] = outcome
        if not retry:
            break
        pending = retry
        pipe = client.pipeline(transaction=False)
        for call in retry.values():
            pipe.execute_command(*_command(client, call))
        replies = await pipe.execute(raise_on_error=False)
        for position, reply in zip(retry, replies, strict=True):
            results[position] = reply
        transaction = False  # what is sent again is sent outside the transaction
    else:
        for position, call in pending.items():
            results[position] = ImplementationError(
                f"{call.model.__name__}: the values to index kept changing; nothing written."
            )
    await capture.send_signals()  # post_save
    if raise_on_error:
        for result in results:
            if isinstance(result, Exception):
                raise result
    return results


async def aprefetch_transforms(client: Any, calls: list[Any]) -> None:
    """:func:`django_limpyd.model.writes.prefetch_transforms` on the async transport: the
    stored values whose transforms ``calls`` would ask for, read in one round trip (none
    if no call needs one), their transforms added to the calls."""
    from django_limpyd.model.writes import _add_transforms
    from django_limpyd.storage.state import indexed_raw_values, queue_read

    wanted = [(call, call.transform_reads()) for call in calls]
    wanted = [(call, pairs) for call, pairs in wanted if pairs]
    if not wanted:
        return
    pipe = client.pipeline(transaction=False)
    reads = []
    for call, pairs in wanted:
        pk = call.stored[0]
        for _index, owner in pairs:
            queue_read(pipe, owner, pk)
            reads.append(owner)
    results = iter(zip(reads, await pipe.execute(), strict=True))
    for call, pairs in wanted:
        for index, _owner in pairs:
            owner, result = next(results)
            _add_transforms(
                call.model._meta, {index.id: indexed_raw_values(owner, result)}, call.tmap
            )


def _command(client: Any, call: Any) -> tuple[Any, ...]:
    return functions.command_args(
        client, call.library, call.operation, call.keys, call.args(call.tmap)
    )


async def _outcome(capture: Capture, client: Any, call: Any, reply: Any, transaction: bool) -> Any:
    """The result of a call, or ``RETRY`` if it must be sent again."""
    outcome = error_outcome(call, reply, transaction)
    if outcome is LIBRARY_LOST:
        await aensure_loaded(client, call.library, force=True)
        return library_lost_outcome(call, transaction)
    if outcome is not None:
        return outcome
    try:
        with capture:
            return call.finish(reply)
    except Exception as exc:  # a conversion error stays with its command
        return exc
