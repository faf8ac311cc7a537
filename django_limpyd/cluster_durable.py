"""Durable pipelines on a Redis Cluster: the queued commands of a
:class:`~django_limpyd.client_cluster.LimpydClusterPipeline`, then ``WAIT``, on one
connection per node, in one round trip per node.

``WAIT`` waits for the writes of *its* connection, so the pipeline's commands are sent
here on a connection of each primary they go to (grouped by the slot of their keys),
followed on each by ``WAIT``:

* without a transaction: ``cmd... WAIT`` per node;
* a transaction (one slot, so one node): ``MULTI cmd... EXEC WAIT``, the replies of
  ``EXEC`` parsed as redis-py parses each command's.

A pipeline that ``WATCH``-ed keys (``database.transaction()``) holds its own
connection, which ``WAIT`` cannot follow: durable writes refuse it. Fewer
acknowledgements than asked on a node raise
:class:`~django_limpyd.durability.DurabilityError` after every node answered (the
writes are applied; nothing is sent again).
"""

from __future__ import annotations

import time
from typing import Any

from redis.exceptions import WatchError

from django_limpyd.client import _notify
from django_limpyd.durability import Durability, DurabilityError, check_support
from django_limpyd.exceptions import ImplementationError

__all__ = ["execute_durably"]


def _parse(node_client: Any, args: tuple, options: dict, reply: Any) -> Any:
    if isinstance(reply, Exception):
        return reply
    callback = node_client.response_callbacks.get(str(args[0]).upper())
    if callback is None:
        return reply
    return callback(reply, **{k: v for k, v in options.items() if k != "keys"})


def execute_durably(pipe: Any, durability: Durability) -> list[Any]:
    """Send ``pipe``'s queued commands durably (see the module); their replies, in
    order (errors in place). The pipeline is reset."""
    if pipe.is_watching():
        pipe.reset()
        raise ImplementationError(
            "A transaction with watched keys cannot wait for replicas on a Redis Cluster "
            "(WAIT follows one connection); run it inside database.durable(replicas=None)."
        )
    queued = [(tuple(command.args), dict(command.options)) for command in pipe._queue()]
    pipe.reset()
    wait = durability.command()
    groups: dict[Any, list[int]] = {}
    for position, (args, _options) in enumerate(queued):
        node = pipe.nodes_manager.get_node_from_slot(pipe.determine_slot(*args), False)
        groups.setdefault(node, []).append(position)
    results: list[Any] = [None] * len(queued)
    for node in groups:  # every node checked before anything is sent
        check_support(pipe.get_redis_connection(node), durability)
    short: list[DurabilityError] = []
    for node, positions in groups.items():
        node_client = pipe.get_redis_connection(node)
        raw = node_client.pipeline(transaction=False)
        sent = [queued[position][0] for position in positions]
        if pipe.transaction:
            sent = [("MULTI",), *sent, ("EXEC",)]
        for args in sent:
            raw.execute_command(*args)
        raw.execute_command(*wait)
        start = time.perf_counter()
        try:
            replies = raw.execute(raise_on_error=False)
        finally:
            if pipe._limpyd_observers:
                _notify(pipe._limpyd_observers, [*sent, wait], start)
        acknowledged = replies[-1]
        if pipe.transaction:
            executed = replies[-2]
            if isinstance(executed, Exception):
                raise executed
            if executed is None:
                raise WatchError("Watched variable changed.")
            replies = executed
        for position, reply in zip(positions, replies, strict=False):
            args, options = queued[position]
            results[position] = _parse(node_client, args, options, reply)
        try:
            durability.check("a pipeline", acknowledged)
        except DurabilityError as error:
            short.append(error)
    if short:
        raise min(short, key=lambda error: error.acknowledged)
    return results
