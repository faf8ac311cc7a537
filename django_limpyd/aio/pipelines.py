"""Several captured function calls in one async round trip (``abulk_create``).

The async twin of what :meth:`django_limpyd.pipelines.Pipeline.execute` does with the
writes queued in it: each stays one atomic function call; one that fails is reported
for itself (the first error raised after all ran, or the errors returned in place);
calls the server could not run yet (transforms to compute, ``NEED``; outside a
transaction, a library it lost) wrote nothing and are sent again together, in one more
round trip.
"""

from __future__ import annotations

from typing import Any

from django_limpyd.aio.capture import Capture
from django_limpyd.aio.functions import aensure_loaded
from django_limpyd.exceptions import ImplementationError
from django_limpyd.pipelines import (
    LIBRARY_LOST,
    RETRY,
    error_outcome,
    library_lost_outcome,
)
from django_limpyd.storage import functions

__all__ = ["arun_calls"]


async def arun_calls(
    capture: Capture, client: Any, transaction: bool = True, raise_on_error: bool = True
) -> list[Any]:
    """Send the function calls of ``capture`` in one round trip (``MULTI``/``EXEC`` with
    ``transaction``); their results, in order."""
    from django_limpyd.model.writes import MAX_TRANSFORM_ROUNDS

    calls = list(capture.operations)
    if not calls:
        return []
    for library in {call.library.name: call.library for call in calls}.values():
        await aensure_loaded(client, library)
    await capture.send_signals()  # pre_save
    pipe = client.pipeline(transaction=transaction)
    for call in calls:
        pipe.execute_command(*_command(client, call))
    results = await pipe.execute(raise_on_error=False)
    pending = dict(enumerate(calls))
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
