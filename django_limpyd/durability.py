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

With ``"AOF": True`` (``durable(aof=True)``) the write is followed by ``WAITAOF 1
<replicas> <timeout>`` instead: acknowledged once the primary **and** the replicas
fsynced it to their append-only file. ``WAITAOF`` came with Redis 7.2: on an older
server the first durable write raises :class:`DurabilityUnsupported` (nothing sent);
the server's version is read once per client (``INFO server``, unseen by command
counts).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_limpyd.exceptions import LimpydException

__all__ = [
    "Durability",
    "DurabilityError",
    "DurabilityUnsupported",
    "acheck_support",
    "check_support",
    "current",
    "durable",
    "parse",
]

#: the first Redis version with ``WAITAOF``
WAITAOF_VERSION = (7, 2)


@dataclass(frozen=True)
class Durability:
    """How many replicas must acknowledge each write, within how many seconds; with
    ``aof``, acknowledged once fsynced to the AOF of the primary and of the replicas
    (``WAITAOF``)."""

    replicas: int
    timeout: float
    aof: bool = False

    @property
    def timeout_ms(self) -> int:
        """The ``WAIT`` timeout in milliseconds (at least 1: 0 would wait forever)."""
        return max(1, int(self.timeout * 1000))

    def command(self) -> tuple[Any, ...]:
        """The command sent after each write: ``WAIT <replicas> <ms>``, or ``WAITAOF 1
        <replicas> <ms>`` with ``aof``."""
        if self.aof:
            return ("WAITAOF", 1, self.replicas, self.timeout_ms)
        return ("WAIT", self.replicas, self.timeout_ms)

    def check(self, what: Any, reply: Any) -> None:
        """Raise :class:`DurabilityError` for ``what`` (a command name, ``"a
        pipeline"``) unless ``reply`` (of :meth:`command`) confirms enough copies."""
        if isinstance(reply, Exception):
            raise DurabilityError(what, 0, self, reason=str(reply)) from reply
        if self.aof:
            local, replicas = (int(item) for item in reply)
            if local < 1 or replicas < self.replicas:
                raise DurabilityError(what, replicas, self, local=local)
        elif int(reply) < self.replicas:
            raise DurabilityError(what, int(reply), self)


class DurabilityError(LimpydException):
    """A write was applied on the primary but fewer replicas than asked confirmed it
    within the timeout (it was not sent again)."""

    def __init__(
        self,
        command: Any,
        acknowledged: int,
        durability: Durability,
        *,
        local: int | None = None,
        reason: str | None = None,
    ) -> None:
        self.command = command
        self.acknowledged = acknowledged
        self.durability = durability
        #: with ``aof``: 1 if the primary fsynced the write to its AOF in time, else 0
        self.local = local
        name = durability.command()[0]
        if reason is not None:
            detail = f"{name} failed: {reason}"
        elif durability.aof:
            detail = (
                f"the AOF fsync was confirmed by {local} of 1 primary and "
                f"{acknowledged} of the {durability.replicas} replica(s) asked within "
                f"{durability.timeout:g} s (WAITAOF, AOF)"
            )
        else:
            detail = (
                f"only {acknowledged} of the {durability.replicas} replica(s) asked "
                f"confirmed it within {durability.timeout:g} s (WAIT)"
            )
        super().__init__(
            f"{command} was applied on the primary, but {detail}; it was not sent again."
        )


class DurabilityUnsupported(ImproperlyConfigured):
    """Durability the server cannot give (``AOF`` before Redis 7.2): raised before the
    first durable write of a client is sent (nothing was sent)."""


def _server_name(client: Any) -> str:
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", {}) or {}
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


def _version(info: dict[str, Any]) -> tuple[int, ...]:
    parts = str(info.get("redis_version", "0")).split(".")
    return tuple(int(part) for part in parts if part.isdigit())


def _refuse_old(client: Any, version: tuple[int, ...]) -> None:
    if version < WAITAOF_VERSION:
        shown = ".".join(map(str, version))
        raise DurabilityUnsupported(
            f"DURABILITY with AOF sends WAITAOF, which needs Redis >= 7.2; the server at "
            f"{_server_name(client)} runs version {shown}. Nothing was sent. Use durability "
            "without AOF (WAIT) there."
        )


def check_support(client: Any, durability: Durability) -> None:
    """Raise :class:`DurabilityUnsupported` if the server of ``client`` (a sync client
    of one server) cannot give ``durability``. Its version is asked once per client
    (``INFO server``, unseen by the observers), then kept."""
    if not durability.aof:
        return
    version = client.__dict__.get("_limpyd_redis_version")
    if version is None:
        import redis

        info = redis.Redis.execute_command(client, "INFO", "server")
        version = client.__dict__["_limpyd_redis_version"] = _version(info)
    _refuse_old(client, version)


async def acheck_support(client: Any, durability: Durability) -> None:
    """:func:`check_support` for an async client
    (:class:`~django_limpyd.aio.client.AsyncLimpydRedis`)."""
    if not durability.aof:
        return
    version = client.__dict__.get("_limpyd_redis_version")
    if version is None:
        info = await client.send_unobserved("INFO", "server")
        version = client.__dict__["_limpyd_redis_version"] = _version(info)
    _refuse_old(client, version)


def parse(value: Any, where: str) -> Durability | None:
    """A ``DURABILITY`` option (``{"REPLICAS": n, "TIMEOUT": seconds, "AOF": bool}``,
    keys in any case, ``AOF`` optional) as a :class:`Durability`; ``None`` for
    ``None``. ``ValueError`` naming ``where`` otherwise. With ``AOF``, ``REPLICAS``
    may be 0 (only the primary's fsync is awaited)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a dict with REPLICAS and TIMEOUT, got {value!r}.")
    items = {str(key).upper(): item for key, item in value.items()}
    unknown = set(items) - {"REPLICAS", "TIMEOUT", "AOF"}
    if unknown:
        raise ValueError(
            f"{where} has unknown key(s) {sorted(unknown)}; expected REPLICAS, TIMEOUT, AOF."
        )
    replicas, timeout = items.get("REPLICAS", 1), items.get("TIMEOUT", 0.1)
    aof = items.get("AOF", False)
    if not isinstance(aof, bool):
        raise ValueError(f"{where}['AOF'] must be True or False, got {aof!r}.")
    least = 0 if aof else 1
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < least:
        raise ValueError(f"{where}['REPLICAS'] must be an int >= {least}, got {replicas!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{where}['TIMEOUT'] must be a number of seconds > 0, got {timeout!r}.")
    return Durability(replicas, float(timeout), aof)


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
