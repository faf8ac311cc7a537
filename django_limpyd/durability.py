"""Durable writes: a write is acknowledged only once replicas have it (``WAIT``).

Redis replicates asynchronously: a write acknowledged by the primary may be lost if
the primary fails before a replica received it. With durability on, every write
command of a database (and every pipeline, once at its end) is followed by ``WAIT
<replicas> <timeout>`` **on the same connection, in the same round trip** (for a
pipeline: right after its ``EXEC``). Fewer acknowledgements than asked raise
:class:`DurabilityError`: the write **is applied** on the primary, only not confirmed
on enough replicas; nothing is sent again.

Turned on per database (``"OPTIONS": {"DURABILITY": {"REPLICAS": 1, "TIMEOUT":
0.1}}``, or ``RedisDatabase(durability={"replicas": 1, "timeout": 0.1})``) or per
block (``with database.durable(replicas=1): ...``, thread- and task-local). The
server-side companion is ``min-replicas-to-write``: see docs/reliability.rst.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django_limpyd.exceptions import LimpydException

__all__ = ["Durability", "DurabilityError", "current", "durable", "parse"]


@dataclass(frozen=True)
class Durability:
    """How many replicas must acknowledge each write, within how many seconds."""

    replicas: int
    timeout: float

    @property
    def timeout_ms(self) -> int:
        """The ``WAIT`` timeout in milliseconds (at least 1: 0 would wait forever)."""
        return max(1, int(self.timeout * 1000))


class DurabilityError(LimpydException):
    """A write was applied on the primary but fewer replicas than asked confirmed it
    within the timeout (it was not sent again)."""

    def __init__(self, command: Any, acknowledged: int, durability: Durability) -> None:
        self.command = command
        self.acknowledged = acknowledged
        self.durability = durability
        super().__init__(
            f"{command} was applied on the primary, but only {acknowledged} of the "
            f"{durability.replicas} replica(s) asked confirmed it within "
            f"{durability.timeout:g} s (WAIT); it was not sent again."
        )


def parse(value: Any, where: str) -> Durability | None:
    """A ``DURABILITY`` option (``{"REPLICAS": n, "TIMEOUT": seconds}``, keys in any
    case) as a :class:`Durability`; ``None`` for ``None``. ``ValueError`` naming
    ``where`` otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a dict with REPLICAS and TIMEOUT, got {value!r}.")
    items = {str(key).upper(): item for key, item in value.items()}
    unknown = set(items) - {"REPLICAS", "TIMEOUT"}
    if unknown:
        raise ValueError(
            f"{where} has unknown key(s) {sorted(unknown)}; expected REPLICAS, TIMEOUT."
        )
    replicas, timeout = items.get("REPLICAS", 1), items.get("TIMEOUT", 0.1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"{where}['REPLICAS'] must be an int >= 1, got {replicas!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{where}['TIMEOUT'] must be a number of seconds > 0, got {timeout!r}.")
    return Durability(replicas, float(timeout))


#: durability asked by ``durable()`` blocks, by id of the client (thread/task local)
_BLOCKS: contextvars.ContextVar[dict[int, Durability | None] | None] = contextvars.ContextVar(
    "limpyd_durable_blocks", default=None
)


def current(client: Any) -> Durability | None:
    """The durability of writes sent now on ``client``: the innermost ``durable()``
    block's, else the client's own (from its database's settings)."""
    blocks = _BLOCKS.get()
    if blocks and id(client) in blocks:
        return blocks[id(client)]
    return getattr(client, "limpyd_durability", None)


@contextmanager
def durable(client: Any, durability: Durability | None) -> Iterator[None]:
    """Within the block, writes on ``client`` wait for ``durability`` (``None``: not)."""
    client.limpyd_durable_possible = True
    token = _BLOCKS.set({**(_BLOCKS.get() or {}), id(client): durability})
    try:
        yield
    finally:
        _BLOCKS.reset(token)
