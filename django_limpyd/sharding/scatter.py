"""Running the reads of sharded collections on either transport.

What a collection of a sharded model reads is planned once, by *steps*: a generator
that yields each pipeline to send, ``(batch, transaction)``, is sent the replies of
each, and returns the result. A batch is a list of :class:`Call` (a function of a
shard's library) and plain commands (tuples of arguments). :func:`run` sends the
batches on the sync client, :func:`arun` on the async one (``await``): the same
commands, in the same pipelines, so the same round trips, and the same merging of
the replies (``ShardedCollection``, ``moves.resharding_count``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

from django_limpyd.storage import functions

__all__ = ["Call", "Steps", "arun", "run"]


class Call(NamedTuple):
    """A call of ``operation`` of a shard's ``library``."""

    library: Any
    operation: str
    keys: list[Any]
    args: list[Any]


#: yields ``(batch, transaction, raise_on_error)``, is sent the replies, returns the result
Steps = Generator[tuple[list[Any], bool, bool], list[Any], Any]


def _queue(pipe: Any, client: Any, batch: list[Any]) -> None:
    for item in batch:
        if isinstance(item, Call):
            pipe.execute_command(
                *functions.command_args(client, item.library, item.operation, item.keys, item.args)
            )
        else:
            pipe.execute_command(*item)


def run(steps: Steps, client: Any) -> Any:
    """The result of ``steps``, each batch sent on the sync ``client`` (one pipeline)."""
    replies: Any = None
    try:
        while True:
            batch, transaction, raise_on_error = steps.send(replies)
            for item in batch:
                if isinstance(item, Call):
                    functions.ensure_loaded(client, item.library)
            pipe = client.pipeline(transaction=transaction)
            _queue(pipe, client, batch)
            replies = pipe.execute(raise_on_error=raise_on_error)
    except StopIteration as stop:
        return stop.value


async def arun(steps: Steps, client: Any) -> Any:
    """:func:`run` on the async ``client``."""
    from django_limpyd.aio.functions import aensure_loaded

    replies: Any = None
    try:
        while True:
            batch, transaction, raise_on_error = steps.send(replies)
            for item in batch:
                if isinstance(item, Call):
                    await aensure_loaded(client, item.library)
            pipe = client.pipeline(transaction=transaction)
            _queue(pipe, client, batch)
            replies = await pipe.execute(raise_on_error=raise_on_error)
    except StopIteration as stop:
        return stop.value
