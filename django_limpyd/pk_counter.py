"""The AutoPK counter never behind the pks in use.

Redis replicates asynchronously: after a failover, the new primary may lack the last
increments of a model's AutoPK counter while it has instances created with them
(or the reverse, after a restore), and would hand those pks out again. Durable
writes (docs/reliability.rst) close that window; :func:`counter_problem` finds it
(``consistency_check``, ``limpyd_index check``) and :func:`raise_counter` repairs it
(``limpyd_index check --repair``).
"""

from __future__ import annotations

__all__ = ["counter_for", "counter_problem", "highest_pk", "raise_counter"]

#: sets the counter to ARGV[1] if it is lower (atomic: a create may run meanwhile)
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local wanted = tonumber(ARGV[1])
if current < wanted then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""


def highest_pk(model: type) -> int:
    """The highest pk in use of an AutoPK model (0 if none): the pks are scored by
    their number, so it is the last member of the pks' sorted set."""
    keys = model._meta.keys
    last = model._meta.database.connection.zrange(keys.pks, -1, -1, withscores=True)
    return int(last[0][1]) if last else 0


def counter_for(model: type, pk: int) -> int:
    """The counter value that hands out ``pk``: ``pk`` itself, or in a shard of a sharded
    model (see :mod:`django_limpyd.sharding`) its rank among the shard's pks."""
    meta = model._meta
    if meta.shard is None or pk <= 0:
        return pk
    return (pk - 1 - meta.shard) // meta.shards + 1


def counter_problem(model: type) -> str | None:
    """A message if ``model``'s AutoPK counter is below its highest pk in use (new
    instances would take pks already taken), else ``None`` (also for a model without
    an AutoPK)."""
    meta = model._meta
    if not meta.pk_field.auto:
        return None
    highest = highest_pk(model)
    counter = int(meta.database.connection.get(meta.keys.max_pk) or 0)
    if counter >= counter_for(model, highest):
        return None
    return (
        f"{meta.name} AutoPK counter {meta.keys.max_pk!r} is {counter}, below the highest "
        f"pk in use ({highest}): new instances would take pks already taken "
        "(repair: limpyd_index check --repair)"
    )


def raise_counter(model: type) -> bool:
    """Raise ``model``'s AutoPK counter to its highest pk in use if it is lower; True
    if it was raised."""
    meta = model._meta
    if not meta.pk_field.auto:
        return False
    wanted = counter_for(model, highest_pk(model))
    connection = meta.database.connection
    return bool(connection.eval(_RAISE, 1, meta.keys.max_pk, wanted))
